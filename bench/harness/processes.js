"use strict";

// Every process the bench starts, so that none outlives it: on a normal end, a failed scenario,
// an uncaught error, Ctrl-C or SIGTERM.
//
// Children (cluster primaries, client processes) stop their own children when asked (SIGTERM) or
// when their IPC channel to us closes. Grandchildren (workers, redis-server) are also recorded by
// pid, with a marker from their command line, and killed by pid if still there after a grace
// period; the marker keeps us from killing an unrelated process that reused the pid.

const { isOurs } = require("./proc-stats");
const { sleep } = require("./wait");

const children = new Set(); // ChildProcess
const grandchildren = new Map(); // pid => command-line marker
let cleaning = null;

function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

function isRunning(child) {
  return !hasExited(child);
}

function trackChild(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function trackPid(pid, marker) {
  if (pid) grandchildren.set(pid, marker);
}

function kill(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Resolves when `child` has exited, or after `timeoutMs`, whichever comes first. */
function waitExit(child, timeoutMs) {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** SIGTERM, then SIGKILL if `child` is still there after `graceMs`; resolves once it is gone (or 1 s later). */
async function stopProcess(child, graceMs = 4000) {
  if (hasExited(child)) return;
  const gone = new Promise((resolve) => child.once("exit", resolve));
  try {
    child.kill("SIGTERM");
  } catch {
    // gone
  }
  if (await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)])) return;
  try {
    child.kill("SIGKILL");
  } catch {
    // gone
  }
  await Promise.race([gone, sleep(1000)]);
}

/** Stops everything; resolves when nothing we started is left (at most ~4 s). */
function stopAll() {
  if (cleaning) return cleaning;
  cleaning = (async () => {
    for (const child of children) if (isRunning(child)) kill(child.pid, "SIGTERM");
    const deadline = Date.now() + 3500;
    const anyLeft = () =>
      [...children].some(isRunning) || [...grandchildren].some(([pid, marker]) => isOurs(pid, marker));
    while (anyLeft() && Date.now() < deadline) await sleep(50);
    for (const child of children) if (isRunning(child)) kill(child.pid, "SIGKILL");
    for (const [pid, marker] of grandchildren) if (isOurs(pid, marker)) kill(pid, "SIGKILL");
    grandchildren.clear();
  })();
  return cleaning;
}

/** Whether the bench is being torn down (the orchestrator stops starting new work). */
function isStopping() {
  return cleaning !== null;
}

/** Ctrl-C, SIGTERM, SIGHUP and uncaught errors: stop everything, then exit. */
function installCleanup(log) {
  const bail = (code, why) => {
    log(`${why}: stopping every process of the bench`);
    stopAll().then(() => process.exit(code));
  };
  process.on("SIGINT", () => bail(130, "SIGINT"));
  process.on("SIGTERM", () => bail(143, "SIGTERM"));
  process.on("SIGHUP", () => bail(129, "SIGHUP"));
  process.on("uncaughtException", (err) => bail(1, `uncaught error: ${err.stack || err}`));
  process.on("unhandledRejection", (err) => bail(1, `unhandled rejection: ${(err && err.stack) || err}`));
}

module.exports = { trackChild, trackPid, stopAll, isStopping, installCleanup, waitExit, stopProcess, hasExited };
