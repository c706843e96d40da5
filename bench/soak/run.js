#!/usr/bin/env node
"use strict";

// `npm run soak -- --minutes 10` / `node bench/soak/run.js [options]` (see --help and bench/soak/README.md).
//
// A real cluster (bench/soak/primary.js: this package's setupPrimary() and 4 workers, bench/soak/worker.js;
// with --adapter reference, @socket.io/cluster-adapter's setupPrimary() and createAdapter() instead)
// and client processes (bench/soak/clients.js) under a mixed, fixed-rate load with churn for N minutes.
// Every 10 s it samples the memory, descriptors and handles of the primary and of each worker and
// the hub's stats; at the end the clients' checks and the workers' request counts; then a report
// (stdout), the samples and the report as JSON (bench/soak/results/<timestamp>.json), and exit code 1 if
// anything failed (bench/soak/analyze.js holds the rules).

const fs = require("node:fs");
const path = require("node:path");
const { fork, execFileSync } = require("node:child_process");
const { RpcClient, waitReady } = require("../harness/rpc");
const { trackChild, trackPid, stopAll } = require("../harness/processes");
const { sleep } = require("../harness/wait");
const { statusKb } = require("../harness/proc-stats");
const { RULES, RULE_TEXT, REFERENCE_RULE_TEXT, analyze } = require("./analyze");

// setupPrimary()'s default recovery bounds (README, "Options"): the soak calls it without options.
const ADAPTERS = ["native", "reference"];
const HUB_BOUNDS = { maxPackets: 100000, maxBytes: 64 * 1024 * 1024, maxSessions: 100000 };

const HELP = `Usage: node bench/soak/run.js [options]   (npm run soak -- [options] builds first)

  --minutes N        duration of the load (default 10)
  --seconds N        duration in seconds instead (a quick run)
  --workers N        cluster workers (default 4)
  --clients N        socket.io clients in all (default 100)
  --client-procs N   processes holding them (default 2)
  --rooms N          rooms (default 10)
  --interval S       seconds between samples (default 10)
  --rate kind=N,...  per worker and second: broadcast=10,room=5,unicast=10,fetch=1,ssea=1
  --churn-ms N       churn period per client process (default 3000)
  --churn a,b,c      per period and process: recover,renew,rooms (default 2,1,3)
  --seed N           seed of the clients' choices (default 1)
  --adapter NAME     native (this package, default) or reference (@socket.io/cluster-adapter:
                     no hub, no cluster-wide recovery: failed recoveries and offsets not judged)
  --out FILE         JSON output (default bench/soak/results/<timestamp>.json)
  --help
`;

function log(line) {
  process.stderr.write(`[soak] ${line}\n`);
}

function parse(argv) {
  const opts = {
    durationS: 600,
    workers: 4,
    clients: 100,
    clientProcs: 2,
    rooms: 10,
    intervalS: 10,
    rates: { broadcast: 10, room: 5, unicast: 10, fetch: 1, ssea: 1 },
    churnMs: 3000,
    churn: { recover: 2, renew: 1, rooms: 3 },
    seed: 1,
    adapter: "native",
    out: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    const num = () => {
      const v = Number(next());
      if (!(v >= 0)) throw new Error(`${flag}: a number`);
      return v;
    };
    switch (flag) {
      case "--minutes": opts.durationS = num() * 60; break;
      case "--seconds": opts.durationS = num(); break;
      case "--workers": opts.workers = num(); break;
      case "--clients": opts.clients = num(); break;
      case "--client-procs": opts.clientProcs = num(); break;
      case "--rooms": opts.rooms = num(); break;
      case "--interval": opts.intervalS = num(); break;
      case "--churn-ms": opts.churnMs = num(); break;
      case "--seed": opts.seed = num(); break;
      case "--out": opts.out = next(); break;
      case "--adapter":
        opts.adapter = next();
        if (!ADAPTERS.includes(opts.adapter)) throw new Error(`--adapter: ${ADAPTERS.join(" or ")}`);
        break;
      case "--rate":
        for (const part of next().split(",")) {
          const [k, v] = part.split("=");
          if (!(k in opts.rates) || !(Number(v) >= 0)) throw new Error(`--rate: bad "${part}"`);
          opts.rates[k] = Number(v);
        }
        break;
      case "--churn": {
        const [recover, renew, rooms] = next().split(",").map(Number);
        opts.churn = { recover, renew, rooms };
        if (![recover, renew, rooms].every((v) => v >= 0)) throw new Error("--churn: three numbers");
        break;
      }
      case "--help": case "-h": opts.help = true; break;
      default: throw new Error(`unknown option ${flag} (see --help)`);
    }
  }
  if (opts.workers < 2) throw new Error("--workers: at least 2");
  if (!(opts.durationS > 0)) throw new Error("--minutes/--seconds: above 0");
  return opts;
}

function fdCount(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

function gitHead() {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: path.join(__dirname, "..", ".."), encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

const mb = (kb) => (Number.isFinite(kb) ? (kb / 1024).toFixed(1) : "-");
const sumKinds = (o) => o.b + o.r + o.u;

class Soak {
  constructor(opts) {
    this.opts = opts;
    this.samples = [];
    this.deaths = [];
    this.t0 = 0;
    this.clientProcs = [];
  }

  async start() {
    const { opts } = this;
    const child = trackChild(
      fork(path.join(__dirname, "primary.js"), [], {
        env: { ...process.env, SOAK_WORKERS: String(opts.workers), SOAK_ADAPTER: opts.adapter },
        serialization: "advanced",
      }),
    );
    child.on("exit", (code, signal) => this.deaths.push(`primary exited (${signal || `code ${code}`})`));
    this.primaryChild = child;
    this.primary = new RpcClient(child, "primary");
    await waitReady(child, "primary");
    this.info = await this.primary.call("info");
    for (const w of this.info.workers) trackPid(w.pid, "bench/soak/worker.js");
    log(`primary ${this.info.pid}, workers ${this.info.workers.map((w) => `${w.index}:${w.pid}@${w.port}`).join(" ")}`);
    for (const deadline = Date.now() + 15000; ; ) {
      if (opts.adapter === "reference") {
        // No hub: every worker must count the whole cluster (the reference's heartbeats).
        const counts = await Promise.all(this.info.workers.map((w) => this.workerCall(w.index, "serverCount")));
        if (counts.every((n) => n === opts.workers)) break;
        if (Date.now() > deadline) throw new Error(`workers count ${counts.join(", ")} servers after 15 s, not ${opts.workers}`);
      } else {
        const stats = await this.primary.call("hubStats");
        if (stats && stats.links >= opts.workers) break;
        if (Date.now() > deadline) throw new Error(`${stats ? stats.links : "no hub:"} of ${opts.workers} workers linked to the hub after 15 s`);
      }
      await sleep(100);
    }
    const ports = this.info.workers.map((w) => w.port);
    const base = Math.floor(opts.clients / opts.clientProcs);
    this.clientProcs = await Promise.all(
      Array.from({ length: opts.clientProcs }, async (_, p) => {
        const c = trackChild(fork(path.join(__dirname, "clients.js"), [], { serialization: "advanced" }));
        c.on("exit", (code, signal) => {
          if (!this.ending) this.deaths.push(`client process ${p} exited (${signal || `code ${code}`})`);
        });
        const rpc = new RpcClient(c, `clients ${p}`);
        await waitReady(c, `clients ${p}`);
        await rpc.call(
          "connect",
          {
            proc: p,
            seed: opts.seed * 1000 + p,
            ports,
            clients: base + (p < opts.clients % opts.clientProcs ? 1 : 0),
            rooms: opts.rooms,
            // The reference stores no packets: its offsets are empty, not checked.
            checkOffsets: opts.adapter === "native",
            churn: { ms: opts.churnMs, ...opts.churn },
          },
          { timeoutMs: 40000 },
        );
        return { rpc, pid: c.pid };
      }),
    );
    log(`${opts.clients} clients connected in ${opts.clientProcs} processes`);
  }

  workerCall(index, cmd, args = {}, timeoutMs = 10000) {
    return this.primary.call(cmd, args, { to: index, timeoutMs });
  }

  async sample() {
    const t = Math.round((Date.now() - this.t0) / 1000);
    const procs = {};
    const read = (pid) => ({ pid, rssKb: statusKb(pid, "VmRSS"), fds: fdCount(pid) });
    // handles and V8's heap (heapUsed, external, arrayBuffers: to tell JS heap from native memory)
    const withMem = (pid, mem) => ({
      ...read(pid),
      handles: mem ? mem.handles : NaN,
      heapUsedKb: mem ? Math.round(mem.heapUsed / 1024) : NaN,
      heapTotalKb: mem ? Math.round(mem.heapTotal / 1024) : NaN,
      externalKb: mem ? Math.round(mem.external / 1024) : NaN,
      arrayBuffersKb: mem ? Math.round(mem.arrayBuffers / 1024) : NaN,
    });
    procs.primary = withMem(this.info.pid, await this.primary.call("mem").catch(() => null));
    const mems = await Promise.all(this.info.workers.map((w) => this.workerCall(w.index, "mem").catch(() => null)));
    this.info.workers.forEach((w, i) => {
      procs[`w${w.index}`] = withMem(w.pid, mems[i]);
    });
    const hub = await this.primary.call("hubStats").catch(() => null);
    const clients = await Promise.all(this.clientProcs.map((c) => c.rpc.call("summary").catch(() => null)));
    const sample = { t, at: new Date().toISOString(), procs, hub, clients };
    this.samples.push(sample);
    this.printSample(sample);
    return sample;
  }

  printSample({ t, procs, hub, clients }) {
    const p = (x) => `${mb(x.rssKb)}MB (heap ${mb(x.heapUsedKb)}) fd ${x.fds} h ${x.handles}`;
    const workers = Object.keys(procs).filter((k) => k !== "primary").map((k) => `${k} ${p(procs[k])}`).join(" | ");
    const live = clients.filter(Boolean);
    const add = (f) => live.reduce((a, c) => a + f(c), 0);
    const hubText = hub
      ? `hub q ${hub.queuedBytes} log ${hub.logPackets}/${(hub.logBytes / 2 ** 20).toFixed(1)}MB sess ${hub.sessions} links ${hub.links}`
      : "hub -";
    log(
      `t=${String(t).padStart(4)}s primary ${p(procs.primary)} | ${workers} | ${hubText} | clients ${add((c) => c.connected)}/${add((c) => c.clients)} ` +
        `checked ${add((c) => sumKinds(c.checked))} lost ${add((c) => sumKinds(c.lost))} dup ${add((c) => sumKinds(c.duplicated))} ` +
        `rec ${add((c) => c.recoveries.succeeded)}/${add((c) => c.recoveries.attempted)}`,
    );
  }

  async run() {
    const { opts } = this;
    await Promise.all(this.info.workers.map((w) => this.workerCall(w.index, "start", { rates: opts.rates, rooms: opts.rooms })));
    await Promise.all(this.clientProcs.map((c) => c.rpc.call("startChurn")));
    this.t0 = Date.now();
    log(`load and churn for ${opts.durationS} s, a sample every ${opts.intervalS} s`);
    await this.sample();
    const end = this.t0 + opts.durationS * 1000;
    while (Date.now() < end && !this.interrupted && this.deaths.length === 0) {
      const next = this.t0 + (this.samples.length) * opts.intervalS * 1000;
      while (Date.now() < Math.min(next, end) && !this.interrupted && this.deaths.length === 0) await sleep(Math.min(250, Math.max(1, Math.min(next, end) - Date.now())));
      if (this.deaths.length || this.interrupted) break;
      await this.sample();
    }
  }

  /** Churn stops, clients settle, load stops, stragglers arrive: then the final checks. */
  async finish() {
    const unsettled = await Promise.all(this.clientProcs.map((c) => c.rpc.call("quiesce", {}, { timeoutMs: 30000 }).catch(() => NaN)));
    const finals = await Promise.all(this.info.workers.map((w) => this.workerCall(w.index, "stop")));
    await sleep(3000);
    const workerStats = await Promise.all(this.info.workers.map((w) => this.workerCall(w.index, "stats")));
    const clientResults = await Promise.all(this.clientProcs.map((c) => c.rpc.call("final", { finals }, { timeoutMs: 30000 })));
    return { unsettled, finals, workerStats, clientResults };
  }
}

function totalsOf(workerStats, clientResults, unsettled) {
  const add = (f) => clientResults.reduce((a, c) => a + f(c.totals), 0);
  const kinds = (field) => ({ b: add((t) => t[field].b), r: add((t) => t[field].r), u: add((t) => t[field].u) });
  const req = (name) => {
    const all = workerStats.map((w) => w[name]);
    const n = all.reduce((a, r) => a + r.sent, 0);
    return {
      sent: n,
      ok: all.reduce((a, r) => a + r.ok, 0),
      failed: all.reduce((a, r) => a + r.failed, 0),
      late: all.reduce((a, r) => a + r.late, 0),
      maxMs: Math.max(...all.map((r) => r.maxMs)),
      meanMs: n ? all.reduce((a, r) => a + r.totalMs, 0) / n : NaN,
      errors: all.flatMap((r, i) => r.errors.map((e) => `w${i}: ${e}`)),
    };
  };
  return {
    emitted: {
      b: workerStats.reduce((a, w) => a + w.emitted.b, 0),
      r: workerStats.reduce((a, w) => a + w.emitted.r, 0),
      u: workerStats.reduce((a, w) => a + w.emitted.u, 0),
    },
    checked: kinds("checked"),
    lost: kinds("lost"),
    duplicated: kinds("duplicated"),
    tailLost: add((t) => t.tailLost),
    badOffsets: add((t) => t.badOffsets),
    baselines: add((t) => t.baselines),
    requests: { fetchSockets: req("fetch"), serverSideEmitWithAck: req("ssea") },
    recoveries: {
      attempted: add((t) => t.recoveries.attempted),
      succeeded: add((t) => t.recoveries.succeeded),
      failed: add((t) => t.recoveries.failed),
      withoutOffset: add((t) => t.recoveries.withoutOffset),
    },
    drops: { recover: add((t) => t.drops.recover), renew: add((t) => t.drops.renew), unplanned: add((t) => t.drops.unplanned) },
    connects: add((t) => t.connects),
    connectErrors: add((t) => t.connectErrors),
    joins: add((t) => t.joins),
    leaves: add((t) => t.leaves),
    joinFailed: add((t) => t.joinFailed),
    unsettledAtEnd: unsettled.reduce((a, n) => a + (Number.isFinite(n) ? n : 0), 0),
    events: clientResults.flatMap((c) => c.totals.events),
  };
}

function formatReport(report) {
  const lines = [];
  const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : "-");
  const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "-");
  lines.push(`soak report — adapter ${report.adapter}, ${report.startedAt}, commit ${report.commit}, ${report.durationS} s, ${report.command}`);
  lines.push(`warm-up ${report.warmupS} s; slopes: least squares over the samples after it, per 10 minutes`);
  lines.push("");
  lines.push("process  | RSS MB first / last / max / slope | fds first / last / max / slope | handles first / last / max / slope");
  for (const [key, p] of Object.entries(report.analysis.procs)) {
    const s = (x, fmt) => (x ? `${fmt(x.first)} / ${fmt(x.last)} / ${fmt(x.max)} / ${f1(x.slopePer10Min)}${x.judged ? "" : "*"}` : "-");
    lines.push(`${key.padEnd(8)} | ${s(p.rssMb, f1).padEnd(34)}| ${s(p.fds, int).padEnd(30)}| ${s(p.handles, int)}`);
  }
  lines.push("process  | V8 heapUsed MB first / last / max / slope | heapTotal MB first / last / max / slope (not judged)");
  for (const [key, p] of Object.entries(report.analysis.procs)) {
    const s = (x) => (x ? `${f1(x.first)} / ${f1(x.last)} / ${f1(x.max)} / ${f1(x.slopePer10Min)}` : "-");
    lines.push(`${key.padEnd(8)} | ${s(p.heapUsedMb).padEnd(42)}| ${s(p.heapTotalMb)}`);
  }
  if (Object.values(report.analysis.procs).some((p) => p.rssMb && !p.rssMb.judged)) lines.push(`* window after warm-up under ${RULES.minJudgedWindowS} s: growth reported, not judged`);
  const h = report.analysis.hub;
  const hs = (x) => (x ? `first ${int(x.first)}, last ${int(x.last)}, max ${int(x.max)}` : "-");
  lines.push("");
  if (report.adapter === "reference") {
    lines.push("hub: none (@socket.io/cluster-adapter relays through the primary's IPC)");
  } else {
    lines.push(`hub queuedBytes: ${hs(h.queuedBytes)}`);
    lines.push(`hub logPackets:  ${hs(h.logPackets)} (bound ${int(report.hubBounds.maxPackets)})`);
    lines.push(`hub logBytes:    ${hs(h.logBytes)} (bound ${int(report.hubBounds.maxBytes)})`);
    lines.push(`hub sessions:    ${hs(h.sessions)} (bound ${int(report.hubBounds.maxSessions)})`);
    lines.push(`hub links:       ${hs(h.links)}`);
  }
  const t = report.totals;
  if (t) {
    const k = (o) => `${int(o.b + o.r + o.u)} (broadcast ${int(o.b)}, room ${int(o.r)}, unicast ${int(o.u)})`;
    lines.push("");
    lines.push(`emitted:     ${k(t.emitted)}`);
    lines.push(`checked:     ${k(t.checked)} deliveries in sequence checks, plus ${int(t.baselines)} first-of-stream`);
    lines.push(`lost:        ${k(t.lost)}, of which at the very end ${int(t.tailLost)}`);
    lines.push(`duplicated:  ${k(t.duplicated)}`);
    lines.push(`bad offsets: ${report.adapter === "reference" ? "not checked (the reference stores no packets: empty offsets)" : int(t.badOffsets)}`);
    for (const [name, r] of Object.entries(t.requests)) {
      lines.push(`${name}: ${int(r.sent)} sent, ${int(r.ok)} ok, ${int(r.failed)} failed, ${int(r.late)} late (> 1 s), mean ${f1(r.meanMs)} ms, max ${int(r.maxMs)} ms`);
    }
    lines.push(
      `recoveries:  ${int(t.recoveries.attempted)} attempted, ${int(t.recoveries.succeeded)} succeeded, ${int(t.recoveries.failed)} failed ` +
        `(plus ${int(t.recoveries.withoutOffset)} drops before any stored packet: new sessions)` +
        (report.adapter === "reference" ? "; not judged: the reference has no cluster-wide recovery" : ""),
    );
    lines.push(
      `churn:       ${int(t.drops.recover)} transport drops, ${int(t.drops.renew)} new connections, ${int(t.drops.unplanned)} unplanned disconnects, ` +
        `${int(t.joins)} joins, ${int(t.leaves)} leaves, ${int(t.joinFailed)} failed joins, ${int(t.connectErrors)} connect errors, ${int(t.unsettledAtEnd)} clients unsettled at the end`,
    );
  }
  lines.push("");
  lines.push("rules:");
  for (const rule of report.ruleText) lines.push(`  - ${rule}`);
  lines.push("");
  lines.push(report.failures.length ? `FAIL:\n${report.failures.map((f) => `  - ${f}`).join("\n")}` : "PASS");
  return lines.join("\n");
}

async function main() {
  let opts;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n\n${HELP}`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const soak = new Soak(opts);
  let signals = 0;
  const onSignal = (name) => {
    signals++;
    if (signals === 1 && soak.t0) {
      log(`${name}: ending the run early (again to stop at once)`);
      soak.interrupted = name;
      return;
    }
    log(`${name}: stopping every process of the soak`);
    stopAll().then(() => process.exit(130));
  };
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => onSignal(s));
  process.on("uncaughtException", (err) => {
    log(`uncaught error: ${err.stack || err}`);
    stopAll().then(() => process.exit(1));
  });
  process.on("unhandledRejection", (err) => {
    log(`unhandled rejection: ${(err && err.stack) || err}`);
    stopAll().then(() => process.exit(1));
  });

  const startedAt = new Date().toISOString();
  const command = `node bench/soak/run.js ${process.argv.slice(2).join(" ")}`.trim();
  const reference = opts.adapter === "reference";
  const ruleText = reference ? [...RULE_TEXT, ...REFERENCE_RULE_TEXT] : RULE_TEXT;
  const report = { adapter: opts.adapter, startedAt, commit: gitHead(), command, options: opts, rules: RULES, ruleText, hubBounds: reference ? null : HUB_BOUNDS };
  const failures = [];
  let result = null;
  try {
    await soak.start();
    await soak.run();
    if (soak.deaths.length === 0) {
      const last = soak.samples[soak.samples.length - 1];
      if (!last || Date.now() - soak.t0 - last.t * 1000 > 1000) await soak.sample(); // the last sample under load
      result = await soak.finish();
    }
  } catch (err) {
    failures.push(`the soak could not complete: ${err.message}`);
    log(err.stack || String(err));
  }
  soak.ending = true;
  failures.push(...soak.deaths.map((d) => `${d} during the run`));
  const durationS = soak.samples.length ? soak.samples[soak.samples.length - 1].t : 0;
  const processes = [{ key: "primary", kind: "primary" }, ...(soak.info ? soak.info.workers.map((w) => ({ key: `w${w.index}`, kind: "worker" })) : [])];
  const analysis = analyze({ samples: soak.samples, durationS, processes, hubBounds: HUB_BOUNDS });
  failures.push(...analysis.failures);
  let totals = null;
  if (result) {
    totals = totalsOf(result.workerStats, result.clientResults, result.unsettled);
    const lost = sumKinds(totals.lost);
    const dup = sumKinds(totals.duplicated);
    if (lost) failures.push(`${lost} packets lost`);
    if (dup) failures.push(`${dup} packets duplicated`);
    if (totals.badOffsets && !reference) failures.push(`${totals.badOffsets} offsets out of order`);
    for (const [name, r] of Object.entries(totals.requests)) if (r.failed) failures.push(`${r.failed} ${name} requests failed`);
    if (totals.recoveries.failed && !reference) failures.push(`${totals.recoveries.failed} recovery attempts got a new session`);
    if (totals.joinFailed) failures.push(`${totals.joinFailed} room joins failed`);
  }
  if (soak.interrupted) failures.push(`interrupted by ${soak.interrupted} after ${durationS} s`);
  Object.assign(report, {
    durationS,
    warmupS: Math.min(RULES.warmupS, 0.2 * durationS),
    analysis,
    totals,
    finals: result ? result.finals : null,
    workerStats: result ? result.workerStats : null,
    failures,
    pass: failures.length === 0,
    samples: soak.samples,
  });

  const text = formatReport(report);
  process.stdout.write(`\n${text}\n`);
  const out = opts.out || path.join(__dirname, "results", `${startedAt.replace(/[:.]/g, "-")}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${path.relative(process.cwd(), out)}`);

  soak.ending = true;
  if (soak.primary && !soak.primary.exited) await soak.primary.call("shutdown", {}, { timeoutMs: 2000 }).catch(() => {});
  await stopAll();
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(err.stack || String(err));
    stopAll().then(() => process.exit(1));
  },
);
