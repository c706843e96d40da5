// The "With Node.js cluster" example of https://socket.io/docs/v4/cluster-adapter/, with our package.
// Differences from the docs: the require line of the adapter, PORT/WORKERS/HOST from the
// environment, a log line once the port is open, and a tiny chat in place of `/* ... */`.
const cluster = require("cluster");
const http = require("http");
const { Server } = require("socket.io");
const numCPUs = Number(process.env.WORKERS) || require("os").cpus().length;
const { setupMaster, setupWorker } = require("@socket.io/sticky");
const { createAdapter, setupPrimary } = require("socket.io-cluster-adapter-native");

const PORT = process.env.PORT === undefined ? 3000 : Number(process.env.PORT); // 0: any free port
const HOST = process.env.HOST || "127.0.0.1";

if (cluster.isMaster) {
  console.log(`Master ${process.pid} is running`);

  const httpServer = http.createServer();

  // setup sticky sessions
  setupMaster(httpServer, {
    loadBalancingMethod: "least-connection",
  });

  // setup connections between the workers
  setupPrimary();

  // needed for packets containing buffers (you can ignore it if you only send plaintext objects)
  // Node.js < 16.0.0
  cluster.setupMaster({
    serialization: "advanced",
  });
  // Node.js > 16.0.0
  // cluster.setupPrimary({
  //   serialization: "advanced",
  // });

  httpServer.listen(PORT, HOST, () => {
    console.log(`Listening on http://${HOST}:${httpServer.address().port}`);
  });

  for (let i = 0; i < numCPUs; i++) {
    cluster.fork();
  }

  cluster.on("exit", (worker) => {
    console.log(`Worker ${worker.process.pid} died`);
    cluster.fork();
  });
} else {
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
}
