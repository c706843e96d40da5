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
// (answered with their offset), and requests to the hub (persist and restore a session), and it
// tells the hub which rooms this worker has (room-report.js), so the hub sends a message to rooms
// only to the workers that have one of them.
//
// The link's socket is Node's own (net.Socket on the hub's Unix socket), read and written on this
// thread, woken by Node's event loop: no thread hop per message. Rust (LinkCodec) only encodes and
// decodes frames. Frames queued during one synchronous run of JavaScript leave in one write, in a
// microtask: before socket.io's local delivery of a broadcast (which awaits the publish), as the
// reference's process.send does, so other workers start on it at once; the write itself costs a
// few microseconds. (Writing after local delivery instead, in setImmediate, measured 0.77 of the
// reference's own-worker latency but 1.5 times its latency to other workers' clients.)

const cluster = require("node:cluster");
const crypto = require("node:crypto");
const net = require("node:net");
const debug = require("debug")("socket.io-cluster-adapter-native:link");
const { CONTROL_SOURCE } = require("./protocol");
const { encodePayload, frameToMessage, pack, unpack } = require("./codec");
const roomReport = require("./room-report");
const { FrameBatchReader } = require("./frame-batch");

const RETRY_DELAY_MS = 1000;
const HUB_REQUEST_TIMEOUT_MS = 10000;
const CONNECT_TIMEOUT_MS = 5000;
const READ_BUFFER_BYTES = 64 * 1024;
// Bytes written to the link in earlier turns and not taken by the hub yet, before the link is given
// up. The hub reads as fast as it can: this only bounds memory if it cannot. Four frames of the
// largest size, so that a worker that just wrote large frames is not taken for one facing a stuck
// hub while the hub is still reading them.
const MAX_UNWRITTEN_BYTES = 4 * 64 * 1024 * 1024;
const SOCKETS_JOIN = 4;
// How long a restore waits for the link: for our primary's answer to "hub?" (it comes in
// milliseconds; the reference's primary, PM2 or recluster never answer), then for the link to be
// up once a hub was announced (a worker just forked, or linking again).
const HUB_ANSWER_WAIT_MS = 1000;
const LINK_WAIT_MS = 5000;
// Hub-only frame types (crates/core/src/message.rs).
const PERSIST_SESSION = 101;
const RESTORE_SESSION = 102;
const RESTORE_SESSION_RESPONSE = 103;
const SERVER_COUNT = 106;
const SERVER_COUNT_RESPONSE = 107;
const OFFSET_ASSIGNED = 104;

let transport = null; // { apply, sendIpc } from transport.js
let state = "ipc";
let link = null; // { socket, codec, timer }
let applied = 0; // frames of the current link applied here, in order (the hub counts the same)
let restoredRooms = null; // { nsp, rooms } of a session just restored, checked on the next drain
let hubAnnounced = false; // our primary answered "hub?": it has a hub
let askedAt = 0; // when this worker first asked
const linkWaiters = new Set(); // restores waiting for the link (see whenLinked)
let epoch = null; // names the hub's packet log in offsets
let serverCountBy = null; // "redis": the hub counts servers as plain redis-adapter servers do
let held = []; // messages the link brought before the primary's "flushed" marker
let retryTimer = null;
const incoming = []; // frames not applied yet (see drain)
let draining = false;
const offsetCallbacks = []; // one per stored broadcast not yet acknowledged, in sending order
const hubRequests = new Map(); // requestId => { resolve, reject, timer }
const stats = { sent: 0, received: 0, links: 0 };
let flushScheduled = false;
const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

// Frames queued during one synchronous run of JavaScript leave in one write, at its end. (Holding
// later frames until the end of the event loop's turn, to write once per turn, measured no
// difference in workers' CPU or throughput: not done.)
function scheduleFlush() {
  if (flushScheduled) return;
  flushScheduled = true;
  queueMicrotask(flushLink);
}

function flushLink() {
  flushScheduled = false;
  if (!link) return;
  queueRoomChanges(link.codec);
  // Checked before this turn's write: one turn may write more than the bound by itself.
  if (link.socket.writableLength > MAX_UNWRITTEN_BYTES) return closeLink("the hub does not read what this worker sends");
  const bytes = link.codec.take();
  if (bytes) link.socket.write(bytes);
}

// A room this worker now has leaves at once, with what was queued before it: whatever follows the
// join here (an acknowledgement to a client, written synchronously by socket.io, and all that
// client may then cause on other workers) reaches the hub after it. A room it no longer has can
// wait for the turn's flush (a message that still reaches it is dropped here, as socket.io does).
function onRoomChange(joined) {
  if (joined) flushLink();
  else scheduleFlush();
}

// Rooms in one report of changes, at most: the hub applies a report in one hold of its lock, so
// `socket.join()` of 100,000 rooms sent whole stalled every other message of the machine for a
// few hundred ms. Changes split into several reports mean the same (each room is independent);
// a snapshot (reset) is never split: between its parts, rooms would vanish from the hub's view.
const ROOMS_PER_REPORT = 10000;

// Room changes leave before any frame queued after them.
function queueRoomChanges(codec) {
  const at = state === "linked" ? applied : undefined;
  for (const { nsp, uid, joined, left } of roomReport.takeChanges()) {
    if (joined.length + left.length <= ROOMS_PER_REPORT) {
      codec.rooms(nsp, uid, joined, left, at, false);
      continue;
    }
    for (let i = 0; i < joined.length; i += ROOMS_PER_REPORT) {
      codec.rooms(nsp, uid, joined.slice(i, i + ROOMS_PER_REPORT), [], at, false);
    }
    for (let i = 0; i < left.length; i += ROOMS_PER_REPORT) {
      codec.rooms(nsp, uid, [], left.slice(i, i + ROOMS_PER_REPORT), at, false);
    }
  }
}

// The whole room set of each namespace (or of one), replacing what the hub knew.
function queueRoomSnapshot(nsp) {
  for (const report of roomReport.snapshot(nsp)) {
    link.codec.rooms(report.nsp, report.uid, report.joined, [], state === "linked" ? applied : undefined, true);
  }
  scheduleFlush();
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
  if (link) {
    const { socket, codec, timer } = link;
    link = null;
    clearTimeout(timer);
    if (state === "switching" || state === "linked") {
      // What this worker queued last still reaches the hub: the sessions io.close() persisted, its
      // adapters' ADAPTER_CLOSE. Written now (a process that exits right after has handed them to
      // the kernel), then the link ends.
      queueRoomChanges(codec);
      socket.end(codec.take() || undefined);
    } else {
      socket.destroy();
    }
  }
  roomReport.setReporting(false);
  state = "ipc";
  transport = null;
  settleLinkWaiters(false);
}

/** A namespace got its first adapter here: the hub learns its rooms (it sends it all until then). */
function namespaceAdded(nsp) {
  if (link && (state === "switching" || state === "linked")) queueRoomSnapshot(nsp);
}

function askForHub() {
  if (!transport || !process.connected) return;
  if (askedAt === 0) askedAt = Date.now();
  transport.sendIpc({ source: CONTROL_SOURCE, kind: "hub?" });
}

function onControl(message) {
  if (message.kind === "hub") hubAnnounced = true;
  if (message.kind === "hub" && state === "ipc") return connect(message);
  if (message.kind === "flushed" && state === "switching") return finishSwitch();
  debug("ignore control message %o in state %s", message.kind, state);
}

function connect({ path, secret, epoch: hubEpoch, serverCount }) {
  const { LinkCodec } = require("./binding");
  let codec;
  try {
    codec = new LinkCodec(secret, cluster.worker.id);
  } catch (err) {
    return debug("cannot link to the hub: %s", err.message);
  }
  const socket = net.createConnection({ path, onread: { buffer: readBuffer, callback: onRead } });
  // An open link must not keep alive a worker that has nothing else to do.
  socket.unref();
  const timer = setTimeout(() => closeLink("cannot link to the hub: timed out"), CONNECT_TIMEOUT_MS);
  timer.unref();
  const reader = new FrameBatchReader();
  const current = { socket, codec, timer };
  link = current;
  epoch = hubEpoch;
  serverCountBy = serverCount || null;
  state = "linking";
  debug("linking to the hub at %s", path);
  socket.on("connect", () => socket.write(codec.hello()));
  socket.on("error", (err) => closeLink(`${codec.accepted ? "link failed" : "cannot link to the hub"}: ${err.message}`, current));
  socket.on("close", () => closeLink("closed by the hub", current));

  function onRead(length, buffer) {
    if (link !== current) return false;
    try {
      const batch = codec.push(buffer.subarray(0, length));
      if (state === "linking" && codec.accepted) opened();
      if (batch) reader.read(batch, incoming);
    } catch (err) {
      closeLink(err.message, current);
      return false;
    }
    if (!draining) drain();
  }
}

function opened() {
  clearTimeout(link.timer);
  state = "switching";
  stats.links++;
  applied = 0;
  // The hub routes by room only once it knows this worker's rooms: they are the link's first frames.
  roomReport.setReporting(true, onRoomChange);
  queueRoomSnapshot();
  // Last IPC message of this worker: the primary relays what came before, then the hub
  // relays what this worker sends on its link from now on.
  transport.sendIpc({ source: CONTROL_SOURCE, kind: "switched" });
  debug("linked; switching from IPC");
}

/** Closes the link (`which`, if given, only if it is still the current one). */
function closeLink(reason, which = link) {
  if (!link || link !== which) return;
  const { socket, timer } = link;
  link = null;
  clearTimeout(timer);
  socket.destroy();
  onClosed(reason);
}

// Applies frames in order. After a restore completes it yields (setImmediate) before the next
// frame, so that socket.io, resuming from restoreSession() in microtasks, has the recovered
// socket in its rooms before any later broadcast is applied: none is lost, none doubled.
function drain() {
  draining = true;
  if (restoredRooms) reportRestoredRooms();
  while (incoming.length > 0) {
    const frame = incoming.shift();
    let outcome;
    try {
      outcome = receive(frame);
    } catch (err) {
      // One frame must never stop the ones behind it.
      debug("error while applying a frame of type %d from %s: %s", frame.type, frame.uid, err.message);
    }
    if (state === "linked") applied++;
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
      // Without an offset: the hub could not store it (delivered all the same, not recoverable).
      return acknowledgeStored(frame.offset == null ? "" : toOffset(frame.offset));
    case RESTORE_SESSION_RESPONSE:
      settleRequest(frame);
      return "yield";
    case SERVER_COUNT_RESPONSE:
      return settleRequest(frame);
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
  if (state === "linked") applyFromLink(message, offset);
  else held.push([message, offset]);
}

function applyFromLink(message, offset) {
  transport.apply(message, offset);
  // The hub counted the joined rooms as this worker's when it routed the join here: those that
  // no socket here joined are reported gone (after the frame is counted as applied).
  if (message.type === SOCKETS_JOIN) queueMicrotask(() => reportAbsent(message.nsp, message.data.rooms));
}

// A restored session's rooms, which the hub counted as this worker's when it answered: those
// that socket.io did not join here (the restore failed) are reported gone.
function reportRestoredRooms() {
  const { nsp, rooms } = restoredRooms;
  restoredRooms = null;
  reportAbsent(nsp, rooms);
}

function finishSwitch() {
  state = "linked";
  settleLinkWaiters(true);
  const messages = held;
  held = [];
  debug("switched to the hub link (%d messages were held)", messages.length);
  for (const [message, offset] of messages) {
    try {
      applyFromLink(message, offset);
    } catch (err) {
      debug("error while applying a held message of type %d: %s", message.type, err.message);
    }
    applied++;
  }
  // Everything sent to this worker over IPC has been applied by now: its rooms again, counted.
  if (link) queueRoomSnapshot();
}

function onClosed(reason) {
  debug("hub link closed: %s", reason);
  link = null;
  state = "ipc";
  roomReport.setReporting(false);
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
  queueRoomChanges(link.codec);
  link.codec.send(
    message.type,
    message.nsp,
    message.uid,
    message.requesterUid,
    data && data.requestId,
    opts ? roomNames(opts.rooms) : undefined,
    opts ? roomNames(opts.except) : undefined,
    message.type === SOCKETS_JOIN ? roomNames(data.rooms) : undefined,
    encodePayload(message),
    store,
  );
  scheduleFlush();
  // The hub counts the rooms of this worker's own join as its until it reports them: socket.io-
  // adapter applies the join here after publishing it, so those no socket here joined are
  // reported gone once it has.
  if (message.type === SOCKETS_JOIN) setImmediate(reportAbsent, message.nsp, data.rooms);
}

function reportAbsent(nsp, rooms) {
  for (const room of rooms) roomReport.noteAbsent(nsp, room);
}

// Rooms are strings, but socket.io does not forbid numbers: the header carries their text.
function roomNames(rooms) {
  return rooms.every((room) => typeof room === "string") ? rooms : rooms.map(String);
}

/** Sends over the link when this worker has switched; false means "use IPC". */
function send(message) {
  if (state !== "switching" && state !== "linked") return false;
  try {
    queueOnLink(message, false);
  } catch (err) {
    debug("cannot send message of type %o on the link: %s", message.type, err.message);
    return false;
  }
  stats.sent++;
  return true;
}

/** Whether servers are to be counted by the hub (a mixed fleet through Redis) rather than by heartbeats. */
function countsServers() {
  return state === "linked" && serverCountBy === "redis";
}

/** Whether the hub's connection state recovery is available to this worker now. */
function canRecover() {
  return state === "linked";
}

/**
 * Resolves with whether this worker is linked to a hub, waiting (bounded) when one is coming: a
 * client that reconnects to a worker just forked (a rolling restart) must not be refused its
 * session because the new worker's link is not up yet. Under a primary without a hub it resolves
 * false at once, or within HUB_ANSWER_WAIT_MS of the worker's start.
 */
function whenLinked() {
  if (state === "linked") return Promise.resolve(true);
  if (!transport || !canLink()) return Promise.resolve(false);
  const now = Date.now();
  const deadline = hubAnnounced ? now + LINK_WAIT_MS : askedAt + HUB_ANSWER_WAIT_MS;
  if (deadline <= now) return Promise.resolve(false);
  return new Promise((resolve) => {
    const waiter = { resolve, timer: null };
    const expire = () => {
      // The answer came meanwhile: wait for the link itself.
      if (hubAnnounced && !waiter.extended) {
        waiter.extended = true;
        waiter.timer = setTimeout(expire, LINK_WAIT_MS);
        return;
      }
      linkWaiters.delete(waiter);
      resolve(false);
    };
    waiter.timer = setTimeout(expire, deadline - now);
    waiter.extended = hubAnnounced;
    linkWaiters.add(waiter);
  });
}

function settleLinkWaiters(linked) {
  for (const waiter of linkWaiters) {
    clearTimeout(waiter.timer);
    waiter.resolve(linked);
  }
  linkWaiters.clear();
}

/**
 * Sends a broadcast for the hub to store in its log; `onOffset(offset)` is called with the offset
 * it gave it, in order, once everything the hub routed before has been applied here.
 */
function sendStored(message, onOffset) {
  if (state !== "linked") return false;
  try {
    queueOnLink(message, true);
  } catch (err) {
    debug("cannot send a stored broadcast on the link: %s", err.message);
    return false;
  }
  stats.sent++;
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
  // A client makes up its offset: a position a JS number cannot hold exactly is none of ours.
  const position = Number(match[2]);
  return Number.isSafeInteger(position) ? position : null;
}

/** Sends a request to the hub (persist: no answer; restore, server count: resolves with the decoded answer). */
function requestHub(kind, nsp, uid, body) {
  if (state !== "linked") return Promise.reject(new Error("not linked to a hub"));
  const expectsAnswer = kind === RESTORE_SESSION || kind === SERVER_COUNT;
  const requestId = expectsAnswer ? crypto.randomBytes(8).toString("hex") : null;
  return new Promise((resolve, reject) => {
    try {
      queueRoomChanges(link.codec);
      link.codec.request(kind, nsp, uid, requestId, pack(body));
    } catch (err) {
      return reject(err);
    }
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
  let page;
  try {
    page = unpack(frame.payload);
  } catch (err) {
    return request.reject(err);
  }
  if (frame.type === RESTORE_SESSION_RESPONSE && page.ok && page.more == null && Array.isArray(page.rooms)) {
    restoredRooms = { nsp: frame.nsp, rooms: page.rooms };
  }
  request.resolve(page);
}

module.exports = {
  start,
  stop,
  namespaceAdded,
  onControl,
  send,
  sendStored,
  canRecover,
  whenLinked,
  parseOffset,
  toOffset,
  requestHub,
  countsServers,
  PERSIST_SESSION,
  RESTORE_SESSION,
  SERVER_COUNT,
  stats,
  get state() {
    return state;
  },
};
