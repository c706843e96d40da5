// What the Redis examples (examples/redis, examples/redis-streams) share to run two "machines" on
// one box: a throw-away redis-server (or REDIS_URL), machines forked from an example's cluster.js,
// the waits, and the end of a run (every process it started stopped by pid, a RESULT line, exit
// code 0 or 1, within a deadline whatever happens). Each run.js keeps only its story.

const { fork } = require("node:child_process");
const { findOnPath, startRedis: startThrowAwayRedis } = require("../bench/harness/redis-server");
const { waitFor: waitUntil } = require("../bench/harness/wait");

const children = []; // { name, child }: everything the run started, stopped by pid at the end
const problems = []; // what went wrong: any makes the run fail
const log = (line = "") => console.log(line);

/**
 * REDIS_URL, or a throw-away redis-server; without one on PATH, says how to get one and exits.
 * `needs`: { version: the Redis the example needs, command: how to run it with REDIS_URL }.
 */
async function startRedis({ version, command }) {
  if (process.env.REDIS_URL) {
    log(`Redis: ${process.env.REDIS_URL} (REDIS_URL)`);
    return process.env.REDIS_URL;
  }
  if (!findOnPath("redis-server")) {
    console.error(`redis-server is not on PATH: install it (Debian/Ubuntu: apt-get install -y redis-server, Redis >= ${version})`);
    console.error(`or point REDIS_URL at a Redis >= ${version}: REDIS_URL=redis://127.0.0.1:6379 node ${command}`);
    process.exit(1);
  }
  const redis = await startThrowAwayRedis();
  children.push({ name: "redis-server", child: redis.child });
  log(`Redis: started redis-server (pid ${redis.pid}) on ${redis.url}`);
  return redis.url;
}

/**
 * Starts one machine (`clusterScript`, a primary and `workers` workers); resolves to { url, child }
 * once it listens and every worker said it started.
 */
function startMachine(clusterScript, name, redisUrl, workers = 2) {
  const child = fork(clusterScript, [], {
    env: { ...process.env, REDIS_URL: redisUrl, MACHINE: name, PORT: "0", WORKERS: String(workers) },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  children.push({ name: `machine ${name}`, child });
  let output = "";
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
      const url = output.match(/listening on (http:\/\/[\d.]+:\d+)\r?\n/);
      const started = (output.match(/worker \S+ \(pid/g) || []).length;
      if (url && started === workers) resolve({ url: url[1], child });
    });
    child.once("exit", (code, signal) => reject(new Error(`machine ${name} exited (${signal || `code ${code}`})`)));
  });
}

/** Stops a machine as a deploy does (SIGTERM) and waits until it has exited. */
async function stopMachine(machine) {
  const exited = new Promise((resolve) => machine.child.once("exit", resolve));
  machine.child.kill("SIGTERM");
  await exited;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Whether `predicate` holds within `ms` (polled every 20 ms). */
function waitFor(predicate, ms) {
  return waitUntil(predicate, "a condition", ms, 20).then(
    () => true,
    () => false,
  );
}

/** Stops every process the run started, by pid, and waits until each has exited. */
async function stopAll() {
  for (const { child } of [...children].reverse()) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  }
  const exited = (child) => child.exitCode !== null || child.signalCode !== null;
  const gone = await waitFor(() => children.every(({ child }) => exited(child)), 6000);
  if (!gone) for (const { child } of children) if (!exited(child)) child.kill("SIGKILL");
}

/**
 * Runs `main` to the end: then, or on a signal, an error or the deadline, stops everything and
 * exits, 0 with `okResult` if nothing went wrong, else 1 with the problems.
 */
function run(main, { okResult, deadlineMs = 60000 }) {
  let finishing = false;
  async function finish(code) {
    if (finishing) return;
    finishing = true;
    await stopAll();
    log();
    if (code === 0 && problems.length === 0) {
      log(`RESULT: OK, ${okResult}`);
      process.exit(0);
    }
    log("RESULT: FAILED");
    for (const p of problems) log(`  - ${p}`);
    process.exit(1);
  }
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      problems.push(`${signal}: stopped`);
      finish(1);
    });
  }
  setTimeout(() => {
    problems.push(`did not finish within ${deadlineMs / 1000} s`);
    finish(1);
  }, deadlineMs).unref();
  main().then(
    () => {
      log();
      log("stopping the machines and Redis");
      return finish(0);
    },
    (err) => {
      problems.push(err.message);
      return finish(1);
    },
  );
}

module.exports = { problems, log, startRedis, startMachine, stopMachine, withTimeout, waitFor, run };
