"use strict";
// Real redis-server processes for the tests of several machines: 127.0.0.1 only, free ports, no
// persistence, stopped by pid. Without redis-server on PATH those tests are skipped, saying so.

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const harness = require("../../bench/harness/redis-server");

const { findOnPath } = harness;

const INSTALL = "apt-get install -y redis-server";
const available = Boolean(findOnPath("redis-server") && findOnPath("redis-cli"));

/** `describe`, or `describe.skip` with a line saying why when redis-server is missing. */
function describeWithRedis(title, fn) {
  if (available) return describe(title, fn);
  // eslint-disable-next-line no-console
  console.warn(`skipping "${title}": redis-server is not installed (${INSTALL}; .ci/run does it)`);
  return describe.skip(title, fn);
}

/**
 * One redis-server on `port` (a free one by default); `extraArgs` e.g. for a Cluster node. Its
 * stop() is a crash (SIGKILL, nothing flushed) and resolves once it is gone.
 */
function startRedis({ port, extraArgs = [], dir } = {}) {
  return harness.startRedis({ port, extraArgs, dir, stopSignal: "SIGKILL" });
}

function cli(port, ...args) {
  return execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8" });
}

/**
 * A Redis Cluster of `masters` masters with `replicas` replicas each, ready when every node says
 * cluster_state:ok.
 */
async function startRedisCluster(masters = 3, replicas = 0) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-redis-cluster-"));
  const nodes = [];
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      nodes.push(
        await startRedis({
          dir,
          extraArgs: ["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${i}.conf`, "--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0"],
        }),
      );
    }
    execFileSync(
      "redis-cli",
      ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", String(replicas), "--cluster-yes"],
      { stdio: "ignore" },
    );
    const deadline = Date.now() + 15000;
    // A replica whose first sync did not finish is no candidate for a failover.
    const synced = (n) => !cli(n.port, "info", "replication").includes("role:slave") || cli(n.port, "info", "replication").includes("master_link_status:up");
    const ready = (n) =>
      cli(n.port, "cluster", "info").includes("cluster_state:ok") &&
      synced(n) &&
      cli(n.port, "cluster", "nodes")
        .trim()
        .split("\n")
        .filter((line) => line.split(" ")[2].split(",").includes("slave")).length ===
        masters * replicas;
    while (!nodes.every(ready)) {
      if (Date.now() > deadline) throw new Error("the Redis Cluster never reached cluster_state:ok");
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return {
    nodes,
    // The masters are given: a client finds the rest (and the replicas once promoted) itself.
    urls: nodes.slice(0, masters).map((n) => n.url),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The node (of `nodes`) that serves the slot of `channel` now (null while none does). */
function ownerOf(nodes, channel) {
  const live = nodes.filter((n) => n.alive !== false);
  const slot = Number(cli(live[0].port, "cluster", "keyslot", channel).trim());
  for (const line of cli(live[0].port, "cluster", "nodes").trim().split("\n")) {
    const [, address, flags, , , , , , ...ranges] = line.split(" ");
    if (!flags.includes("master") || flags.includes("fail")) continue;
    const port = Number(address.split("@")[0].split(":")[1]);
    const owns = ranges.some((range) => {
      const [from, to = from] = range.split("-").map(Number);
      return slot >= from && slot <= to;
    });
    if (owns) return nodes.find((n) => n.port === port);
  }
  return null;
}

/** `PUBSUB SHARDNUMSUB channel` on one server. */
function shardNumSub(port, channel) {
  const lines = cli(port, "pubsub", "shardnumsub", channel).trim().split("\n");
  return Number(lines[1]);
}

module.exports = { available, INSTALL, describeWithRedis, startRedis, startRedisCluster, ownerOf, shardNumSub, cli };
