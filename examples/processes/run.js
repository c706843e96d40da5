// Three plain socket.io processes (no node:cluster, no primary) behind one standalone hub: one
// command starts the hub and the servers, connects clients to each server, shows a chat, a room
// message, fetchSockets() and serverCount() crossing processes, and an Emitter in this process,
// then stops everything and exits with 0 (nothing lost) or 1.
//
//   node examples/processes/run.js
//
//   socket.io-cluster-hub --socket <tmp>/run/hub.sock   (the package's command)
//   server.js x 3, with SOCKET_IO_CLUSTER_HUB=<that socket>
//   this process: 2 socket.io clients per server, and new Emitter({ hub })
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { io } = require("socket.io-client");
const { Emitter } = require("socket.io-cluster-adapter-native");

const SERVERS = ["s1", "s2", "s3"];
const CLIENTS = 2; // per server
const DEADLINE_MS = 30000;
const HUB_BIN = require.resolve("socket.io-cluster-adapter-native/package.json").replace(/package\.json$/, "bin/socket.io-cluster-hub.js");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-processes-"));
const socketPath = path.join(dir, "run", "hub.sock");
const children = [];
const problems = [];
const log = (line = "") => console.log(line);

/** Starts a process; resolves with the first match of `ready` in its output. */
function startProcess(name, args, env, ready) {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  children.push({ name, child });
  let output = "";
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
      const match = output.match(ready);
      if (match) resolve(match[1]);
    });
    child.once("exit", (code, signal) => reject(new Error(`${name} exited (${signal || `code ${code}`})`)));
  });
}

function connect(url, name) {
  const socket = io(url, { forceNew: true, transports: ["websocket"], reconnection: false });
  socket.name = name;
  socket.got = [];
  socket.onAny((event, ...args) => socket.got.push([event, ...args]));
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what, predicate) {
  const deadline = Date.now() + 5000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

async function main() {
  await startProcess("hub", [HUB_BIN, "--socket", socketPath], {}, /(listening) on /);
  const urls = [];
  for (const name of SERVERS) {
    urls.push(await startProcess(name, [path.join(__dirname, "server.js")], { SOCKET_IO_CLUSTER_HUB: socketPath, NAME: name, PORT: "0" }, /listening on (http:\/\/[\d.:]+)/));
  }
  const clients = [];
  for (const [i, url] of urls.entries()) {
    for (let k = 0; k < CLIENTS; k++) clients.push(await connect(url, `${SERVERS[i]}/c${k}`));
  }
  // The servers count each other by heartbeats: the first ones cross within a moment.
  const counts = await Promise.all(clients.slice(0, 1).map((c) => c.timeout(5000).emitWithAck("servers")));
  log(`\nservers seen by ${clients[0].name}'s server: ${counts[0]}`);
  if (counts[0] !== SERVERS.length) problems.push(`serverCount() is ${counts[0]}, not ${SERVERS.length}`);

  clients[0].emit("chat", "hello from s1");
  await waitUntil("the chat reached every client", () => clients.every((c) => c.got.some(([e]) => e === "chat")));
  log(`chat from ${clients[0].name}: reached ${clients.filter((c) => c.got.some(([e]) => e === "chat")).length}/${clients.length} clients`);

  const member = clients[clients.length - 1];
  await member.timeout(5000).emitWithAck("join", "lobby");
  const emitter = new Emitter({ hub: socketPath });
  emitter.to("lobby").emit("news", "from the Emitter of another process");
  await waitUntil("the Emitter's room message", () => member.got.some(([e]) => e === "news"));
  await sleep(200);
  const newsCount = clients.filter((c) => c.got.some(([e]) => e === "news")).length;
  log(`Emitter (this process) -> room "lobby": reached ${member.name} only (${newsCount} client)`);
  if (newsCount !== 1) problems.push(`the room message reached ${newsCount} clients, not 1`);
  emitter.close();

  const seen = await clients[0].timeout(5000).emitWithAck("who");
  log(`fetchSockets() on s1: ${seen}/${clients.length} sockets`);
  if (seen !== clients.length) problems.push(`fetchSockets() saw ${seen} sockets, not ${clients.length}`);
  for (const c of clients) c.disconnect();
}

function stop(code) {
  for (const { child } of children.reverse()) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  setTimeout(() => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  }, 500);
}

const deadline = setTimeout(() => {
  console.error(`not done after ${DEADLINE_MS} ms`);
  stop(1);
}, DEADLINE_MS);

main().then(
  () => {
    clearTimeout(deadline);
    log(problems.length ? `\nRESULT: FAILED\n${problems.join("\n")}` : "\nRESULT: OK, nothing lost");
    stop(problems.length ? 1 : 0);
  },
  (err) => {
    console.error(err);
    stop(1);
  },
);
