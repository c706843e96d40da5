#!/usr/bin/env node
"use strict";

// `node bench/soak/compare.js A.json B.json [--step MINUTES]`: two soak results (bench/soak/run.js --out) side
// by side, as markdown for bench/soak/README.md. Per process (primary, each worker): RSS and V8 heapUsed
// in MB every --step minutes (default 10; the sample nearest each mark), at the end, and the
// least-squares slope after warm-up (bench/soak/analyze.js's, per 10 minutes; `*` when the window was too
// short to be judged). Each cell is "A / B", in the order given.

const fs = require("node:fs");

function usage(message) {
  if (message) process.stderr.write(`${message}\n`);
  process.stderr.write("Usage: node bench/soak/compare.js A.json B.json [--step MINUTES]\n");
  process.exit(2);
}

function parse(argv) {
  const files = [];
  let stepS = 600;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--step") {
      const v = Number(argv[++i]);
      if (!(v > 0)) usage("--step: minutes above 0");
      stepS = v * 60;
    } else if (argv[i] === "--help" || argv[i] === "-h") usage();
    else files.push(argv[i]);
  }
  if (files.length !== 2) usage("two result files");
  return { files, stepS };
}

const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : "-");
const label = (r) => r.adapter || "native"; // results before --adapter existed ran this package

/** The sample nearest t (seconds), or null when none is within half a step. */
function nearest(samples, t, halfStepS) {
  let best = null;
  for (const s of samples) if (!best || Math.abs(s.t - t) < Math.abs(best.t - t)) best = s;
  return best && Math.abs(best.t - t) <= halfStepS ? best : null;
}

function main() {
  const { files, stepS } = parse(process.argv.slice(2));
  const runs = files.map((file) => JSON.parse(fs.readFileSync(file, "utf8")));
  const keys = [];
  for (const r of runs) for (const k of Object.keys(r.analysis.procs)) if (!keys.includes(k)) keys.push(k);
  const endS = Math.max(...runs.map((r) => r.durationS));
  const marks = [];
  for (let t = 0; t <= endS; t += stepS) marks.push(t);
  const name = (k) => (k === "primary" ? "primary" : `worker ${k.slice(1)}`);
  const minutes = (t) => String(Number((t / 60).toFixed(2)));

  const out = [];
  out.push(`A: ${label(runs[0])}, ${files[0]} (commit ${runs[0].commit}, ${runs[0].durationS} s, ${runs[0].pass ? "PASS" : "FAIL"})`);
  out.push(`B: ${label(runs[1])}, ${files[1]} (commit ${runs[1].commit}, ${runs[1].durationS} s, ${runs[1].pass ? "PASS" : "FAIL"})`);
  for (const [title, field, series] of [
    ["RSS MB", "rssKb", "rssMb"],
    ["V8 heapUsed MB", "heapUsedKb", "heapUsedMb"],
  ]) {
    const cell = (r, k, s) => (s && s.procs[k] ? f1(s.procs[k][field] / 1024) : "-");
    const both = (k, get) => runs.map((r) => get(r, k)).join(" / ");
    out.push("");
    out.push(`${title}, ${label(runs[0])} / ${label(runs[1])}:`);
    out.push("");
    out.push(`| minute | ${keys.map(name).join(" | ")} |`);
    out.push(`|---|${keys.map(() => "---|").join("")}`);
    for (const t of marks) {
      out.push(`| ${minutes(t)} | ${keys.map((k) => both(k, (r) => cell(r, k, nearest(r.samples, t, stepS / 2)))).join(" | ")} |`);
    }
    const last = (r) => r.samples[r.samples.length - 1];
    out.push(`| end (${runs.map((r) => minutes(last(r).t)).join(" / ")}) | ${keys.map((k) => both(k, (r) => cell(r, k, last(r)))).join(" | ")} |`);
    const slope = (r, k) => {
      const s = r.analysis.procs[k] && r.analysis.procs[k][series];
      return s ? `${f1(s.slopePer10Min)}${s.judged ? "" : "*"}` : "-";
    };
    out.push(`| slope per 10 min after warm-up | ${keys.map((k) => both(k, slope)).join(" | ")} |`);
  }
  if (keys.some((k) => runs.some((r) => r.analysis.procs[k] && r.analysis.procs[k].rssMb && !r.analysis.procs[k].rssMb.judged))) {
    out.push("");
    out.push("\\* window after warm-up under 5 minutes: not judged by the soak's rule");
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

main();
