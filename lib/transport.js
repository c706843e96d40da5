"use strict";

// The worker's transport, shared by every adapter of the process (one adapter per namespace, and
// possibly several servers). Messages arrive over IPC or over the hub link, and are handed to the
// adapters of their namespace. What arrives over IPC is validated here, in Rust: anything may
// write to that channel. What the link brings was validated where it entered the cluster (by our
// primary, for messages of workers on IPC) or produced by our own workers, and the hub checked
// every frame's header: it is not validated twice. The payload of what arrives over IPC is
// checked for what it would cost to walk (codec.js): a sparse array or a shared-object bomb is
// dropped. Messages leave over the hub link when this worker has one, over IPC otherwise.
// (Its debug namespace keeps the name the README documents, ":channel".)

const { MessageType } = require("socket.io-adapter");
const debug = require("debug")("socket.io-cluster-adapter-native:channel");
const { inspectMessage } = require("./binding");
const { checkPayload } = require("./codec");
const { isAdapterMessage, isControlMessage } = require("./protocol");
const { HubLink } = require("./hub-link");
const roomReport = require("./room-report");

const adaptersByNsp = new Map(); // nsp name => Set<NodeClusterAdapter>
const untrackers = new Map(); // adapter => stops reporting its rooms
// `unrouted`: messages addressed to rooms that reached this worker without a member of any of them
// here (what routing by room saves; with the hub's routing on, only reference workers' or
// messages that raced a leave).
const stats = { received: 0, dropped: 0, unhandled: 0, unrouted: 0 };
// This process's link to the hub (one per process, started with the first adapter).
const link = new HubLink();
let listening = false;

function ignoreError() {}

function onProcessMessage(message) {
  if (isAdapterMessage(message)) return dispatch(message);
  if (isControlMessage(message)) return link.onControl(message);
  // Anything else belongs to other users of the channel (@socket.io/sticky, the application).
}

/** Validates a message that arrived over IPC, then applies it. */
function dispatch(message) {
  link.heardOverIpc(message);
  let verdict;
  try {
    verdict = inspectMessage(message);
    if (verdict.valid) checkPayload(message.data);
  } catch (err) {
    verdict = { valid: false, reason: `validation failed: ${err.message}` };
  }
  if (!verdict.valid) {
    stats.dropped++;
    debug("drop invalid message (type %o from %o): %s", message.type, message.uid, verdict.reason);
    return;
  }
  apply(message);
}

/**
 * Applies a message from another server to the adapters of its namespace. `offset`: its
 * position in the hub's packet log, for a stored broadcast.
 */
function apply(message, offset) {
  stats.received++;
  const adapters = adaptersByNsp.get(message.nsp);
  if (!adapters) {
    debug("ignore message for namespace %s, which has no adapter here", message.nsp);
    return;
  }
  if (message.type === MessageType.BROADCAST && !reachesAnyRoom(message)) stats.unrouted++;
  for (const adapter of adapters) deliver(adapter, message, offset);
}

function reachesAnyRoom(message) {
  const rooms = message.data && message.data.opts && message.data.opts.rooms;
  if (!Array.isArray(rooms) || rooms.length === 0) return true; // to every socket
  return rooms.some((room) => roomReport.has(message.nsp, room));
}

function deliver(adapter, message, offset) {
  try {
    // Applying a message to local sockets must never take the process down.
    const result = adapter.onMessage(message, offset);
    if (result && typeof result.catch === "function") result.catch((err) => unhandled(adapter, message, err));
  } catch (err) {
    unhandled(adapter, message, err);
  }
}

function unhandled(adapter, message, err) {
  stats.unhandled++;
  debug("[%s] error while handling message of type %d: %s", adapter.uid, message.type, err && err.message);
}

/** `hub`: the socket of a standalone hub to link to (the first adapter's choice holds for the process). */
function attach(adapter, hub) {
  const nsp = adapter.nsp.name;
  const isNewNamespace = !adaptersByNsp.has(nsp);
  if (isNewNamespace) adaptersByNsp.set(nsp, new Set());
  adaptersByNsp.get(nsp).add(adapter);
  untrackers.set(adapter, roomReport.track(adapter));
  if (!listening) {
    process.on("message", onProcessMessage);
    listening = true;
    link.start({ apply, sendIpc }, hub);
  } else {
    if ((hub || null) !== link.standalone) debug("this process links to %s already: option hub %o ignored", link.standalone || "its primary's hub", hub);
    if (isNewNamespace) link.namespaceAdded(nsp);
  }
}

function detach(adapter) {
  const adapters = adaptersByNsp.get(adapter.nsp.name);
  if (!adapters) return;
  adapters.delete(adapter);
  const untrack = untrackers.get(adapter);
  untrackers.delete(adapter);
  if (untrack) untrack();
  if (adapters.size === 0) adaptersByNsp.delete(adapter.nsp.name);
  if (adaptersByNsp.size === 0 && listening) {
    process.off("message", onProcessMessage);
    listening = false;
    link.stop();
  }
}

/** Whether this process has a channel to a primary at all (false outside a cluster). */
function isConnected() {
  return typeof process.send === "function" && process.connected !== false;
}

function sendIpc(message) {
  if (!isConnected()) {
    debug("no IPC channel: message of type %o stays local", message.type);
    return;
  }
  process.send(message, null, {}, ignoreError);
}

function send(message) {
  if (!link.send(message)) sendIpc(message);
}

module.exports = { attach, detach, send, stats, link };
