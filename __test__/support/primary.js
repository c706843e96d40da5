"use strict";
// A cluster primary driven by a Jest test over its own IPC channel (the test forks this file), in
// the harness's dialect (bench/harness/rpc.js): it answers the test's requests, relays those
// addressed to a worker, and tells the test when a worker is ready or has exited.
// Config (argv[2], JSON): { primary: "native" | "reference" | "none",
//   workers: ["native" | "reference" | "redis-sharded", ...], redisUrl (for "redis-sharded"),
//   indexBase, serialization, adapterOptions, serverOptions, primaryOptions, graceful (workers io.close() on
//   SIGTERM, then exit, as in a zero-downtime deploy),
//   standaloneHub (start bin/socket.io-cluster-hub.js first, with these extra arguments, and give
//   its socket to every worker through SOCKET_IO_CLUSTER_HUB), plain (workers are plain child
//   processes, not cluster workers) }

const cluster = require("node:cluster");
const path = require("node:path");
const { serve, notify, relayToWorkers, cloneable } = require("../../bench/harness/rpc");
const { setupPrimaryFor, forkWorker, forkPlainProcess } = require("../../bench/harness/workers");
const { StandaloneHubProcess } = require("../../bench/harness/standalone-hub");

const config = JSON.parse(process.argv[2]);
const hub = config.standaloneHub ? new StandaloneHubProcess(config.standaloneHub.args || []) : null;

// "none": workers that need no relay (e.g. @socket.io/redis-adapter's)
setupPrimaryFor(config.primary || "none", config.primaryOptions);

cluster.setupPrimary({
  exec: path.join(__dirname, "worker.js"),
  serialization: config.serialization || "advanced",
  silent: false,
});

const workers = []; // index => cluster worker (index is the test's name for a worker)
const relayTo = relayToWorkers(workers);

const spawn = config.plain ? (env) => forkPlainProcess(path.join(__dirname, "worker.js"), env) : undefined;

function fork(kind, env = {}) {
  const index = workers.length;
  forkWorker(workers, index, {
    ...(hub && { SOCKET_IO_CLUSTER_HUB: hub.socket }),
    ...env,
    // A machine of a Fleet numbers its workers after the previous machines'.
    TEST_WORKER_INDEX: String((config.indexBase || 0) + index),
    TEST_WORKER_KIND: kind,
    TEST_ADAPTER_OPTIONS: JSON.stringify(config.adapterOptions || {}),
    TEST_SERVER_OPTIONS: JSON.stringify(config.serverOptions || {}),
    TEST_GRACEFUL: config.graceful ? "1" : "",
    TEST_REDIS_URL: config.redisUrl || "",
  }, spawn).then(
    ({ pid, port }) => notify("ready", { worker: index, port, pid, kind }),
    () => {}, // it exited during start-up: the "exit" below says so
  );
  const worker = workers[index];
  relayTo(worker);
  worker.on("exit", (code, signal) => notify("exit", { worker: index, code, signal }));
  return index;
}

function killAll() {
  for (const w of workers) if (!w.isDead()) w.process.kill("SIGKILL");
  if (hub) hub.kill("SIGKILL");
}

serve({
  fork: ({ kind, env }) => fork(kind, env),
  signal: ({ worker, signal }) => process.kill(workers[worker].process.pid, signal),
  // a message as if the primary relayed it
  raw: ({ worker, message }) => workers[worker].send(message),
  hubInfo: () => require("../../lib/primary").hubInfo(),
  primaryStats: () => require("../../lib/primary").stats,
  // The standalone hub's process: its socket, stopped (SIGTERM, or `signal`), started again.
  hubSocket: () => hub.socket,
  hubStop: ({ signal } = {}) => hub.stop(signal),
  hubStart: () => hub.start(),
  // Runs a function here, e.g. to emit with the Emitter (see emitter.test.js). Test-only: the
  // function's source comes from the test file. Called with { require } (this package as
  // "socket.io-cluster-adapter-native" resolves from here as "../..").
  primary: async ({ code, args }) => {
    const fn = new Function(`return (${code})`)();
    return cloneable(await fn({ require, pkg: require("../..") }, ...args));
  },
  stop: () => {
    killAll();
    setTimeout(() => process.exit(0), 50);
  },
});

// Nothing of this test outlives it, the hub included.
process.on("exit", () => {
  if (!hub) return;
  hub.kill("SIGKILL");
  hub.removeDir();
});

process.on("disconnect", () => {
  killAll();
  process.exit(0);
});

(hub ? hub.start() : Promise.resolve()).then(
  () => {
    for (const kind of config.workers) fork(kind);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
