// The worker.js of https://socket.io/docs/v4/pm2/, with our package. Differences from the docs:
// the require line of the adapter, connection state recovery (through the standalone hub, it
// survives `pm2 reload`; io.close() on SIGINT, which PM2 sends, lets socket.io keep the sessions),
// and a tiny chat next to the connection log. The adapter links to the hub named by
// SOCKET_IO_CLUSTER_HUB (ecosystem.config.js); without it, it speaks plain IPC with PM2's primary.
// Run it with @socket.io/pm2 (not plain pm2): see README.md.
const { createServer } = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("socket.io-cluster-adapter-native");
const { setupWorker } = require("@socket.io/sticky");

const httpServer = createServer();
const io = new Server(httpServer, { connectionStateRecovery: {} });

io.adapter(createAdapter());

setupWorker(io);

process.on("SIGINT", () => io.close(() => process.exit(0)));

io.on("connection", (socket) => {
  console.log(`connect ${socket.id}`);

  // tell the client which worker holds it, then relay its chat messages to every client of
  // every worker
  socket.emit("hello", { pid: process.pid });
  socket.on("chat", (text) => {
    io.emit("chat", { text, from: socket.id, worker: process.pid });
  });
});
