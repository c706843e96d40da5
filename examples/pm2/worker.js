// The worker.js of https://socket.io/docs/v4/pm2/, with our package. Differences from the docs:
// the require line of the adapter and a tiny chat next to the connection log.
// Run it with @socket.io/pm2 (not plain pm2): see README.md.
const { createServer } = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("socket.io-cluster-adapter-native");
const { setupWorker } = require("@socket.io/sticky");

const httpServer = createServer();
const io = new Server(httpServer);

io.adapter(createAdapter());

setupWorker(io);

io.on("connection", (socket) => {
  console.log(`connect ${socket.id}`);

  // tell the client which worker holds it, then relay its chat messages to every client of
  // every worker
  socket.emit("hello", { pid: process.pid });
  socket.on("chat", (text) => {
    io.emit("chat", { text, from: socket.id, worker: process.pid });
  });
});
