"use strict";

// The cluster side of the harness: which adapter a worker runs, which relay its primary runs,
// forking a worker and waiting for it, and stopping a cluster so that nothing outlives it. Used by
// the cluster primaries and workers of bench/, bench/soak/, bench/scale/ and __test__/support/.

const cluster = require("node:cluster");
const path = require("node:path");
const { isReady, serve, announceReady } = require("./rpc");

/** This package (the repository), as an application loads it. */
const ROOT = path.join(__dirname, "..", "..");

/**
 * The adapter for a worker's socket.io server, by kind:
 *   native         this package's createAdapter(options)
 *   reference      @socket.io/cluster-adapter's createAdapter(options)
 *   redis          @socket.io/redis-adapter's createAdapter(pub, sub, options), two `redis` clients of `redisUrl`
 *   redis-sharded  its createShardedAdapter(pub, sub, options) (SPUBLISH/SSUBSCRIBE)
 *   redis-streams  @socket.io/redis-streams-adapter's createAdapter(client, options), a `redis`
 *                  client of `redisUrl`
 *   memory         undefined: socket.io's in-memory adapter
 * `onRedisError`: the Redis clients' "error" listener (they reconnect by themselves).
 */
async function adapterFor(kind, { options, redisUrl, onRedisError = () => {} } = {}) {
  switch (kind) {
    case "native":
      return require(ROOT).createAdapter(options);
    case "reference":
      return require("@socket.io/cluster-adapter").createAdapter(options);
    case "redis":
    case "redis-sharded": {
      const { createClient } = require("redis");
      const pubClient = createClient({ url: redisUrl });
      const subClient = pubClient.duplicate();
      for (const client of [pubClient, subClient]) client.on("error", onRedisError);
      await Promise.all([pubClient.connect(), subClient.connect()]);
      const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
      return kind === "redis-sharded" ? createShardedAdapter(pubClient, subClient, options) : createAdapter(pubClient, subClient, options);
    }
    case "redis-streams": {
      const { createClient } = require("redis");
      const client = createClient({ url: redisUrl });
      client.on("error", onRedisError);
      await client.connect();
      return require("@socket.io/redis-streams-adapter").createAdapter(client, options);
    }
    case "memory":
      return undefined;
    default:
      throw new Error(`unknown adapter kind "${kind}"`);
  }
}

/**
 * The relay of a cluster primary, by kind: "native" (this package's setupPrimary(options)),
 * "reference" (@socket.io/cluster-adapter's setupPrimary(), which takes no options), or "none"
 * (workers that need no relay, e.g. @socket.io/redis-adapter's). The package of the other kind is
 * not loaded.
 */
function setupPrimaryFor(kind, options) {
  if (kind === "native") return require(ROOT).setupPrimary(options);
  if (kind === "reference") return require("@socket.io/cluster-adapter").setupPrimary();
  if (kind !== "none") throw new Error(`unknown primary kind "${kind}"`);
}

/**
 * Forks cluster worker `index` (stored in `workers[index]`) with `env`; resolves to
 * { index, pid, port } once it has called announceReady({ port }), rejects if it exits first.
 * `spawn(env)`: how to start it, cluster.fork by default (see forkPlainProcess).
 */
function forkWorker(workers, index, env = {}, spawn = (e) => cluster.fork(e)) {
  const worker = spawn(env);
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

/**
 * Starts `file` as a plain child process (not a cluster worker: as systemd or a container would
 * run a socket.io server), with `env` added to this process's; it answers to what forkWorker and
 * the callers of a cluster Worker use (send, isConnected, isDead, process).
 */
function forkPlainProcess(file, env) {
  const child = require("node:child_process").fork(file, [], { env: { ...process.env, ...env }, serialization: "advanced" });
  child.isConnected = () => child.connected;
  child.isDead = () => child.exitCode !== null || child.signalCode !== null;
  child.process = child;
  return child;
}

/**
 * A cluster primary's way out: stop(code) sends SIGTERM to every worker, stops each of `others()`
 * (e.g. its redis-server: `stop(signal)` resolving once gone), and exits with `code` once all are
 * gone; whatever happens, nothing outlives it by more than 3 s (SIGKILL).
 */
function clusterStopper(workers, others = () => []) {
  let stopping = false;
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    for (const worker of workers) if (worker && !worker.isDead()) worker.process.kill("SIGTERM");
    const extra = others().filter(Boolean);
    const workersGone = new Promise((resolve) => {
      const done = () => {
        if (workers.every((w) => !w || w.isDead())) resolve();
      };
      cluster.on("exit", done);
      done();
    });
    Promise.all([workersGone, ...extra.map((o) => o.stop())]).then(() => process.exit(code));
    setTimeout(() => {
      for (const worker of workers) if (worker && !worker.isDead()) worker.process.kill("SIGKILL");
      for (const o of extra) o.stop("SIGKILL");
      process.exit(code);
    }, 3000).unref();
  };
  return { stop, isStopping: () => stopping };
}

/**
 * Runs a cluster primary's `main` (async): it stops (code 1, see clusterStopper) on a signal, when
 * its orchestrator goes away, on an uncaught error, or if `main` fails.
 */
function runPrimary(main, stop, log) {
  const fail = (err) => {
    log(err.stack || String(err));
    stop(1);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(1));
  process.on("disconnect", () => stop(1)); // the orchestrator is gone
  process.on("uncaughtException", fail);
  main().catch(fail);
}

/** A cluster primary answers its orchestrator (`handlers`, and "shutdown": stop(0)), then says it is ready. */
function servePrimary(handlers, stop) {
  serve({
    ...handlers,
    shutdown: () => {
      setImmediate(() => stop(0));
      return true;
    },
  });
  announceReady({ pid: process.pid });
}

/**
 * Listens on a port of its own on 127.0.0.1 (`options`: more of server.listen()'s, e.g.
 * backlog); resolves to the port. exclusive: without it, cluster workers share one port, handed
 * out round-robin by the primary, and a client could not choose its worker.
 */
function listenOwnPort(httpServer, options = {}) {
  return new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen({ port: 0, host: "127.0.0.1", exclusive: true, ...options }, () => resolve(httpServer.address().port));
  });
}

module.exports = { ROOT, adapterFor, setupPrimaryFor, forkWorker, forkPlainProcess, clusterStopper, runPrimary, servePrimary, listenOwnPort };
