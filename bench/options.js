"use strict";

// Command-line options of `node bench/run.js`. Defaults are chosen so that a full run (2 and 4
// workers, every scenario, 3 rounds) finishes in well under 5 minutes on a 2-core machine;
// `--quick` is a ~1 minute smoke run of the same code paths.

const path = require("node:path");

const SCENARIOS = ["broadcast", "binary", "unicast", "rooms", "small-rooms", "fetch-sockets", "server-side-emit", "end-to-end"];
const VARIANTS = ["reference", "ours", "ours-recovery", "ours-standalone", "redis", "floor"];
// Run only when named in --variants: ours with a standalone hub (bench/cluster-primary.js), to
// compare with setupPrimary()'s hub.
const OPT_IN_VARIANTS = ["ours-standalone"];
// The systems of the multi-machine set, by protocol (--machine-protocol): always both of a pair,
// its figures are ratios of one to the other. [ours, theirs].
const MACHINE_PAIRS = {
  sharded: ["ours-redis", "redis-sharded"], // @socket.io/redis-adapter's createShardedAdapter
  streams: ["ours-streams", "redis-streams"], // @socket.io/redis-streams-adapter's createAdapter
};
const MACHINE_VARIANTS = Object.values(MACHINE_PAIRS).flat();
// Where the default run measures "ours-recovery" (ours with socket.io's connection state recovery
// on): the scenarios that show what recovery costs a broadcast, so the full default run stays
// under ~4.5 minutes on 2 cores. Naming the variant in --variants runs it in every scenario
// selected; --recovery-scenarios overrides both.
const RECOVERY_DEFAULT_SCENARIOS = ["broadcast", "rooms", "end-to-end"];
// The multi-machine set (--machines 2): two systems, ours-redis and redis-sharded, each
// `machines` clusters of `machineWorkers` workers joined through one redis-server (see
// bench/machines.js). By default it runs the scenarios its figures come from; the others work too
// (--machine-scenarios).
const MACHINE_DEFAULT_SCENARIOS = ["broadcast", "unicast", "rooms", "fetch-sockets"];

const DEFAULTS = {
  workers: [2, 4],
  clients: 200,
  clientProcs: 2,
  rounds: 3,
  scenarios: SCENARIOS,
  variants: VARIANTS.filter((v) => !OPT_IN_VARIANTS.includes(v)), // "redis" is dropped at start-up when redis-server is not on PATH
  recoveryScenarios: RECOVERY_DEFAULT_SCENARIOS, // null: every scenario selected
  // 1: the tables of one machine (--workers, --variants); 2 (or more): the multi-machine set.
  // Dropped at start-up when redis-server is not on PATH.
  machines: [1, 2],
  machineWorkers: 2, // workers of each machine in the multi-machine set
  machineScenarios: MACHINE_DEFAULT_SCENARIOS, // null: every scenario selected
  machineProtocol: "sharded", // which pair of MACHINE_PAIRS the multi-machine set runs
  warmupMs: 250, // saturation scenarios: emit this long before the measured window opens
  durationMs: 800, // saturation scenarios: the measured window
  requestMs: 800, // fetch-sockets / server-side-emit: sequential requests for this long
  e2eMs: 1200, // end-to-end: paced broadcasts for this long
  e2eRate: 50, // end-to-end: broadcasts per second over the whole cluster (x clients deliveries)
  // In-flight emits allowed per emitting worker before it waits for delivery credits. Large enough
  // to keep every process busy, small enough that queues stay bounded (see bench/README.md).
  windows: { broadcast: 4, binary: 4, unicast: 256, rooms: 8, "small-rooms": 64 },
  rooms: 10,
  roomSize: 100,
  // small-rooms: this many rooms of smallRoomMin to smallRoomMax members (drawn like the rooms of
  // 100, with a seed of their own; joined at start-up only when the scenario is selected).
  smallRooms: 1000,
  smallRoomMin: 2,
  smallRoomMax: 8,
  sampleEvery: 8, // saturation scenarios: clients time one delivery in 8 (cheap, still thousands)
  drainMs: 5000, // how long to wait for the last deliveries before calling them lost
  startupWarmupMs: 500, // an unrecorded broadcast flood per cluster, so round 1 is not a cold JIT
  seed: 1,
  quick: false,
  out: null,
};

const QUICK = {
  rounds: 1,
  warmupMs: 150,
  durationMs: 500,
  requestMs: 400,
  e2eMs: 600,
  startupWarmupMs: 200,
};

const HELP = `Usage: node bench/run.js [options]

  --quick                 ~1 minute smoke run (1 round, short windows)
  --workers 2,4           worker counts to measure (default 2,4)
  --clients 200           socket.io clients in total (default 200)
  --client-procs 2        processes holding the clients (default 2)
  --rounds 3              interleaved rounds; figures are the median over rounds (default 3)
  --scenarios a,b         subset of: ${SCENARIOS.join(", ")}
  --variants a,b          subset of: ${VARIANTS.join(", ")}
                          (default: all; redis only if redis-server is on PATH).
                          ours-recovery: ours, with connectionStateRecovery on in the workers
  --recovery-scenarios a,b|all
                          where ours-recovery runs (default: ${RECOVERY_DEFAULT_SCENARIOS.join(", ")};
                          all selected scenarios when --variants names it)
  --no-redis, --no-floor  drop one column
  --machines 1,2          1: the one-machine tables above; n > 1: the multi-machine set, n
                          clusters ("machines") on this box joined through one redis-server:
                          ours (setupPrimary({ redis })) against @socket.io/redis-adapter's
                          createShardedAdapter (default 1,2; n > 1 needs redis-server).
                          --machines 2 runs the multi-machine set alone
  --machine-workers 2     workers per machine in the multi-machine set (default 2)
  --machine-protocol sharded|streams
                          the multi-machine set's pair: ours-redis against createShardedAdapter
                          (sharded, default), or ours-streams (setupPrimary({ redis: { url,
                          mode: "streams" } })) against @socket.io/redis-streams-adapter
  --machine-scenarios a,b|all
                          what the multi-machine set runs (default: ${MACHINE_DEFAULT_SCENARIOS.join(", ")})
  --duration ms           measured window of the saturation scenarios (default ${DEFAULTS.durationMs})
  --warmup ms             emission before the window opens (default ${DEFAULTS.warmupMs})
  --request-ms ms         length of the fetch-sockets / server-side-emit runs (default ${DEFAULTS.requestMs})
  --e2e-ms ms             length of the end-to-end run (default ${DEFAULTS.e2eMs})
  --e2e-rate n            end-to-end broadcasts per second, whole cluster (default ${DEFAULTS.e2eRate})
  --window kind=n         in-flight emits per worker, e.g. --window unicast=256
  --rooms n --room-size n rooms joined by the clients (default ${DEFAULTS.rooms} rooms of ${DEFAULTS.roomSize})
  --small-rooms n         rooms of the small-rooms scenario (default ${DEFAULTS.smallRooms}, of ${DEFAULTS.smallRoomMin} to ${DEFAULTS.smallRoomMax} members)
  --json path             where to write the JSON results (default bench/results/<timestamp>.json)
  --help
`;

function list(value, allowed, flag) {
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (allowed && !allowed.includes(item)) throw new Error(`${flag}: unknown "${item}" (one of ${allowed.join(", ")})`);
  }
  return items;
}

function positiveInt(value, flag) {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: expected a positive integer, got "${value}"`);
  return n;
}

function parseOptions(argv) {
  const opts = { ...DEFAULTS, windows: { ...DEFAULTS.windows } };
  if (argv.includes("--quick")) Object.assign(opts, QUICK, { quick: true });
  let recoveryScenariosGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case "--quick": break;
      case "--help": case "-h": opts.help = true; break;
      case "--workers": opts.workers = list(next(), null, flag).map((w) => positiveInt(w, flag)); break;
      case "--clients": opts.clients = positiveInt(next(), flag); break;
      case "--client-procs": opts.clientProcs = positiveInt(next(), flag); break;
      case "--rounds": opts.rounds = positiveInt(next(), flag); break;
      case "--scenarios": opts.scenarios = list(next(), SCENARIOS, flag); break;
      case "--variants":
        opts.variants = list(next(), VARIANTS, flag);
        if (!recoveryScenariosGiven) opts.recoveryScenarios = null;
        break;
      case "--recovery-scenarios": {
        const value = next();
        opts.recoveryScenarios = value === "all" ? null : list(value, SCENARIOS, flag);
        recoveryScenariosGiven = true;
        break;
      }
      case "--no-redis": opts.variants = opts.variants.filter((v) => v !== "redis"); break;
      case "--machines": opts.machines = [...new Set(list(next(), null, flag).map((m) => positiveInt(m, flag)))]; break;
      case "--machine-workers": opts.machineWorkers = positiveInt(next(), flag); break;
      case "--machine-protocol": opts.machineProtocol = list(next(), Object.keys(MACHINE_PAIRS), flag)[0]; break;
      case "--machine-scenarios": {
        const value = next();
        opts.machineScenarios = value === "all" ? null : list(value, SCENARIOS, flag);
        break;
      }
      case "--no-floor": opts.variants = opts.variants.filter((v) => v !== "floor"); break;
      case "--duration": opts.durationMs = positiveInt(next(), flag); break;
      case "--warmup": opts.warmupMs = positiveInt(next(), flag); break;
      case "--request-ms": opts.requestMs = positiveInt(next(), flag); break;
      case "--e2e-ms": opts.e2eMs = positiveInt(next(), flag); break;
      case "--e2e-rate": opts.e2eRate = positiveInt(next(), flag); break;
      case "--rooms": opts.rooms = positiveInt(next(), flag); break;
      case "--room-size": opts.roomSize = positiveInt(next(), flag); break;
      case "--small-rooms": opts.smallRooms = positiveInt(next(), flag); break;
      case "--json": opts.out = path.resolve(next()); break;
      case "--window": {
        const [kind, n] = next().split("=");
        if (!(kind in opts.windows)) throw new Error(`--window: unknown kind "${kind}"`);
        opts.windows[kind] = positiveInt(n, flag);
        break;
      }
      default:
        throw new Error(`unknown option ${flag} (see --help)`);
    }
  }
  // Every client process needs at least one client on every worker: credits travel back to an
  // emitting worker through one of the process's own connections to that worker.
  const maxWorkers = Math.max(
    ...(opts.machines.includes(1) ? opts.workers : [1]),
    ...opts.machines.filter((m) => m > 1).map((m) => m * opts.machineWorkers),
  );
  if (opts.clients < opts.clientProcs * maxWorkers) {
    throw new Error(`--clients must be at least --client-procs x workers (${opts.clientProcs * maxWorkers})`);
  }
  opts.roomSize = Math.min(opts.roomSize, opts.clients);
  opts.smallRoomMax = Math.min(opts.smallRoomMax, opts.clients);
  opts.smallRoomMin = Math.min(opts.smallRoomMin, opts.smallRoomMax);
  return opts;
}

/**
 * Whether `variant` is measured in the scenario named `scenario` (see --recovery-scenarios and,
 * for the multi-machine set, --machine-scenarios).
 */
function measures(opts, variant, scenario) {
  if (MACHINE_VARIANTS.includes(variant)) {
    return opts.machines.some((m) => m > 1) && opts.scenarios.includes(scenario) && (!opts.machineScenarios || opts.machineScenarios.includes(scenario));
  }
  if (!opts.machines.includes(1)) return false;
  if (!opts.variants.includes(variant)) return false;
  if (variant !== "ours-recovery" || !opts.recoveryScenarios) return true;
  return opts.recoveryScenarios.includes(scenario);
}

/** The multi-machine set's pair for these options: [ours, theirs]. */
function machinePair(opts) {
  return MACHINE_PAIRS[opts.machineProtocol];
}

module.exports = { parseOptions, measures, machinePair, HELP, SCENARIOS, VARIANTS, MACHINE_VARIANTS };
