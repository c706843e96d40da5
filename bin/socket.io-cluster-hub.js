#!/usr/bin/env node
"use strict";

// The standalone hub as a command: `socket.io-cluster-hub --socket <path> [options]`. It runs until
// SIGINT or SIGTERM, then removes its socket and secret file and exits 0.

const { parseArgs } = require("node:util");

const USAGE = `Usage: socket.io-cluster-hub --socket <path> [options]

  --socket <path>                 the hub's socket (default: $SOCKET_IO_CLUSTER_HUB); its directory is
                                  made (0700) if missing, the secret goes to <path>.secret
  --group <name|gid>              processes of this group may link too (directory 0750, socket 0660)
  --redis <url>                   bridge to other machines through this Redis (redis:// or rediss://)
  --redis-node <url>              a node of a Redis Cluster (repeat it; instead of --redis)
  --redis-channel-prefix <prefix> as @socket.io/redis-adapter's channelPrefix (default socket.io)
  --redis-subscription-mode <m>   static | dynamic (default) | dynamic-private
  --redis-mixed-fleet             plain @socket.io/redis-adapter servers share the channels
  --max-queue-bytes <n>           bytes queued for one worker before it is cut off
  --recovery-max-packets <n>      bounds of connection state recovery's packet log and sessions
  --recovery-max-bytes <n>
  --recovery-max-sessions <n>
  --recovery-max-session-bytes <n>
  --no-route-by-room              send every message to every worker
  --help

Workers: createAdapter({ hub: "<path>" }), or SOCKET_IO_CLUSTER_HUB=<path> in their environment.
Logs: DEBUG=socket.io-cluster-adapter-native:*`;

function fail(message) {
  process.stderr.write(`socket.io-cluster-hub: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function integer(name, text) {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) fail(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

function parse(argv) {
  const spec = {
    socket: { type: "string" },
    group: { type: "string" },
    redis: { type: "string" },
    "redis-node": { type: "string", multiple: true },
    "redis-channel-prefix": { type: "string" },
    "redis-subscription-mode": { type: "string" },
    "redis-mixed-fleet": { type: "boolean" },
    "max-queue-bytes": { type: "string" },
    "recovery-max-packets": { type: "string" },
    "recovery-max-bytes": { type: "string" },
    "recovery-max-sessions": { type: "string" },
    "recovery-max-session-bytes": { type: "string" },
    "no-route-by-room": { type: "boolean" },
    help: { type: "boolean" },
  };
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: spec, strict: true }));
  } catch (err) {
    fail(err.message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const { HUB_ENV } = require("../lib/options");
  const options = { socket: values.socket || process.env[HUB_ENV] };
  if (!options.socket) fail("--socket is required");
  if (values.group !== undefined) options.group = /^\d+$/.test(values.group) ? Number(values.group) : values.group;
  if (values["no-route-by-room"]) options.routeByRoom = false;
  const maxQueueBytes = integer("max-queue-bytes", values["max-queue-bytes"]);
  if (maxQueueBytes !== undefined) options.maxQueueBytes = maxQueueBytes;
  const recovery = {};
  for (const [flag, name] of [
    ["recovery-max-packets", "maxPackets"],
    ["recovery-max-bytes", "maxBytes"],
    ["recovery-max-sessions", "maxSessions"],
    ["recovery-max-session-bytes", "maxSessionBytes"],
  ]) {
    const value = integer(flag, values[flag]);
    if (value !== undefined) recovery[name] = value;
  }
  if (Object.keys(recovery).length > 0) options.recovery = recovery;
  if (values.redis !== undefined || values["redis-node"] !== undefined) {
    const redis = values.redis !== undefined ? { url: values.redis } : { nodes: values["redis-node"] };
    if (values.redis !== undefined && values["redis-node"] !== undefined) fail("--redis and --redis-node exclude each other");
    if (values["redis-channel-prefix"] !== undefined) redis.channelPrefix = values["redis-channel-prefix"];
    if (values["redis-subscription-mode"] !== undefined) redis.subscriptionMode = values["redis-subscription-mode"];
    if (values["redis-mixed-fleet"]) redis.mixedFleet = true;
    options.redis = redis;
  }
  return options;
}

function main() {
  const options = parse(process.argv.slice(2));
  const { startHub } = require("../lib/standalone-hub");
  let hub;
  try {
    hub = startHub(options);
  } catch (err) {
    process.stderr.write(`socket.io-cluster-hub: ${err.message}\n`);
    process.exit(err instanceof TypeError ? 2 : 1);
  }
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      hub.close();
      process.exit(0);
    });
  }
  // One line a supervisor (or a test) can wait for.
  process.stdout.write(`socket.io-cluster-hub listening on ${hub.path}\n`);
}

main();
