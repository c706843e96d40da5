"use strict";
// Runs the examples as a user would: `node <file>` in a process group of its own, real ports on
// 127.0.0.1, real socket.io clients over HTTP long-polling (so that the sticky sessions matter).
// Every group is stopped at the end and must leave no process behind.

const { spawn } = require("node:child_process");
const path = require("node:path");
const { io: connect } = require("socket.io-client");
const { waitFor: waitForValue } = require("../bench/harness/wait");
const { findOnPath } = require("../bench/harness/redis-server");

const ROOT = path.join(__dirname, "..");
const started = new Set(); // children whose process group is still to be stopped

function start(file, env = {}, args = []) {
  const child = spawn(process.execPath, [path.join(ROOT, file), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true, // a process group of its own: the primary, its workers, its clients
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.output = "";
  child.stdout.on("data", (chunk) => (child.output += chunk));
  child.stderr.on("data", (chunk) => (child.output += chunk));
  child.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  started.add(child);
  return child;
}

/** The harness's waitFor, with the child's output so far in the error. */
async function waitFor(what, predicate, timeout = 15000, child = null) {
  try {
    return await waitForValue(predicate, what, timeout);
  } catch (err) {
    if (child) err.message += `; output so far:\n${child.output}`;
    throw err;
  }
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return err.code !== "ESRCH";
  }
}

/** Sends `signal` to the child's whole process group and waits until no member is left. */
async function stopGroup(child, signal = "SIGTERM") {
  started.delete(child);
  if (groupAlive(child.pid)) process.kill(-child.pid, signal);
  await child.exited;
  try {
    await waitFor(`process group ${child.pid} to be empty`, () => !groupAlive(child.pid), 5000);
  } catch (err) {
    process.kill(-child.pid, "SIGKILL");
    throw err;
  }
}

afterAll(async () => {
  for (const child of [...started]) {
    if (groupAlive(child.pid)) process.kill(-child.pid, "SIGKILL");
    started.delete(child);
  }
});

// A polling client that, like a default socket.io client, retries a failed connection attempt:
// @socket.io/sticky itself may route the first request after the handshake to the wrong worker
// when it arrives before the worker's "sticky:connection" message (socketio/socket.io-sticky#2;
// about 1 in 100 connections here). Once connected, reconnection is off so that nothing is hidden.
function pollingClient(url, helloEvent = "hello") {
  const socket = connect(url, {
    transports: ["polling"],
    forceNew: true,
    reconnectionAttempts: 3,
    reconnectionDelay: 100,
  });
  socket.chats = [];
  socket.on("chat", (message) => socket.chats.push(message));
  return new Promise((resolve, reject) => {
    let lastError = null;
    const fail = (err) => {
      clearTimeout(timer);
      socket.disconnect();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no "${helloEvent}" from ${url}`)), 10000);
    socket.on("connect_error", (err) => (lastError = err));
    socket.io.once("reconnect_failed", () => fail(lastError || new Error("could not connect")));
    socket.once(helloEvent, (hello) => {
      clearTimeout(timer);
      socket.io.reconnection(false);
      socket.hello = hello;
      resolve(socket);
    });
  });
}

async function checkChatCrossesWorkers(file) {
  const primary = start(file, { PORT: "0", WORKERS: "2" });
  const sockets = [];
  try {
    const url = await waitFor(
      "the URL",
      // the whole line: stdout may arrive cut in the middle of the port number
      () => (primary.output.match(/(http:\/\/127\.0\.0\.1:\d+)\r?\n/) || [])[1],
      15000,
      primary,
    );
    const workerPids = await waitFor(
      "2 workers",
      () => {
        const pids = [...primary.output.matchAll(/Worker (\d+) started/g)].map((m) => Number(m[1]));
        return pids.length >= 2 && pids;
      },
      15000,
      primary,
    );

    // least-connection sends the second session to the other worker; connect one by one until
    // there is a client on each worker
    while (new Set(sockets.map((s) => s.workerPid)).size < 2 && sockets.length < 6) {
      const socket = await pollingClient(url);
      socket.workerPid = socket.hello.pid;
      sockets.push(socket);
    }
    const a = sockets[0];
    const b = sockets.find((s) => s.workerPid !== a.workerPid);
    expect(b).toBeDefined();
    expect(workerPids).toEqual(expect.arrayContaining([a.workerPid, b.workerPid]));

    a.emit("chat", "hello from the other worker");
    await waitFor("the chat on the other worker", () => b.chats.length > 0, 5000);
    expect(b.chats[0]).toEqual({ text: "hello from the other worker", from: a.id, worker: a.workerPid });
    expect(b.chats).toHaveLength(1);
    await waitFor("the chat back to its sender", () => a.chats.length > 0, 5000);
  } finally {
    for (const s of sockets) s.disconnect();
    await stopGroup(primary);
  }
}

test("npm run demo: node examples/demo/run.js ends by itself, nothing lost", async () => {
  const demo = start("examples/demo/run.js", { PORT: "0", WORKERS: "2", CLIENTS: "24" });
  const { code } = await demo.exited;
  await waitFor("the demo's processes to exit", () => !groupAlive(demo.pid), 5000).catch(() => {
    process.kill(-demo.pid, "SIGKILL");
    throw new Error(`the demo left processes behind:\n${demo.output}`);
  });
  started.delete(demo);
  if (code !== 0) throw new Error(`demo exited with code ${code}:\n${demo.output}`);
  expect(demo.output).toMatch(/^RESULT: OK, nothing lost$/m);
  expect(demo.output).toMatch(/^ {2}chat +(\d+)\/\1 delivered, [1-9]\d* crossed workers, 0 lost, 0 duplicated$/m);
  expect(demo.output).toMatch(/^ {2}acks +48\/48 received/m);
  expect(demo.output).toMatch(/^ {2}announcement +24\/24 clients \(emitted by the primary\)$/m);
  // both workers hold clients, and each worker's fetchSockets() sees all of them
  const both = "\\([1-9]\\d* on worker 1, [1-9]\\d* on worker 2\\)";
  expect(demo.output).toMatch(new RegExp(`worker 1 saw 24/24 ${both}; worker 2 saw 24/24 ${both}`));
});

test("examples/cluster-sticky: a chat crosses workers behind one port", async () => {
  await checkChatCrossesWorkers("examples/cluster-sticky/cluster.js");
});

test("examples/recluster: a chat crosses workers behind one port", async () => {
  await checkChatCrossesWorkers("examples/recluster/cluster.js");
});

test("examples/processes/run.js: three plain processes behind a standalone hub, ends by itself, nothing lost", async () => {
  const run = start("examples/processes/run.js");
  const { code } = await run.exited;
  await waitFor("the example's processes to exit", () => !groupAlive(run.pid), 5000).catch(() => {
    process.kill(-run.pid, "SIGKILL");
    throw new Error(`examples/processes left processes behind:\n${run.output}`);
  });
  started.delete(run);
  if (code !== 0) throw new Error(`examples/processes exited with code ${code}:\n${run.output}`);
  expect(run.output).toMatch(/^RESULT: OK, nothing lost/m);
  expect(run.output).toMatch(/chat from s1\/c0: reached 6\/6 clients/);
  expect(run.output).toMatch(/fetchSockets\(\) on s1: 6\/6 sockets/);
}, 60000);

test("examples/demo/run.js --serve: serves until Ctrl-C, then stops every process", async () => {
  const demo = start("examples/demo/run.js", { PORT: "0", WORKERS: "2" }, ["--serve"]);
  const url = await waitFor(
    "the URL",
    () => (demo.output.match(/serving on (http:\/\/127\.0\.0\.1:\d+) /) || [])[1],
    15000,
    demo,
  );
  try {
    const socket = await pollingClient(url, "welcome");
    socket.disconnect();
    expect([1, 2]).toContain(socket.hello.worker);
  } catch (err) {
    err.message += `\noutput of run.js --serve:\n${demo.output}`;
    throw err;
  }
  await stopGroup(demo, "SIGINT"); // what Ctrl-C in a terminal does
  expect(demo.output).toMatch(/SIGINT: stopping the cluster/);
});

// examples/redis: two clusters joined through a throw-away redis-server; needs redis-server (>= 7).
const redisServer = findOnPath("redis-server");
if (!redisServer) {
  console.warn("examples/redis skipped: redis-server is not on PATH (apt-get install -y redis-server)");
}
(redisServer ? test : test.skip)("examples/redis/run.js: two machines through Redis, ends by itself, nothing lost", async () => {
  const run = start("examples/redis/run.js");
  const { code } = await run.exited;
  await waitFor("the example's processes to exit", () => !groupAlive(run.pid), 5000).catch(() => {
    process.kill(-run.pid, "SIGKILL");
    throw new Error(`examples/redis left processes behind:\n${run.output}`);
  });
  started.delete(run);
  if (code !== 0) throw new Error(`examples/redis exited with code ${code}:\n${run.output}`);
  expect(run.output).toMatch(/^RESULT: OK, nothing lost/m);
  expect(run.output).toMatch(/servers seen by each worker's adapter: A1 4, A2 4, B1 4, B2 4/);
  // the broadcast from machine A reached every client of machine B, the room message from machine
  // B reached the members on machine A, fetchSockets() on machine A saw machine B's sockets
  expect(run.output.match(/got it {2}<- crossed machines through Redis/g)).toHaveLength(6);
  expect(run.output).toMatch(/^ {2}8\/8 sockets, 4 of them on machine B$/m);
}, 60000);

// examples/redis-streams: streams mode; a client recovers on the other machine after its own was
// stopped, then on its restarted machine.
(redisServer ? test : test.skip)("examples/redis-streams/run.js: recovery across machines and a restart, ends by itself", async () => {
  const run = start("examples/redis-streams/run.js");
  const { code } = await run.exited;
  await waitFor("the example's processes to exit", () => !groupAlive(run.pid), 5000).catch(() => {
    process.kill(-run.pid, "SIGKILL");
    throw new Error(`examples/redis-streams left processes behind:\n${run.output}`);
  });
  started.delete(run);
  if (code !== 0) throw new Error(`examples/redis-streams exited with code ${code}:\n${run.output}`);
  expect(run.output).toMatch(/^RESULT: OK, alice recovered/m);
  expect(run.output.match(/^ {2}recovered: true$/gm)).toHaveLength(2);
  expect(run.output).toMatch(/^ {2}alice got, in all: \["news 1","news 2","news 3","news 4","news 5"\]$/m);
  expect(run.output).not.toMatch(/EXPECTED/);
}, 60000);
