"use strict";
// Real redis-server processes for the tests of several machines: 127.0.0.1 only, free ports, no
// persistence, stopped by pid. Without redis-server on PATH those tests are skipped, saying so.

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn, execFileSync } = require("node:child_process");
const { findOnPath, freePort, waitForPong } = require("../../bench/redis-server");

const INSTALL = "apt-get install -y redis-server";
const available = Boolean(findOnPath("redis-server") && findOnPath("redis-cli"));

/** `describe`, or `describe.skip` with a line saying why when redis-server is missing. */
function describeWithRedis(title, fn) {
  if (available) return describe(title, fn);
  // eslint-disable-next-line no-console
  console.warn(`skipping "${title}": redis-server is not installed (${INSTALL}; .ci/run does it)`);
  return describe.skip(title, fn);
}

/** One redis-server on `port` (a free one by default); `extraArgs` e.g. for a Cluster node. */
async function startRedis({ port, extraArgs = [], dir } = {}) {
  port = port || (await freePort());
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"];
  const child = spawn("redis-server", [...args, ...extraArgs], { cwd: dir || os.tmpdir(), stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const server = {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    /** Stops it (SIGKILL: as a crash, nothing flushed) and waits until it is gone. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
      await exited;
    },
  };
  try {
    await waitForPong(port, 5000);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

function cli(port, ...args) {
  return execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8" });
}

/** A Redis Cluster of `masters` nodes (no replicas), ready when every node says cluster_state:ok. */
async function startRedisCluster(masters = 3) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-redis-cluster-"));
  const nodes = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startRedis({
          dir,
          extraArgs: ["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${i}.conf`, "--cluster-node-timeout", "2000"],
        }),
      );
    }
    execFileSync(
      "redis-cli",
      ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"],
      { stdio: "ignore" },
    );
    const deadline = Date.now() + 15000;
    while (!nodes.every((n) => cli(n.port, "cluster", "info").includes("cluster_state:ok"))) {
      if (Date.now() > deadline) throw new Error("the Redis Cluster never reached cluster_state:ok");
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `PUBSUB SHARDNUMSUB channel` on one server. */
function shardNumSub(port, channel) {
  const lines = cli(port, "pubsub", "shardnumsub", channel).trim().split("\n");
  return Number(lines[1]);
}

module.exports = { available, INSTALL, describeWithRedis, startRedis, startRedisCluster, shardNumSub, cli };
