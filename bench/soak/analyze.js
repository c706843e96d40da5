"use strict";

// The soak's verdict from its samples: growth (least squares after warm-up, monotonic growth),
// the hub's bounds, and the rules that make the run fail. Pure functions, no I/O.

// The rules (printed in the report and written to the JSON).
const RULES = {
  rssSlopeMbPer10Min: 20, // RSS slope after warm-up above this: growth without bound
  countSlopePer10Min: 20, // descriptors or handles: slope after warm-up above this
  countMonotonicGrowth: 20, // ... or never decreasing after warm-up and up by more than this
  minJudgedWindowS: 300, // growth is judged only over a post-warm-up window of at least 5 minutes
  warmupS: 120, // warm-up: the first 2 minutes, or the first 20% of a shorter run
};

const RULE_TEXT = [
  "FAIL if any broadcast, room or unicast packet was lost or duplicated (gaps in a per-sender sequence, also at the very end), or an offset went backwards",
  "FAIL if a request (fetchSockets, serverSideEmitWithAck) failed: rejected, or not one answer from each other worker",
  "FAIL if a recovery attempt (a client that had an offset and lost its transport) got a new session instead",
  `FAIL if, after warm-up (first ${RULES.warmupS / 60} min, or first 20% of a shorter run) and over a window of at least ${RULES.minJudgedWindowS / 60} min, a process's RSS grows faster than ${RULES.rssSlopeMbPer10Min} MB per 10 min (least squares)`,
  `FAIL if, under the same conditions, its open descriptors or active handles grow faster than ${RULES.countSlopePer10Min} per 10 min, or never decrease and end more than ${RULES.countMonotonicGrowth} above their first post-warm-up value`,
  "FAIL if the hub's log (packets, bytes) or sessions ever exceed setupPrimary()'s bounds (defaults: 100000 packets, 64 MiB, 100000 sessions), or a process of the cluster died",
  "Late requests (over 1 s) are reported, not failed",
];

// With --adapter reference (@socket.io/cluster-adapter), which has no cluster-wide connection state
// recovery and no hub: these rules are set aside (socket.io gives a new session instead).
const REFERENCE_RULE_TEXT = [
  "--adapter reference: the recovery rule does not apply (failed recoveries reported, not failed), offsets are not checked (the reference publishes empty ones), there is no hub",
];

/** Least-squares slope of ys over xs; NaN with fewer than 3 points. */
function slope(xs, ys) {
  const n = xs.length;
  if (n < 3) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

function warmupS(durationS) {
  return Math.min(RULES.warmupS, 0.2 * durationS);
}

/** first/last/max, and after warm-up: slope per 10 minutes and monotonic growth. */
function series(samples, get, durationS) {
  const points = samples.map((s) => [s.t, get(s)]).filter(([, v]) => Number.isFinite(v));
  if (points.length === 0) return null;
  const values = points.map(([, v]) => v);
  const after = points.filter(([t]) => t >= warmupS(durationS));
  const windowS = after.length > 1 ? after[after.length - 1][0] - after[0][0] : 0;
  const perSecond = slope(after.map(([t]) => t), after.map(([, v]) => v));
  let monotonic = after.length > 1;
  for (let i = 1; i < after.length; i++) if (after[i][1] < after[i - 1][1]) monotonic = false;
  return {
    first: values[0],
    last: values[values.length - 1],
    min: Math.min(...values),
    max: Math.max(...values),
    afterWarmup: after.length ? { first: after[0][1], last: after[after.length - 1][1], samples: after.length, windowS } : null,
    slopePer10Min: perSecond * 600,
    monotonic,
    judged: windowS >= RULES.minJudgedWindowS,
  };
}

function analyze({ samples, durationS, processes, hubBounds }) {
  const failures = [];
  const procs = {};
  for (const { key, kind } of processes) {
    const rss = series(samples, (s) => (s.procs[key] ? s.procs[key].rssKb / 1024 : NaN), durationS);
    const fds = series(samples, (s) => (s.procs[key] ? s.procs[key].fds : NaN), durationS);
    const handles = series(samples, (s) => (s.procs[key] ? s.procs[key].handles : NaN), durationS);
    const heapUsedMb = series(samples, (s) => (s.procs[key] ? s.procs[key].heapUsedKb / 1024 : NaN), durationS);
    const heapTotalMb = series(samples, (s) => (s.procs[key] ? s.procs[key].heapTotalKb / 1024 : NaN), durationS);
    procs[key] = { kind, rssMb: rss, fds, handles, heapUsedMb, heapTotalMb };
    if (rss && rss.judged && rss.slopePer10Min > RULES.rssSlopeMbPer10Min) {
      failures.push(`${key}: RSS grows ${rss.slopePer10Min.toFixed(1)} MB per 10 min after warm-up (limit ${RULES.rssSlopeMbPer10Min})`);
    }
    for (const [name, s] of [["descriptors", fds], ["handles", handles]]) {
      if (!s || !s.judged) continue;
      if (s.slopePer10Min > RULES.countSlopePer10Min) failures.push(`${key}: ${name} grow ${s.slopePer10Min.toFixed(1)} per 10 min after warm-up (limit ${RULES.countSlopePer10Min})`);
      if (s.monotonic && s.afterWarmup.last - s.afterWarmup.first > RULES.countMonotonicGrowth) {
        failures.push(`${key}: ${name} never decrease after warm-up and grow by ${s.afterWarmup.last - s.afterWarmup.first} (limit ${RULES.countMonotonicGrowth})`);
      }
    }
  }
  const hub = {};
  for (const field of ["queuedBytes", "logPackets", "logBytes", "sessions", "links"]) {
    hub[field] = series(samples, (s) => (s.hub ? s.hub[field] : NaN), durationS);
  }
  for (const [field, bound] of [["logPackets", hubBounds.maxPackets], ["logBytes", hubBounds.maxBytes], ["sessions", hubBounds.maxSessions]]) {
    if (hub[field] && hub[field].max > bound) failures.push(`hub ${field} reached ${hub[field].max}, above its bound ${bound}`);
  }
  return { procs, hub, failures };
}

module.exports = { RULES, RULE_TEXT, REFERENCE_RULE_TEXT, analyze, slope, warmupS };
