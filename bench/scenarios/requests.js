"use strict";

// The request scenarios (fetch-sockets, server-side-emit): one worker sends one request at a
// time and waits for the answer, so the figure is latency; requests per second is its inverse.
// An answer with the wrong number of entries, a timeout or an error is counted as lost.

const { percentile } = require("../harness/stats");
const { cpuPerOp, redisIdle, redisPerOp } = require("./deliveries");

function requestLatency({ name, title, description, expect, supports }) {
  return {
    name,
    title,
    description,
    unit: "requests/s",
    supports,

    async run(target, ctx) {
      const { opts } = ctx;
      target.resetPeakRss();
      const idle = await redisIdle(target, Math.min(opts.requestMs, 1000));
      const cpu0 = target.readCpu();
      const redis0 = target.readRedis ? await target.readRedis() : null;
      const t0 = process.hrtime.bigint();
      const result = await target.worker(
        0,
        "requests",
        { kind: name, durationMs: opts.requestMs, expect: expect(target, opts) },
        opts.requestMs + 30000,
      );
      const cpu1 = target.readCpu();
      const redis1 = target.readRedis ? await target.readRedis() : null;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      return {
        rate: result.count / (result.elapsedMs / 1000),
        opsPerSec: result.count / (result.elapsedMs / 1000),
        ops: result.count,
        cpuUsPerOp: cpuPerOp(cpu0, cpu1, result.count),
        redis: redisPerOp(redis0, redis1, result.count, idle, seconds),
        latencyUs: { p50: percentile(result.samples, 0.5), p99: percentile(result.samples, 0.99), n: result.samples.length },
        peakRss: target.peakRss(),
        expected: result.count,
        received: result.count - result.errors,
        lost: result.errors,
        extra: 0,
        firstError: result.firstError,
      };
    },
  };
}

module.exports = { requestLatency };
