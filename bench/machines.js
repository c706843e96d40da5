"use strict";

// The multi-machine set (`--machines 2`, see bench/README.md, "Several machines"): several
// "machines" on this one box, each a cluster of its own (a cluster-primary.js and its workers),
// joined through one redis-server that this target starts:
//
//   ours-redis     each primary runs our setupPrimary({ redis: { url } }): the hub is its
//                  machine's one Redis client; the workers use our createAdapter()
//   redis-sharded  each worker runs @socket.io/redis-adapter's createShardedAdapter() with two
//                  `redis` v4 clients (subscriptionMode "dynamic", its default); no relay
//
// To the scenarios it looks like one Target of machines x workersPerMachine workers: worker
// indices run across the machines (0, 1 on machine 0; 2, 3 on machine 1), client i goes to worker
// i mod N, and a bench command for worker i goes through the primary of its machine. The
// redis-server's own counters (INFO) are read at each mark (readRedis()).

const path = require("node:path");
const { fork } = require("node:child_process");
const { Target } = require("./target");
const { RpcClient, waitReady } = require("./harness/rpc");
const { trackChild, trackPid, waitExit } = require("./harness/processes");
const { sleep } = require("./harness/wait");
const { startRedis } = require("./harness/redis-server");
const { RedisInfo } = require("./redis-info");
const proc = require("./harness/proc-stats");
const { MACHINE_VARIANTS } = require("./options");

const START_TIMEOUT_MS = 30000;

class MachinesTarget extends Target {
  /**
   * @param variant            ours-redis | redis-sharded | ours-streams | redis-streams
   * @param machines           clusters joined through Redis
   * @param workersPerMachine  workers of each cluster
   */
  constructor(variant, machines, workersPerMachine, layout) {
    super(variant, machines * workersPerMachine, layout);
    this.machines = machines;
    this.workersPerMachine = workersPerMachine;
    this.label = `${variant} ${machines}x${workersPerMachine}`;
    this.primaries = []; // RpcClient per machine
    this.redis = null;
    this.redisInfo = null;
    // What run.js expects of a target's primary: whether one has exited, and hubStats (summed).
    const self = this;
    this.primary = {
      get exited() {
        return self.primaries.map((p) => p.exited).find(Boolean) || null;
      },
      async call(cmd, args, options) {
        const answers = await Promise.all(self.primaries.map((p) => p.call(cmd, args, options)));
        if (cmd !== "hubStats") return answers[0];
        return sumFields(answers);
      },
    };
  }

  async start() {
    this.redis = await startRedis();
    trackChild(this.redis.child);
    trackPid(this.redis.pid, "redis-server");
    this.redisInfo = new RedisInfo(this.redis.port);
    await this.redisInfo.connect();

    const workers = [];
    const pids = [];
    // One machine after the other, so each new worker's first heartbeat reaches every earlier one.
    for (let m = 0; m < this.machines; m++) {
      const name = `${this.label} primary ${m}`;
      const child = trackChild(
        fork(path.join(__dirname, "cluster-primary.js"), [], {
          env: {
            ...process.env,
            BENCH_VARIANT: this.variant,
            BENCH_WORKERS: String(this.workersPerMachine),
            BENCH_WORKER_BASE: String(m * this.workersPerMachine),
            BENCH_REDIS_URL: this.redis.url,
          },
          serialization: "advanced",
        }),
      );
      const rpc = new RpcClient(child, name);
      this.primaries.push(rpc);
      await waitReady(child, name);
      const info = await rpc.call("info");
      pids.push(info.pid);
      for (const w of info.workers) {
        trackPid(w.pid, "worker.js");
        workers.push({ index: w.globalIndex, local: w.index, machine: m, pid: w.pid, port: w.port });
      }
    }
    this.info = { pid: pids[0], primaryPids: pids, redisPid: this.redis.pid, workers };
    await this.waitServerCount();
    await this.connectClients();
    await this.joinRooms();
  }

  /** Until every worker's adapter counts every server of every machine. */
  async waitServerCount() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const counts = await this.allWorkers("serverCount");
      if (counts.every((n) => n === this.workers)) return;
      if (Date.now() > deadline) {
        throw new Error(`${this.label}: the workers count ${counts.join(", ")} servers, expected ${this.workers} each`);
      }
      await sleep(100);
    }
  }

  worker(index, cmd, args = {}, timeoutMs = 30000) {
    const machine = Math.floor(index / this.workersPerMachine);
    return this.primaries[machine].call(cmd, args, { to: index % this.workersPerMachine, timeoutMs });
  }

  machineOf(workerIndex) {
    return Math.floor(workerIndex / this.workersPerMachine);
  }

  /**
   * The unicast targets of worker `index`: as many sockets of the other machines as of the other
   * workers of its own machine, alternately, so that half of the unicasts cross machines. With
   * one worker per machine, every socket of the other machines.
   */
  remoteSocketIds(index) {
    const mine = this.machineOf(index);
    const sameMachine = this.sockets.filter((s) => s.worker !== index && this.machineOf(s.worker) === mine);
    const otherMachines = this.sockets.filter((s) => this.machineOf(s.worker) !== mine);
    if (!sameMachine.length) return otherMachines.map((s) => s.id);
    // Spread the other machines' share over all their workers: sort by position within each worker.
    const rank = new Map();
    const seen = new Map();
    for (const s of otherMachines) {
      const k = seen.get(s.worker) || 0;
      seen.set(s.worker, k + 1);
      rank.set(s, k);
    }
    const spread = [...otherMachines].sort((a, b) => rank.get(a) - rank.get(b) || a.worker - b.worker);
    const ids = [];
    for (let k = 0; k < sameMachine.length; k++) {
      ids.push(sameMachine[k].id);
      if (k < spread.length) ids.push(spread[k].id);
    }
    return ids;
  }

  /** Redis's own counters now (INFO): CPU us, bytes out/in, commands, clients (ours included). */
  readRedis() {
    return this.redisInfo.read();
  }

  get pids() {
    return {
      primary: this.info.primaryPids,
      redis: [this.info.redisPid],
      workers: this.info.workers.map((w) => w.pid),
      clients: this.clientProcs.map((c) => c.pid),
    };
  }

  resetPeakRss() {
    for (const pid of [...this.pids.primary, ...this.pids.redis, ...this.pids.workers]) proc.resetPeakRss(pid);
    this.primaryRssAtResetKb = Math.max(...this.info.primaryPids.map(proc.peakRssKb));
  }

  /** As Target's; the primary figure is the largest of the machines' primaries. */
  peakRss() {
    return {
      primaryAtStartKb: this.primaryRssAtResetKb,
      primaryKb: Math.max(...this.info.primaryPids.map(proc.peakRssKb)),
      redisKb: proc.peakRssKb(this.info.redisPid),
      workerMaxKb: Math.max(...this.pids.workers.map(proc.peakRssKb)),
    };
  }

  async stop() {
    const children = [...this.primaries, ...this.clientProcs.map((c) => c.rpc)].map((rpc) => rpc.child);
    await Promise.all(
      this.primaries.filter((p) => !p.exited).map((p) => p.call("shutdown", {}, { timeoutMs: 2000 }).catch(() => {})),
    );
    for (const { rpc } of this.clientProcs) rpc.child.kill("SIGTERM");
    await Promise.all(children.map((child) => waitExit(child, 4000)));
    if (this.redisInfo) this.redisInfo.close();
    if (this.redis) {
      this.redis.stop();
      await waitExit(this.redis.child, 3000);
    }
  }
}

/** Field-by-field sum of objects of numbers (null if any is null). */
function sumFields(objects) {
  if (objects.some((o) => !o)) return null;
  const total = {};
  for (const key of Object.keys(objects[0])) {
    const values = objects.map((o) => o[key]);
    total[key] = values.every((v) => typeof v === "number") ? values.reduce((a, b) => a + b, 0) : values[0];
  }
  return total;
}

module.exports = { MachinesTarget, MACHINE_VARIANTS };
