// The "With recluster" example of https://socket.io/docs/v4/cluster-adapter/ (cluster.js), with our
// package. Differences from the docs: the require line of the adapter, PORT/WORKERS/HOST from the
// environment and a log line once the port is open.
const cluster = require("cluster");
const http = require("http");
const { setupMaster } = require("@socket.io/sticky");
const { setupPrimary } = require("socket.io-cluster-adapter-native");
const recluster = require("recluster");
const path = require("path");

const PORT = process.env.PORT === undefined ? 3000 : Number(process.env.PORT); // 0: any free port
const HOST = process.env.HOST || "127.0.0.1";
const WORKERS = Number(process.env.WORKERS) || undefined; // recluster's default: one per core

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
  console.log(`Primary ${process.pid} listening on http://${HOST}:${httpServer.address().port}`);
});

const balancer = recluster(path.join(__dirname, "worker.js"), { workers: WORKERS });

balancer.run();
