"use strict";
// setupPrimary() that failed can be called again; the hub's socket directory does not outlive its
// primary, whatever signal ends it, and one left by a primary that could not clean up (SIGKILL)
// is removed by the next hub.

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const PACKAGE = path.join(__dirname, "..");

// Runs `code` in a fresh Node process (a cluster primary: not a worker) with `env`; resolves with
// its first line of output, parsed as JSON, and the process.
function primary(code, env = {}) {
  const child = spawn(process.execPath, ["-e", code], {
    cwd: PACKAGE,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n")[0];
      if (out.includes("\n")) resolve({ value: JSON.parse(line), child });
    });
    child.on("exit", (code, signal) => reject(new Error(`exited (${code ?? signal}) before answering: ${out}`)));
  });
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", resolve));
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sio-lifecycle-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

test("a setupPrimary() that threw can be retried", async () => {
  const { value, child } = await primary(`
    const { setupPrimary, hubStats } = require("./");
    const redis = { url: "redis://127.0.0.1:1" }; // never reached: the hub keeps retrying quietly
    let first;
    process.env.TMPDIR = ${JSON.stringify(path.join(scratch, "missing"))}; // the hub cannot make its directory
    try { setupPrimary({ redis }); first = "started"; } catch (err) { first = err.message; }
    process.env.TMPDIR = ${JSON.stringify(scratch)};
    setupPrimary({ redis });
    console.log(JSON.stringify({ first, hub: hubStats() !== null }));
    process.exit(0);
  `);
  await exited(child);
  expect(value.first).toMatch(/No such file or directory|ENOENT/);
  expect(value.hub).toBe(true);
});

const START_HUB = `
  const { setupPrimary } = require("./");
  const { hubInfo } = require("./lib/primary");
  setupPrimary();
  console.log(JSON.stringify(hubInfo().path));
  setInterval(() => {}, 1000);
`;

test.each(["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"])("%s: the hub's directory is removed", async (signal) => {
  const { value: socket, child } = await primary(START_HUB, { TMPDIR: scratch });
  expect(fs.existsSync(socket)).toBe(true);
  child.kill(signal);
  await exited(child);
  expect(child.signalCode).toBe(signal); // it still dies of the signal
  expect(fs.existsSync(path.dirname(socket))).toBe(false);
});

test("SIGKILL leaves the directory behind; the next hub removes it", async () => {
  const first = await primary(START_HUB, { TMPDIR: scratch });
  first.child.kill("SIGKILL");
  await exited(first.child);
  expect(fs.existsSync(path.dirname(first.value))).toBe(true);

  const second = await primary(START_HUB, { TMPDIR: scratch });
  expect(fs.existsSync(path.dirname(first.value))).toBe(false);
  expect(fs.existsSync(second.value)).toBe(true);
  second.child.kill("SIGTERM");
  await exited(second.child);
});
