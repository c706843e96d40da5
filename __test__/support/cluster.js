"use strict";
// Starts a real cluster (a primary process and its workers) for one test file, and connects real
// socket.io clients to its workers over TCP on 127.0.0.1. The primary (primary.js) is driven in
// the harness's dialect (bench/harness/rpc.js).

const { fork } = require("node:child_process");
const path = require("node:path");
const { io: connect } = require("socket.io-client");
const { RpcClient, isEvent } = require("../../bench/harness/rpc");
const { sleep, waitFor } = require("../../bench/harness/wait");

class TestCluster {
  constructor(config) {
    this.config = config;
    this.workers = []; // index => { port, pid, kind, alive }
    this.clients = new Set();
    this.waiters = [];
  }

  start() {
    this.primary = fork(path.join(__dirname, "primary.js"), [JSON.stringify(this.config)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      serialization: "advanced",
      env: process.env, // Jest's copy: what a test sets there (e.g. SSL_CERT_FILE) reaches the primary
    });
    // No timeout of its own on a request: a Jest test has one.
    this.rpc = new RpcClient(this.primary, "test cluster");
    this.primary.on("message", (message) => this.onMessage(message));
    const count = this.config.workers.length;
    return this.waitUntil(() => this.workers.filter((w) => w && w.alive).length === count, "workers ready");
  }

  onMessage(message) {
    if (isEvent(message, "ready")) {
      this.workers[message.worker] = { port: message.port, pid: message.pid, kind: message.kind, alive: true };
    } else if (isEvent(message, "exit")) {
      if (this.workers[message.worker]) this.workers[message.worker].alive = false;
    } else {
      return;
    }
    this.waiters = this.waiters.filter((w) => !w());
  }

  waitUntil(predicate, what, timeout = 20000) {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeout);
      this.waiters.push(() => {
        if (!predicate()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      });
    });
  }

  /** `cmd` in the primary (`to`: in its worker of that index). */
  request(cmd, args = {}, to = null) {
    return this.rpc.call(cmd, args, { to, timeoutMs: 0 });
  }

  /** The same, for a command whose answer nobody waits for (the order of commands is kept). */
  tell(cmd, args) {
    this.request(cmd, args).catch(() => {});
  }

  /** Runs `fn({ io, state, index, require }, ...args)` in worker `index`, returns its result. */
  run(index, fn, ...args) {
    return this.request("run", { code: fn.toString(), args }, index);
  }

  /** Runs `fn({ require, pkg }, ...args)` in the primary (`pkg`: this package), returns its result. */
  runPrimary(fn, ...args) {
    return this.request("primary", { code: fn.toString(), args });
  }

  runAll(fn, ...args) {
    return Promise.all(this.aliveIndexes().map((i) => this.run(i, fn, ...args)));
  }

  aliveIndexes() {
    return this.workers.map((w, i) => (w && w.alive ? i : -1)).filter((i) => i >= 0);
  }

  signal(index, signal) {
    this.tell("signal", { worker: index, signal });
  }

  /** Delivers `message` to worker `index` as if the primary had relayed it. */
  sendRaw(index, message) {
    this.tell("raw", { worker: index, message });
  }

  hubInfo() {
    return this.request("hubInfo");
  }

  primaryStats() {
    return this.request("primaryStats");
  }

  /** Forks one more worker (`env`: extra environment, e.g. TEST_HUB_QUESTION_DELAY_MS). */
  async forkWorker(kind, env = {}) {
    const index = this.workers.length;
    this.workers[index] = undefined;
    this.tell("fork", { kind, env });
    await this.waitUntil(() => this.workers[index] && this.workers[index].alive, `worker ${index} ready`);
    return index;
  }

  waitForExit(index) {
    return this.waitUntil(() => this.workers[index] && !this.workers[index].alive, `worker ${index} exit`);
  }

  /** Waits until every live worker counts `count` servers in namespace `nsp`. */
  async waitForServerCount(count, nsp = "/", timeout = 15000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const counts = await this.runAll(({ io }, name) => io.of(name).adapter.serverCount(), nsp);
      if (counts.every((c) => c === count)) return;
      if (Date.now() > deadline) throw new Error(`server counts ${counts} never all reached ${count}`);
      await sleep(50);
    }
  }

  /** Waits until every live worker's link to the hub is up (see linkState). */
  async waitForLinks() {
    await waitFor(async () => (await this.runAll(linkState)).every((s) => s === "linked"), "links");
  }

  /** A socket.io client connected to worker `index`; records every event it receives. */
  async client(index, { nsp = "/", rooms = [], ...opts } = {}) {
    const socket = connect(`http://127.0.0.1:${this.workers[index].port}${nsp}`, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      ...opts,
    });
    socket.received = [];
    socket.onAny((event, ...args) => socket.received.push({ event, args }));
    this.clients.add(socket);
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    if (rooms.length) await socket.emitWithAck("join", rooms);
    return socket;
  }

  /** Connects a disconnected client again, to worker `index`, with its session id and offset. */
  async reconnect(client, index) {
    client.io.uri = `http://127.0.0.1:${this.workers[index].port}`;
    client.io.opts.port = String(this.workers[index].port);
    client.io.opts.hostname = "127.0.0.1";
    const connected = new Promise((resolve, reject) => {
      client.once("connect", resolve);
      client.once("connect_error", reject);
    });
    client.connect();
    await connected;
  }

  /** Disconnects every client and waits until no worker holds a socket any more. */
  async disconnectClients() {
    for (const socket of this.clients) socket.disconnect();
    this.clients.clear();
    const deadline = Date.now() + 5000;
    for (;;) {
      const counts = await this.runAll(({ io }) => io.of("/").sockets.size + io.of("/chat").sockets.size);
      if (counts.every((c) => c === 0)) return;
      if (Date.now() > deadline) throw new Error(`sockets still connected: ${counts}`);
      await sleep(20);
    }
  }

  async stop() {
    for (const socket of this.clients) socket.disconnect();
    this.clients.clear();
    if (!this.primary || this.primary.exitCode !== null || this.primary.signalCode !== null) return;
    const exited = new Promise((resolve) => this.primary.once("exit", resolve));
    this.tell("stop");
    const timer = setTimeout(() => this.primary.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/** Resolves once `socket` has received `count` events named `event` (or rejects after `timeout`). */
function waitForEvents(socket, event, count = 1, timeout = 5000) {
  const matching = () => socket.received.filter((r) => r.event === event);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      const found = matching();
      if (found.length >= count) return resolve(found);
      if (Date.now() - started > timeout) {
        return reject(new Error(`${socket.id} received ${found.length}/${count} "${event}" events`));
      }
      setTimeout(check, 10);
    };
    check();
  });
}

/** Drops the client's connection (the server sees "transport close", a recoverable reason). */
async function dropConnection(cluster, client, serverWorker) {
  const sessionsBefore = (await cluster.hubInfo())?.stats.sessions;
  const gone = new Promise((resolve) => client.once("disconnect", resolve));
  client.io.engine.close();
  await gone;
  // Wait until the old server has persisted the session (it notices the close asynchronously).
  if (sessionsBefore !== undefined) {
    await waitFor(async () => (await cluster.hubInfo()).stats.sessions > sessionsBefore, "session persisted");
  } else {
    await waitFor(
      async () => (await cluster.run(serverWorker, ({ io }, id) => io.of("/").sockets.has(id), client.id)) === false,
      "server noticed the disconnection",
    );
  }
}

/** Run in a worker: the state of its hub link ("ipc", "linking", "switching", "linked"). */
const linkState = ({ require }) => require("../../lib/transport").link.state;

/** Lets in-flight messages land, so that a test can assert that something did NOT arrive. */
function settle(ms = 300) {
  return sleep(ms);
}

module.exports = { TestCluster, dropConnection, sleep, settle, waitFor, waitForEvents, linkState };
