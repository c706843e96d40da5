"use strict";

// The cluster under soak, forked by bench/soak/run.js: this package's setupPrimary() (its hub) and
// SOAK_WORKERS workers (bench/soak/worker.js), advanced serialization. Besides running the cluster it
// answers the orchestrator (bench/harness/rpc.js: pid, handles, the hub's stats) and forwards its commands
// to a worker and the answers back. It stops its workers when asked, when the orchestrator goes
// away, or on a signal.

const cluster = require("node:cluster");
const path = require("node:path");
const { relayToWorkers } = require("../harness/rpc");
const { ROOT, setupPrimaryFor, forkWorker, clusterStopper, runPrimary, servePrimary } = require("../harness/workers");

const WORKERS = Number(process.env.SOAK_WORKERS || 4);
// "native": this package; "reference": @socket.io/cluster-adapter (this package is then not loaded).
const REFERENCE = process.env.SOAK_ADAPTER === "reference";

const workers = []; // index => cluster.Worker
const { stop, isStopping } = clusterStopper(workers);

function log(line) {
  process.stderr.write(`[soak primary] ${line}\n`);
}

/** The hub's counters: lib/primary.js's hubInfo(), internal; the instance the package's index.js loaded. */
function hubStats() {
  if (REFERENCE) return null; // no hub
  const info = require(path.join(ROOT, "lib", "primary")).hubInfo();
  return info ? info.stats : null;
}

async function main() {
  setupPrimaryFor(REFERENCE ? "reference" : "native"); // default options, as an application would call it
  cluster.setupPrimary({ exec: path.join(__dirname, "worker.js"), serialization: "advanced" });
  cluster.on("exit", (worker, code, signal) => {
    if (!isStopping()) {
      log(`worker ${worker.id} exited unexpectedly (${signal || `code ${code}`})`);
      stop(1);
    }
  });

  // One after the other: each worker hears every other one's heartbeat.
  const infos = [];
  for (let i = 0; i < WORKERS; i++) infos.push(await forkWorker(workers, i, { SOAK_WORKER_INDEX: String(i), SOAK_WORKERS: String(WORKERS) }));

  relayToWorkers(workers);
  servePrimary({
    info: () => ({ pid: process.pid, workers: infos }),
    hubStats,
    handles: () => process.getActiveResourcesInfo().length,
    mem: () => ({ handles: process.getActiveResourcesInfo().length, ...process.memoryUsage() }),
  }, stop);
}

runPrimary(main, stop, log);
