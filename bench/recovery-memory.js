#!/usr/bin/env node
"use strict";

// `node bench/recovery-memory.js [options]` (see --help and bench/README.md, "Connection state
// recovery: cost and memory").
//
// What one stored packet costs the primary's memory with connection state recovery on. For each
// case, a fresh cluster: our setupPrimary() (default bounds) and 2 workers whose socket.io servers
// have connectionStateRecovery on (bench/cluster-primary.js, variant "ours-recovery"), and no
// clients, so nothing but the broadcasts themselves is at work. The workers emit stored broadcasts
// (io.emit, no ack, not volatile: what socket.io gives an offset); each goes through the hub,
// which appends it to its packet log. Then:
//
//   - the hub's own accounting, from lib/primary.js's internal hubInfo() in the primary (packets
//     and payload bytes in the log);
//   - the primary's RSS growth (VmRSS of /proc/<pid>/status, read after a settle) divided by the
//     packets the log grew by.
//
// Sequence per case: 1,000 stored packets of the same kind first (warm-up: the link's buffers,
// the hub's queues, the log's first allocations), settle, read; then `count` packets, settle,
// read (the figure); then `count` more, settle, read (at the log's 100,000-packet bound this
// shows the memory stays flat: the oldest entries go as new ones come).

const path = require("node:path");
const { fork } = require("node:child_process");
const { RpcClient, waitReady } = require("./harness/rpc");
const { trackChild, trackPid, stopAll, installCleanup } = require("./harness/processes");
const { sleep } = require("./harness/wait");
const proc = require("./harness/proc-stats");
const report = require("./report");

const WARMUP_PACKETS = 1000;
const DEFAULT_CASES = "json:99000:100,binary:10000:1024";

const HELP = `Usage: node bench/recovery-memory.js [options]

  --cases kind:count:bytes,...  stored broadcasts per case (default ${DEFAULT_CASES});
                                kind json: an object whose JSON is about \`bytes\` long;
                                kind binary: a small object and a Buffer of \`bytes\`.
                                Each case runs after ${WARMUP_PACKETS.toLocaleString("en-US")} warm-up packets of its kind
                                (so 99,000 + 1,000 fills the default 100,000-packet log exactly)
  --workers 2                   emitting workers (each emits its share), at least 2
  --settle ms                   wait before reading RSS (default 2000)
  --no-refill                   skip the second fill (the log at its bound)
  --help
`;

function log(line) {
  process.stderr.write(`[recovery-memory] ${line}\n`);
}

function parse(argv) {
  const opts = { cases: DEFAULT_CASES, workers: 2, settleMs: 2000, refill: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case "--cases": opts.cases = next(); break;
      case "--workers": opts.workers = Number(next()); break;
      case "--settle": opts.settleMs = Number(next()); break;
      case "--no-refill": opts.refill = false; break;
      case "--help": case "-h": opts.help = true; break;
      default: throw new Error(`unknown option ${flag} (see --help)`);
    }
  }
  if (!Number.isInteger(opts.workers) || opts.workers < 2) throw new Error("--workers: at least 2");
  if (!(opts.settleMs >= 0)) throw new Error("--settle: a number of ms");
  opts.cases = opts.cases.split(",").map((text) => {
    const [kind, count, bytes] = text.split(":");
    const c = { kind, count: Number(count), bytes: Number(bytes) };
    if (!["json", "binary"].includes(kind) || !(c.count > 0) || !(c.bytes > 0)) throw new Error(`--cases: bad case "${text}"`);
    return c;
  });
  return opts;
}

/** Waits until every worker is linked to the hub: until then, broadcasts go over IPC, unstored. */
async function waitLinked(primary, workers, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await primary.call("hubStats");
    if (stats && stats.links >= workers) return;
    if (Date.now() > deadline) {
      throw new Error(`${stats ? stats.links : "no hub:"} of ${workers} workers linked to the hub after ${timeoutMs} ms`);
    }
    await sleep(50);
  }
}

/** A fresh cluster: our primary with its hub, workers with recovery on, no clients. */
async function startCluster(workers) {
  const child = trackChild(
    fork(path.join(__dirname, "cluster-primary.js"), [], {
      env: { ...process.env, BENCH_VARIANT: "ours-recovery", BENCH_WORKERS: String(workers) },
      serialization: "advanced",
    }),
  );
  const primary = new RpcClient(child, "ours-recovery primary");
  await waitReady(child, "ours-recovery primary");
  const info = await primary.call("info");
  for (const worker of info.workers) trackPid(worker.pid, "worker.js");
  await waitLinked(primary, workers);
  return { primary, info, child };
}

/** Every worker emits its share of `count` stored broadcasts; resolves once the hub holds them all. */
async function store(cluster, { kind, count, bytes }) {
  const { primary, info } = cluster;
  const before = await primary.call("hubStats");
  const n = info.workers.length;
  const t0 = process.hrtime.bigint();
  const shares = info.workers.map((w, i) => Math.floor(count / n) + (i < count % n ? 1 : 0));
  const results = await Promise.all(
    info.workers.map((w, i) => primary.call("store", { kind, count: shares[i], bytes }, { to: w.index, timeoutMs: 120000 })),
  );
  // Wait until the hub has received every frame (its inbound counter stops moving): at the log's
  // bound the packet count no longer grows, so it cannot be what we wait for.
  let last = before;
  let stableSince = Date.now();
  let seconds = NaN; // until the hub had received them all (to the 50 ms poll)
  for (const deadline = Date.now() + 60000; Date.now() < deadline; ) {
    await sleep(50);
    const stats = await primary.call("hubStats");
    if (stats.framesIn !== last.framesIn || stats.logPackets !== last.logPackets) stableSince = Date.now();
    last = stats;
    if (stats.framesIn - before.framesIn < count) continue;
    if (Number.isNaN(seconds)) seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (Date.now() - stableSince >= 300) break;
  }
  return { stats: last, seconds, payloadBytes: results[0].payloadBytes, metaBytes: results[0].metaBytes };
}

/** VmRSS and RssAnon of the primary (kB), after a settle: the median of 5 readings 100 ms apart. */
async function readRss(pid, settleMs) {
  await sleep(settleMs);
  const rss = [];
  const anon = [];
  for (let i = 0; i < 5; i++) {
    rss.push(proc.statusKb(pid, "VmRSS"));
    anon.push(proc.statusKb(pid, "RssAnon"));
    await sleep(100);
  }
  const med = (values) => values.sort((a, b) => a - b)[2];
  return { rssKb: med(rss), anonKb: med(anon) };
}

async function runCase(opts, c) {
  const label = `${c.kind} ${c.count} x ${c.bytes} B`;
  const cluster = await startCluster(opts.workers);
  try {
    await sleep(500);
    const empty = await readRss(cluster.info.pid, 0);
    await store(cluster, { ...c, count: WARMUP_PACKETS });
    const base = { ...(await readRss(cluster.info.pid, opts.settleMs)), stats: await cluster.primary.call("hubStats") };
    log(`${label}: warm-up done, log ${base.stats.logPackets} packets, RSS ${(base.rssKb / 1024).toFixed(1)} MB`);
    const fill = await store(cluster, c);
    const after = { ...(await readRss(cluster.info.pid, opts.settleMs)), stats: await cluster.primary.call("hubStats") };
    log(`${label}: fill done in ${fill.seconds.toFixed(1)} s, log ${after.stats.logPackets} packets, RSS ${(after.rssKb / 1024).toFixed(1)} MB`);
    let refill = null;
    if (opts.refill) {
      const second = await store(cluster, c);
      const end = { ...(await readRss(cluster.info.pid, opts.settleMs)), stats: await cluster.primary.call("hubStats") };
      log(`${label}: second fill done in ${second.seconds.toFixed(1)} s, log ${end.stats.logPackets} packets, RSS ${(end.rssKb / 1024).toFixed(1)} MB`);
      refill = { ...end, seconds: second.seconds };
    }
    return { case: c, empty, base, after, fill, refill };
  } finally {
    await cluster.primary.call("shutdown", {}, { timeoutMs: 2000 }).catch(() => {});
    await new Promise((resolve) => {
      if (cluster.child.exitCode !== null || cluster.child.signalCode !== null) return resolve();
      const timer = setTimeout(resolve, 4000);
      cluster.child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function formatTable(results) {
  const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "-");
  const mb = (kb) => (Number.isFinite(kb) ? (kb / 1024).toFixed(1) : "-");
  const perPacket = (kb0, kb1, p0, p1) => (p1 > p0 ? ((kb1 - kb0) * 1024) / (p1 - p0) : NaN);
  const rows = [
    ["stored broadcasts emitted (fill)", (r) => int(r.case.count)],
    [
      "app payload bytes/packet",
      (r) => (r.case.kind === "binary" ? `${int(r.fill.payloadBytes)} + ${r.fill.metaBytes} JSON` : `${int(r.fill.payloadBytes)} JSON`),
    ],
    ["hub log packets (after fill)", (r) => int(r.after.stats.logPackets)],
    ["hub log packets added by fill", (r) => int(r.after.stats.logPackets - r.base.stats.logPackets)],
    ["hub log payload bytes/packet", (r) => int(r.after.stats.logBytes / r.after.stats.logPackets)],
    ["hub log payload MB", (r) => (r.after.stats.logBytes / 2 ** 20).toFixed(1)],
    ["primary RSS, idle cluster MB", (r) => mb(r.empty.rssKb)],
    ["primary RSS before fill MB", (r) => mb(r.base.rssKb)],
    ["primary RSS after fill MB", (r) => mb(r.after.rssKb)],
    [
      "RSS growth bytes/packet",
      (r) => int(perPacket(r.base.rssKb, r.after.rssKb, r.base.stats.logPackets, r.after.stats.logPackets)),
    ],
    [
      "  of which anonymous bytes/packet",
      (r) => int(perPacket(r.base.anonKb, r.after.anonKb, r.base.stats.logPackets, r.after.stats.logPackets)),
    ],
    [
      "RSS growth / log payload bytes",
      (r) =>
        (
          ((r.after.rssKb - r.base.rssKb) * 1024) /
          (r.after.stats.logBytes - r.base.stats.logBytes)
        ).toFixed(2),
    ],
    ["fill: stored broadcasts/s", (r) => int(r.case.count / r.fill.seconds)],
    ["second fill: hub log packets", (r) => (r.refill ? int(r.refill.stats.logPackets) : "-")],
    ["second fill: primary RSS MB", (r) => (r.refill ? mb(r.refill.rssKb) : "-")],
    [
      "second fill: RSS growth bytes/emit",
      (r) => (r.refill ? int(((r.refill.rssKb - r.after.rssKb) * 1024) / r.case.count) : "-"),
    ],
  ];
  const labelWidth = 36;
  const width = Math.max(18, ...results.map((r) => `${r.case.kind} ${r.case.bytes} B`.length + 2));
  const lines = [pad("", labelWidth, true) + results.map((r) => pad(`${r.case.kind} ${r.case.bytes} B`, width)).join("")];
  for (const [label, get] of rows) lines.push(pad(label, labelWidth, true) + results.map((r) => pad(get(r), width)).join(""));
  return lines.join("\n");
}

function pad(text, width, left = false) {
  text = String(text);
  return left ? text.padEnd(width) : text.padStart(width);
}

async function main() {
  let opts;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    log(err.message);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  installCleanup(log);
  const started = new Date();
  const results = [];
  for (const c of opts.cases) results.push(await runCase(opts, c));
  await stopAll();
  const m = report.machine();
  console.log(
    `recovery log memory: ${started.toISOString()}, ${m.cpus} x ${m.model}, node ${m.node}, load ${m.loadavg.map((l) => l.toFixed(2)).join(" ")}`,
  );
  console.log(
    `our primary (default bounds: 100,000 packets / 64 MiB), ${opts.workers} workers with connectionStateRecovery, no clients; ` +
      `${WARMUP_PACKETS.toLocaleString("en-US")} warm-up packets per case, settle ${opts.settleMs} ms`,
  );
  console.log(formatTable(results));
  console.log(`wall time ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return 0;
}

main().then(
  (code) => stopAll().then(() => process.exit(code)),
  (err) => {
    log(`failed: ${err.stack || err}`);
    stopAll().then(() => process.exit(1));
  },
);
