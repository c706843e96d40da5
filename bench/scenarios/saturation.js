"use strict";

// The saturation scenarios (broadcast, binary, unicast, rooms, small-rooms): every worker emits as fast as
// delivery keeps up (credit window, see worker-load.js); the figure is deliveries per second over
// a window that opens after a warm-up, and CPU per emit over the same window.

const { sleep } = require("../harness/wait");
const { sum } = require("../harness/stats");
const { mark, deliveryRate, cpuPerOp, redisIdle, redisPerOp, drain, latency } = require("./deliveries");

/**
 * `rooms(layout)`: the rooms a worker emits to, one at random per emit (rooms, small-rooms); each
 * emit owes exactly its room's member count in deliveries.
 */
function saturation({ name, kind, title, description, rooms: roomsOf = () => [] }) {
  return {
    name,
    title,
    description,
    unit: "deliveries/s",
    supports: () => true,

    async run(target, ctx) {
      const { opts } = ctx;
      const run = ctx.nextRun();
      // Latency counts only cross-worker deliveries, what the adapter carries (all in the floor).
      await target.allClients("reset", { run, sampleEvery: opts.sampleEvery, remoteOnly: target.workers > 1, credits: true });
      target.resetPeakRss();
      // Several machines: Redis's idle CPU, read just before, over up to a second.
      const idle = await redisIdle(target, Math.min(opts.durationMs, 1000));
      const rooms = roomsOf(ctx.layout).map((r) => ({ name: r.name, size: r.members.length }));
      await target.allWorkers("flood", (index) => ({
        run,
        kind,
        window: opts.windows[kind],
        clients: opts.clients,
        targets: kind === "unicast" ? target.remoteSocketIds(index) : [],
        rooms,
        // The sequence of rooms each worker picks: the same in every system and every round.
        seed: opts.seed * 1000 + index,
      }));

      await sleep(opts.warmupMs);
      const m0 = await mark(target);
      await sleep(opts.durationMs);
      const m1 = await mark(target);

      const stops = await target.allWorkers("stop");
      const delivery = await drain(target, sum(stops.map((s) => s.expected)), opts.drainMs);
      const ops = m1.emits - m0.emits;
      return {
        rate: deliveryRate(m0, m1),
        opsPerSec: ops / (opts.durationMs / 1000),
        ops,
        cpuUsPerOp: cpuPerOp(m0.cpu, m1.cpu, ops),
        redis: redisPerOp(m0.redis, m1.redis, ops, idle, Number(m1.at - m0.at) / 1e9),
        latencyUs: latency(delivery.samples),
        latencyLocalUs: latency(delivery.localSamples),
        peakRss: target.peakRss(),
        ...withoutSamples(delivery),
      };
    },
  };
}

function withoutSamples({ samples, localSamples, ...rest }) {
  return rest;
}

module.exports = { saturation, withoutSamples };
