// `npm run demo`: a real cluster on one port, and a separate process of clients that talk to it.
//
//   primary (this process)  : our setupPrimary() relays adapter messages between the workers;
//                             @socket.io/sticky's setupMaster() owns the port and sends every
//                             HTTP request of a session to the worker that holds the session
//   WORKERS workers (2)     : socket.io servers with our createAdapter()        -> worker.js
//   1 client process        : CLIENTS socket.io-client clients (24)             -> clients.js
//                             at the end, this process announces "the demo is over" to every
//                             client of every worker with our Emitter
//
//   node examples/demo/run.js            run the clients once, print what crossed which worker,
//                                        exit 0 if nothing was lost (1 otherwise)
//   node examples/demo/run.js --serve    keep the cluster running and print its URL (a chat page
//                                        for the browser; `node examples/demo/clients.js URL`)
//
// Environment: PORT (default: any free port; 3000 or the next free one with --serve), WORKERS,
// CLIENTS. Every process this starts is stopped when it ends, on Ctrl-C too.
const cluster = require("node:cluster");
const http = require("node:http");
const path = require("node:path");
const { fork } = require("node:child_process");
const { setupMaster } = require("@socket.io/sticky");
const { setupPrimary, Emitter } = require("socket.io-cluster-adapter-native");

const SERVE = process.argv.includes("--serve");
const WORKERS = Number(process.env.WORKERS) || 2;
const CLIENTS = Number(process.env.CLIENTS) || 24;
const HOST = "127.0.0.1";
const DEADLINE_MS = 50000; // the demo ends by itself well within a minute, whatever happens

const httpServer = http.createServer();
setupMaster(httpServer, {
  // round-robin spreads the new sessions evenly, even when they all arrive at once
  loadBalancingMethod: "round-robin",
});
setupPrimary();
const emitter = new Emitter(); // emits from this process to the clients of every worker
cluster.setupPrimary({
  exec: path.join(__dirname, "worker.js"),
  serialization: "advanced", // Buffers in packets, and @socket.io/sticky's forwarded request chunks
});

let clientsProcess = null;
let stopping = false;
const ready = new Map(); // worker id => pid

function log(line) {
  console.log(`[primary] ${line}`);
}

function stop(code, reason) {
  if (stopping) return;
  stopping = true;
  if (reason) log(reason);
  if (clientsProcess && clientsProcess.exitCode === null && clientsProcess.signalCode === null) {
    clientsProcess.kill("SIGTERM");
  }
  for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
  httpServer.close();
  const done = () => {
    const clientsGone = !clientsProcess || clientsProcess.exitCode !== null || clientsProcess.signalCode !== null;
    if (Object.keys(cluster.workers).length === 0 && clientsGone) process.exit(code);
  };
  cluster.on("exit", done);
  if (clientsProcess) clientsProcess.on("exit", done);
  done();
  setTimeout(() => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGKILL");
    if (clientsProcess) clientsProcess.kill("SIGKILL");
    process.exit(code);
  }, 3000).unref();
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => stop(signal === "SIGINT" ? 130 : 143, `${signal}: stopping the cluster`));
}
process.on("uncaughtException", (err) => {
  console.error(err);
  stop(1, "unexpected error: stopping the cluster");
});

cluster.on("exit", (worker, code, signal) => {
  if (!stopping) stop(1, `worker ${worker.id} exited unexpectedly (${signal || `code ${code}`})`);
});

cluster.on("message", (worker, message) => {
  if (!message || message.demo !== "ready") return;
  ready.set(message.worker, message.pid);
  if (ready.size === WORKERS) onClusterReady();
});

function listen(port) {
  return new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, HOST, () => {
      httpServer.off("error", reject);
      resolve(httpServer.address().port);
    });
  });
}

async function start() {
  let port;
  const wanted = process.env.PORT !== undefined ? Number(process.env.PORT) : SERVE ? 3000 : 0;
  try {
    port = await listen(wanted);
  } catch (err) {
    if (err.code !== "EADDRINUSE") throw err;
    log(`port ${wanted} is busy: using a free one instead`);
    port = await listen(0);
  }
  httpServer.url = `http://${HOST}:${port}`;
  log(`pid ${process.pid}, our setupPrimary() + @socket.io/sticky on ${httpServer.url}, forking ${WORKERS} workers`);
  for (let i = 0; i < WORKERS; i++) cluster.fork({ WORKERS: String(WORKERS) });
  if (!SERVE) {
    setTimeout(() => stop(1, `the demo did not finish within ${DEADLINE_MS / 1000} s`), DEADLINE_MS).unref();
  }
}

function onClusterReady() {
  const list = [...ready].sort((a, b) => a[0] - b[0]);
  log(`workers ready, each adapter sees ${WORKERS} servers: ${list.map(([id, pid]) => `worker ${id} (pid ${pid})`).join(", ")}`);
  if (SERVE) {
    log(`serving on ${httpServer.url}  (Ctrl-C to stop)`);
    log(`  open it in a browser, or: node ${path.relative(process.cwd(), path.join(__dirname, "clients.js"))} ${httpServer.url}`);
    return;
  }
  log(`forking a client process with ${CLIENTS} socket.io clients`);
  console.log();
  clientsProcess = fork(path.join(__dirname, "clients.js"), [httpServer.url], {
    env: { ...process.env, CLIENTS: String(CLIENTS) },
  });
  clientsProcess.on("message", (message) => {
    if (message && message.demo === "announce") emitter.emit("announcement", { text: "the demo is over", run: message.run });
  });
  clientsProcess.on("exit", (code, signal) => {
    if (stopping) return;
    console.log();
    reportPath();
    stop(code === 0 ? 0 : 1, code === 0 ? "demo finished: stopping the cluster" : `the clients failed (${signal || `code ${code}`}): stopping the cluster`);
  });
}

// How the messages travelled: through the Rust hub (workers linked to it) or over IPC relayed by
// this process's JavaScript. Internal diagnostics of the package, not part of its API.
function reportPath() {
  const { hubInfo, stats } = require("../../lib/primary");
  const hub = hubInfo();
  if (!hub) return log(`no hub: this primary's JavaScript relayed ${stats.relayed} messages over IPC`);
  log(
    `the Rust hub relayed ${hub.stats.framesIn} frames between ${hub.stats.links} linked workers ` +
      `(${hub.stats.framesOut} deliveries); this process's JavaScript relayed ${stats.relayed} messages ` +
      "over IPC (those sent before the workers linked to the hub)",
  );
}

start().catch((err) => {
  console.error(err);
  stop(1, "could not start");
});
