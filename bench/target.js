"use strict";

// One system under test: a cluster (its primary, its workers, redis-server for the Redis column)
// and the client processes connected to it. Every target gets the same clients, the same spread
// over its workers and the same rooms, so the columns differ only by the adapter.

const path = require("node:path");
const { fork } = require("node:child_process");
const { RpcClient, waitReady: waitReadyWithin } = require("./harness/rpc");
const { trackChild, trackPid, waitExit } = require("./harness/processes");
const proc = require("./harness/proc-stats");

const START_TIMEOUT_MS = 30000;

const waitReady = (child, name) => waitReadyWithin(child, name, START_TIMEOUT_MS);

class Target {
  /**
   * @param variant  reference | ours | ours-recovery | redis | floor
   * @param workers  number of workers (1 for the floor)
   * @param layout   { clients, clientProcs, rooms: [{ name, members: [clientIndex] }], smallRooms: [the same] }
   */
  constructor(variant, workers, layout) {
    this.variant = variant;
    this.workers = workers;
    this.layout = layout;
    this.label = variant === "floor" ? "floor" : `${variant} x${workers}`;
    this.primary = null;
    this.info = null;
    this.clientProcs = [];
    this.sockets = []; // [{ index, worker, id }]
  }

  async start() {
    const child = trackChild(
      fork(path.join(__dirname, "cluster-primary.js"), [], {
        env: { ...process.env, BENCH_VARIANT: this.variant, BENCH_WORKERS: String(this.workers) },
        serialization: "advanced",
      }),
    );
    this.primary = new RpcClient(child, `${this.label} primary`);
    await waitReady(child, `${this.label} primary`);
    this.info = await this.primary.call("info");
    for (const worker of this.info.workers) trackPid(worker.pid, "worker.js");
    trackPid(this.info.redisPid, "redis-server");

    await this.connectClients();
    await this.joinRooms();
  }

  async connectClients() {
    const { clients, clientProcs } = this.layout;
    const ports = this.info.workers.map((w) => w.port);
    // Client i goes to worker i mod N, and process floor(i * P / C) holds a contiguous block, so
    // every process has clients on every worker (credits need one connection per worker).
    const byProc = Array.from({ length: clientProcs }, () => []);
    for (let index = 0; index < clients; index++) {
      const worker = index % this.workers;
      byProc[Math.floor((index * clientProcs) / clients)].push({ index, worker, port: ports[worker] });
    }
    this.clientProcs = await Promise.all(
      byProc.map(async (assignments, p) => {
        const name = `${this.label} clients ${p}`;
        const child = trackChild(fork(path.join(__dirname, "clients.js"), [], { serialization: "advanced" }));
        const rpc = new RpcClient(child, name);
        await waitReady(child, name);
        // With recovery on, every stored packet a client receives ends with its offset (a string).
        const recovery = this.variant === "ours-recovery";
        const sockets = await rpc.call("connect", { proc: p, assignments, recovery }, { timeoutMs: START_TIMEOUT_MS });
        this.sockets.push(...sockets);
        return { rpc, pid: child.pid, assignments };
      }),
    );
    const counts = await this.allWorkers("sockets");
    const total = counts.reduce((a, b) => a + b, 0);
    if (total !== clients) throw new Error(`${this.label}: ${total} sockets on the workers, expected ${clients}`);
  }

  async joinRooms() {
    const roomsOf = new Map(); // client index => [room]
    for (const room of [...this.layout.rooms, ...(this.layout.smallRooms || [])]) {
      for (const index of room.members) {
        if (!roomsOf.has(index)) roomsOf.set(index, []);
        roomsOf.get(index).push(room.name);
      }
    }
    await Promise.all(
      this.clientProcs.map(({ rpc, assignments }) => {
        const rooms = {};
        for (const { index } of assignments) if (roomsOf.has(index)) rooms[index] = roomsOf.get(index);
        return rpc.call("join", { rooms });
      }),
    );
  }

  /** Socket ids held by workers other than `index` (every socket in the floor). */
  remoteSocketIds(index) {
    return this.sockets.filter((s) => this.workers === 1 || s.worker !== index).map((s) => s.id);
  }

  worker(index, cmd, args = {}, timeoutMs = 30000) {
    return this.primary.call(cmd, args, { to: index, timeoutMs });
  }

  /** `cmd` on every worker at once; `args` may be a function of the worker index. */
  allWorkers(cmd, args = {}, timeoutMs = 30000) {
    return Promise.all(
      this.info.workers.map((w) => this.worker(w.index, cmd, typeof args === "function" ? args(w.index) : args, timeoutMs)),
    );
  }

  allClients(cmd, args = {}, timeoutMs = 30000) {
    return Promise.all(this.clientProcs.map(({ rpc }) => rpc.call(cmd, args, { timeoutMs })));
  }

  /**
   * The processes whose CPU time is reported, by role. The relay of the Redis column is
   * redis-server; a standalone hub's process counts with the primary.
   */
  get pids() {
    return {
      primary: [this.info.pid, this.info.hubPid].filter(Boolean),
      redis: this.info.redisPid ? [this.info.redisPid] : [],
      workers: this.info.workers.map((w) => w.pid),
      clients: this.clientProcs.map((c) => c.pid),
    };
  }

  /** CPU time so far (ns) by role. */
  readCpu() {
    const pids = this.pids;
    const cpu = {};
    for (const role of Object.keys(pids)) cpu[role] = proc.cpuNsOf(pids[role]);
    return cpu;
  }

  /** Resets the peak RSS of the servers; remembers the primary's RSS at that moment. */
  resetPeakRss() {
    for (const pid of [...this.pids.primary, ...this.pids.redis, ...this.pids.workers]) proc.resetPeakRss(pid);
    this.primaryRssAtResetKb = this.primaryPeakRssKb(); // VmHWM right after a reset is VmRSS
  }

  /** The primary's peak RSS (kB), with a standalone hub's process. */
  primaryPeakRssKb() {
    return this.pids.primary.reduce((total, pid) => total + proc.peakRssKb(pid), 0);
  }

  /** Peak RSS (kB) since resetPeakRss(): primary (with a standalone hub), redis-server, and the largest worker. */
  peakRss() {
    return {
      primaryAtStartKb: this.primaryRssAtResetKb,
      primaryKb: this.primaryPeakRssKb(),
      redisKb: this.info.redisPid ? proc.peakRssKb(this.info.redisPid) : null,
      workerMaxKb: Math.max(...this.pids.workers.map(proc.peakRssKb)),
    };
  }

  /** Asks the primary to stop its cluster, stops the clients, and waits for them all to exit. */
  async stop() {
    const children = [this.primary, ...this.clientProcs.map((c) => c.rpc)].filter(Boolean).map((rpc) => rpc.child);
    if (this.primary && !this.primary.exited) {
      await this.primary.call("shutdown", {}, { timeoutMs: 2000 }).catch(() => {});
    }
    for (const { rpc } of this.clientProcs) rpc.child.kill("SIGTERM");
    // Whatever is still running after this is for stopAll() to kill.
    await Promise.all(children.map((child) => waitExit(child, 4000)));
  }
}

module.exports = { Target };
