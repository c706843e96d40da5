"use strict";

// Turns the rounds into figures (median over rounds; peak RSS: the highest; losses: the sum),
// prints one table per worker count, and writes everything, rounds included, as JSON.

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { median, sum } = require("./stats");
const { measures } = require("./options");

const COLUMNS = ["floor", "reference", "ours", "ours-recovery", "redis"];
// [label, variant, divided by]: shown when both columns are.
const RATIOS = [
  ["ours/ref", "ours", "reference"],
  ["redis/ref", "redis", "reference"],
  ["rec/ours", "ours-recovery", "ours"],
];

/** results: [{ scenario, variant, workers, round, figures | error }] => one summary per cell. */
function summarize(results) {
  const cells = new Map();
  for (const r of results) {
    const key = `${r.scenario}|${r.variant}|${r.workers}`;
    if (!cells.has(key)) cells.set(key, { scenario: r.scenario, variant: r.variant, workers: r.workers, rounds: [], errors: [], counterRounds: [] });
    const cell = cells.get(key);
    if (r.error) cell.errors.push(r.error);
    else cell.rounds.push(r.figures);
    if (r.counters) cell.counterRounds.push(r.counters);
  }
  for (const cell of cells.values()) {
    // Our counters: deltas over the scenario (summed over its rounds); null where not counted.
    const counterRounds = cell.counterRounds;
    delete cell.counterRounds;
    if (counterRounds.length) {
      cell.counters = {};
      for (const key of Object.keys(counterRounds[0])) {
        const values = counterRounds.map((c) => c[key]);
        cell.counters[key] = values.every((v) => v !== null && v !== undefined) ? sum(values) : null;
      }
    }
    const rounds = cell.rounds;
    if (!rounds.length) continue;
    const med = (get) => median(rounds.map(get));
    cell.summary = {
      rate: med((f) => f.rate),
      opsPerSec: med((f) => f.opsPerSec),
      cpuUsPerOp: Object.fromEntries(Object.keys(rounds[0].cpuUsPerOp).map((role) => [role, med((f) => f.cpuUsPerOp[role])])),
      latencyUs: { p50: med((f) => f.latencyUs.p50), p99: med((f) => f.latencyUs.p99) },
      // Request scenarios have no "own worker" deliveries: NaN, shown as "-".
      latencyLocalUs: {
        p50: med((f) => (f.latencyLocalUs ? f.latencyLocalUs.p50 : NaN)),
        p99: med((f) => (f.latencyLocalUs ? f.latencyLocalUs.p99 : NaN)),
      },
      peakRssKb: {
        primary: Math.max(...rounds.map((f) => f.peakRss.primaryKb)),
        redis: cell.variant === "redis" ? Math.max(...rounds.map((f) => f.peakRss.redisKb)) : null,
        workerMax: Math.max(...rounds.map((f) => f.peakRss.workerMaxKb)),
      },
      expected: sum(rounds.map((f) => f.expected)),
      received: sum(rounds.map((f) => f.received)),
      lost: sum(rounds.map((f) => f.lost)),
      extra: sum(rounds.map((f) => f.extra || 0)),
      corrupt: sum(rounds.map((f) => f.corrupt || 0)),
      badOffsets: sum(rounds.map((f) => f.badOffsets || 0)),
      disconnects: sum(rounds.map((f) => f.disconnects || 0)),
    };
  }
  return [...cells.values()];
}

const fmt = {
  int: (v) => Math.round(v).toLocaleString("en-US"),
  f1: (v) => v.toFixed(1),
  f2: (v) => v.toFixed(2),
  f3: (v) => v.toFixed(3),
};

// Every row: a label, how to read it from a summary, a format, whether the floor has it.
// "relay" is the cluster primary (redis-server for the Redis column).
const ROWS = [
  { label: (s) => `${s.unit} (higher is better)`, get: (x) => x.rate, format: fmt.int },
  { label: () => "relay CPU us/op", get: (x) => x.cpuUsPerOp.relay, format: fmt.f1, notInFloor: true },
  { label: () => "workers CPU us/op (sum)", get: (x) => x.cpuUsPerOp.workers, format: fmt.f1 },
  { label: () => "latency p50 ms", get: (x) => x.latencyUs.p50 / 1000, format: fmt.f3 },
  { label: () => "latency p99 ms", get: (x) => x.latencyUs.p99 / 1000, format: fmt.f3 },
  { label: () => "own-worker latency p50 ms", get: (x) => x.latencyLocalUs.p50 / 1000, format: fmt.f3 },
  { label: () => "own-worker latency p99 ms", get: (x) => x.latencyLocalUs.p99 / 1000, format: fmt.f3 },
  {
    label: () => "relay peak RSS MB",
    get: (x, cell) => (cell.variant === "redis" ? x.peakRssKb.redis : x.peakRssKb.primary) / 1024,
    format: fmt.f1,
    notInFloor: true,
  },
  {
    label: (s) => (s.unit === "requests/s" ? "failed requests" : "lost deliveries"),
    get: (x) => x.lost,
    format: (v, x) => (v === 0 && !x.extra ? "0" : `${fmt.int(v)}/${fmt.int(x.expected)}${x.extra ? ` +${x.extra}` : ""}`),
    noRatio: true,
  },
];

function pad(text, width, left = false) {
  text = String(text);
  return left ? text.padEnd(width) : text.padStart(width);
}

/** The table as text: one block per worker count, the floor column repeated in each. */
function formatTable(cells, scenarios, opts, variants) {
  const columns = COLUMNS.filter((c) => variants.includes(c));
  const ratios = RATIOS.filter(([, v, base]) => variants.includes(v) && variants.includes(base));
  const labelWidth = 34;
  const width = Math.max(13, ...columns.map((c) => c.length + 1));
  const lines = [];
  const find = (scenario, variant, workers) =>
    cells.find((c) => c.scenario === scenario && c.variant === variant && c.workers === (variant === "floor" ? 1 : workers));

  for (const workers of opts.workers) {
    lines.push("");
    lines.push(
      `== ${workers} workers, ${opts.clients} clients in ${opts.clientProcs} processes, median of ${opts.rounds} round(s) ` +
        `(floor: 1 process, in-memory adapter) ==`,
    );
    lines.push(pad("", labelWidth, true) + columns.map((c) => pad(c, width)).join("") + ratios.map(([r]) => pad(r, width)).join(""));
    for (const scenario of scenarios) {
      lines.push(scenario.title);
      for (const row of ROWS) {
        const values = {};
        const texts = columns.map((variant) => {
          const cell = find(scenario.name, variant, workers);
          if (!cell && !measures(opts, variant, scenario.name)) return "not run";
          if (!cell) return scenario.supports({ variant, workers }) ? "-" : "n/a";
          if (!cell.summary) return "error";
          if (variant === "floor" && row.notInFloor) return "-";
          const value = row.get(cell.summary, cell);
          values[variant] = value;
          // "*": some rounds of this cell failed; the figure is the median of the others.
          const partial = cell.rounds.length < opts.rounds ? "*" : "";
          return Number.isFinite(value) ? row.format(value, cell.summary) + partial : "-";
        });
        const ratioTexts = ratios.map(([, variant, base]) => {
          if (row.noRatio) return "";
          const ratio = values[variant] / values[base];
          return Number.isFinite(ratio) ? fmt.f2(ratio) : "";
        });
        lines.push(pad(`  ${row.label(scenario)}`, labelWidth, true) + texts.map((t) => pad(t, width)).join("") + ratioTexts.map((t) => pad(t, width)).join(""));
      }
    }
    lines.push(...formatCounters(cells, scenarios, workers));
  }
  return lines.join("\n");
}

/**
 * One line per system of ours and scenario: our counters over the scenario, summed over its rounds
 * and the workers ("-": this build does not count it).
 */
function formatCounters(cells, scenarios, workers) {
  const lines = [];
  const show = (v) => (v === null || v === undefined ? "-" : fmt.int(v));
  for (const scenario of scenarios) {
    for (const cell of cells) {
      if (cell.scenario !== scenario.name || cell.workers !== workers || !cell.counters) continue;
      const c = cell.counters;
      lines.push(
        `COUNTERS ${cell.variant} x${workers} ${scenario.name}: hub skipped ${show(c.skipped)}, answered ${show(c.answered)}, ` +
          `workers received without local recipient ${show(c.unrouted)}`,
      );
    }
  }
  if (lines.length) lines.unshift("");
  return lines;
}

// The scaling section: how workers CPU per operation grows with the worker count.
const SCALING_SCENARIOS = ["unicast", "small-rooms"];
const SCALING_SYSTEMS = [
  ["reference", "ref"],
  ["ours", "ours"],
  ["redis", "redis"],
];

/**
 * For unicast and small-rooms, one row per worker count: workers CPU us/op (sum) of each system,
 * ours/ref, and each system's figure divided by its own at the smallest worker count (flat, 1.00,
 * is good: adding workers does not add work per operation). Empty with one worker count.
 */
function formatScaling(cells, scenarios, opts, variants) {
  const counts = [...opts.workers].sort((a, b) => a - b);
  const selected = scenarios.filter((s) => SCALING_SCENARIOS.includes(s.name));
  if (counts.length < 2 || !selected.length) return "";
  const systems = SCALING_SYSTEMS.filter(([v]) => variants.includes(v));
  const smallest = counts[0];
  const value = (scenario, variant, workers) => {
    const cell = cells.find((c) => c.scenario === scenario && c.variant === variant && c.workers === workers);
    return cell && cell.summary ? cell.summary.cpuUsPerOp.workers : NaN;
  };
  const num = (v, f) => (Number.isFinite(v) ? f(v) : "-");
  const headers = [
    ...systems.map(([, short]) => short),
    ...(variants.includes("ours") && variants.includes("reference") ? ["ours/ref"] : []),
    ...systems.map(([, short]) => `${short} /x${smallest}`),
  ];
  const labelWidth = 34;
  const width = 12;
  const lines = [
    "",
    `== scaling: workers CPU us/op (sum) by worker count; "/x${smallest}": divided by the same system's figure at ${smallest} workers (flat = good) ==`,
    pad("", labelWidth, true) + headers.map((h) => pad(h, width)).join(""),
  ];
  for (const scenario of selected) {
    lines.push(scenario.title);
    for (const workers of counts) {
      const texts = systems.map(([v]) => num(value(scenario.name, v, workers), fmt.f1));
      if (headers.includes("ours/ref")) {
        texts.push(num(value(scenario.name, "ours", workers) / value(scenario.name, "reference", workers), fmt.f2));
      }
      for (const [v] of systems) texts.push(num(value(scenario.name, v, workers) / value(scenario.name, v, smallest), fmt.f2));
      lines.push(pad(`  ${workers} workers`, labelWidth, true) + texts.map((t) => pad(t, width)).join(""));
    }
  }
  return lines.join("\n");
}

/** The cells as written to JSON: figures of each round are in the chronological list already. */
function cellsForJson(cells) {
  return cells.map(({ rounds, ...cell }) => ({ ...cell, roundsOk: rounds.length }));
}

/** Problems worth a line under the table: losses and failed runs. */
function problems(cells) {
  const lines = [];
  for (const cell of cells) {
    const where = `${cell.scenario}, ${cell.variant}${cell.variant === "floor" ? "" : ` x${cell.workers}`}`;
    if (cell.summary && (cell.summary.lost || cell.summary.extra)) {
      lines.push(`LOSS: ${where}: received ${cell.summary.received} of ${cell.summary.expected} expected (${cell.summary.lost} lost, ${cell.summary.extra} extra)`);
    }
    if (cell.summary && cell.summary.corrupt) lines.push(`CORRUPT: ${where}: ${cell.summary.corrupt} binary payloads did not arrive as 1 KiB of bytes`);
    if (cell.summary && cell.summary.badOffsets) {
      lines.push(`OFFSETS: ${where}: ${cell.summary.badOffsets} deliveries with a missing, unexpected or out-of-order recovery offset`);
    }
    if (cell.summary && cell.summary.disconnects) lines.push(`DISCONNECTS: ${where}: ${cell.summary.disconnects} client disconnections`);
    for (const error of cell.errors) lines.push(`ERROR: ${where}: ${error.split("\n")[0]}`);
  }
  return lines;
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    model: cpus[0] && cpus[0].model,
    totalMemMb: Math.round(os.totalmem() / 2 ** 20),
    loadavg: os.loadavg(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

function writeJson(file, data) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(data, null, 2) + "\n");
}

module.exports = { summarize, formatTable, formatScaling, cellsForJson, problems, machine, writeJson };
