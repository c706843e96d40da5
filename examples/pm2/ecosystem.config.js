// The ecosystem.config.js of https://socket.io/docs/v4/pm2/, plus the standalone hub as a second
// app. Differences from the docs: the "hub" app, the workers' SOCKET_IO_CLUSTER_HUB, and the number
// of instances from WORKERS when it is set.
// The port is NOT chosen here: the @socket.io/pm2 daemon listens on PM2_PORT (default 8080), read
// once when the daemon starts (see README.md).
const os = require("node:os");
const path = require("node:path");

// The hub's socket, in a directory of its own that the hub makes private (0700).
const HUB_SOCKET = process.env.SOCKET_IO_CLUSTER_HUB || path.join(os.tmpdir(), `sio-pm2-${os.userInfo().uid}`, "hub.sock");
// In your project: "node_modules/socket.io-cluster-adapter-native/bin/socket.io-cluster-hub.js".
const HUB_BIN = path.join(path.dirname(require.resolve("socket.io-cluster-adapter-native/package.json")), "bin", "socket.io-cluster-hub.js");

module.exports = {
  apps : [{
    name      : "hub",
    script    : HUB_BIN,
    args      : ["--socket", HUB_SOCKET],
    exec_mode : "fork",
    instances : 1
  }, {
    name      : "worker",
    script    : "worker.js",
    instances : process.env.WORKERS || "max",
    exec_mode : "cluster",
    env       : { SOCKET_IO_CLUSTER_HUB: HUB_SOCKET }
  }]
}
