// The "With recluster" example of https://socket.io/docs/v4/cluster-adapter/ (worker.js), with our
// package. Differences from the docs: the require line of the adapter, a start-up log line and a
// tiny chat in place of `/* ... */`.
const http = require("http");
const { Server } = require("socket.io");
const { setupWorker } = require("@socket.io/sticky");
const { createAdapter } = require("socket.io-cluster-adapter-native");

console.log(`Worker ${process.pid} started`);

const httpServer = http.createServer();
const io = new Server(httpServer);

// use the cluster adapter
io.adapter(createAdapter());

// setup connection with the primary process
setupWorker(io);

io.on("connection", (socket) => {
  // tell the client which worker holds it, then relay its chat messages to every client of
  // every worker
  socket.emit("hello", { pid: process.pid });
  socket.on("chat", (text) => {
    io.emit("chat", { text, from: socket.id, worker: process.pid });
  });
});
