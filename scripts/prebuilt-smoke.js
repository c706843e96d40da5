"use strict";
// The cluster proof of `npm run prebuilt` (scripts/prebuilt.js), copied into the empty project the
// packed packages were installed into and run there with the target's Node: 2 workers, one client
// on each, then a broadcast, a fetchSockets() and a serverSideEmitWithAck() across them. Prints
// which .node file was loaded; exits 0 only if all three work.
const cluster = require("node:cluster");
const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter, setupPrimary } = require("socket.io-cluster-adapter-native");

const WORKERS = 2;
// Node under qemu starts in seconds, not milliseconds: the deadline is for that case.
const DEADLINE_MS = Number(process.env.SMOKE_DEADLINE_MS) || 120000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (cluster.isPrimary) {
  primary().catch((err) => fail(err.stack || String(err)));
} else {
  worker();
}

function fail(reason) {
  console.error(`smoke: FAILED: ${reason}`);
  for (const w of Object.values(cluster.workers)) w.kill();
  process.exit(1);
}

function check(what, ok, value) {
  if (!ok) fail(`${what}: got ${JSON.stringify(value)}`);
  console.log(`smoke: ${what}: ${JSON.stringify(value)}`);
}

async function primary() {
  setTimeout(() => fail(`no result within ${DEADLINE_MS} ms`), DEADLINE_MS).unref();
  const addon = Object.keys(require.cache).find((file) => file.endsWith(".node"));
  const report = process.report.getReport().header;
  console.log(
    `smoke: node ${process.version} ${process.arch} ${report.glibcVersionRuntime ? `glibc ${report.glibcVersionRuntime}` : "musl"}; addon ${addon}`,
  );
  setupPrimary();
  cluster.setupPrimary({ serialization: "advanced" });
  const ports = await Promise.all(
    Array.from({ length: WORKERS }, () => {
      const w = cluster.fork();
      w.on("exit", (code) => fail(`worker ${w.process.pid} exited (${code})`));
      return new Promise((resolve) => w.on("message", (m) => m && m.smokePort && resolve(m.smokePort)));
    }),
  );
  const { io: connect } = require("socket.io-client");
  const clients = await Promise.all(
    ports.map(
      (port) =>
        new Promise((resolve, reject) => {
          const client = connect(`http://127.0.0.1:${port}`, { transports: ["websocket"] });
          client.once("connect", () => resolve(client));
          client.once("connect_error", reject);
        }),
    ),
  );

  const news = clients.map((client) => new Promise((resolve) => client.once("news", resolve)));
  clients[0].emit("broadcast", "hello");
  const received = await Promise.all(news);
  check("broadcast from worker 1 reached the clients of both workers", received.every((n) => n === "hello"), received);
  const count = await clients[0].emitWithAck("count");
  check("fetchSockets() on worker 1 counts the sockets of both", count === WORKERS, count);
  const pongs = await clients[1].emitWithAck("ping-servers");
  check("serverSideEmitWithAck() from worker 2 answered by the other", pongs.length === WORKERS - 1, pongs);

  for (const client of clients) client.disconnect();
  for (const w of Object.values(cluster.workers)) {
    w.removeAllListeners("exit");
    w.kill();
  }
  console.log("smoke: ok");
  process.exit(0);
}

function worker() {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter() });
  io.on("connection", (socket) => {
    socket.on("broadcast", (msg) => io.emit("news", msg));
    socket.on("count", async (ack) => ack((await io.fetchSockets()).length));
    socket.on("ping-servers", async (ack) => ack(await io.serverSideEmitWithAck("ping")));
  });
  io.on("ping", (ack) => ack(`pong from ${process.pid}`));
  httpServer.listen(0, "127.0.0.1", async () => {
    // Requests wait for the servers a worker knows of: report ready once both know each other.
    while ((await io.of("/").adapter.serverCount()) < WORKERS) await sleep(100);
    process.send({ smokePort: httpServer.address().port });
  });
}
