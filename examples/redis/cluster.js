// One "machine" of the Redis example: a node:cluster primary and its workers, as on a real
// machine, joined to the other machines through Redis by our primary's hub.
//
//   REDIS_URL=redis://127.0.0.1:6379 MACHINE=A PORT=0 WORKERS=2 node examples/redis/cluster.js
//
// The primary: @socket.io/sticky's setupMaster() owns the port (every HTTP request of a session
// reaches the worker that holds it), and our setupPrimary({ redis: { url } }) starts the hub, which
// relays between this machine's workers and is the machine's one Redis client. The workers are
// unchanged from a one-machine cluster: io.adapter(createAdapter()).
//
// run.js starts two of these and a redis-server, and drives clients against both.
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

  // The only line that differs from a one-machine cluster: the hub bridges this machine to the
  // others through Redis (@socket.io/redis-adapter's sharded Pub/Sub protocol).
  setupPrimary({ redis: { url: REDIS_URL } });

  cluster.setupPrimary({ serialization: "advanced" }); // Buffers in packets, sticky's request chunks
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
    httpServer.close();
    const done = () => Object.keys(cluster.workers).length === 0 && process.exit(0);
    cluster.on("exit", done);
    done();
    setTimeout(() => {
      for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGKILL");
      process.exit(0);
    }, 3000).unref();
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
    console.log(`[machine ${MACHINE}] primary ${process.pid}, Redis ${REDIS_URL}, listening on http://${HOST}:${httpServer.address().port}`);
    for (let i = 0; i < WORKERS; i++) cluster.fork({ MACHINE });
  });
} else {
  const WORKER = `${MACHINE}${cluster.worker.id}`; // A1, A2, B1, B2
  const io = new Server(http.createServer());
  io.adapter(createAdapter()); // unchanged: the machine's primary talks to Redis
  setupWorker(io);

  io.on("connection", (socket) => {
    socket.data = { name: socket.handshake.auth.name || socket.id, machine: MACHINE, worker: WORKER };
    socket.emit("welcome", { machine: MACHINE, worker: WORKER });

    socket.on("join", (room, ack) => {
      socket.join(String(room));
      ack({ worker: WORKER });
    });
    // io.emit(): every client of every worker of every machine
    socket.on("announce", (text) => io.emit("news", { text, from: socket.data.name, worker: WORKER }));
    // socket.to(room).emit(): the room's other members, wherever they are
    socket.on("say", (room, text) => socket.to(String(room)).emit("said", { room, text, from: socket.data.name, worker: WORKER }));
    // every socket of every machine, with the data its own worker attached to it
    socket.on("who is online", async (ack) => {
      try {
        const sockets = await io.fetchSockets();
        ack({ worker: WORKER, sockets: sockets.map((s) => ({ id: s.id, ...s.data, rooms: [...s.rooms] })) });
      } catch (err) {
        ack({ worker: WORKER, error: err.message });
      }
    });
    // how many socket.io servers this worker's adapter knows (all the workers of all machines)
    socket.on("servers", async (ack) => ack({ worker: WORKER, servers: await io.of("/").adapter.serverCount() }));
  });

  process.on("SIGINT", () => {}); // the primary stops us (Ctrl-C reaches the whole group)
  console.log(`[machine ${MACHINE}] worker ${WORKER} (pid ${process.pid}) started`);
}
