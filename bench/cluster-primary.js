"use strict";

// One cluster under test, forked by the orchestrator (bench/run.js):
//
//   BENCH_VARIANT=reference  setupPrimary() of @socket.io/cluster-adapter, workers use its createAdapter()
//   BENCH_VARIANT=ours       setupPrimary() of this package, workers use its createAdapter()
//   BENCH_VARIANT=ours-recovery  the same, and the workers' socket.io servers have
//                            connectionStateRecovery on (every stored broadcast goes through the
//                            hub's packet log, see the README's "Connection state recovery")
//   BENCH_VARIANT=ours-standalone  no relay in the primary: it starts a standalone hub (the
//                            socket.io-cluster-hub command, a process of its own) and the workers
//                            link to it (SOCKET_IO_CLUSTER_HUB); its CPU counts as the relay's
//   BENCH_VARIANT=redis      no relay in the primary; it starts a redis-server and the workers use
//                            @socket.io/redis-adapter
//   BENCH_VARIANT=floor      one worker with socket.io's in-memory adapter: nothing crosses processes
//
// One "machine" of the multi-machine set (bench/machines.js starts two of these and the
// redis-server they share, and passes its URL in BENCH_REDIS_URL):
//
//   BENCH_VARIANT=ours-redis     setupPrimary({ redis: { url } }) of this package: its hub is the
//                                machine's one Redis client; workers use its createAdapter()
//   BENCH_VARIANT=redis-sharded  no relay; the workers use @socket.io/redis-adapter's
//                                createShardedAdapter() (two Redis connections each)
//   BENCH_VARIANT=ours-streams   setupPrimary({ redis: { url, mode: "streams" } }) (--machine-protocol streams)
//   BENCH_VARIANT=redis-streams  no relay; the workers use @socket.io/redis-streams-adapter's
//                                createAdapter() (three Redis connections each)
//
// BENCH_WORKER_BASE: the index of this machine's first worker among all the machines' workers
// (0 for a single cluster), so that worker indices are unique across machines.
//
// Besides running the cluster, this process only passes bench commands from the orchestrator to
// a worker and the answers back. It stops its workers (and redis-server) when asked, when the
// orchestrator goes away, or on a signal.

const cluster = require("node:cluster");
const path = require("node:path");
const { relayToWorkers } = require("./harness/rpc");
const { startRedis } = require("./harness/redis-server");
const { ROOT, setupPrimaryFor, forkWorker: fork, clusterStopper, runPrimary, servePrimary } = require("./harness/workers");
const { StandaloneHubProcess } = require("./harness/standalone-hub");

const VARIANT = process.env.BENCH_VARIANT;
const OURS = ["ours", "ours-recovery", "ours-redis", "ours-streams", "ours-standalone"].includes(VARIANT);
const WORKERS = Number(process.env.BENCH_WORKERS);
const WORKER_BASE = Number(process.env.BENCH_WORKER_BASE) || 0;
// The multi-machine variants use the orchestrator's redis-server (one for both machines).
const SHARED_REDIS_URL = process.env.BENCH_REDIS_URL || "";

const workers = []; // index => cluster.Worker
let redis = null;
const standaloneHub = VARIANT === "ours-standalone" ? new StandaloneHubProcess() : null;
// The hub goes after the workers (clusterStopper stops these once they are gone).
const hubStopper = standaloneHub && {
  stop: (signal) =>
    standaloneHub.stop(signal).then(() => standaloneHub.removeDir()),
};
const { stop, isStopping } = clusterStopper(workers, () => [redis, hubStopper]);

function log(line) {
  process.stderr.write(`[${VARIANT} primary] ${line}\n`);
}

function setupRelay() {
  if (VARIANT === "reference") setupPrimaryFor("reference");
  else if (VARIANT === "ours-redis") {
    // BENCH_REDIS_MIXED_FLEET=1: the mode for fleets with plain redis-adapter servers (one more
    // Redis connection per worker, each worker counted as a subscriber), to measure what it costs.
    const mixedFleet = process.env.BENCH_REDIS_MIXED_FLEET === "1";
    setupPrimaryFor("native", { redis: { url: SHARED_REDIS_URL, mixedFleet } });
  }
  else if (VARIANT === "ours-streams") setupPrimaryFor("native", { redis: { url: SHARED_REDIS_URL, mode: "streams" } });
  else if (OURS && !standaloneHub) setupPrimaryFor("native");
}

/** The kind of adapter the workers run (bench/harness/workers.js adapterFor()). */
function adapterOfWorkers() {
  if (VARIANT === "floor") return "memory";
  // "redis" (createAdapter), "redis-sharded" (createShardedAdapter), "redis-streams"
  // (@socket.io/redis-streams-adapter's createAdapter)
  return OURS ? "native" : VARIANT;
}

/**
 * The hub's counters (packets and bytes in the recovery log, sessions, frames), null without our
 * hub. Internal: lib/primary.js's hubInfo(), the same module instance the package's index.js
 * loaded (the package resolves to this repository), not part of the public API.
 */
function hubStats() {
  if (!OURS || standaloneHub) return null; // a standalone hub's counters are in its own process
  const info = require(path.join(ROOT, "lib", "primary")).hubInfo();
  return info ? info.stats : null;
}

async function forkWorker(index) {
  const info = await fork(workers, index, {
    BENCH_ADAPTER: adapterOfWorkers(),
    BENCH_RECOVERY: VARIANT === "ours-recovery" ? "1" : "",
    BENCH_WORKER_INDEX: String(WORKER_BASE + index),
    BENCH_REDIS_URL: redis ? redis.url : SHARED_REDIS_URL,
    ...(standaloneHub && { SOCKET_IO_CLUSTER_HUB: standaloneHub.socket }),
  });
  return { ...info, globalIndex: WORKER_BASE + index };
}

async function main() {
  setupRelay();
  if (VARIANT === "redis") redis = await startRedis();
  if (standaloneHub) await standaloneHub.start();
  cluster.setupPrimary({
    exec: path.join(__dirname, "worker.js"),
    serialization: "advanced", // Buffers in packets need it (and both cluster adapters expect it)
    // For profiling, e.g. BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
    execArgv: [...process.execArgv, ...(process.env.BENCH_WORKER_NODE_ARGS || "").split(" ").filter(Boolean)],
  });
  cluster.on("exit", (worker, code, signal) => {
    if (!isStopping()) {
      log(`worker ${worker.id} exited unexpectedly (${signal || `code ${code}`})`);
      stop(1);
    }
  });

  // Start the workers one after the other: a cluster adapter learns its peers from their
  // heartbeats, and a staggered start makes sure every worker has heard every other one.
  const infos = [];
  for (let i = 0; i < WORKERS; i++) infos.push(await forkWorker(i));

  // Orchestrator -> worker: forward; worker -> orchestrator: forward the answer.
  relayToWorkers(workers);
  servePrimary({
    info: () => ({ pid: process.pid, redisPid: redis ? redis.pid : null, hubPid: standaloneHub ? standaloneHub.pid : null, workers: infos }),
    hubStats,
  }, stop);
}

runPrimary(main, stop, log);
