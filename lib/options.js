"use strict";

// Checks the options a user gives, so that a typo or a wrong type fails loudly at start-up with
// a TypeError naming it. The adapter's options are @socket.io/cluster-adapter's, defaulted here
// (only JavaScript uses them). setupPrimary()'s options are checked but not defaulted: the hub
// (Rust) fills in what the user left out, from its own defaults.

const { isSubscriptionMode, subscriptionModes } = require("./binding");

// The options of @socket.io/cluster-adapter, with its defaults.
const DEFAULTS = Object.freeze({
  requestsTimeout: 5000,
  heartbeatInterval: 5000,
  heartbeatTimeout: 10000,
});

// The environment variable that names a standalone hub's socket for every process started with
// it (e.g. once in a PM2 ecosystem file), when the adapter's option `hub` is not given.
const HUB_ENV = "SOCKET_IO_CLUSTER_HUB";

/**
 * Checks the adapter's options once, when it is created, so that a typo fails loudly at start-up
 * instead of as a NaN timer much later. `hub`: the socket of a standalone hub (ours alone).
 */
function normalizeOptions(opts) {
  if (opts === undefined || opts === null) opts = {};
  if (typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`socket.io-cluster-adapter-native: options must be an object, got ${describe(opts)}`);
  }
  rejectUnknown(opts, [...Object.keys(DEFAULTS), "hub"], "");
  const options = { ...DEFAULTS, hub: hubSocket(opts.hub === undefined ? process.env[HUB_ENV] || undefined : opts.hub, "hub") };
  for (const name of Object.keys(DEFAULTS)) {
    const value = opts[name];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new TypeError(
        `socket.io-cluster-adapter-native: option "${name}" must be a positive number of milliseconds, got ${describe(value)}`,
      );
    }
    options[name] = value;
  }
  return options;
}

// setupPrimary()'s options. `hub` (default true) is JavaScript's alone: whether to start one.
const PRIMARY_OPTIONS = ["hub", "routeByRoom", "maxQueueBytes", "recovery", "redis"];
// Bounds of the hub's packet log and session store (connection state recovery).
const RECOVERY_OPTIONS = ["maxPackets", "maxBytes", "maxSessions", "maxSessionBytes"];
// As @socket.io/redis-adapter's createShardedAdapter, with one server (`url`) or a Cluster.
// mixedFleet: plain servers (@socket.io/redis-adapter's, or in mode "streams" the streams adapter's)
// share the channels, and servers are counted as they count them (see README).
const REDIS_OPTIONS = ["url", "nodes", "mode", "channelPrefix", "subscriptionMode", "mixedFleet"];
// mode "streams": @socket.io/redis-streams-adapter 0.3's protocol, with its createAdapter's options
// (their defaults are the adapter's, filled in by the hub: crates/hub/src/redis_bridge/streams.rs).
// heartbeatInterval and heartbeatTimeout are accepted and unused, as by the adapter 0.3.1 itself.
const STREAMS_STRINGS = ["streamName", "sessionKeyPrefix"];
const STREAMS_INTEGERS = ["streamCount", "maxLen", "readCount", "blockTimeInMs", "heartbeatInterval", "heartbeatTimeout"];
const STREAMS_BOOLEANS = ["useShardedPubSub", "onlyPlaintext"];
const STREAMS_OPTIONS = [...STREAMS_STRINGS, ...STREAMS_INTEGERS, ...STREAMS_BOOLEANS];
const SHARDED_ONLY = ["subscriptionMode"];
const REDIS_MODES = ["sharded", "streams"];
// Streams a namespace may hash to (the hub reads every one): a bound on what one option costs.
const MAX_STREAM_COUNT = 1024;

/** The options the user set (and `hub`), checked; the hub takes its defaults for the others. */
function normalizePrimaryOptions(opts) {
  if (opts === undefined || opts === null) return { hub: true };
  if (typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`socket.io-cluster-adapter-native: setupPrimary options must be an object, got ${describe(opts)}`);
  }
  rejectUnknown(opts, PRIMARY_OPTIONS, "");
  const options = { hub: true };
  for (const name of ["hub", "routeByRoom"]) {
    if (opts[name] === undefined) continue;
    if (typeof opts[name] !== "boolean") {
      throw new TypeError(`socket.io-cluster-adapter-native: option "${name}" must be a boolean, got ${describe(opts[name])}`);
    }
    options[name] = opts[name];
  }
  if (opts.maxQueueBytes !== undefined) options.maxQueueBytes = positiveInteger("maxQueueBytes", opts.maxQueueBytes);
  if (opts.recovery !== undefined) {
    if (opts.recovery === null || typeof opts.recovery !== "object" || Array.isArray(opts.recovery)) {
      throw new TypeError(`socket.io-cluster-adapter-native: option "recovery" must be an object, got ${describe(opts.recovery)}`);
    }
    rejectUnknown(opts.recovery, RECOVERY_OPTIONS, "recovery.");
    options.recovery = {};
    for (const name of RECOVERY_OPTIONS) {
      if (opts.recovery[name] !== undefined) options.recovery[name] = positiveInteger(`recovery.${name}`, opts.recovery[name]);
    }
  }
  if (opts.redis !== undefined && opts.redis !== null) {
    options.redis = normalizeRedisOptions(opts.redis);
    if (!options.hub) throw new TypeError('socket.io-cluster-adapter-native: option "redis" needs the hub (option "hub" is false)');
  }
  return options;
}

// A standalone hub's own options, beside those of setupPrimary()'s hub.
const STANDALONE_OPTIONS = ["socket", "group"];

/** A standalone hub's options (lib/standalone-hub.js): `socket` (required), `group`, and the hub's of setupPrimary(). */
function normalizeStandaloneOptions(opts) {
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`socket.io-cluster-adapter-native: the hub's options must be an object, got ${describe(opts)}`);
  }
  const { socket, group, ...hubOptions } = opts;
  const known = PRIMARY_OPTIONS.filter((name) => name !== "hub");
  rejectUnknown(hubOptions, [...STANDALONE_OPTIONS, ...known], "");
  const options = normalizePrimaryOptions(hubOptions);
  delete options.hub;
  // Its workers learn nothing from a primary: they could not know that offsets are stream ids
  // and servers counted by Redis (issue 18 built the streams mode for setupPrimary()'s hub).
  if (options.redis && options.redis.mode === "streams") {
    throw new TypeError('socket.io-cluster-adapter-native: option "redis.mode" "streams" is not supported by a standalone hub yet (setupPrimary() only)');
  }
  options.socket = hubSocket(socket, "socket");
  if (options.socket === undefined) throw new TypeError('socket.io-cluster-adapter-native: option "socket" (the hub\'s socket path) is required');
  if (group !== undefined) {
    const isGid = Number.isInteger(group) && group >= 0;
    if (!isGid && (typeof group !== "string" || group === "")) {
      throw new TypeError(`socket.io-cluster-adapter-native: option "group" must be a group name or gid, got ${describe(group)}`);
    }
    options.group = group;
  }
  return options;
}

/** A socket path (or undefined). */
function hubSocket(value, name) {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`socket.io-cluster-adapter-native: option "${name}" must be the path of a hub's socket, got ${describe(value)}`);
  }
  return value;
}

/** `{ url }` (one server) or `{ nodes: [...] }` (a Cluster), with the sharded adapter's options. */
function normalizeRedisOptions(redis) {
  if (typeof redis !== "object" || Array.isArray(redis)) {
    throw new TypeError(`socket.io-cluster-adapter-native: option "redis" must be an object, got ${describe(redis)}`);
  }
  const streams = redis.mode === "streams";
  rejectUnknown(redis, streams ? [...REDIS_OPTIONS, ...STREAMS_OPTIONS] : REDIS_OPTIONS, "redis.");
  const options = {};
  if (redis.mode !== undefined) {
    if (!REDIS_MODES.includes(redis.mode)) {
      throw new TypeError(`socket.io-cluster-adapter-native: option "redis.mode" must be one of ${REDIS_MODES.join(", ")}, got ${describe(redis.mode)}`);
    }
    options.mode = redis.mode;
  }
  if (streams) {
    for (const name of SHARDED_ONLY) {
      if (redis[name] !== undefined) {
        throw new TypeError(`socket.io-cluster-adapter-native: option "redis.${name}" is the sharded mode's, not "streams"'s`);
      }
    }
    for (const name of STREAMS_STRINGS) {
      if (redis[name] === undefined) continue;
      if (typeof redis[name] !== "string" || redis[name] === "") {
        throw new TypeError(`socket.io-cluster-adapter-native: option "redis.${name}" must be a non-empty string, got ${describe(redis[name])}`);
      }
      options[name] = redis[name];
    }
    for (const name of STREAMS_INTEGERS) {
      if (redis[name] !== undefined) options[name] = positiveInteger(`redis.${name}`, redis[name]);
    }
    if (options.streamCount > MAX_STREAM_COUNT) {
      throw new TypeError(`socket.io-cluster-adapter-native: option "redis.streamCount" must be at most ${MAX_STREAM_COUNT}, got ${options.streamCount}`);
    }
    for (const name of STREAMS_BOOLEANS) {
      if (redis[name] === undefined) continue;
      if (typeof redis[name] !== "boolean") {
        throw new TypeError(`socket.io-cluster-adapter-native: option "redis.${name}" must be a boolean, got ${describe(redis[name])}`);
      }
      options[name] = redis[name];
    }
  }
  if ((redis.url === undefined) === (redis.nodes === undefined)) {
    throw new TypeError('socket.io-cluster-adapter-native: option "redis" needs exactly one of "url" (one server) or "nodes" (a Cluster)');
  }
  if (redis.url !== undefined) {
    options.nodes = [redisUrl("redis.url", redis.url)];
    options.cluster = false;
  } else {
    if (!Array.isArray(redis.nodes) || redis.nodes.length === 0) {
      throw new TypeError(`socket.io-cluster-adapter-native: option "redis.nodes" must be a non-empty array of URLs, got ${describe(redis.nodes)}`);
    }
    options.nodes = redis.nodes.map((node, i) => redisUrl(`redis.nodes[${i}]`, node));
    options.cluster = true;
  }
  if (redis.channelPrefix !== undefined) {
    if (typeof redis.channelPrefix !== "string" || redis.channelPrefix === "") {
      throw new TypeError(`socket.io-cluster-adapter-native: option "redis.channelPrefix" must be a non-empty string, got ${describe(redis.channelPrefix)}`);
    }
    options.channelPrefix = redis.channelPrefix;
  }
  if (redis.subscriptionMode !== undefined) {
    if (typeof redis.subscriptionMode !== "string" || !isSubscriptionMode(redis.subscriptionMode)) {
      throw new TypeError(
        `socket.io-cluster-adapter-native: option "redis.subscriptionMode" must be one of ${subscriptionModes().join(", ")}, got ${describe(redis.subscriptionMode)}`,
      );
    }
    options.subscriptionMode = redis.subscriptionMode;
  }
  if (redis.mixedFleet !== undefined) {
    if (typeof redis.mixedFleet !== "boolean") {
      throw new TypeError(`socket.io-cluster-adapter-native: option "redis.mixedFleet" must be a boolean, got ${describe(redis.mixedFleet)}`);
    }
    options.mixedFleet = redis.mixedFleet;
  }
  return options;
}

function redisUrl(name, value) {
  let url;
  try {
    url = typeof value === "string" ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (!url || !["redis:", "rediss:"].includes(url.protocol)) {
    throw new TypeError(`socket.io-cluster-adapter-native: option "${name}" must be a redis:// URL, got ${describe(value)}`);
  }
  return value;
}

/** A misspelt option would otherwise be ignored silently (and leave e.g. a machine alone). */
function rejectUnknown(opts, known, prefix) {
  for (const name of Object.keys(opts)) {
    if (!known.includes(name)) {
      throw new TypeError(`socket.io-cluster-adapter-native: unknown option "${prefix}${name}" (known: ${known.join(", ")})`);
    }
  }
}

function positiveInteger(name, value) {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new TypeError(`socket.io-cluster-adapter-native: option "${name}" must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return String(value);
  return `a value of type ${typeof value}`;
}

module.exports = { HUB_ENV, normalizeOptions, normalizePrimaryOptions, normalizeStandaloneOptions };
