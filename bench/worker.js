"use strict";

// A cluster worker: one socket.io server on its own port, with the adapter under test
// (BENCH_ADAPTER: a kind of bench/harness/workers.js adapterFor(): reference | native | redis |
// redis-sharded | memory; redis-sharded is createShardedAdapter(), SPUBLISH/SSUBSCRIBE,
// subscriptionMode "dynamic" (its default), the protocol our hub speaks to Redis, see
// bench/README.md, "Several machines"), and socket.io's connection state recovery when
// BENCH_RECOVERY is set (the "ours-recovery" variant). The load it generates lives in
// worker-load.js; this file sets the server up and answers the orchestrator's commands.

const http = require("node:http");
const path = require("node:path");
const { Server } = require("socket.io");
const { serve, announceReady } = require("./harness/rpc");
const { adapterFor, listenOwnPort } = require("./harness/workers");
const { WorkerLoad } = require("./worker-load");

const ADAPTER = process.env.BENCH_ADAPTER;
const INDEX = Number(process.env.BENCH_WORKER_INDEX);
const RECOVERY = process.env.BENCH_RECOVERY === "1";
// socket.io's own option, as an application would set it (2 minutes is socket.io's default).
const RECOVERY_OPTIONS = { maxDisconnectionDuration: 120000 };

/**
 * Our worker-side counters (internal, not the public API): lib/transport.js's `stats`, from the same
 * module instance the package's index.js loaded. `unrouted`: frames from other workers that had no
 * local recipient. null for the other adapters, or when this build does not count it.
 */
function counters() {
  if (ADAPTER !== "native") return null;
  const packageDir = path.dirname(require.resolve("socket.io-cluster-adapter-native"));
  const { stats } = require(path.join(packageDir, "lib", "transport"));
  return { unrouted: stats && Number.isFinite(stats.unrouted) ? stats.unrouted : null };
}

async function main() {
  process.on("disconnect", () => process.exit(0)); // the primary is gone
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: await adapterFor(ADAPTER, {
      redisUrl: process.env.BENCH_REDIS_URL,
      onRedisError: (err) => process.stderr.write(`[worker ${INDEX}] redis: ${err.message}\n`),
    }),
    serveClient: false,
    ...(RECOVERY ? { connectionStateRecovery: RECOVERY_OPTIONS } : {}),
  });
  const load = new WorkerLoad(io, INDEX);

  io.on("connection", (socket) => {
    // Setup: the orchestrator decides which rooms each client joins (same for every variant).
    socket.on("join", (rooms, ack) => {
      socket.join(rooms);
      if (typeof ack === "function") ack(true);
    });
    // Flow control: each client process reports how many deliveries from this worker it has seen.
    socket.on("credit", (credit) => load.onCredit(credit));
  });
  // Answers the server-side-emit scenario's requests from the other workers.
  io.on("bench:ping", (arg, callback) => callback(arg));

  const port = await listenOwnPort(httpServer);
  serve({
    flood: (args) => load.startFlood(args),
    mark: () => load.mark(),
    stop: () => load.stopFlood(),
    requests: (args) => load.runRequests(args),
    paced: (args) => load.runPaced(args),
    store: (args) => load.store(args),
    sockets: () => io.of("/").sockets.size,
    // How many servers this worker's adapter counts (the multi-machine set waits for all of them).
    serverCount: () => io.of("/").adapter.serverCount(),
    counters,
  });
  announceReady({ index: INDEX, port });
}

main().catch((err) => {
  process.stderr.write(`[worker ${INDEX}] ${err.stack || err}\n`);
  process.exit(1);
});

// Exit through process.exit on the orchestrator's SIGTERM, so that exit hooks run (a profile
// asked for with BENCH_WORKER_NODE_ARGS="--cpu-prof ..." is written then).
process.on("SIGTERM", () => process.exit(0));
