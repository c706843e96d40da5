"use strict";

// The `source` of the messages this package puts on an IPC channel that other libraries (e.g.
// @socket.io/sticky) share. MESSAGE_SOURCE (adapter messages) is the core's, the same value as
// @socket.io/cluster-adapter's, so both packages' workers understand each other.
const crypto = require("node:crypto");
const { MESSAGE_SOURCE } = require("./binding");
// Our own control messages (hub announcement, switch-over): a worker and our primary only, the
// core never sees them. The reference's workers and primary ignore messages of an unknown
// source, so they pass through mixed clusters harmlessly.
const CONTROL_SOURCE = "_sio_adapter_native";

// The `kind` of a control message (the switch-over is drawn in lib/hub-link.js).
const ControlKind = Object.freeze({
  /** Worker to primary: is there a hub? */
  HUB_REQUEST: "hub?",
  /** Primary to worker: the hub's path, secret and epoch. */
  HUB: "hub",
  /** Worker to primary: its last IPC message; the link carries what it sends from now on. */
  SWITCHED: "switched",
  /** Primary to worker: everything the worker sent over IPC has been relayed. */
  FLUSHED: "flushed",
});

// The `serverCount` of a "hub" control message when servers are to be counted as plain
// redis-adapter servers count them (a mixed fleet), by asking the hub.
const COUNT_BY_REDIS = "redis";

// The `offsets` of a "hub" control message when the hub speaks @socket.io/redis-streams-adapter's
// protocol: a client's offset is a Redis stream id (see src/stream_offsets.rs).
const OFFSETS_STREAM = "stream";
/**
 * Names a hub's packet log in offsets (`<epoch>-<position>`), so that an offset from another hub's
 * log (a primary or standalone hub restarted) is never taken for a position in this one. Made from
 * the hub's secret, which is new with each hub, by a one-way hash: offsets are shown to clients,
 * and say nothing of the secret. The workers of a standalone hub, which no primary tells, compute
 * the same.
 */
function logEpoch(secret) {
  return crypto.createHash("sha256").update(secret).digest("hex").slice(0, 8);
}

function isAdapterMessage(message) {
  return message !== null && typeof message === "object" && message.source === MESSAGE_SOURCE;
}

function isControlMessage(message) {
  return message !== null && typeof message === "object" && message.source === CONTROL_SOURCE;
}

module.exports = { MESSAGE_SOURCE, CONTROL_SOURCE, ControlKind, COUNT_BY_REDIS, OFFSETS_STREAM, logEpoch, isAdapterMessage, isControlMessage };
