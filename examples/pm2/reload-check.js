// Checks connection state recovery across `pm2 reload worker`, with the daemon of run.js running
// (same PORT and PM2_HOME; PM2_BIN as for run.js). CLIENTS clients connect to the daemon's port; an
// Emitter in this process (through the standalone hub) sends numbered packets to all of them every
// FEED_MS; PM2 replaces every worker, one at a time; each client must come back recovered, with
// every packet once and in order. Prints the figures, exits 0 or 1.
//
//   PORT=3000 PM2_HOME=/tmp/pm2-home-… node examples/pm2/reload-check.js
const { spawnSync } = require("node:child_process");
const os = require("node:os");
const path = require("node:path");
const { io } = require("socket.io-client");
const { Emitter } = require("socket.io-cluster-adapter-native");

const PORT = process.env.PORT || "3000";
const CLIENTS = Number(process.env.CLIENTS) || 20;
const FEED_MS = Number(process.env.FEED_MS) || 20;
const HUB_SOCKET = process.env.SOCKET_IO_CLUSTER_HUB || path.join(os.tmpdir(), `sio-pm2-${os.userInfo().uid}`, "hub.sock");
const pm2 = process.env.PM2_BIN || "pm2";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function connect(i) {
  const socket = io(`http://127.0.0.1:${PORT}`, { forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 500 });
  socket.seqs = [];
  socket.pids = new Set();
  socket.recoveries = 0;
  socket.reconnections = 0;
  socket.on("m", (seq) => socket.seqs.push(seq));
  socket.on("hello", ({ pid }) => socket.pids.add(pid));
  socket.on("connect", () => {
    if (socket.connectedBefore) {
      socket.reconnections++;
      if (socket.recovered) socket.recoveries++;
    }
    socket.connectedBefore = true;
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(new Error(`client ${i}: ${err.message}`)));
  });
}

async function main() {
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(await connect(i));
  await sleep(500);
  const emitter = new Emitter({ hub: HUB_SOCKET });
  let sent = 0;
  const feed = setInterval(() => emitter.emit("m", sent++), FEED_MS);
  await sleep(1000);
  const started = Date.now();
  const reload = spawnSync(pm2, ["reload", "worker"], { cwd: __dirname, stdio: "inherit", env: process.env });
  const reloadMs = Date.now() - started;
  await sleep(1500);
  clearInterval(feed);
  await sleep(1000);
  emitter.close();
  let complete = 0;
  let recovered = 0;
  let moved = 0;
  for (const c of clients) {
    if (c.seqs.length === sent && c.seqs.every((seq, i) => seq === i)) complete++;
    if (c.reconnections > 0 && c.recoveries === c.reconnections) recovered++;
    if (c.pids.size > 1) moved++;
  }
  console.log(`pm2 reload: exit ${reload.status}, ${reloadMs} ms`);
  console.log(`clients: ${CLIENTS}; moved to another worker: ${moved}; recovered at every reconnection: ${recovered}`);
  console.log(`packets sent by the Emitter: ${sent}; clients with every packet once and in order: ${complete}`);
  for (const c of clients) c.disconnect();
  const ok = reload.status === 0 && moved === CLIENTS && recovered === CLIENTS && complete === CLIENTS;
  console.log(ok ? "RESULT: OK" : "RESULT: FAILED");
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
