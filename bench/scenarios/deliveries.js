"use strict";

// What every scenario that sends messages to clients needs: the CPU/emit-count snapshots that
// open and close a measured window, and the drain that tells delivered from lost.

const { sleep } = require("../harness/wait");
const { percentile, sum } = require("../harness/stats");
const { infoDelta } = require("../redis-info");

/**
 * A snapshot: CPU time of every process (read from /proc first, so the read is not delayed by
 * busy processes), then each client process's delivery count on its own clock and each worker's
 * emit count.
 */
async function mark(target) {
  const cpu = target.readCpu();
  const at = process.hrtime.bigint();
  const [clients, workers, redis] = await Promise.all([
    target.allClients("mark"),
    target.allWorkers("mark"),
    // The multi-machine set: redis-server's own counters (INFO), see bench/machines.js.
    target.readRedis ? target.readRedis() : null,
  ]);
  return { cpu, at, clients, emits: sum(workers.map((w) => w.emits)), redis };
}

/**
 * redis-server's CPU per second while the system under test sends nothing (its cron, the
 * servers' heartbeats): read over `ms` before a window, so that the window's Redis CPU can be
 * told above it (null without INFO readings).
 */
async function redisIdle(target, ms) {
  if (!target.readRedis) return null;
  const before = await target.readRedis();
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const after = await target.readRedis();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const delta = infoDelta(before, after);
  return delta ? { cpuUsPerSec: delta.cpuUs / seconds } : null;
}

/**
 * Redis's figures between two INFO readings (null without them): its CPU (used_cpu_sys +
 * used_cpu_user) and bytes sent (total_net_output_bytes) per operation, the CPU per operation
 * above `idle` (see redisIdle) over the window's `windowSeconds`, and the connections it holds at
 * the end, the bench's own INFO connection excluded.
 */
function redisPerOp(before, after, ops, idle = null, windowSeconds = NaN) {
  const delta = infoDelta(before, after);
  if (!delta) return null;
  const idleCpuUs = idle ? idle.cpuUsPerSec * windowSeconds : NaN;
  return {
    cpuUsPerOp: ops > 0 ? delta.cpuUs / ops : NaN,
    // What the operations cost Redis: the window's CPU less what it spends idle in as long.
    cpuUsPerOpAboveIdle: ops > 0 ? (delta.cpuUs - idleCpuUs) / ops : NaN,
    idleCpuUsPerSec: idle ? idle.cpuUsPerSec : NaN,
    bytesOutPerOp: ops > 0 ? delta.bytesOut / ops : NaN,
    bytesInPerOp: ops > 0 ? delta.bytesIn / ops : NaN,
    commandsPerOp: ops > 0 ? delta.commands / ops : NaN,
    // Of Redis's CPU, the time inside commands (INFO commandstats), in all and per command; the
    // bench's own INFO is left out.
    inCommandsUsPerOp: ops > 0 ? sum(Object.entries(delta.byCommand).filter(([n]) => n !== "info").map(([, c]) => c.usec)) / ops : NaN,
    byCommand: Object.fromEntries(
      Object.entries(delta.byCommand)
        .filter(([name]) => name !== "info")
        .map(([name, c]) => [name, { callsPerOp: ops > 0 ? c.calls / ops : NaN, usPerOp: ops > 0 ? c.usec / ops : NaN }]),
    ),
    connections: delta.connections,
  };
}

/** Deliveries per second between two marks: each process's count over its own window, summed. */
function deliveryRate(m0, m1) {
  return sum(m1.clients.map((c1, p) => (c1.count - m0.clients[p].count) / ((c1.t - m0.clients[p].t) / 1e9)));
}

/** CPU microseconds per operation, by role, between two CPU readings. */
function cpuPerOp(cpu0, cpu1, ops) {
  const perOp = {};
  for (const role of Object.keys(cpu0)) perOp[role] = ops > 0 ? (cpu1[role] - cpu0[role]) / 1000 / ops : NaN;
  perOp.relay = perOp.primary + perOp.redis; // redis-server is the relay of the Redis column
  return perOp;
}

/**
 * Waits until the clients hold every expected delivery, or `drainMs` passes. Then the final
 * counts and the latency samples: received < expected is a loss, and is reported as one.
 */
async function drain(target, expected, drainMs) {
  const deadline = Date.now() + drainMs;
  for (;;) {
    const counts = await target.allClients("count");
    if (sum(counts.map((c) => c.count)) >= expected || Date.now() > deadline) break;
    await sleep(20);
  }
  const reports = await target.allClients("report");
  const received = sum(reports.map((r) => r.count));
  return {
    expected,
    received,
    lost: Math.max(0, expected - received),
    extra: Math.max(0, received - expected),
    stale: sum(reports.map((r) => r.stale)),
    corrupt: sum(reports.map((r) => r.corrupt)),
    badOffsets: sum(reports.map((r) => r.badOffsets)),
    disconnects: sum(reports.map((r) => r.disconnects)),
    samples: reports.flatMap((r) => r.samples),
    localSamples: reports.flatMap((r) => r.localSamples),
  };
}

/** p50/p99 of latency samples (microseconds). */
function latency(samples) {
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), n: samples.length };
}

module.exports = { mark, deliveryRate, cpuPerOp, redisIdle, redisPerOp, drain, latency };
