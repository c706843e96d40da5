"use strict";

// Turns the rounds into figures (median over rounds; peak RSS: the highest; losses: the sum),
// prints one table per worker count, and writes everything, rounds included, as JSON.

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { median, sum } = require("./harness/stats");
const { measures, machinePair } = require("./options");

const COLUMNS = ["floor", "reference", "ours", "ours-recovery", "ours-standalone", "redis"];
// [label, variant, divided by]: shown when both columns are.
const RATIOS = [
  ["ours/ref", "ours", "reference"],
  ["redis/ref", "redis", "reference"],
  ["rec/ours", "ours-recovery", "ours"],
  ["standalone/ours", "ours-standalone", "ours"],
];

/** results: [{ scenario, variant, workers, round, figures | error }] => one summary per cell. */
function summarize(results) {
  const cells = new Map();
  for (const r of results) {
    const key = `${r.scenario}|${r.variant}|${r.workers}`;
    if (!cells.has(key)) {
      cells.set(key, { scenario: r.scenario, variant: r.variant, workers: r.workers, machines: r.machines || 1, rounds: [], errors: [], counterRounds: [] });
    }
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
      // The multi-machine set: redis-server's INFO figures (median per operation; connections: the most).
      redis: rounds[0].redis
        ? {
            cpuUsPerOp: med((f) => f.redis.cpuUsPerOp),
            cpuUsPerOpAboveIdle: med((f) => f.redis.cpuUsPerOpAboveIdle),
            idleCpuUsPerSec: med((f) => f.redis.idleCpuUsPerSec),
            bytesOutPerOp: med((f) => f.redis.bytesOutPerOp),
            bytesInPerOp: med((f) => f.redis.bytesInPerOp),
            commandsPerOp: med((f) => f.redis.commandsPerOp),
            inCommandsUsPerOp: med((f) => f.redis.inCommandsUsPerOp),
            byCommand: medianByCommand(rounds.map((f) => f.redis.byCommand || {}), med),
            connections: Math.max(...rounds.map((f) => f.redis.connections)),
          }
        : null,
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

/** Per command (a name seen in any round), the median over the rounds of its calls and us per op. */
function medianByCommand(rounds, med) {
  const names = [...new Set(rounds.flatMap((r) => Object.keys(r)))].sort();
  const of = (name, key) => med((_, i) => (rounds[i][name] ? rounds[i][name][key] : 0));
  return Object.fromEntries(names.map((name) => [name, { callsPerOp: of(name, "callsPerOp"), usPerOp: of(name, "usPerOp") }]));
}

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

/**
 * One line per system and scenario: Redis's commands per operation, each with its calls and the
 * us Redis spent executing it (INFO commandstats), most costly first.
 */
function formatCommands(cells, scenarios, variants, shape) {
  const lines = [];
  for (const scenario of scenarios) {
    for (const variant of variants) {
      const cell = cells.find((c) => c.scenario === scenario.name && c.variant === variant && c.summary && c.summary.redis);
      if (!cell) continue;
      const commands = Object.entries(cell.summary.redis.byCommand || {})
        .filter(([, c]) => c.callsPerOp >= 0.005)
        .sort(([, a], [, b]) => b.usPerOp - a.usPerOp)
        .map(([name, c]) => `${name} ${fmt.f2(c.callsPerOp)} (${fmt.f1(c.usPerOp)} us)`);
      lines.push(`COMMANDS ${variant} ${shape} ${scenario.name} per op: ${commands.join(", ") || "-"}`);
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

// The multi-machine set: its rows, and its targets (ours / redis-adapter's sharded adapter).
const MACHINE_ROWS = [
  { label: (s) => `${s.unit} (higher is better)`, get: (x) => x.rate, format: fmt.int },
  { label: (s) => (s.unit === "requests/s" ? "" : "emits/s (higher is better)"), get: (x) => x.opsPerSec, format: fmt.int, skipRequests: true },
  { label: () => "Redis CPU us/op (INFO)", get: (x) => x.redis && x.redis.cpuUsPerOp, format: fmt.f1 },
  { label: () => "Redis CPU us/op above idle", get: (x) => x.redis && x.redis.cpuUsPerOpAboveIdle, format: fmt.f1 },
  { label: () => "Redis idle CPU us/s", get: (x) => x.redis && x.redis.idleCpuUsPerSec, format: fmt.int },
  { label: () => "Redis commands/op (INFO)", get: (x) => x.redis && x.redis.commandsPerOp, format: fmt.f2 },
  { label: () => "Redis CPU us/op in commands", get: (x) => x.redis && x.redis.inCommandsUsPerOp, format: fmt.f1 },
  { label: () => "Redis bytes out/op (INFO)", get: (x) => x.redis && x.redis.bytesOutPerOp, format: fmt.int },
  { label: () => "Redis bytes in/op (INFO)", get: (x) => x.redis && x.redis.bytesInPerOp, format: fmt.int },
  { label: () => "Redis connections", get: (x) => x.redis && x.redis.connections, format: fmt.int },
  { label: () => "primaries CPU us/op (hubs)", get: (x) => x.cpuUsPerOp.primary, format: fmt.f1 },
  { label: () => "workers CPU us/op (sum)", get: (x) => x.cpuUsPerOp.workers, format: fmt.f1 },
  { label: () => "latency p50 ms", get: (x) => x.latencyUs.p50 / 1000, format: fmt.f3 },
  { label: () => "latency p99 ms", get: (x) => x.latencyUs.p99 / 1000, format: fmt.f3 },
  {
    label: (s) => (s.unit === "requests/s" ? "failed requests" : "lost deliveries"),
    get: (x) => x.lost,
    format: (v, x) => (v === 0 && !x.extra ? "0" : `${fmt.int(v)}/${fmt.int(x.expected)}${x.extra ? ` +${x.extra}` : ""}`),
    noRatio: true,
  },
];

/**
 * The targets of the multi-machine set: [label, scenario, how to read the figure, "<=" | ">=", bound,
 * "ratio" (ours / redis-adapter) | "per-machine" (ours' connections / machines)]. A null bound: no
 * target, the ratio is shown for information.
 */
// [label, scenario, figure, op, bound, kind]: a bound is a number, or one per protocol (each
// issue's targets: sharded, issue 17; streams, issue 18); null shows the figure without a target.
const MACHINE_TARGETS = [
  ["Redis CPU per op above idle", "broadcast", (x) => x.redis && x.redis.cpuUsPerOpAboveIdle, "<=", 0.5, "ratio"],
  ["Redis CPU per op above idle", "unicast", (x) => x.redis && x.redis.cpuUsPerOpAboveIdle, "<=", 0.5, "ratio"],
  ["Redis CPU per op above idle", "rooms", (x) => x.redis && x.redis.cpuUsPerOpAboveIdle, "<=", 0.5, "ratio"],
  ["Redis CPU per op above idle", "fetch-sockets", (x) => x.redis && x.redis.cpuUsPerOpAboveIdle, "<=", 0.5, "ratio"],
  ["Redis bytes out per op", "broadcast", (x) => x.redis && x.redis.bytesOutPerOp, "<=", 0.5, "ratio"],
  ["Redis bytes out per op", "unicast", (x) => x.redis && x.redis.bytesOutPerOp, "<=", 0.5, "ratio"],
  ["Redis bytes out per op", "rooms", (x) => x.redis && x.redis.bytesOutPerOp, "<=", 0.5, "ratio"],
  ["Redis bytes out per op", "fetch-sockets", (x) => x.redis && x.redis.bytesOutPerOp, "<=", 0.5, "ratio"],
  ["Redis connections per machine", null, (x) => x.redis && x.redis.connections, "<=", 2, "per-machine"],
  ["workers CPU per op", "broadcast", (x) => x.cpuUsPerOp.workers, "<=", { sharded: 1, streams: null }, "ratio"],
  ["workers CPU per op", "unicast", (x) => x.cpuUsPerOp.workers, "<=", { sharded: 1, streams: null }, "ratio"],
  ["workers CPU per op", "rooms", (x) => x.cpuUsPerOp.workers, "<=", { sharded: 1, streams: null }, "ratio"],
  ["workers CPU per op", "fetch-sockets", (x) => x.cpuUsPerOp.workers, "<=", { sharded: 1, streams: null }, "ratio"],
  ["unicast msgs/s", "unicast", (x) => x.rate, ">=", 1.5, "ratio"],
  ["room emits/s", "rooms", (x) => x.opsPerSec, ">=", { sharded: 1.1, streams: 1.5 }, "ratio"],
  ["fetchSockets p50", "fetch-sockets", (x) => x.latencyUs.p50, "<=", 0.7, "ratio"],
  ["fetchSockets p99", "fetch-sockets", (x) => x.latencyUs.p99, "<=", null, "ratio"],
  ["broadcast deliveries/s", "broadcast", (x) => x.rate, ">=", { sharded: 1.1, streams: 1 }, "ratio"],
];

/**
 * The multi-machine tables (one per machine count > 1): ours-redis and redis-sharded side by
 * side, ours/redis, then every target with its figure and whether it is met. `out.missed`
 * receives a line per missed target, `out.targets` every target's figures (for the JSON).
 */
function formatMachines(cells, scenarios, opts, out = { missed: [], targets: [] }) {
  const [OURS, THEIRS] = machinePair(opts);
  const described = {
    "ours-redis": "setupPrimary({ redis: { url } }) + our createAdapter()",
    "redis-sharded": "@socket.io/redis-adapter createShardedAdapter()",
    "ours-streams": 'setupPrimary({ redis: { url, mode: "streams" } }) + our createAdapter()',
    "redis-streams": "@socket.io/redis-streams-adapter createAdapter()",
  };
  const lines = [];
  const labelWidth = 34;
  const width = 15;
  for (const machines of opts.machines.filter((m) => m > 1)) {
    const workers = machines * opts.machineWorkers;
    const find = (scenario, variant) =>
      cells.find((c) => c.scenario === scenario && c.variant === variant && c.machines === machines && c.summary);
    const ran = scenarios.filter((s) => cells.some((c) => c.scenario === s.name && c.machines === machines));
    if (!ran.length) continue;
    lines.push("");
    lines.push(
      `== several machines: ${machines} machines x ${opts.machineWorkers} workers + 1 redis-server on this box, ` +
        `${opts.clients} clients in ${opts.clientProcs} processes, median of ${opts.rounds} round(s) ==`,
    );
    lines.push(`   ${OURS}: ${machines} x ${described[OURS]}; ${THEIRS}: ${described[THEIRS]} in each of the ${workers} workers`);
    lines.push(pad("", labelWidth, true) + [OURS, THEIRS, "ours/redis"].map((h) => pad(h, width)).join(""));
    for (const scenario of ran) {
      lines.push(scenario.title);
      for (const row of MACHINE_ROWS) {
        if (row.skipRequests && scenario.unit === "requests/s") continue;
        const values = {};
        const texts = [OURS, THEIRS].map((variant) => {
          const cell = find(scenario.name, variant);
          if (!cell) return cells.some((c) => c.scenario === scenario.name && c.variant === variant && c.machines === machines) ? "error" : "-";
          const value = row.get(cell.summary);
          values[variant] = value;
          const partial = cell.rounds.length < opts.rounds ? "*" : "";
          return Number.isFinite(value) ? row.format(value, cell.summary) + partial : "-";
        });
        const ratio = values[OURS] / values[THEIRS];
        const ratioText = row.noRatio || !Number.isFinite(ratio) ? "" : fmt.f2(ratio);
        lines.push(pad(`  ${row.label(scenario)}`, labelWidth, true) + texts.map((t) => pad(t, width)).join("") + pad(ratioText, width));
      }
    }
    const counters = formatCounters(
      cells.filter((c) => c.machines === machines),
      ran,
      workers,
    ).map((line) => line.replace(/ x(\d+) /, ` ${machines}x${opts.machineWorkers} `));
    lines.push(...counters);
    lines.push(...formatCommands(cells.filter((c) => c.machines === machines), ran, [OURS, THEIRS], `${machines}x${opts.machineWorkers}`));

    lines.push("");
    lines.push(`== several machines: targets (${OURS} / ${THEIRS}, ${machines} machines) ==`);
    lines.push(pad("", labelWidth + 16, true) + ["ours", "redis", "figure", "target", ""].map((h) => pad(h, 11)).join(""));
    for (const [label, scenarioName, get, op, bounds, kind] of MACHINE_TARGETS) {
      const bound = bounds !== null && typeof bounds === "object" ? bounds[opts.machineProtocol] : bounds;
      let ours;
      let theirs;
      let where;
      if (kind === "per-machine") {
        // Connections are the same whatever runs: the most seen in any scenario.
        const most = (variant) => {
          const values = cells.filter((c) => c.variant === variant && c.machines === machines && c.summary).map((c) => get(c.summary));
          return values.length ? Math.max(...values) : NaN;
        };
        ours = most(OURS);
        theirs = most(THEIRS);
        where = "any";
      } else {
        if (!ran.some((s) => s.name === scenarioName)) continue;
        const a = find(scenarioName, OURS);
        const b = find(scenarioName, THEIRS);
        ours = a ? get(a.summary) : NaN;
        theirs = b ? get(b.summary) : NaN;
        where = scenarioName;
      }
      const figure = kind === "per-machine" ? ours / machines : ours / theirs;
      let verdict = "";
      if (bound !== null) {
        if (!Number.isFinite(figure)) verdict = "NOT MEASURED";
        else verdict = (op === "<=" ? figure <= bound : figure >= bound) ? "met" : "MISSED";
        if (verdict !== "met") out.missed.push(`TARGET MISSED: ${label} (${where}, ${machines} machines): ${Number.isFinite(figure) ? fmt.f2(figure) : "-"}, target ${op} ${bound}`);
      }
      out.targets.push({ machines, label, scenario: where, ours, redis: theirs, figure, kind, op, bound, verdict: verdict || null });
      const num = (v) => (Number.isFinite(v) ? (Math.abs(v) >= 1000 ? fmt.int(v) : v >= 100 ? fmt.f1(v) : fmt.f2(v)) : "-");
      const rawScale = label.startsWith("fetchSockets") ? 1 / 1000 : 1; // latency in ms
      lines.push(
        pad(`  ${label} (${where})`, labelWidth + 16, true) +
          [num(ours * rawScale), num(theirs * rawScale), Number.isFinite(figure) ? fmt.f2(figure) : "-", bound === null ? "-" : `${op} ${bound}`, verdict]
            .map((t) => pad(t, 11))
            .join(""),
      );
    }
    lines.push(`  ("figure" is ours / redis, or for connections ours / machines; latency in ms, CPU in us, bytes per op)`);
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
    const size = cell.machines > 1 ? ` ${cell.machines} machines x${cell.workers / cell.machines}` : ` x${cell.workers}`;
    const where = `${cell.scenario}, ${cell.variant}${cell.variant === "floor" ? "" : size}`;
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

module.exports = { summarize, formatTable, formatScaling, formatMachines, cellsForJson, problems, machine, writeJson };
