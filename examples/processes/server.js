// One socket.io server, a plain process (no node:cluster): what systemd or a container runs. It
// joins the others through the standalone hub named by SOCKET_IO_CLUSTER_HUB, and listens on PORT
// (0: any free port, printed).
//
//   SOCKET_IO_CLUSTER_HUB=/tmp/sio/hub.sock PORT=3001 NAME=s1 node server.js
const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter } = require("socket.io-cluster-adapter-native");

const NAME = process.env.NAME || `pid ${process.pid}`;
const httpServer = http.createServer();
const io = new Server(httpServer, { connectionStateRecovery: {} });
io.adapter(createAdapter()); // the hub's socket comes from SOCKET_IO_CLUSTER_HUB

io.on("connection", (socket) => {
  socket.emit("hello", NAME);
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack(NAME);
  });
  socket.on("chat", (text) => io.emit("chat", { text, from: NAME }));
  socket.on("servers", async (ack) => ack(await io.of("/").adapter.serverCount()));
  socket.on("who", async (ack) => ack((await io.fetchSockets()).length));
});

httpServer.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(`${NAME} listening on http://127.0.0.1:${httpServer.address().port}`);
});
// A clean stop: socket.io closes its clients, the adapter its link.
process.on("SIGTERM", () => io.close(() => process.exit(0)));
