// The ecosystem.config.js of https://socket.io/docs/v4/pm2/. Difference from the docs: the number
// of instances comes from WORKERS when it is set.
// The port is NOT chosen here: the @socket.io/pm2 daemon listens on PM2_PORT (default 8080), read
// once when the daemon starts (see README.md).
module.exports = {
  apps : [{
    script    : "worker.js",
    instances : process.env.WORKERS || "max",
    exec_mode : "cluster"
  }]
}
