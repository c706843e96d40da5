"use strict";
// A cluster primary driven by a Jest test over its own IPC channel (the test forks this file).
// Config (argv[2], JSON): { primary: "native" | "reference" | "none",
//   workers: ["native" | "reference" | "redis-sharded", ...], redisUrl (for "redis-sharded"),
//   indexBase, serialization, adapterOptions, serverOptions, primaryOptions, graceful (workers io.close() on
//   SIGTERM, then exit, as in a zero-downtime deploy) }

const cluster = require("node:cluster");
const path = require("node:path");

const config = JSON.parse(process.argv[2]);

if (config.primary === "native") {
  require("../..").setupPrimary(config.primaryOptions);
} else if (config.primary === "reference") {
  require("@socket.io/cluster-adapter").setupPrimary();
} // "none": workers that need no relay (e.g. @socket.io/redis-adapter's)

cluster.setupPrimary({
  exec: path.join(__dirname, "worker.js"),
  serialization: config.serialization || "advanced",
  silent: false,
});

const workers = []; // index => cluster worker (index is the test's name for a worker)

function fork(kind, env = {}) {
  const index = workers.length;
  const worker = cluster.fork({
    ...env,
    // A machine of a Fleet numbers its workers after the previous machines'.
    TEST_WORKER_INDEX: String((config.indexBase || 0) + index),
    TEST_WORKER_KIND: kind,
    TEST_ADAPTER_OPTIONS: JSON.stringify(config.adapterOptions || {}),
    TEST_SERVER_OPTIONS: JSON.stringify(config.serverOptions || {}),
    TEST_GRACEFUL: config.graceful ? "1" : "",
    TEST_REDIS_URL: config.redisUrl || "",
  });
  workers.push(worker);
  worker.on("message", (message) => {
    if (message && message.test) process.send({ ...message, worker: index });
  });
  worker.on("exit", (code, signal) => process.send({ test: "exit", worker: index, code, signal }));
  return index;
}

process.on("message", (command) => {
  const worker = workers[command.worker];
  switch (command.test) {
    case "fork":
      fork(command.kind, command.env);
      break;
    case "run":
      worker.send(command);
      break;
    case "signal":
      process.kill(worker.process.pid, command.signal);
      break;
    case "raw": // a message as if the primary relayed it
      worker.send(command.message);
      break;
    case "hubInfo":
      process.send({ test: "result", id: command.id, value: require("../../lib/primary").hubInfo() });
      break;
    case "primaryStats":
      process.send({ test: "result", id: command.id, value: require("../../lib/primary").stats });
      break;
    case "primary": // runs a function here, e.g. to emit with the Emitter (see emitter.test.js)
      runHere(command);
      break;
    case "stop":
      for (const w of workers) if (!w.isDead()) w.process.kill("SIGKILL");
      setTimeout(() => process.exit(0), 50);
      break;
  }
});

// Test-only: the function's source comes from the test file. Called with { require } (this
// package as "socket.io-cluster-adapter-native" resolves from here as "../..").
async function runHere(command) {
  try {
    const fn = new Function(`return (${command.code})`)();
    const value = await fn({ require, pkg: require("../..") }, ...command.args);
    process.send({ test: "result", id: command.id, value: cloneable(value) });
  } catch (err) {
    process.send({ test: "result", id: command.id, error: String((err && err.stack) || err) });
  }
}

function cloneable(value) {
  try {
    return value === undefined ? null : structuredClone(value);
  } catch {
    return null;
  }
}

process.on("disconnect", () => {
  for (const w of workers) if (!w.isDead()) w.process.kill("SIGKILL");
  process.exit(0);
});

for (const kind of config.workers) fork(kind);
