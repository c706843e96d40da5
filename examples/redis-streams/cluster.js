// One "machine" of the streams example: a node:cluster primary and its workers, joined to the
// other machines through Redis by our primary's hub in streams mode (the protocol of
// @socket.io/redis-streams-adapter): clients recover on any machine.
//
//   REDIS_URL=redis://127.0.0.1:6379 MACHINE=A PORT=0 WORKERS=2 node examples/redis-streams/cluster.js
//
// The primary: @socket.io/sticky's setupMaster() owns the port, and our
// setupPrimary({ redis: { url, mode: "streams" } }) starts the hub, the machine's one Redis client.
// The workers are a one-machine cluster's, with connection state recovery on. On SIGTERM a worker
// closes socket.io (io.close()), which persists its clients' sessions, as a deploy tool stops it.
const cluster = require("node:cluster");
const http = require("node:http");
const { Server } = require("socket.io");
const { setupMaster, setupWorker } = require("@socket.io/sticky");
const { createAdapter, setupPrimary } = require("socket.io-cluster-adapter-native");

const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6379";
const MACHINE = process.env.MACHINE || "A";
const WORKERS = Number(process.env.WORKERS) || 2;
const PORT = process.env.PORT === undefined ? 3000 : Number(process.env.PORT); // 0: any free port
const HOST = process.env.HOST || "127.0.0.1";

if (cluster.isPrimary) {
  const httpServer = http.createServer();
  setupMaster(httpServer, { loadBalancingMethod: "round-robin" });

  // The only line that differs from a one-machine cluster.
  setupPrimary({ redis: { url: REDIS_URL, mode: "streams" } });

  cluster.setupPrimary({ serialization: "advanced" });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Workers first (they persist their clients' sessions through the hub), then the primary.
    for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
    httpServer.close();
    const done = () => Object.keys(cluster.workers).length === 0 && setTimeout(() => process.exit(0), 200);
    cluster.on("exit", done);
    done();
    setTimeout(() => {
      for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGKILL");
      process.exit(0);
    }, 5000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("disconnect", stop); // run.js is gone
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) {
      console.log(`[machine ${MACHINE}] worker ${worker.id} exited unexpectedly (${signal || `code ${code}`})`);
      stop();
    }
  });

  httpServer.listen(PORT, HOST, () => {
    console.log(`[machine ${MACHINE}] primary ${process.pid}, Redis ${REDIS_URL} (streams), listening on http://${HOST}:${httpServer.address().port}`);
    for (let i = 0; i < WORKERS; i++) cluster.fork({ MACHINE });
  });
} else {
  const WORKER = `${MACHINE}${cluster.worker.id}`;
  const io = new Server(http.createServer(), {
    connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000 },
  });
  io.adapter(createAdapter()); // unchanged: the machine's primary talks to Redis
  setupWorker(io);

  io.on("connection", (socket) => {
    if (!socket.recovered) socket.data = { name: socket.handshake.auth.name || socket.id, joinedOn: WORKER };
    socket.emit("welcome", { worker: WORKER, recovered: socket.recovered, data: socket.data });
    socket.on("join", (room, ack) => {
      socket.join(String(room));
      ack({ worker: WORKER });
    });
    // io.to(room).emit(): kept in the Redis stream, so that a client that misses it recovers it
    socket.on("publish", (room, text, ack) => {
      io.to(String(room)).emit("news", text);
      ack({ worker: WORKER });
    });
  });

  process.on("SIGTERM", () => io.close(() => process.exit(0)));
  process.on("SIGINT", () => {}); // the primary stops us
  console.log(`[machine ${MACHINE}] worker ${WORKER} (pid ${process.pid}) started`);
}
