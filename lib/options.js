"use strict";

// The options of @socket.io/cluster-adapter, with its defaults.
const DEFAULTS = Object.freeze({
  requestsTimeout: 5000,
  heartbeatInterval: 5000,
  heartbeatTimeout: 10000,
});

/**
 * Checks user options once, when the adapter is created, so that a typo fails loudly at start-up
 * instead of as a NaN timer much later.
 */
function normalizeOptions(opts) {
  if (opts === undefined || opts === null) {
    return { ...DEFAULTS };
  }
  if (typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`socket.io-cluster-adapter-native: options must be an object, got ${describe(opts)}`);
  }
  const options = { ...DEFAULTS };
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

const PRIMARY_DEFAULTS = Object.freeze({
  hub: true,
  // The hub sends a message addressed to rooms only to the workers holding one of them.
  routeByRoom: true,
  maxQueueBytes: 64 * 1024 * 1024,
  // Bounds of the hub's packet log and session store (connection state recovery).
  recovery: Object.freeze({ maxPackets: 100000, maxBytes: 64 * 1024 * 1024, maxSessions: 100000 }),
});

function normalizePrimaryOptions(opts) {
  if (opts === undefined || opts === null) return { ...PRIMARY_DEFAULTS };
  if (typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`socket.io-cluster-adapter-native: setupPrimary options must be an object, got ${describe(opts)}`);
  }
  const options = { ...PRIMARY_DEFAULTS };
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
    options.recovery = { ...PRIMARY_DEFAULTS.recovery };
    for (const name of Object.keys(PRIMARY_DEFAULTS.recovery)) {
      if (opts.recovery[name] !== undefined) options.recovery[name] = positiveInteger(`recovery.${name}`, opts.recovery[name]);
    }
  }
  return options;
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

module.exports = { DEFAULTS, PRIMARY_DEFAULTS, normalizeOptions, normalizePrimaryOptions };
