"use strict";

// npm run scale: the proof at scale of issue 15. Real primaries (this package's setupPrimary()),
// real workers (socket.io 4.8 + createAdapter()), real clients over real sockets on 127.0.0.x
// (bench/scale/client.js, a light engine.io/socket.io client over `ws`). See bench/scale/README.md.
//
//   node bench/scale/run.js [--only close,persist,rooms,emit,fetch,nsp] [--size 1x|10x|both|<factor>x] [--timeout-s 120]
//
// At each operation: the largest gap of a probe stream (a unicast io.to(sid).emit every 5 ms from
// one worker to a client of another worker, neither in the load), the primary's CPU time by thread
// (/proc/<pid>/task/*/stat: all, the hub's `sio-cluster-io` thread, the JS main thread), its RSS
// before / peak / after, and the time until the operation completed. An operation that does not
// complete within --timeout-s is reported as such, and the suite goes on.

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { fork, execFileSync } = require("node:child_process");
const { RpcClient, waitReady } = require("../harness/rpc");
const { trackChild, trackPid, stopAll, installCleanup, stopProcess } = require("../harness/processes");
const { sleep, waitFor } = require("../harness/wait");
const { startRedis } = require("../harness/redis-server");
const { resetPeakRss, statusKb, clockTicks } = require("../harness/proc-stats");

const POINTS = ["close", "persist", "rooms", "emit", "fetch", "nsp"];

function parseArgs(argv) {
  const opts = { only: POINTS, sizes: ["1x"], timeoutS: 120 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--only") {
      opts.only = value().split(",");
      for (const p of opts.only) if (!POINTS.includes(p)) throw new Error(`unknown point "${p}" (one of ${POINTS.join(", ")})`);
    } else if (a === "--size") {
      const v = value();
      if (v === "both") opts.sizes = ["1x", "10x"];
      else if (/^\d+(\.\d+)?x$/.test(v) && parseFloat(v) > 0) opts.sizes = [v]; // e.g. 2x, 4x: in between
      else throw new Error(`--size: 1x, 10x, both (or another factor such as 4x), not "${v}"`);
    } else if (a === "--timeout-s") {
      opts.timeoutS = Number(value());
      if (!(opts.timeoutS > 0)) throw new Error("--timeout-s: a positive number");
    } else if (a === "--help" || a === "-h") {
      process.stdout.write("node bench/scale/run.js [--only close,persist,rooms,emit,fetch,nsp] [--size 1x|10x|both|<factor>x] [--timeout-s 120]\n");
      process.exit(0);
    } else throw new Error(`unknown argument "${a}"`);
  }
  return opts;
}

const log = (line) => process.stderr.write(`[scale] ${line}\n`);
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------
// Processes

/** A cluster primary (bench/scale/primary.js) and its workers. */
/** `recovery`: connection state recovery in every worker (true), or in those of the indices given. */
async function startMachine({ name, workers, recovery = false, redisUrl = "", plainWorkers = [] }) {
  const child = trackChild(
    fork(path.join(__dirname, "primary.js"), [], {
      env: { ...process.env, SCALE_NAME: name, SCALE_WORKERS: String(workers), SCALE_RECOVERY: Array.isArray(recovery) ? recovery.join(",") : recovery ? "1" : "", SCALE_REDIS_URL: redisUrl, SCALE_PLAIN_WORKERS: plainWorkers.join(",") },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  await waitReady(child, `${name} primary`, 90000);
  const rpc = new RpcClient(child, `${name} primary`);
  const info = await rpc.call("info");
  for (const w of info.workers) trackPid(w.pid, "bench/scale/worker.js");
  const machine = {
    name,
    child,
    rpc,
    pid: child.pid,
    workers: info.workers,
    run: (worker, fn, args = [], timeoutMs = 60000) => rpc.call("run", { src: fn.toString(), args }, { to: worker, timeoutMs }),
    // The longest hubStats() round trip through the primary since the last reset: the primary's
    // JavaScript waits on the hub's state lock for it (finding 3 of issue 15).
    hubStatsMaxMs: 0,
    async hubStats() {
      const t = now();
      const stats = await rpc.call("hubStats", {}, { timeoutMs: 30000 });
      machine.hubStatsMaxMs = Math.max(machine.hubStatsMaxMs, now() - t);
      return stats;
    },
  };
  return machine;
}

/** A client process (bench/scale/client.js) whose connections leave from `localAddress`. */
async function startClients(name, localAddress) {
  const child = trackChild(fork(path.join(__dirname, "client.js"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  await waitReady(child, name, 60000);
  const rpc = new RpcClient(child, name);
  return { name, child, rpc, pid: child.pid, localAddress, call: (cmd, args = {}, timeoutMs = 300000) => rpc.call(cmd, { localAddress, ...args }, { timeoutMs }) };
}

/** Everything a point started, stopped in reverse order. */
class Scope {
  constructor() {
    this.stops = [];
  }
  add(stop) {
    this.stops.push(stop);
  }
  async machine(opts) {
    const m = await startMachine(opts);
    this.add(() => stopProcess(m.child));
    return m;
  }
  async clients(name, localAddress) {
    const c = await startClients(name, localAddress);
    this.add(() => stopProcess(c.child));
    return c;
  }
  async redis() {
    const r = await startRedis();
    trackPid(r.pid, "redis-server");
    this.add(async () => {
      await Promise.race([r.stop(), sleep(3000)]);
    });
    return r;
  }
  async close() {
    for (const stop of this.stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        log(`stop: ${err.message}`);
      }
    }
    this.stops = [];
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** CPU time (ms) of a process's threads from /proc/<pid>/task/*\/stat (names) and schedstat (time): all, the hub's I/O thread, the JS main thread. */
function threadCpu(pid) {
  const out = { totalMs: 0, ioMs: 0, mainMs: 0, ioThreads: 0 };
  let tids = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  for (const tid of tids) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime + stime count in clock ticks (10 ms): too coarse for short operations. The thread's
    // schedstat (ns on CPU, the same time) is used where the kernel has it.
    let ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
    try {
      const ns = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      if (Number.isFinite(ns)) ms = ns / 1e6;
    } catch {
      // keep utime + stime
    }
    out.totalMs += ms;
    if (comm.startsWith("sio-cluster-io")) {
      out.ioMs += ms;
      out.ioThreads++;
    }
    if (Number(tid) === pid) out.mainMs += ms;
  }
  return out;
}

function diffCpu(a, b) {
  if (!a || !b) return null;
  return { totalMs: b.totalMs - a.totalMs, ioMs: b.ioMs - a.ioMs, mainMs: b.mainMs - a.mainMs, ioThreadNamed: b.ioThreads > 0 };
}

function loadavg() {
  try {
    return fs.readFileSync("/proc/loadavg", "utf8").trim();
  } catch {
    return os.loadavg().join(" ");
  }
}

/** A probe stream on `machine`: worker `from` emits to a client of worker `to` every 5 ms. */
async function startProbe(scope, machine, from, to) {
  const probe = await scope.clients(`probe client (${machine.name})`, "127.0.0.250");
  const opened = await probe.call("open", { port: machine.workers[to].port, n: 1 });
  const sid = opened.sids[0];
  if (!sid) throw new Error(`the probe client did not connect: ${JSON.stringify(opened.states)}`);
  await machine.run(from, ({ io, state }, sid) => {
    let seq = 0;
    state.probe = setInterval(() => io.to(sid).emit("probe", seq++), 5);
    return true;
  }, [sid]);
  await sleep(300);
  const check = await probe.call("probeGap", { from: now() - 250, to: now() });
  if (check.receptions < 5) throw new Error(`the probe stream does not flow (${JSON.stringify(check)})`);
  return probe;
}

/**
 * Runs one operation and measures it. `op()` resolves with details (or throws); it is given up
 * after `timeoutMs`. `units`: how many things the operation adds (sessions, rooms...), for the
 * RSS delta per unit.
 */
async function measure(ctx, { point, size, op, n, unit, machine, probe, timeoutMs, units = 0, settleMs = 0 }, fn) {
  const row = { point, size, op, n, unit, load: loadavg() };
  log(`${point} ${size}: ${op} (load ${row.load})`);
  const pid = machine.pid;
  row.rssBeforeKb = statusKb(pid, "VmRSS");
  const peakReset = resetPeakRss(pid);
  let sampledPeak = row.rssBeforeKb;
  const sampler = setInterval(() => {
    const kb = statusKb(pid, "VmRSS");
    if (kb > sampledPeak) sampledPeak = kb;
  }, 50);
  let statsBefore = null;
  try {
    statsBefore = await machine.hubStats();
  } catch {
    // reported as missing
  }
  machine.hubStatsMaxMs = 0;
  const cpu0 = threadCpu(pid);
  const t0 = now();
  let timer;
  try {
    const details = await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`did not complete within ${timeoutMs / 1000} s`), { timeout: true })), timeoutMs);
      }),
    ]);
    row.completedMs = now() - t0;
    row.details = details || {};
  } catch (err) {
    row.completedMs = null;
    row.error = err.timeout ? err.message : `failed: ${err.message.split("\n")[0]}`;
  } finally {
    clearTimeout(timer);
  }
  const t1 = now();
  row.hubStatsMaxMs = machine.hubStatsMaxMs || null;
  const cpu1 = threadCpu(pid);
  clearInterval(sampler);
  row.cpu = diffCpu(cpu0, cpu1);
  const hwm = statusKb(pid, "VmHWM");
  row.rssPeakKb = Math.max(sampledPeak, peakReset && Number.isFinite(hwm) ? hwm : 0);
  if (settleMs) await sleep(settleMs);
  row.rssAfterKb = statusKb(pid, "VmRSS");
  if (probe) {
    try {
      row.probe = await probe.call("probeGap", { from: t0, to: t1 }, 30000);
    } catch (err) {
      row.probe = { error: err.message };
    }
  }
  try {
    row.hubStatsBefore = statsBefore;
    row.hubStatsAfter = await machine.hubStats();
  } catch (err) {
    row.hubStatsAfter = { error: err.message };
  }
  if (units > 0 && row.completedMs !== null) row.rssPerUnitBytes = ((row.rssAfterKb - row.rssBeforeKb) * 1024) / units;
  ctx.rows.push(row);
  log(`  -> ${row.error || `${Math.round(row.completedMs)} ms`}, probe gap ${row.probe ? Math.round(row.probe.gap) : "?"} ms, hub CPU ${row.cpu ? Math.round(row.cpu.totalMs) : "?"} ms`);
  // What follows in this point would measure the hub still busy with this operation: stop the point.
  if (row.error) throw Object.assign(new Error(`${op}: ${row.error}; the rest of the point is skipped`), { recorded: true });
  return row;
}

/** Polls `check()` (async, truthy when done) every `everyMs`, for as long as it takes (a point has its own timeout). */
const until = (check, everyMs = 100) => waitFor(check, "a check", Infinity, everyMs);

/** Opens `n` connections to `port` spread over `clients` (one share each). */
async function openSpread(clients, port, n, extra = {}) {
  const share = Math.ceil(n / clients.length);
  const results = await Promise.all(
    clients.map((c, i) => {
      const count = Math.max(0, Math.min(share, n - i * share));
      return count ? c.call("open", { port, n: count, concurrency: 50, ...extra }) : { states: {}, sids: [] };
    }),
  );
  const states = {};
  for (const r of results) for (const [k, v] of Object.entries(r.states)) states[k] = (states[k] || 0) + v;
  if ((states.open || 0) < n) throw new Error(`only ${states.open || 0} of ${n} connections opened: ${JSON.stringify(states)}`);
  return states;
}

async function clientPool(scope, count, firstAddress = 2) {
  const list = [];
  for (let i = 0; i < count; i++) list.push(await scope.clients(`clients ${i}`, `127.0.0.${firstAddress + i}`));
  return list;
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------------------------
// Points. Each takes (ctx, size) and pushes rows through measure(); it starts and stops its own
// processes.

/** The size of `point` at `size` ("1x", "10x", or another factor of the 1x size). */
function sizeOf(point, size) {
  return Math.round(BASE_SIZES[point] * parseFloat(size));
}

// The 1x sizes; 10x is the size issue 15 names.
const BASE_SIZES = { close: 1900, persist: 10000, rooms: 50000, emit: 10000, fetch: 5000, nsp: 100 };

const points = {
  // io.close() of a worker holding N clients with recovery on, then the clients reconnecting to
  // two other workers and recovering. Workers: 0 closes, 1 and 2 take the reconnections, 3 -> 4 probe.
  async close(ctx, size, scope) {
    const n = sizeOf("close", size);
    const machine = await scope.machine({ name: "A", workers: 5, recovery: true });
    const clients = await clientPool(scope, Math.max(1, Math.ceil(n / 5000)));
    const probe = await startProbe(scope, machine, 3, 4);
    await openSpread(clients, machine.workers[0].port, n);
    // One stored broadcast gives every client an offset (without one it cannot recover).
    await machine.run(0, ({ io }) => io.emit("hello", "x"));
    await until(async () => sum(await Promise.all(clients.map(async (c) => (await c.call("counts")).hello || 0))) >= n);
    const base = { point: "close", size, n, machine, probe, timeoutMs: ctx.timeoutMs };
    const before = (await machine.hubStats()).sessions;
    await measure(ctx, { ...base, op: "io.close() of a worker, sessions persisted", unit: "session", units: n }, async () => {
      const closeMs = await machine.run(0, async ({ io }) => {
        const t = Date.now();
        await new Promise((resolve) => io.close(() => resolve()));
        return Date.now() - t;
      }, [], ctx.timeoutMs);
      const stats = await until(async () => {
        const s = await machine.hubStats();
        return s.sessions >= before + n ? s : null;
      });
      return { closeMs, sessions: stats.sessions };
    });
    await measure(ctx, { ...base, op: "clients reconnect to 2 other workers and recover" }, async () => {
      const results = await Promise.all(clients.map((c) => c.call("reconnect", { ports: [machine.workers[1].port, machine.workers[2].port], concurrency: 50 }, ctx.timeoutMs)));
      const recovered = sum(results.map((r) => r.recovered));
      return { recovered, of: sum(results.map((r) => r.closed)), withOffset: sum(results.map((r) => r.withOffset)), summary: `${recovered} of ${n} recovered` };
    });
  },

  // N sessions persisted at once through the link protocol: worker 0 has no adapter of ours and
  // speaks for itself what lib/hub-link.js does (asks for the hub over IPC, links with the hub's
  // secret, says "switched", then writes N PERSIST_SESSION frames in 1,000-frame writes).
  // Workers: 0 writes, 1 -> 2 probe.
  async persist(ctx, size, scope) {
    const n = sizeOf("persist", size);
    const machine = await scope.machine({ name: "A", workers: 3, recovery: true, plainWorkers: [0] });
    const probe = await startProbe(scope, machine, 1, 2);
    const hub = await machine.rpc.call("hubInfo");
    const before = (await machine.hubStats()).sessions;
    await measure(ctx, { point: "persist", size, n, machine, probe, timeoutMs: ctx.timeoutMs, op: "sessions persisted at once (link protocol)", unit: "session", units: n }, async () => {
      const written = await machine.run(0, async ({ require, cluster, packageDir }, hubPath, secret, n) => {
        const net = require("node:net");
        const { CONTROL_SOURCE, ControlKind } = require(`${packageDir}/lib/protocol`);
        // The primary allows this worker's pid on the hub when it asks for the hub.
        await new Promise((resolve) => {
          const onMessage = (m) => {
            if (m && m.source === CONTROL_SOURCE && m.kind === ControlKind.HUB) {
              process.off("message", onMessage);
              resolve();
            }
          };
          process.on("message", onMessage);
          process.send({ source: CONTROL_SOURCE, kind: ControlKind.HUB_REQUEST });
        });
        const { LinkCodec, PERSIST_SESSION } = require(`${packageDir}/native.js`);
        const { pack } = require(`${packageDir}/lib/codec`);
        const { takeQueued } = require(`${packageDir}/lib/link-writes`);
        const codec = new LinkCodec(secret, cluster.worker.id);
        const socket = net.connect(hubPath);
        await new Promise((resolve, reject) => {
          socket.on("connect", () => socket.write(codec.hello()));
          socket.on("data", (bytes) => {
            try {
              codec.push(bytes);
            } catch (err) {
              reject(err);
            }
            if (codec.accepted) resolve();
          });
          socket.on("error", reject);
        });
        // What the hub holds until the worker has relayed its IPC backlog: nothing here.
        process.send({ source: CONTROL_SOURCE, kind: ControlKind.SWITCHED });
        const uid = "5ca1e5ca1e5ca1e0";
        const data = pack({});
        let bytes = 0;
        for (let i = 0; i < n; i++) {
          const sid = `scale${String(i).padStart(15, "0")}`;
          codec.request(PERSIST_SESSION, "/", uid, null, pack({ sid, pid: `p${sid}`, rooms: [sid], data, ttl: 120000 }));
          if (i % 1000 === 999 || i === n - 1) {
            const chunk = takeQueued(codec);
            bytes += chunk.length;
            if (!socket.write(chunk)) await new Promise((resolve) => socket.once("drain", resolve));
          }
        }
        // The link stays open (closing it would announce this worker gone).
        return bytes;
      }, [hub.path, hub.secret, n], ctx.timeoutMs);
      const stats = await until(async () => {
        const s = await machine.hubStats();
        return s.sessions >= before + n ? s : null;
      });
      return { bytesWritten: written, sessions: stats.sessions };
    });
  },

  // One worker's sockets holding N rooms, Redis in dynamic mode; then N/5 rooms joined and left at
  // once. Workers: 0 holds the rooms (10 clients), 1 -> 2 probe.
  async rooms(ctx, size, scope) {
    const n = sizeOf("rooms", size);
    const m = Math.round(n / 5);
    const redis = await scope.redis();
    const machine = await scope.machine({ name: "A", workers: 3, redisUrl: redis.url });
    const [clients] = await clientPool(scope, 1);
    const probe = await startProbe(scope, machine, 1, 2);
    await clients.call("open", { port: machine.workers[0].port, n: 10 });
    const base = { point: "rooms", size, machine, probe, timeoutMs: ctx.timeoutMs };
    const channels = async () => (await machine.hubStats()).redisChannels;
    const c0 = await channels();
    await measure(ctx, { ...base, n, op: "sockets of one worker join rooms, subscribed (dynamic)", unit: "room", units: n }, async () => {
      await machine.run(0, ({ io }, n) => {
        const sockets = [...io.of("/").sockets.values()];
        const per = Math.ceil(n / sockets.length);
        sockets.forEach((s, k) => s.join(Array.from({ length: Math.min(per, n - k * per) }, (_, i) => `room-${k * per + i}`)));
        return true;
      }, [n], ctx.timeoutMs);
      return { channels: await until(async () => ((await channels()) >= c0 + n ? channels() : null), 200) };
    });
    // Idle but for hubStats() every 250 ms, as a monitoring loop would: how long the primary's
    // JavaScript waits for it shows in "hubStats() max ms".
    await measure(ctx, { ...base, n, op: `holding ${n} rooms, 5 s idle (hubStats() every 250 ms)` }, async () => {
      const end = now() + 5000;
      while (now() < end) {
        await machine.hubStats();
        await sleep(250);
      }
      return {};
    });
    const c1 = await channels();
    await measure(ctx, { ...base, n: m, op: "one socket joins rooms at once", unit: "room", units: m }, async () => {
      await machine.run(0, ({ io }, m) => {
        const socket = io.of("/").sockets.values().next().value;
        socket.join(Array.from({ length: m }, (_, i) => `extra-${i}`));
        return true;
      }, [m], ctx.timeoutMs);
      return { channels: await until(async () => ((await channels()) >= c1 + m ? channels() : null), 200) };
    });
    await measure(ctx, { ...base, n: m, op: "the same socket leaves them at once" }, async () => {
      await machine.run(0, ({ io }, m) => {
        const socket = io.of("/").sockets.values().next().value;
        for (let i = 0; i < m; i++) socket.leave(`extra-${i}`);
        return true;
      }, [m], ctx.timeoutMs);
      return { channels: await until(async () => ((await channels()) <= c1 ? channels() : null), 200) };
    });
  },

  // Another machine (its own primary and worker, same redis-server) emits to N rooms in one call;
  // on machine A one client is in the last room. A: workers 0 (receiver, with connection state
  // recovery: A's hub stores other machines' broadcasts only once a worker recovers), 1 -> 2
  // probe (without: its packets take no place in the log).
  async emit(ctx, size, scope) {
    const n = sizeOf("emit", size);
    const redis = await scope.redis();
    const machine = await scope.machine({ name: "A", workers: 3, recovery: [0], redisUrl: redis.url });
    const other = await scope.machine({ name: "B", workers: 1, redisUrl: redis.url });
    const [clients] = await clientPool(scope, 1);
    const probe = await startProbe(scope, machine, 1, 2);
    await clients.call("open", { port: machine.workers[0].port, n: 1 });
    await machine.run(0, ({ io }, room) => {
      for (const s of io.of("/").sockets.values()) s.join(room);
      return true;
    }, [`room-${n - 1}`]);
    await sleep(500); // the room's subscription reaches Redis
    // First a small emit, to see the path works.
    await other.run(0, ({ io }, room) => io.to(room).emit("small", 1), [`room-${n - 1}`]);
    await until(async () => (await clients.call("counts")).small >= 1);
    // Plain text travels as JSON through Redis; a Buffer makes the whole message MessagePack.
    // Twice each: RSS that stays after the second (3 s after each) is retained, not transient.
    for (const [event, binary] of [["big", false], ["bigbin", true], ["big2", false], ["bigbin2", true]]) {
      const cpuB0 = threadCpu(other.pid);
      const op = `other machine: io.to([...rooms]).emit(), ${binary ? "binary (MessagePack)" : "text (JSON)"}${event.endsWith("2") ? ", again" : ""}`;
      // A's hub stores such a broadcast in its recovery log (README, "Several machines"): RSS per
      // stored broadcast of N rooms, beside what hubStats().logBytes counts for it.
      await measure(ctx, { point: "emit", size, n, machine, probe, timeoutMs: ctx.timeoutMs, op, unit: "stored broadcast", units: 1, settleMs: 3000 }, async () => {
        await other.run(0, ({ io }, n, event, binary) => {
          io.to(Array.from({ length: n }, (_, i) => `room-${i}`)).emit(event, binary ? Buffer.from([1, 2, 3]) : 1);
          return true;
        }, [n, event, binary], ctx.timeoutMs);
        await until(async () => (await clients.call("counts"))[event] >= 1, 20);
        const b = diffCpu(cpuB0, threadCpu(other.pid));
        const stats = await machine.hubStats();
        return { otherPrimaryCpuMs: b && Math.round(b.totalMs), otherIoMs: b && Math.round(b.ioMs), logPackets: stats.logPackets, logBytes: stats.logBytes };
      });
    }
  },

  // fetchSockets() over N sockets on 3 workers (0, 1, 2), asked by worker 0; 3 -> 4 probe.
  async fetch(ctx, size, scope) {
    const n = sizeOf("fetch", size);
    const machine = await scope.machine({ name: "A", workers: 5 });
    const clients = await clientPool(scope, Math.max(1, Math.ceil(n / 6000)));
    const probe = await startProbe(scope, machine, 3, 4);
    for (let w = 0; w < 3; w++) await openSpread(clients, machine.workers[w].port, Math.ceil(n / 3));
    await measure(ctx, { point: "fetch", size, n: Math.ceil(n / 3) * 3, machine, probe, timeoutMs: ctx.timeoutMs, op: "fetchSockets() from worker 0", unit: "socket" }, async () => {
      const got = await machine.run(0, async ({ io }) => {
        const t = Date.now();
        const sockets = await io.fetchSockets();
        return { sockets: sockets.length, ms: Date.now() - t };
      }, [], ctx.timeoutMs);
      return { ...got, summary: `${got.sockets} sockets returned` };
    });
  },

  // N namespaces on workers 0, 1, 2 (io.of(name) in each), one client per namespace, a broadcast
  // in each; 3 -> 4 probe.
  async nsp(ctx, size, scope) {
    const n = sizeOf("nsp", size);
    const machine = await scope.machine({ name: "A", workers: 5 });
    const [clients] = await clientPool(scope, 1);
    const probe = await startProbe(scope, machine, 3, 4);
    const names = Array.from({ length: n }, (_, i) => `/nsp-${i}`);
    const base = { point: "nsp", size, n, machine, probe, timeoutMs: ctx.timeoutMs, unit: "namespace" };
    await measure(ctx, { ...base, op: "io.of(name) for each, on 3 workers" }, async () => {
      await Promise.all([0, 1, 2].map((w) => machine.run(w, ({ io }, names) => {
        for (const name of names) io.of(name);
        return true;
      }, [names], ctx.timeoutMs)));
      return {};
    });
    for (let w = 0; w < 3; w++) {
      const mine = names.filter((_, i) => i % 3 === w);
      const r = await clients.call("open", { port: machine.workers[w].port, nsps: mine, concurrency: 50 });
      if ((r.states.open || 0) < mine.length) throw new Error(`namespace clients: ${JSON.stringify(r.states)}`);
    }
    await measure(ctx, { ...base, op: `${n} namespaces, 6 s idle (heartbeats)` }, async () => {
      await sleep(6000);
      return {};
    });
    await measure(ctx, { ...base, op: "worker 0 broadcasts in each namespace" }, async () => {
      await machine.run(0, ({ io }, names) => {
        for (const name of names) io.of(name).emit("nb", 1);
        return true;
      }, [names], ctx.timeoutMs);
      const got = await until(async () => {
        const c = (await clients.call("counts")).nb || 0;
        return c >= n ? c : null;
      }, 20);
      return { received: got };
    });
  },
};

// ---------------------------------------------------------------------------------------------
// Report

const mb = (kb) => (Number.isFinite(kb) ? (kb / 1024).toFixed(0) : "?");
const ms = (x) => (x === null || x === undefined || !Number.isFinite(x) ? "?" : Math.round(x).toLocaleString("en-US"));

function table(rows) {
  const lines = [
    "| point | size | operation | completed | probe gap max (ms) | hub CPU ms: all / sio-cluster-io / JS main | primary RSS MB before / peak / after | per unit | details | load before |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const done = r.error ? r.error : `${ms(r.completedMs)} ms`;
    const gap = r.probe && Number.isFinite(r.probe.gap) ? `${ms(r.probe.gap)} (${r.probe.receptions} rx)` : "?";
    const cpu = r.cpu ? `${ms(r.cpu.totalMs)} / ${r.cpu.ioThreadNamed ? ms(r.cpu.ioMs) : "unnamed"} / ${ms(r.cpu.mainMs)}` : "?";
    const rss = `${mb(r.rssBeforeKb)} / ${mb(r.rssPeakKb)} / ${mb(r.rssAfterKb)}`;
    const per = r.rssPerUnitBytes !== undefined ? `${Math.round(r.rssPerUnitBytes)} B/${r.unit}` : "";
    const details = { ...r.details, ...(r.hubStatsMaxMs ? { "hubStats() max ms": Math.round(r.hubStatsMaxMs) } : {}) };
    const d = r.details || r.hubStatsMaxMs ? Object.entries(details).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ") : "";
    lines.push(`| ${r.point} | ${r.size} | ${r.op} | ${done} | ${gap} | ${cpu} | ${rss} | ${per} | ${d} | ${r.load.split(" ").slice(0, 3).join(" ")} |`);
  }
  return lines.join("\n");
}

function git(args) {
  try {
    return execFileSync("git", args, { cwd: __dirname, encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

async function main() {
  installCleanup(log);
  const opts = parseArgs(process.argv.slice(2));
  const ctx = { rows: [], timeoutMs: opts.timeoutS * 1000 };
  const started = new Date();
  const meta = {
    command: `node bench/scale/run.js ${process.argv.slice(2).join(" ")}`.trim(),
    commit: git(["rev-parse", "HEAD"]),
    dirty: !!git(["status", "--porcelain", "--untracked-files=no"]),
    started: started.toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    loadBefore: loadavg(),
    timeoutS: opts.timeoutS,
  };
  log(`commit ${meta.commit}${meta.dirty ? " (with uncommitted changes)" : ""}, load ${meta.loadBefore}`);
  const failures = [];
  for (const size of opts.sizes) {
    for (const point of opts.only) {
      const scope = new Scope();
      try {
        await points[point](ctx, size, scope);
      } catch (err) {
        log(`${point} ${size}: ${err.stack || err}`);
        failures.push({ point, size, error: err.message });
        if (err.recorded) ctx.rows.push({ point, size, op: "(the point stopped here)", n: sizeOf(point, size), load: loadavg(), error: "what follows an operation that did not complete is not run", completedMs: null });
        else ctx.rows.push({ point, size, op: "(setup)", n: sizeOf(point, size), load: loadavg(), error: `failed: ${err.message.split("\n")[0]}`, completedMs: null });
      } finally {
        await scope.close();
      }
    }
  }
  await stopAll();
  const out = { ...meta, finished: new Date().toISOString(), rows: ctx.rows, failures };
  const file = path.join(__dirname, "results", `${started.toISOString().replace(/[:.]/g, "-")}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`\nscale: commit ${meta.commit ? meta.commit.slice(0, 7) : "?"}${meta.dirty ? "+" : ""}, ${meta.cpus} CPUs, load before ${meta.loadBefore}\n\n${table(ctx.rows)}\n\nJSON: ${path.relative(process.cwd(), file)}\n`);
  process.exit(0);
}

main().catch(async (err) => {
  log(err.stack || String(err));
  await stopAll();
  process.exit(1);
});
