// A worker of the demo cluster (forked by run.js): one socket.io server with our adapter, behind
// the primary's sticky-session load balancer.
const cluster = require("node:cluster");
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { Server } = require("socket.io");
const { setupWorker } = require("@socket.io/sticky");
const { createAdapter } = require("socket.io-cluster-adapter-native");

const WORKER = cluster.worker.id; // 1, 2, ... (what the demo prints as "worker N")
const WORKERS = Number(process.env.WORKERS) || 2;
const page = fs.readFileSync(path.join(__dirname, "index.html"));

const httpServer = http.createServer((req, res) => {
  if (req.url === "/" || req.url === "/index.html") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
  } else {
    res.writeHead(404).end();
  }
});
const io = new Server(httpServer);
io.adapter(createAdapter());
setupWorker(io);

io.on("connection", (socket) => {
  const { client = socket.id.slice(0, 6), run = null } = socket.handshake.auth;
  socket.data = { client, run, worker: WORKER };
  socket.emit("welcome", { worker: WORKER });

  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack({ worker: WORKER });
  });

  // to everyone else in the room, on every worker
  socket.on("chat", (room, text) => {
    socket.to(String(room)).emit("chat", { room, text, from: client, run, fromWorker: WORKER });
  });

  // a broadcast with acknowledgements: every client of every worker answers
  socket.on("ping everyone", async (ack) => {
    if (typeof ack !== "function") return;
    const started = Date.now();
    try {
      const answers = await io.timeout(5000).emitWithAck("ping", { worker: WORKER });
      ack({ worker: WORKER, answers, ms: Date.now() - started });
    } catch (err) {
      ack({ worker: WORKER, error: err.message, ms: Date.now() - started });
    }
  });

  // every socket of the cluster, with the data its own worker attached to it
  socket.on("who is online", async (ack) => {
    if (typeof ack !== "function") return;
    try {
      const sockets = await io.fetchSockets();
      ack({
        worker: WORKER,
        sockets: sockets.map((s) => ({ id: s.id, ...s.data, rooms: [...s.rooms] })),
      });
    } catch (err) {
      ack({ worker: WORKER, error: err.message });
    }
  });
});

// The primary stops us (SIGTERM, or by closing the IPC channel); Ctrl-C reaches the whole process
// group, so leave SIGINT to the primary, which then stops everything in order.
process.on("SIGINT", () => {});

// Tell the primary once this worker's adapter has heard from every other worker: from then on a
// broadcast with acks waits for all of them.
(async function announceWhenReady() {
  for (;;) {
    const servers = await io.of("/").adapter.serverCount();
    if (servers >= WORKERS) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  process.send({ demo: "ready", worker: WORKER, pid: process.pid });
})();
