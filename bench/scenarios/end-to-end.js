"use strict";

// End-to-end latency at a low rate: every worker broadcasts at a fixed pace (phases staggered so
// the cluster emits evenly), and every client of another worker times each delivery against the
// emitter's clock (and, separately, every client of the emitting worker: with recovery on, those
// deliveries wait for the hub's offset). Nothing queues, so this is the latency of the path itself.

const { sum } = require("../harness/stats");
const { cpuPerOp, drain, latency } = require("./deliveries");
const { withoutSamples } = require("./saturation");

module.exports = {
  name: "end-to-end",
  title: "end-to-end latency, low rate",
  description: "paced io.emit() from every worker; latency from emit to receipt by a client of another worker",
  unit: "deliveries/s",
  supports: () => true,

  async run(target, ctx) {
    const { opts } = ctx;
    const run = ctx.nextRun();
    await target.allClients("reset", { run, sampleEvery: 1, remoteOnly: target.workers > 1, credits: false });
    target.resetPeakRss();
    const cpu0 = target.readCpu();
    const intervalMs = (1000 * target.workers) / opts.e2eRate; // per worker
    const results = await target.allWorkers(
      "paced",
      (index) => ({ run, intervalMs, phaseMs: (index * 1000) / opts.e2eRate, durationMs: opts.e2eMs, clients: opts.clients }),
      opts.e2eMs + 30000,
    );
    const delivery = await drain(target, sum(results.map((r) => r.expected)), opts.drainMs);
    const cpu1 = target.readCpu();
    const ops = sum(results.map((r) => r.emits));
    return {
      rate: delivery.received / (opts.e2eMs / 1000),
      opsPerSec: ops / (opts.e2eMs / 1000),
      ops,
      cpuUsPerOp: cpuPerOp(cpu0, cpu1, ops),
      latencyUs: latency(delivery.samples),
      latencyLocalUs: latency(delivery.localSamples),
      peakRss: target.peakRss(),
      ...withoutSamples(delivery),
    };
  },
};
