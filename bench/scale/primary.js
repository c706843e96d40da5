"use strict";

// One machine of the scale suite: a cluster primary running this package's setupPrimary() (the
// hub), with SCALE_WORKERS workers (bench/scale/worker.js). SCALE_REDIS_URL: bridged to other machines
// through that redis-server, subscriptionMode "dynamic". It passes the orchestrator's commands to
// its workers (bench/harness/rpc.js, `to`) and answers `hubStats` itself. It stops its workers when asked,
// when the orchestrator goes away, or on a signal.

const cluster = require("node:cluster");
const path = require("node:path");
const { setupPrimary, hubStats } = require("../..");
const { relayToWorkers } = require("../harness/rpc");
const { ROOT, forkWorker, clusterStopper, runPrimary, servePrimary } = require("../harness/workers");

const WORKERS = Number(process.env.SCALE_WORKERS);
const REDIS_URL = process.env.SCALE_REDIS_URL || "";
const NAME = process.env.SCALE_NAME || "machine";
const workers = [];
const { stop, isStopping } = clusterStopper(workers);

function log(line) {
  process.stderr.write(`[scale ${NAME} primary] ${line}\n`);
}

async function main() {
  setupPrimary(REDIS_URL ? { redis: { url: REDIS_URL, subscriptionMode: "dynamic" } } : {});
  cluster.setupPrimary({ exec: path.join(__dirname, "worker.js"), serialization: "advanced" });
  cluster.on("exit", (worker, code, signal) => {
    if (!isStopping()) log(`worker ${worker.id} exited (${signal || `code ${code}`})`);
  });
  const infos = [];
  // SCALE_RECOVERY passes through the environment
  for (let i = 0; i < WORKERS; i++) infos.push(await forkWorker(workers, i, { SCALE_WORKER_INDEX: String(i) }));
  relayToWorkers(workers);
  servePrimary({
    info: () => ({ pid: process.pid, workers: infos }),
    hubStats: () => hubStats(),
    // The hub's socket and secret (internal: lib/primary.js), for the points that speak the link
    // protocol directly from a worker's process.
    hubInfo: () => {
      const info = require(path.join(ROOT, "lib", "primary")).hubInfo();
      return info && { path: info.path, secret: info.secret };
    },
  }, stop);
}

runPrimary(main, stop, log);
