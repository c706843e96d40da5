"use strict";

// A worker of the soak cluster: a socket.io 4.8 server on its own port (127.0.0.1) with this
// package's createAdapter() and connection state recovery (maxDisconnectionDuration 60 s), and a
// fixed-rate load once the orchestrator says "start":
//
//   "b"  io.emit({ w, s })               s: this worker's broadcast sequence
//   "r"  io.to(room).emit({ w, room, s }) s: this worker's sequence for that room
//   "u"  io.to(socketId).emit({ w, s })  to a socket of another worker; s: per target socket
//   io.fetchSockets()                     also gives the sockets of other workers to unicast to
//   io.serverSideEmitWithAck("soak:ping") expects one answer from each other worker
//
// Clients check the sequences (bench/soak/clients.js). Every state kept here is bounded: rooms are a
// fixed set, and a unicast target's sequence is forgotten once it has not been seen for 3 minutes
// (longer than maxDisconnectionDuration, so a recovering socket keeps its sequence).

const http = require("node:http");
const { Server } = require("socket.io");
const { serve, announceReady } = require("../harness/rpc");
const { adapterFor, listenOwnPort } = require("../harness/workers");

const INDEX = Number(process.env.SOAK_WORKER_INDEX);
const WORKERS = Number(process.env.SOAK_WORKERS);
const FORGET_MS = 180000;
const LATE_MS = 1000;
const MAX_ERRORS = 10;
// Self-test of the checks (bench/soak/README.md): SOAK_INJECT=gap makes worker 0 skip broadcast 50,
// SOAK_INJECT=dup makes it send broadcast 50 twice; the soak must then fail.
const INJECT = INDEX === 0 ? process.env.SOAK_INJECT || "" : "";

function newRequestStats() {
  return { sent: 0, ok: 0, failed: 0, late: 0, maxMs: 0, totalMs: 0, errors: [] };
}

const state = {
  timers: [],
  b: 0,
  rooms: new Map(), // room => last sequence
  targets: new Map(), // socket id => { s, seenAt }
  remoteIds: [],
  emitted: { b: 0, r: 0, u: 0 },
  fetch: newRequestStats(),
  ssea: newRequestStats(),
  lastFetchSize: 0,
};

async function timed(stats, run, check) {
  stats.sent++;
  const t0 = Date.now();
  try {
    const result = await run();
    const ms = Date.now() - t0;
    stats.totalMs += ms;
    stats.maxMs = Math.max(stats.maxMs, ms);
    if (ms > LATE_MS) stats.late++;
    const problem = check(result);
    if (problem) throw new Error(problem);
    stats.ok++;
    return result;
  } catch (err) {
    stats.failed++;
    if (stats.errors.length < MAX_ERRORS) stats.errors.push(`${new Date().toISOString()} ${err.message}`);
    return null;
  }
}

function every(ms, fn) {
  if (ms > 0 && Number.isFinite(ms)) state.timers.push(setInterval(fn, ms));
}

function start(io, { rates, rooms }) {
  const roomNames = Array.from({ length: rooms }, (_, k) => `room-${k}`);
  for (const room of roomNames) if (!state.rooms.has(room)) state.rooms.set(room, 0);
  every(1000 / rates.broadcast, () => {
    state.b++;
    if (INJECT === "gap" && state.b === 50) state.b++;
    state.emitted.b++;
    io.emit("b", { w: INDEX, s: state.b });
    if (INJECT === "dup" && state.b === 50) io.emit("b", { w: INDEX, s: state.b });
  });
  every(1000 / rates.room, () => {
    const room = roomNames[Math.floor(Math.random() * roomNames.length)];
    const s = state.rooms.get(room) + 1;
    state.rooms.set(room, s);
    state.emitted.r++;
    io.to(room).emit("r", { w: INDEX, room, s });
  });
  every(1000 / rates.unicast, () => {
    if (state.remoteIds.length === 0) return;
    const id = state.remoteIds[Math.floor(Math.random() * state.remoteIds.length)];
    const target = state.targets.get(id);
    target.s++;
    state.emitted.u++;
    io.to(id).emit("u", { w: INDEX, s: target.s });
  });
  every(1000 / rates.fetch, async () => {
    const sockets = await timed(state.fetch, () => io.fetchSockets(), (list) => (Array.isArray(list) ? null : "not an array"));
    if (!sockets) return;
    state.lastFetchSize = sockets.length;
    const local = io.of("/").sockets;
    const now = Date.now();
    const remote = [];
    for (const socket of sockets) {
      if (local.has(socket.id)) continue;
      remote.push(socket.id);
      const target = state.targets.get(socket.id);
      if (target) target.seenAt = now;
      else state.targets.set(socket.id, { s: 0, seenAt: now });
    }
    state.remoteIds = remote;
    for (const [id, target] of state.targets) if (now - target.seenAt > FORGET_MS) state.targets.delete(id);
  });
  every(1000 / rates.ssea, () =>
    timed(
      state.ssea,
      () => io.serverSideEmitWithAck("soak:ping", INDEX),
      (answers) => (Array.isArray(answers) && answers.length === WORKERS - 1 ? null : `${JSON.stringify(answers)}: not ${WORKERS - 1} answers`),
    ),
  );
  return true;
}

/** Stops the load; the last sequence of every stream, for the clients' final check. */
function stop() {
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
  const uni = {};
  for (const [id, target] of state.targets) if (target.s > 0) uni[id] = target.s;
  return { w: INDEX, b: state.b, rooms: Object.fromEntries(state.rooms), uni };
}

function stats(io) {
  return {
    w: INDEX,
    sockets: io.of("/").sockets.size,
    emitted: { ...state.emitted },
    fetch: { ...state.fetch, errors: [...state.fetch.errors] },
    ssea: { ...state.ssea, errors: [...state.ssea.errors] },
    lastFetchSize: state.lastFetchSize,
    targets: state.targets.size,
  };
}

async function main() {
  process.on("disconnect", () => process.exit(0)); // the primary is gone
  // SOAK_ADAPTER=reference: @socket.io/cluster-adapter's (this package is then not loaded).
  const adapter = await adapterFor(process.env.SOAK_ADAPTER === "reference" ? "reference" : "native");
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter,
    serveClient: false,
    connectionStateRecovery: { maxDisconnectionDuration: 60000 },
  });
  io.on("connection", (socket) => {
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack(true);
    });
    socket.on("leave", (room, ack) => {
      socket.leave(room);
      if (typeof ack === "function") ack(true);
    });
  });
  io.on("soak:ping", (arg, callback) => callback(INDEX));

  const port = await listenOwnPort(httpServer);
  serve({
    start: (args) => start(io, args),
    stop,
    stats: () => stats(io),
    handles: () => process.getActiveResourcesInfo().length,
    serverCount: () => io.of("/").adapter.serverCount(),
    // V8's view, to tell a growing JS heap from native memory when RSS grows.
    mem: () => ({ handles: process.getActiveResourcesInfo().length, ...process.memoryUsage() }),
  });
  announceReady({ index: INDEX, port });
}

main().catch((err) => {
  process.stderr.write(`[soak worker ${INDEX}] ${err.stack || err}\n`);
  process.exit(1);
});

process.on("SIGTERM", () => process.exit(0));
