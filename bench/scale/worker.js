"use strict";

// A worker of a scale-suite machine: a socket.io 4.8 server on its own port with this package's
// createAdapter() (connection state recovery on when SCALE_RECOVERY says). The orchestrator drives it
// with `run`: the source of a function called here with { io, require, state, ... } (as the
// project's tests do with cluster.run), so each point of bench/scale/run.js says in one place what its
// workers do.

const http = require("node:http");
const cluster = require("node:cluster");
const { Server } = require("socket.io");
const { serve, announceReady } = require("../harness/rpc");
const { ROOT, adapterFor, listenOwnPort } = require("../harness/workers");

const INDEX = Number(process.env.SCALE_WORKER_INDEX);
// "1": every worker; otherwise the indices of the workers that have it ("0,2").
const RECOVERY = process.env.SCALE_RECOVERY === "1" || (process.env.SCALE_RECOVERY || "").split(",").includes(String(INDEX));
// Workers listed in SCALE_PLAIN_WORKERS keep socket.io's in-memory adapter: they never link to
// the hub by themselves, so a point can speak the link protocol from their process directly.
const PLAIN = (process.env.SCALE_PLAIN_WORKERS || "").split(",").includes(String(INDEX));

async function main() {
  process.on("disconnect", () => process.exit(0)); // the primary is gone
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    ...(PLAIN ? {} : { adapter: await adapterFor("native") }),
    serveClient: false,
    transports: ["websocket"],
    // a client that misses pings under load must not be dropped in the middle of a measurement
    pingInterval: 60000,
    pingTimeout: 60000,
    ...(RECOVERY ? { connectionStateRecovery: { maxDisconnectionDuration: 120000, skipMiddlewares: true } } : {}),
  });
  const port = await listenOwnPort(httpServer, { backlog: 4096 });
  const state = {};
  const ctx = { io, require, state, cluster, index: INDEX, httpServer, packageDir: ROOT };
  serve({
    async run({ src, args = [] }) {
      // eslint-disable-next-line no-eval
      const fn = eval(`(${src})`);
      return await fn(ctx, ...args);
    },
  });
  announceReady({ index: INDEX, port, pid: process.pid });
}

main().catch((err) => {
  process.stderr.write(`[scale worker ${INDEX}] ${err.stack || err}\n`);
  process.exit(1);
});
process.on("SIGTERM", () => process.exit(0));
