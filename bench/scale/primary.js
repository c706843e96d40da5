"use strict";

// One machine of the scale suite: a cluster primary running this package's setupPrimary() (the
// hub), with SCALE_WORKERS workers (bench/scale/worker.js). SCALE_REDIS_URL: bridged to other machines
// through that redis-server, subscriptionMode "dynamic". It passes the orchestrator's commands to
// its workers (bench/harness/rpc.js, `to`) and answers `hubStats` itself. It stops its workers when asked,
// when the orchestrator goes away, or on a signal.

const cluster = require("node:cluster");
const path = require("node:path");
const { setupPrimary, hubStats } = require("../..");
const { serve, announceReady, relayToWorkers, isReady } = require("../harness/rpc");

const WORKERS = Number(process.env.SCALE_WORKERS);
const REDIS_URL = process.env.SCALE_REDIS_URL || "";
const NAME = process.env.SCALE_NAME || "machine";
const workers = [];
let stopping = false;

function log(line) {
  process.stderr.write(`[scale ${NAME} primary] ${line}\n`);
}

function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const worker of workers) if (worker && !worker.isDead()) worker.process.kill("SIGTERM");
  const done = () => {
    if (workers.every((w) => !w || w.isDead())) process.exit(code);
  };
  cluster.on("exit", done);
  done();
  setTimeout(() => {
    for (const worker of workers) if (worker && !worker.isDead()) worker.process.kill("SIGKILL");
    process.exit(code);
  }, 3000).unref();
}

function forkWorker(index) {
  const worker = cluster.fork({ SCALE_WORKER_INDEX: String(index) }); // SCALE_RECOVERY passes through the environment
  workers[index] = worker;
  return new Promise((resolve, reject) => {
    worker.on("message", function onReady(message) {
      if (!isReady(message)) return;
      worker.off("message", onReady);
      resolve({ index, pid: worker.process.pid, port: message.port });
    });
    worker.once("exit", (code, signal) => reject(new Error(`worker ${index} exited during start-up (${signal || code})`)));
  });
}

async function main() {
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(1));
  process.on("disconnect", () => stop(1));
  process.on("uncaughtException", (err) => {
    log(err.stack || String(err));
    stop(1);
  });
  setupPrimary(REDIS_URL ? { redis: { url: REDIS_URL, subscriptionMode: "dynamic" } } : {});
  cluster.setupPrimary({ exec: path.join(__dirname, "worker.js"), serialization: "advanced" });
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) log(`worker ${worker.id} exited (${signal || `code ${code}`})`);
  });
  const infos = [];
  for (let i = 0; i < WORKERS; i++) infos.push(await forkWorker(i));
  relayToWorkers(workers);
  serve({
    info: () => ({ pid: process.pid, workers: infos }),
    hubStats: () => hubStats(),
    // The hub's socket and secret (internal: lib/primary.js), for the points that speak the link
    // protocol directly from a worker's process.
    hubInfo: () => {
      const info = require(path.join(__dirname, "..", "..", "lib", "primary")).hubInfo();
      return info && { path: info.path, secret: info.secret };
    },
    shutdown: () => {
      setImmediate(() => stop(0));
      return true;
    },
  });
  announceReady({ pid: process.pid });
}

main().catch((err) => {
  log(err.stack || String(err));
  stop(1);
});
