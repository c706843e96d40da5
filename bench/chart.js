#!/usr/bin/env node
"use strict";

// `node bench/chart.js <results.json> [out.svg]`: a bar chart of one bench run (the JSON that
// bench/run.js writes), as plain SVG written by hand. For each scenario and worker count, two
// panels of ratios to the reference (@socket.io/cluster-adapter), one bar per system (ours, redis):
//   top:    the main figure, deliveries/s or requests/s (higher is better)
//   bottom: workers CPU us per operation, summed over the workers (lower is better)
// A dashed line marks 1.0 (the reference). Without out.svg, the SVG goes next to the JSON.
// bench/run.js calls render() itself, so every run leaves bench/results/<timestamp>.svg.

const fs = require("node:fs");
const path = require("node:path");

const SYSTEMS = [
  { variant: "ours", label: "ours (socket.io-cluster-adapter-native)", color: "#d95f02" },
  { variant: "redis", label: "redis (@socket.io/redis-adapter)", color: "#7570b3" },
];
const PANELS = [
  {
    title: "Throughput (deliveries/s; requests/s for fetch-sockets, server-side-emit): ratio to the reference, higher is better",
    get: (summary) => summary.rate,
  },
  {
    title: "Workers CPU per operation (us, summed over the workers): ratio to the reference, lower is better",
    get: (summary) => summary.cpuUsPerOp && summary.cpuUsPerOp.workers,
  },
];

const FONT = "font-family=\"Helvetica, Arial, sans-serif\"";
const BAR = 16; // bar width
const BAR_GAP = 2; // between the bars of one group
const GROUP_GAP = 10; // between worker counts of one scenario
const SCENARIO_GAP = 26; // between scenarios
const PLOT_HEIGHT = 210;
const LEFT = 56;
const RIGHT = 24;
const MIN_WIDTH = 1000; // few scenarios: the slots widen, so that titles and legends fit

function esc(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function n(v) {
  return Number(v.toFixed(1));
}

/** A round upper bound for the axis: at least 1.5, at most 4 (taller bars are clipped and marked). */
function axisMax(values) {
  const max = Math.max(1.5, ...values.filter(Number.isFinite));
  return Math.min(4, Math.ceil(max * 2) / 2);
}

/** Splits a scenario name at its hyphens into lines that fit `width` px (about 6.2 px a character). */
function labelLines(name, width) {
  const fits = (text) => text.length * 6.2 <= width;
  if (fits(name)) return [name];
  const lines = [];
  for (const part of name.split("-")) {
    const last = lines.length - 1;
    if (last >= 0 && fits(`${lines[last]}-${part}`)) lines[last] = `${lines[last]}-${part}`;
    else lines.push(part);
  }
  return lines.map((line, i) => (i < lines.length - 1 ? `${line}-` : line));
}

/** The SVG, as a string, for the parsed results JSON of one run. */
function render(data) {
  const opts = data.options || {};
  const cells = data.summary || [];
  const variants = new Set(cells.map((c) => c.variant));
  const systems = SYSTEMS.filter((s) => variants.has(s.variant));
  const workerCounts = [...new Set((opts.workers || cells.map((c) => c.workers)).filter((w) => w > 1))].sort((a, b) => a - b);
  const scenarios = (opts.scenarios || [...new Set(cells.map((c) => c.scenario))]).filter((name) =>
    cells.some((c) => c.scenario === name && c.variant === "reference" && c.summary),
  );
  const summaryOf = (scenario, variant, workers) => {
    const cell = cells.find((c) => c.scenario === scenario && c.variant === variant && c.workers === workers);
    return cell && cell.summary ? cell.summary : null;
  };
  const ratio = (panel, scenario, variant, workers) => {
    const ours = summaryOf(scenario, variant, workers);
    const ref = summaryOf(scenario, "reference", workers);
    if (!ours || !ref) return NaN;
    return panel.get(ours) / panel.get(ref);
  };

  const groupWidth = Math.max(1, systems.length) * (BAR + BAR_GAP) - BAR_GAP;
  const scenarioWidth = workerCounts.length * groupWidth + (workerCounts.length - 1) * GROUP_GAP;
  // Each scenario's slot: its bars and a gap, widened to fill MIN_WIDTH when there are few.
  const slot = Math.max(scenarioWidth + SCENARIO_GAP, (MIN_WIDTH - LEFT - RIGHT) / Math.max(1, scenarios.length));
  const plotWidth = scenarios.length * slot;
  const width = Math.ceil(LEFT + plotWidth + RIGHT);
  const labelRoom = slot - 6;
  const nameLines = Math.max(1, ...scenarios.map((s) => labelLines(s, labelRoom).length));
  const header = 92;
  const panelHeight = 34 + PLOT_HEIGHT + 22 + nameLines * 13 + 18;
  const height = header + PANELS.length * panelHeight + 10;

  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);

  // Title, what was measured, legend.
  const m = data.machine || {};
  const date = (data.startedAt || "").replace("T", " ").replace(/\.\d+Z$/, " UTC");
  const commit = data.commit ? `, commit ${data.commit.hash}${data.commit.dirty ? " (+ uncommitted changes)" : ""}` : "";
  out.push(`<text x="${LEFT}" y="24" font-size="16" font-weight="bold" fill="#222">socket.io cluster adapters: ratio to @socket.io/cluster-adapter (= 1.0)</text>`);
  out.push(
    `<text x="${LEFT}" y="43" font-size="11.5" fill="#444">${esc(
      `${date}, ${m.cpus || "?"} x ${m.model || "?"}, node ${m.node || "?"}${commit}; median of ${opts.rounds || "?"} round(s), ${opts.clients || "?"} clients`,
    )}</text>`,
  );
  let lx = LEFT;
  const ly = 66;
  for (const s of systems) {
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 17}" y="${ly}" font-size="12" fill="#222">${esc(s.label)}</text>`);
    lx += 30 + s.label.length * 6.6;
  }
  out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 28}" y2="${ly - 4}" stroke="#222" stroke-width="1.5" stroke-dasharray="5,3"/>`);
  out.push(`<text x="${lx + 34}" y="${ly}" font-size="12" fill="#222">reference (@socket.io/cluster-adapter) = 1.0</text>`);
  out.push(`<text x="${LEFT}" y="${ly + 16}" font-size="11" fill="#666">Bars: x2, x4, ... workers under each scenario. A clipped bar (beyond the axis) is marked with its value.</text>`);

  PANELS.forEach((panel, p) => {
    const top = header + p * panelHeight;
    const plotTop = top + 34;
    const plotBottom = plotTop + PLOT_HEIGHT;
    const values = [];
    for (const s of scenarios) for (const w of workerCounts) for (const sys of systems) values.push(ratio(panel, s, sys.variant, w));
    const yMax = axisMax(values);
    const y = (v) => plotBottom - (Math.min(v, yMax) / yMax) * PLOT_HEIGHT;

    out.push(`<text x="${LEFT}" y="${top + 18}" font-size="13" font-weight="bold" fill="#222">${esc(panel.title)}</text>`);
    // Grid and axis labels.
    const step = yMax > 2.5 ? 1 : 0.5;
    for (let v = 0; v <= yMax + 1e-9; v += step) {
      out.push(`<line x1="${LEFT}" y1="${n(y(v))}" x2="${LEFT + plotWidth}" y2="${n(y(v))}" stroke="#e3e3e3" stroke-width="1"/>`);
      out.push(`<text x="${LEFT - 6}" y="${n(y(v) + 4)}" font-size="11" text-anchor="end" fill="#444">${v.toFixed(1)}</text>`);
    }
    out.push(`<line x1="${LEFT}" y1="${plotTop}" x2="${LEFT}" y2="${plotBottom}" stroke="#888" stroke-width="1"/>`);
    out.push(`<line x1="${LEFT}" y1="${plotBottom}" x2="${LEFT + plotWidth}" y2="${plotBottom}" stroke="#888" stroke-width="1"/>`);

    const labels = []; // drawn after the reference line, with a white halo, so that both stay readable
    scenarios.forEach((scenario, si) => {
      const sx = LEFT + si * slot + (slot - scenarioWidth) / 2;
      workerCounts.forEach((workers, wi) => {
        const gx = sx + wi * (groupWidth + GROUP_GAP);
        systems.forEach((sys, bi) => {
          const v = ratio(panel, scenario, sys.variant, workers);
          const bx = gx + bi * (BAR + BAR_GAP);
          const cx = n(bx + BAR / 2);
          if (!Number.isFinite(v)) {
            out.push(`<text x="${cx}" y="${plotBottom - 4}" font-size="9" text-anchor="middle" fill="#999">-</text>`);
            return;
          }
          const by = y(v);
          const clipped = v > yMax;
          out.push(
            `<rect x="${n(bx)}" y="${n(by)}" width="${BAR}" height="${n(plotBottom - by)}" fill="${sys.color}"><title>${esc(
              `${sys.variant} x${workers} ${scenario}: ${v.toFixed(2)}`,
            )}</title></rect>`,
          );
          if (clipped) out.push(`<path d="M${n(bx)},${n(by + 6)} L${cx},${n(by - 2)} L${n(bx + BAR)},${n(by + 6)}" fill="#fff" opacity="0.8"/>`);
          // The value, written upwards above the bar.
          const ty = n(by - 4);
          labels.push(
            `<text x="${cx + 3.5}" y="${ty}" font-size="10" fill="#222" stroke="#fff" stroke-width="3" paint-order="stroke" transform="rotate(-90 ${cx + 3.5} ${ty})">${v.toFixed(2)}</text>`,
          );
        });
        out.push(
          `<text x="${n(gx + groupWidth / 2)}" y="${plotBottom + 14}" font-size="10.5" text-anchor="middle" fill="#444">x${workers}</text>`,
        );
      });
      labelLines(scenario, labelRoom).forEach((line, li) => {
        out.push(
          `<text x="${n(sx + scenarioWidth / 2)}" y="${plotBottom + 30 + li * 13}" font-size="11.5" font-weight="bold" text-anchor="middle" fill="#222">${esc(line)}</text>`,
        );
      });
    });
    // The reference, drawn last so that it crosses the bars.
    out.push(`<line x1="${LEFT}" y1="${n(y(1))}" x2="${LEFT + plotWidth}" y2="${n(y(1))}" stroke="#222" stroke-width="1.5" stroke-dasharray="5,3"/>`);
    out.push(...labels);
  });

  out.push("</svg>");
  return out.join("\n") + "\n";
}

function main(argv) {
  const [input, output] = argv;
  if (!input || input === "--help" || input === "-h") {
    process.stderr.write("Usage: node bench/chart.js <results.json> [out.svg]\n");
    return input ? 0 : 2;
  }
  const data = JSON.parse(fs.readFileSync(input, "utf8"));
  const file = output || input.replace(/\.json$/, "") + ".svg";
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, render(data));
  process.stderr.write(`chart: ${file}\n`);
  return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));

module.exports = { render };
