#!/usr/bin/env node
"use strict";

// `npm run bench` / `node bench/run.js [--quick] [options]` (see --help and bench/README.md).
//
// Starts every system under test at once (reference, ours, ours-recovery and redis with each
// worker count, and the floor), all idle but the one being measured, then runs each scenario
// round by round, interleaving the systems within each round: on a shared, noisy machine, a drift
// in background load then hits every column alike instead of the one that happened to run at that
// moment.
// Prints the table to stdout (progress goes to stderr) and writes JSON to bench/results/.

const os = require("node:os");
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { parseOptions, measures, machinePair, HELP } = require("./options");
const { Target } = require("./target");
const { MachinesTarget } = require("./machines");
const allScenarios = require("./scenarios");
const { stopAll, isStopping, installCleanup } = require("./harness/processes");
const { findOnPath } = require("./harness/redis-server");
const { prng } = require("./harness/stats");
const report = require("./report");
const chart = require("./chart");

function log(line) {
  process.stderr.write(`[bench] ${line}\n`);
}

/** Rooms of `roomSize` distinct clients each, drawn with a fixed seed: the same for every target. */
function planRooms(opts) {
  const random = prng(opts.seed);
  const rooms = [];
  for (let k = 0; k < opts.rooms; k++) {
    const pool = Array.from({ length: opts.clients }, (_, i) => i);
    for (let i = 0; i < opts.roomSize; i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    rooms.push({ name: `room-${k}`, members: pool.slice(0, opts.roomSize) });
  }
  return rooms;
}

/**
 * The rooms of the small-rooms scenario: `smallRooms` rooms of smallRoomMin..smallRoomMax distinct
 * clients each (so members fall on the workers at random), from a seed of their own, so that the
 * rooms of 100 stay what they were. Empty when the scenario is not selected: nobody joins them.
 */
function planSmallRooms(opts) {
  if (!opts.scenarios.includes("small-rooms")) return [];
  const random = prng((opts.seed * 7919 + 104729) >>> 0);
  const rooms = [];
  for (let k = 0; k < opts.smallRooms; k++) {
    const size = opts.smallRoomMin + Math.floor(random() * (opts.smallRoomMax - opts.smallRoomMin + 1));
    const pool = Array.from({ length: opts.clients }, (_, i) => i);
    for (let i = 0; i < size; i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    rooms.push({ name: `small-${k}`, members: pool.slice(0, size) });
  }
  return rooms;
}

/** The systems under test, in the order each round visits them. */
function planTargets(opts, layout) {
  const targets = [];
  for (const workers of opts.machines.includes(1) ? opts.workers : []) {
    for (const variant of ["reference", "ours", "ours-recovery", "ours-standalone", "redis"]) {
      if (opts.variants.includes(variant)) targets.push(new Target(variant, workers, layout));
    }
  }
  // The floor does not depend on the worker count: measured once, shown in every table.
  if (opts.variants.includes("floor") && opts.machines.includes(1)) targets.push(new Target("floor", 1, layout));
  // The multi-machine set: ours and redis-adapter's sharded adapter, `machines` clusters each.
  const machineScenarios = opts.scenarios.filter((scenario) => measures(opts, machinePair(opts)[0], scenario));
  for (const machines of machineScenarios.length ? opts.machines.filter((m) => m > 1) : []) {
    for (const variant of machinePair(opts)) targets.push(new MachinesTarget(variant, machines, opts.machineWorkers, layout));
  }
  return targets;
}

const finite = (v) => (Number.isFinite(v) ? v : null);

/**
 * Our counters (null for the other systems): the hub's `skipped` (deliveries to workers it avoided
 * by routing by room) and `answered` (answers it sent for the workers it skipped), and, summed over
 * the workers, `unrouted` (frames received from other workers with no local recipient). A field is
 * null while this build does not count it.
 */
async function readCounters(target) {
  if (!target.variant.startsWith("ours")) return null; // ours, ours-recovery, ours-redis
  const [hub, workers] = await Promise.all([target.primary.call("hubStats"), target.allWorkers("counters")]);
  const unrouted = workers.map((w) => (w ? finite(w.unrouted) : null));
  return {
    skipped: finite(hub && hub.skipped),
    answered: finite(hub && hub.answered),
    unrouted: unrouted.every((n) => n !== null) ? unrouted.reduce((a, b) => a + b, 0) : null,
  };
}

/** after - before, field by field (null where either is). */
function counterDelta(before, after) {
  if (!before || !after) return null;
  const delta = {};
  for (const key of Object.keys(after)) {
    delta[key] = before[key] !== null && after[key] !== null ? after[key] - before[key] : null;
  }
  return delta;
}

/** The commit measured ("ours" is this working tree): short hash, and whether files differ from it. */
function gitCommit() {
  try {
    const run = (args) => execFileSync("git", args, { cwd: __dirname, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return { hash: run(["rev-parse", "--short", "HEAD"]), dirty: run(["status", "--porcelain", "--untracked-files=no"]) !== "" };
  } catch {
    return null;
  }
}

function describe(figures) {
  const rate = `${Math.round(figures.rate).toLocaleString("en-US")}/s`;
  const cpu = `relay ${figures.cpuUsPerOp.relay.toFixed(1)} / workers ${figures.cpuUsPerOp.workers.toFixed(1)} us/op`;
  const latency = `p50 ${(figures.latencyUs.p50 / 1000).toFixed(2)} p99 ${(figures.latencyUs.p99 / 1000).toFixed(2)} ms`;
  const lost = figures.lost ? `, LOST ${figures.lost}/${figures.expected}` : "";
  return `${rate}, ${cpu}, ${latency}${lost}`;
}

function describeRedis(redis) {
  if (!redis) return "";
  return `; redis ${redis.cpuUsPerOp.toFixed(1)} us/op, ${Math.round(redis.bytesOutPerOp)} B out/op, ${redis.connections} connections`;
}

function describeCounters(counters) {
  if (!counters) return "";
  const show = (v) => (v === null ? "-" : String(v));
  return `; hub skipped ${show(counters.skipped)}, answered ${show(counters.answered)}, unrouted ${show(counters.unrouted)}`;
}

async function main() {
  const started = new Date();
  const commit = gitCommit(); // before any process loads the package: what is measured
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    log(err.message);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  installCleanup(log);

  if (opts.variants.includes("redis") && !findOnPath("redis-server")) {
    log("redis-server is not on PATH: no Redis column");
    opts.variants = opts.variants.filter((v) => v !== "redis");
  }
  if (opts.machines.some((m) => m > 1) && !findOnPath("redis-server")) {
    log("redis-server is not on PATH (apt-get install -y redis-server): no multi-machine set");
    opts.machines = opts.machines.filter((m) => m === 1);
    if (!opts.machines.length) return 1;
  }
  const scenarios = allScenarios.filter((s) => opts.scenarios.includes(s.name));
  const layout = { clients: opts.clients, clientProcs: opts.clientProcs, rooms: planRooms(opts), smallRooms: planSmallRooms(opts) };
  const targets = planTargets(opts, layout);
  let runNumber = 0;
  const ctx = { opts, layout, nextRun: () => ++runNumber };

  log(`${targets.length} systems: ${targets.map((t) => t.label).join(", ")}; scenarios: ${scenarios.map((s) => s.name).join(", ")}`);
  if (opts.machines.some((m) => m > 1)) {
    const machineScenarios = scenarios.filter((s) => measures(opts, machinePair(opts)[0], s.name)).map((s) => s.name);
    log(`multi-machine set (${opts.machines.filter((m) => m > 1).join(", ")} machines x ${opts.machineWorkers} workers): ${machineScenarios.join(", ") || "no scenario selected"}`);
  }
  for (const target of targets) {
    if (isStopping()) return new Promise(() => {});
    const t0 = Date.now();
    await target.start();
    // An unrecorded flood, so that round 1 does not measure a cold JIT.
    await allScenarios[0].run(target, { ...ctx, opts: { ...opts, warmupMs: 50, durationMs: opts.startupWarmupMs } });
    log(`started ${target.label} (${Date.now() - t0} ms)`);
  }

  const results = [];
  for (const scenario of scenarios) {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const target of targets) {
        if (isStopping()) return new Promise(() => {}); // interrupted: the cleanup exits the process
        if (!scenario.supports(target) || !measures(opts, target.variant, scenario.name)) continue;
        const entry = { scenario: scenario.name, variant: target.variant, workers: target.workers, machines: target.machines || 1, round };
        try {
          if (target.primary.exited) throw new Error(target.primary.exited);
          const countersBefore = await readCounters(target);
          // The machine's load average (1 min) before the round and right after its window: a
          // shared box's background load shows next to the round it lands on.
          entry.load = { before: os.loadavg()[0] };
          entry.figures = await scenario.run(target, ctx);
          entry.load.after = os.loadavg()[0];
          // Our counters over the round (outside the measured window), see readCounters().
          entry.counters = counterDelta(countersBefore, await readCounters(target));
          // Our hub's counters after the round (JSON only): how full the recovery log is.
          if (target.variant.startsWith("ours")) entry.hub = await target.primary.call("hubStats");
          log(
            `${scenario.name} #${round} ${target.label}: ${describe(entry.figures)}${describeCounters(entry.counters)}` +
              `${describeRedis(entry.figures.redis)}; load ${entry.load.before.toFixed(2)} -> ${entry.load.after.toFixed(2)}`,
          );
        } catch (err) {
          if (isStopping()) return new Promise(() => {});
          entry.error = err.message;
          log(`${scenario.name} #${round} ${target.label}: FAILED: ${err.message}`);
        }
        results.push(entry);
      }
    }
  }

  await Promise.all(targets.map((t) => t.stop()));
  await stopAll();
  const finished = new Date();

  const cells = report.summarize(results);
  const table = opts.machines.includes(1) ? report.formatTable(cells, scenarios, opts, opts.variants) : "";
  const machineTargets = { missed: [], targets: [] };
  const machinesTable = report.formatMachines(cells, scenarios, opts, machineTargets);
  const issues = report.problems(cells);
  const wallSeconds = (finished - started) / 1000;
  const file =
    opts.out || path.join(__dirname, "results", `${started.toISOString().replace(/[:.]/g, "-")}.json`);
  const json = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    wallSeconds,
    commit,
    machine: report.machine(),
    options: opts,
    targets: targets.map((t) => ({ label: t.label, variant: t.variant, workers: t.workers, machines: t.machines || 1 })),
    summary: report.cellsForJson(cells),
    machineTargets: machineTargets.targets, // the multi-machine set's targets (ours / redis-adapter sharded)
    rounds: results, // chronological: every round of every scenario and system, with all its figures
  };
  report.writeJson(file, json);
  // The chart of this run next to the JSON (bench/chart.js draws it again from the JSON).
  const svgFile = file.replace(/\.json$/, "") + ".svg";
  try {
    fs.writeFileSync(svgFile, chart.render(JSON.parse(JSON.stringify(json))));
  } catch (err) {
    log(`cannot write the chart: ${err.message}`);
  }

  const m = report.machine();
  console.log(`socket.io cluster adapters: ${started.toISOString()}, ${m.cpus} x ${m.model}, node ${m.node}, load ${m.loadavg.map((l) => l.toFixed(2)).join(" ")}`);
  if (table) console.log(table);
  const scaling = opts.machines.includes(1) ? report.formatScaling(cells, scenarios, opts, opts.variants) : "";
  if (scaling) console.log(scaling);
  if (machinesTable) console.log(machinesTable);
  console.log("");
  if (cells.some((c) => c.errors.length && c.rounds.length)) console.log("*: some rounds failed; median of the others");
  for (const line of issues) console.log(line);
  // A missed target is a finding, not a failure of the run: reported, not in the exit code.
  for (const line of machineTargets.missed) console.log(line);
  console.log(`wall time ${wallSeconds.toFixed(0)} s; JSON: ${path.relative(process.cwd(), file)}; chart: ${path.relative(process.cwd(), svgFile)}`);
  return issues.length ? 1 : 0;
}

main().then(
  (code) => stopAll().then(() => process.exit(code)),
  (err) => {
    log(`failed: ${err.stack || err}`);
    stopAll().then(() => process.exit(1));
  },
);
