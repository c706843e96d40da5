"use strict";

// The worker's side of the hub: asks the primary for it over IPC, links to it, and switches from
// IPC to the link without losing, duplicating or reordering a message (see crates/hub/src/hub.rs,
// "Ordering"):
//
//   ipc ──hub announced──▶ linking ──link open──▶ switching ──"flushed" over IPC──▶ linked
//                                     (sends "switched" over IPC;   (frames the link brought
//                                      sends on the link from now)   meanwhile are applied now)
//
// Under a primary without a hub (@socket.io/cluster-adapter's, PM2, recluster) nobody answers,
// and the worker stays on IPC. If the link closes, the worker goes back to IPC and asks again.
//
// Once linked, it also carries connection state recovery: broadcasts stored in the hub's log
// (answered with their offset), and requests to the hub (persist and restore a session).

const cluster = require("node:cluster");
const crypto = require("node:crypto");
const debug = require("debug")("socket.io-cluster-adapter-native:link");
const { CONTROL_SOURCE } = require("./protocol");
const { encodePayload, frameToMessage, pack, unpack } = require("./codec");

const RETRY_DELAY_MS = 1000;
const HUB_REQUEST_TIMEOUT_MS = 10000;
// Hub-only frame types (crates/core/src/message.rs).
const PERSIST_SESSION = 101;
const RESTORE_SESSION = 102;
const RESTORE_SESSION_RESPONSE = 103;
const OFFSET_ASSIGNED = 104;

let transport = null; // { apply, sendIpc } from channel.js
let state = "ipc";
let link = null;
let epoch = null; // names the hub's packet log in offsets
let held = []; // messages the link brought before the primary's "flushed" marker
let retryTimer = null;
const incoming = []; // frames not applied yet (see drain)
let draining = false;
const offsetCallbacks = []; // one per stored broadcast not yet acknowledged, in sending order
const hubRequests = new Map(); // requestId => { resolve, reject, timer }
const stats = { sent: 0, received: 0, links: 0 };
let flushScheduled = false;

// Frames queued during one synchronous run of JavaScript leave in one write, at its end.
function scheduleFlush() {
  if (flushScheduled) return;
  flushScheduled = true;
  queueMicrotask(flushLink);
}

function flushLink() {
  flushScheduled = false;
  if (link) link.flush();
}

function canLink() {
  return cluster.isWorker && typeof process.send === "function" && process.platform !== "win32";
}

function start(channel) {
  transport = channel;
  if (canLink()) askForHub();
}

function stop() {
  clearTimeout(retryTimer);
  if (link) link.close();
  link = null;
  state = "ipc";
  transport = null;
}

function askForHub() {
  if (!transport || !process.connected) return;
  transport.sendIpc({ source: CONTROL_SOURCE, kind: "hub?" });
}

function onControl(message) {
  if (message.kind === "hub" && state === "ipc") return connect(message);
  if (message.kind === "flushed" && state === "switching") return finishSwitch();
  debug("ignore control message %o in state %s", message.kind, state);
}

function connect({ path, secret, epoch: hubEpoch }) {
  const { NativeLink } = require("./native");
  try {
    link = new NativeLink(path, secret, cluster.worker.id, onLinkEvent);
    epoch = hubEpoch;
    state = "linking";
    debug("linking to the hub at %s", path);
  } catch (err) {
    debug("cannot link to the hub: %s", err.message);
  }
}

function onLinkEvent(event) {
  try {
    handleLinkEvent(event);
  } catch (err) {
    debug("error while handling a link event (%s): %s", event.kind, err.message); // never crash the worker
  }
}

function handleLinkEvent(event) {
  switch (event.kind) {
    case "open":
      if (state !== "linking") return;
      state = "switching";
      stats.links++;
      // Last IPC message of this worker: the primary relays what came before, then the hub
      // relays what this worker sends on its link from now on.
      transport.sendIpc({ source: CONTROL_SOURCE, kind: "switched" });
      debug("linked; switching from IPC");
      break;
    case "frames":
      for (const frame of event.frames) incoming.push(frame);
      if (!draining) drain();
      break;
    case "closed":
      onClosed(event.reason);
      break;
  }
}

// Applies frames in order. After a restore completes it yields (setImmediate) before the next
// frame, so that socket.io, resuming from restoreSession() in microtasks, has the recovered
// socket in its rooms before any later broadcast is applied: none is lost, none doubled.
function drain() {
  draining = true;
  while (incoming.length > 0) {
    const frame = incoming.shift();
    let outcome;
    try {
      outcome = receive(frame);
    } catch (err) {
      // One frame must never stop the ones behind it.
      debug("error while applying a frame of type %d from %s: %s", frame.type, frame.uid, err.message);
    }
    if (outcome === "yield") {
      setImmediate(drain);
      return;
    }
  }
  draining = false;
}

function receive(frame) {
  switch (frame.type) {
    case OFFSET_ASSIGNED:
      return acknowledgeStored(toOffset(frame.offset));
    case RESTORE_SESSION_RESPONSE:
      settleRequest(frame);
      return "yield";
  }
  let message;
  try {
    message = frameToMessage(frame);
  } catch (err) {
    debug("drop a frame with a corrupt payload (type %d from %s): %s", frame.type, frame.uid, err.message);
    return;
  }
  stats.received++;
  const offset = frame.offset == null ? undefined : toOffset(frame.offset);
  if (state === "linked") transport.apply(message, offset);
  else held.push([message, offset]);
}

function finishSwitch() {
  state = "linked";
  const messages = held;
  held = [];
  debug("switched to the hub link (%d messages were held)", messages.length);
  for (const [message, offset] of messages) transport.apply(message, offset);
}

function onClosed(reason) {
  debug("hub link closed: %s", reason);
  link = null;
  state = "ipc";
  const messages = held;
  held = [];
  if (transport) for (const [message, offset] of messages) transport.apply(message, offset);
  // Stored broadcasts never acknowledged still reach this worker's sockets, without an offset.
  while (offsetCallbacks.length > 0) offsetCallbacks.shift()("");
  for (const [requestId, request] of hubRequests) {
    hubRequests.delete(requestId);
    clearTimeout(request.timer);
    request.reject(new Error(`hub link closed: ${reason}`));
  }
  clearTimeout(retryTimer);
  retryTimer = setTimeout(askForHub, RETRY_DELAY_MS);
  retryTimer.unref();
}

// Hands one message of this worker to the link: its routing fields, and its data packed.
function queueOnLink(message, store) {
  const { data } = message;
  const opts = data && data.opts;
  return link.send(
    message.type,
    message.nsp,
    message.uid,
    message.requesterUid,
    data && data.requestId,
    opts ? roomNames(opts.rooms) : undefined,
    opts ? roomNames(opts.except) : undefined,
    encodePayload(message),
    store,
  );
}

// Rooms are strings, but socket.io does not forbid numbers: the header carries their text.
function roomNames(rooms) {
  return rooms.every((room) => typeof room === "string") ? rooms : rooms.map(String);
}

/** Sends over the link when this worker has switched; false means "use IPC". */
function send(message) {
  if (state !== "switching" && state !== "linked") return false;
  try {
    if (!queueOnLink(message, false)) return false;
  } catch (err) {
    debug("cannot send message of type %o on the link: %s", message.type, err.message);
    return false;
  }
  stats.sent++;
  scheduleFlush();
  return true;
}

/** Whether the hub's connection state recovery is available to this worker now. */
function canRecover() {
  return state === "linked";
}

/**
 * Sends a broadcast for the hub to store in its log; `onOffset(offset)` is called with the offset
 * it gave it, in order, once everything the hub routed before has been applied here.
 */
function sendStored(message, onOffset) {
  if (state !== "linked") return false;
  try {
    if (!queueOnLink(message, true)) return false;
  } catch (err) {
    debug("cannot send a stored broadcast on the link: %s", err.message);
    return false;
  }
  stats.sent++;
  scheduleFlush();
  offsetCallbacks.push(onOffset);
  return true;
}

function acknowledgeStored(offset) {
  const callback = offsetCallbacks.shift();
  if (callback) callback(offset);
  else debug("an offset came for no stored broadcast: %s", offset);
}

function toOffset(position) {
  return `${epoch}-${position}`;
}

/** The position an offset names in this hub's log, or null if it is not one of this hub's. */
function parseOffset(offset) {
  const match = /^([0-9a-f]+)-(\d+)$/.exec(offset);
  if (!match || match[1] !== epoch) return null;
  return Number(match[2]);
}

/** Sends a request to the hub (persist: no answer; restore: resolves with the decoded answer). */
function requestHub(kind, nsp, uid, body) {
  if (state !== "linked") return Promise.reject(new Error("not linked to a hub"));
  const expectsAnswer = kind === RESTORE_SESSION;
  const requestId = expectsAnswer ? crypto.randomBytes(8).toString("hex") : null;
  return new Promise((resolve, reject) => {
    if (!link.request(kind, nsp, uid, requestId, pack(body))) return reject(new Error("hub link closed"));
    scheduleFlush();
    if (!expectsAnswer) return resolve();
    const timer = setTimeout(() => {
      hubRequests.delete(requestId);
      reject(new Error("the hub did not answer in time"));
    }, HUB_REQUEST_TIMEOUT_MS);
    hubRequests.set(requestId, { resolve, reject, timer });
  });
}

function settleRequest(frame) {
  const request = hubRequests.get(frame.requestId);
  if (!request) return debug("an answer came for no pending request (%s)", frame.requestId);
  hubRequests.delete(frame.requestId);
  clearTimeout(request.timer);
  try {
    request.resolve(unpack(frame.payload));
  } catch (err) {
    request.reject(err);
  }
}

module.exports = {
  start,
  stop,
  onControl,
  send,
  sendStored,
  canRecover,
  parseOffset,
  toOffset,
  requestHub,
  PERSIST_SESSION,
  RESTORE_SESSION,
  stats,
  get state() {
    return state;
  },
};
