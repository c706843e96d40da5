"use strict";

// What the kernel knows about a process, read from /proc by the orchestrator, so that measuring
// costs the measured processes nothing.
//
// CPU time: the sum of the first field of /proc/<pid>/task/<tid>/schedstat (nanoseconds on CPU)
// over every thread: V8's GC helpers, libuv's pool and a native addon's own threads all count.
// /proc/<pid>/stat (utime + stime) counts the same and also threads that have already exited, but
// only in clock ticks (10 ms), too coarse for short runs; it is the fallback when schedstat is
// missing.
//
// Peak RSS: VmHWM of /proc/<pid>/status, reset before each measurement by writing 5 to
// /proc/<pid>/clear_refs, so that it is the peak of that measurement, not of the process's life.

const fs = require("node:fs");
const { execFileSync } = require("node:child_process");

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
} catch {
  // keep 100, Linux's usual value
}

function schedstatNs(pid) {
  let total = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return total;
}

function statNs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // comm may contain spaces
  return ((Number(fields[11]) + Number(fields[12])) * 1e9) / clockTicks; // utime, stime
}

let useSchedstat = null;

/** CPU time (ns) of a process, all threads; NaN if it cannot be read. */
function cpuNs(pid) {
  if (!pid) return 0;
  try {
    if (useSchedstat === null) useSchedstat = fs.existsSync(`/proc/${pid}/task`) && schedstatNs(pid) > 0;
    return useSchedstat ? schedstatNs(pid) : statNs(pid);
  } catch {
    return NaN;
  }
}

/** Sum of cpuNs over pids. */
function cpuNsOf(pids) {
  return pids.reduce((sum, pid) => sum + cpuNs(pid), 0);
}

function peakRssKb(pid) {
  try {
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** A "kB" field of /proc/<pid>/status (VmRSS, RssAnon, VmHWM...); NaN if it cannot be read. */
function statusKb(pid, field) {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Resets VmHWM to the current RSS; false if the kernel refuses. */
function resetPeakRss(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Whether pid is alive and its command line contains `marker` (guards against pid reuse). */
function isOurs(pid, marker) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
  } catch {
    return false;
  }
}

module.exports = { cpuNs, cpuNsOf, peakRssKb, statusKb, resetPeakRss, isOurs, clockTicks };
