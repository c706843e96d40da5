"use strict";
// A cluster worker: a socket.io server on its own port (chosen by the OS) with either adapter.
// The test runs functions in it (sent as source text, over bench/harness/rpc.js) to drive
// socket.io's server-side API.

const http = require("node:http");
const { Server } = require("socket.io");
const { serve, announceReady, cloneable } = require("../../bench/harness/rpc");
const { adapterFor, listenOwnPort } = require("../../bench/harness/workers");

// A worker whose link to the hub comes late (its question to the primary is held back), as on a
// loaded machine: for the tests of what happens before the link is up.
if (process.env.TEST_HUB_QUESTION_DELAY_MS) {
  const send = process.send.bind(process);
  const delay = Number(process.env.TEST_HUB_QUESTION_DELAY_MS);
  process.send = (message, ...rest) => {
    if (message && message.kind === "hub?") return setTimeout(() => send(message, ...rest), delay);
    return send(message, ...rest);
  };
}

const index = Number(process.env.TEST_WORKER_INDEX);
const kind = process.env.TEST_WORKER_KIND;
const adapterOptions = JSON.parse(process.env.TEST_ADAPTER_OPTIONS);
const serverOptions = JSON.parse(process.env.TEST_SERVER_OPTIONS);

async function main() {
  const httpServer = http.createServer();
  // native, reference, or "redis-sharded": a plain @socket.io/redis-adapter server.
  const adapter = await adapterFor(kind, { options: adapterOptions, redisUrl: process.env.TEST_REDIS_URL });
  const io = new Server(httpServer, { ...serverOptions, adapter });
  const state = { index, kind, serverSideEvents: [] };

  function onConnection(socket) {
    socket.data.worker = index;
    socket.on("join", (rooms, cb) => {
      socket.join(rooms);
      if (typeof cb === "function") cb(index);
    });
  }
  io.on("connection", onConnection);
  io.of("/chat").on("connection", onConnection);
  // serverSideEmit handlers: record what arrives; answer "ping" with an ack (unless told not to).
  io.on("hello", (...args) => state.serverSideEvents.push(args));
  io.on("ping", (arg, cb) => {
    if (!state.silent) cb({ from: index, arg });
  });

  serve({
    async run({ code, args }) {
      // Test-only: the function's source comes from the test file.
      const fn = new Function(`return (${code})`)();
      return cloneable(await fn({ io, state, index, require }, ...args));
    },
  });

  // A graceful stop, as deploy tools do it: SIGTERM, io.close() (socket.io disconnects every client
  // with "server shutting down", a reason it persists sessions for), then exit.
  if (process.env.TEST_GRACEFUL) {
    process.on("SIGTERM", () => io.close(() => process.exit(0)));
  }

  announceReady({ port: await listenOwnPort(httpServer) });
}

main();
