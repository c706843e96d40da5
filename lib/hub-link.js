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
// With a standalone hub (the adapter's option `hub`, or SOCKET_IO_CLUSTER_HUB: a process of its
// own, lib/standalone-hub.js), no primary takes part: the worker reads the secret from the file
// beside the hub's socket and links straight away (ipc ──link open──▶ linked), and links again,
// with the secret read anew, when the link closes. Meanwhile what it sends goes over IPC if it has
// held until it links (up to MAX_UNLINKED_BYTES): no primary would relay it, and a peer's
// INITIAL_HEARTBEAT, sent before its link is up, must not be lost.
//
// Once linked, it also carries connection state recovery: broadcasts stored in the hub's log
// (answered with their offset), and requests to the hub (hub-requests.js), and it tells the hub
// which rooms this worker has (room-report.js), so the hub sends a message to rooms only to the
// workers that have one of them.
//
// The link's socket is Node's own (net.Socket on the hub's Unix socket), read and written on this
// thread, woken by Node's event loop: no thread hop per message. Rust (LinkCodec) only encodes and
// decodes frames. Frames queued during one synchronous run of JavaScript leave in one write, in a
// microtask: before socket.io's local delivery of a broadcast (which awaits the publish), as the
// reference's process.send does, so other workers start on it at once; the write itself costs a
// few microseconds. (The orderings measured against this one: bench/README.md, "When the link
// writes".)
//
// One HubLink per worker process, owned by the transport (transport.js), which every adapter of
// the process shares.

const cluster = require("node:cluster");
const fs = require("node:fs");
const net = require("node:net");
const { MessageType } = require("socket.io-adapter");
const debug = require("debug")("socket.io-cluster-adapter-native:link");
const { MAX_FRAME_BYTES, OFFSET_ASSIGNED, RESTORE_SESSION_RESPONSE, SERVER_COUNT_RESPONSE } = require("./binding");
const { CONTROL_SOURCE, ControlKind, COUNT_BY_REDIS, OFFSETS_STREAM, logEpoch } = require("./protocol");
const { encodePayload, frameToMessage } = require("./codec");
const { HubRequests } = require("./hub-requests");
const { HeldMessages } = require("./held-messages");
const { takeQueued } = require("./link-writes");
const roomReport = require("./room-report");

const RETRY_DELAY_MS = 1000;
const CONNECT_TIMEOUT_MS = 5000;
const READ_BUFFER_BYTES = 64 * 1024;
// Bytes written to the link in earlier turns and not taken by the hub yet, before the link is given
// up. The hub reads as fast as it can: this only bounds memory if it cannot. Four frames of the
// largest size, so that a worker that just wrote large frames is not taken for one facing a stuck
// hub while the hub is still reading them.
const MAX_UNWRITTEN_BYTES = 4 * MAX_FRAME_BYTES;
// How long a restore waits for the link: for our primary's answer to "hub?" (it comes in
// milliseconds; the reference's primary, PM2 or recluster never answer), then for the link to be
// up once a hub was announced (a worker just forked, or linking again).
const HUB_ANSWER_WAIT_MS = 1000;
const LINK_WAIT_MS = 5000;
// Rooms in one report of changes, at most: the hub applies a report in one hold of its lock, so
// `socket.join()` of 100,000 rooms sent whole stalled every other message of the machine for a
// few hundred ms. Changes split into several reports mean the same (each room is independent);
// a snapshot (reset) is never split: between its parts, rooms would vanish from the hub's view.
const ROOMS_PER_REPORT = 10000;
// What a worker of a standalone hub sends while it is not linked (starting, or the hub starting
// again), held for the link; beyond it, dropped with a debug line.
const MAX_UNLINKED_BYTES = 8 * 1024 * 1024;
// Servers heard over IPC while linked to a standalone hub, each named once in a debug line: at
// most this many are remembered.
const MAX_IPC_SERVERS_NAMED = 1000;

class HubLink {
  constructor() {
    this.transport = null; // { apply, sendIpc } from transport.js, while started
    this.state = "ipc";
    this.connection = null; // { socket, codec, timer } of the current link
    this.applied = 0; // frames of the current link applied here, in order (the hub counts the same)
    this.restoredRooms = null; // { nsp, rooms } of a session just restored, checked on the next drain
    this.hubAnnounced = false; // our primary answered "hub?": it has a hub
    this.askedAt = 0; // when this worker first asked
    this.linkWaiters = new Set(); // restores waiting for the link (see whenLinked)
    this.epoch = null; // names the hub's packet log in offsets
    this.streamOffsets = false; // offsets are Redis stream ids (the hub's streams mode)
    this.serverCountBy = null; // COUNT_BY_REDIS: the hub counts servers as plain redis-adapter servers do
    this.held = []; // messages the link brought before the primary's "flushed" marker
    this.retryTimer = null;
    this.incoming = []; // frames not applied yet (see drain)
    this.draining = false;
    this.offsetCallbacks = []; // one per stored broadcast not yet acknowledged, in sending order
    this.stats = { sent: 0, received: 0, links: 0 };
    this.standalone = null; // the socket of the standalone hub this process links to
    this.ipcServers = new Set(); // see heardOverIpc
    this.unlinked = new HeldMessages(MAX_UNLINKED_BYTES); // sent before the standalone hub's link is up
    this.flushScheduled = false;
    this.readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    this.requests = new HubRequests(this, (nsp, rooms) => {
      this.restoredRooms = { nsp, rooms };
    });
    // Handed to timers and the microtask queue as they are.
    this.flush = this.flush.bind(this);
    this.drain = this.drain.bind(this);
    this.askForHub = this.askForHub.bind(this);
    this.linkStandalone = this.linkStandalone.bind(this);
    this.onRoomChange = this.onRoomChange.bind(this);
  }

  /** `standalone`: the socket of a standalone hub to link to; without it, ask the primary for its hub. */
  start(transport, standalone) {
    this.transport = transport;
    this.standalone = standalone || null;
    // A standalone hub is there (or coming back) whatever the primary: restores wait for it.
    this.hubAnnounced = this.standalone !== null;
    if (this.standalone) this.linkStandalone();
    else if (canLink()) this.askForHub();
  }

  stop() {
    clearTimeout(this.retryTimer);
    if (this.connection) {
      const { socket, codec, timer } = this.connection;
      this.connection = null;
      clearTimeout(timer);
      if (this.state === "switching" || this.state === "linked") {
        // What this worker queued last still reaches the hub: the sessions io.close() persisted,
        // its adapters' ADAPTER_CLOSE. Written now (a process that exits right after has handed
        // them to the kernel), then the link ends.
        this.queueRoomChanges(codec);
        socket.end(takeQueued(codec) || undefined);
      } else {
        socket.destroy();
      }
    }
    roomReport.setReporting(false);
    this.state = "ipc";
    this.transport = null;
    this.unlinked.clear();
    this.settleLinkWaiters(false);
  }

  /** A namespace got its first adapter here: the hub learns its rooms (it sends it all until then). */
  namespaceAdded(nsp) {
    if (this.connection && (this.state === "switching" || this.state === "linked")) this.queueRoomSnapshot(nsp);
  }

  /** A control message from our primary (see the states above). */
  onControl(message) {
    if (message.kind === ControlKind.HUB) this.hubAnnounced = true;
    if (message.kind === ControlKind.HUB && this.state === "ipc") return this.connect(message);
    if (message.kind === ControlKind.FLUSHED && this.state === "switching") return this.finishSwitch();
    debug("ignore control message %o in state %s", message.kind, this.state);
  }

  /** Sends over the link when this worker has switched; false means "use IPC". */
  send(message) {
    if (this.standalone && this.state !== "linked") return this.holdUntilLinked(message);
    if (this.state !== "switching" && this.state !== "linked") return false;
    try {
      this.queueOnLink(message, false);
    } catch (err) {
      debug("cannot send message of type %o on the link: %s", message.type, err.message);
      return false;
    }
    this.stats.sent++;
    return true;
  }

  /**
   * Sends a broadcast for the hub to store in its log; `onOffset(offset)` is called with the offset
   * it gave it, in order, once everything the hub routed before has been applied here.
   */
  sendStored(message, onOffset) {
    if (this.state !== "linked") return false;
    try {
      this.queueOnLink(message, true);
    } catch (err) {
      debug("cannot send a stored broadcast on the link: %s", err.message);
      return false;
    }
    this.stats.sent++;
    this.offsetCallbacks.push(onOffset);
    return true;
  }

  /** Queues a request to the hub (for hub-requests.js); throws if it cannot be encoded. */
  queueRequest(kind, nsp, uid, requestId, payload) {
    this.queueRoomChanges(this.connection.codec);
    this.connection.codec.request(kind, nsp, uid, requestId, payload);
    this.scheduleFlush();
  }

  /** Whether servers are to be counted by the hub (a mixed fleet through Redis) rather than by heartbeats. */
  countsServers() {
    return this.state === "linked" && this.serverCountBy === COUNT_BY_REDIS;
  }

  /** Whether the hub's connection state recovery is available to this worker now. */
  canRecover() {
    return this.state === "linked";
  }

  /**
   * Resolves with whether this worker is linked to a hub, waiting (bounded) when one is coming: a
   * client that reconnects to a worker just forked (a rolling restart) must not be refused its
   * session because the new worker's link is not up yet. Under a primary without a hub it resolves
   * false at once, or within HUB_ANSWER_WAIT_MS of the worker's start.
   */
  whenLinked() {
    if (this.state === "linked") return Promise.resolve(true);
    if (!this.transport || !(this.standalone || canLink())) return Promise.resolve(false);
    const now = Date.now();
    const deadline = this.hubAnnounced ? now + LINK_WAIT_MS : this.askedAt + HUB_ANSWER_WAIT_MS;
    if (deadline <= now) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = { resolve, timer: null };
      const expire = () => {
        // The answer came meanwhile: wait for the link itself.
        if (this.hubAnnounced && !waiter.extended) {
          waiter.extended = true;
          waiter.timer = setTimeout(expire, LINK_WAIT_MS);
          return;
        }
        this.linkWaiters.delete(waiter);
        resolve(false);
      };
      waiter.timer = setTimeout(expire, deadline - now);
      waiter.extended = this.hubAnnounced;
      this.linkWaiters.add(waiter);
    });
  }

  /** The offset of position `position` in this hub's log, as clients see it. */
  toOffset(position) {
    // A restore's positions (stream ids, past 2^32) arrive as BigInts from msgpackr: exact below 2^53.
    if (this.streamOffsets) return require("./binding").streamOffset(Number(position));
    return `${this.epoch}-${position}`;
  }

  /** The position an offset names in this hub's log, or null if it is not one of this hub's. */
  parseOffset(offset) {
    if (this.streamOffsets) {
      return typeof offset === "string" ? (require("./binding").streamPosition(offset) ?? null) : null;
    }
    const match = /^([0-9a-f]+)-(\d+)$/.exec(offset);
    if (!match || match[1] !== this.epoch) return null;
    // A client makes up its offset: a position a JS number cannot hold exactly is none of ours.
    const position = Number(match[2]);
    return Number.isSafeInteger(position) ? position : null;
  }

  // Frames queued during one synchronous run of JavaScript leave in one write, at its end.
  scheduleFlush() {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.flush);
  }

  flush() {
    this.flushScheduled = false;
    const connection = this.connection;
    if (!connection) return;
    this.queueRoomChanges(connection.codec);
    // Checked before this turn's write: one turn may write more than the bound by itself.
    if (connection.socket.writableLength > MAX_UNWRITTEN_BYTES) return this.closeLink("the hub does not read what this worker sends");
    const bytes = takeQueued(connection.codec);
    if (bytes) connection.socket.write(bytes);
  }

  // A room this worker now has leaves at once, with what was queued before it: whatever follows
  // the join here (an acknowledgement to a client, written synchronously by socket.io, and all
  // that client may then cause on other workers) reaches the hub after it. A room it no longer
  // has can wait for the turn's flush (a message that still reaches it is dropped here, as
  // socket.io does).
  onRoomChange(joined) {
    if (joined) this.flush();
    else this.scheduleFlush();
  }

  // Room changes leave before any frame queued after them.
  queueRoomChanges(codec) {
    const at = this.state === "linked" ? this.applied : undefined;
    for (const { nsp, uid, joined, left } of roomReport.takeChanges()) {
      if (joined.length + left.length <= ROOMS_PER_REPORT) {
        codec.rooms(nsp, uid, joined, left, at);
        continue;
      }
      for (let i = 0; i < joined.length; i += ROOMS_PER_REPORT) {
        codec.rooms(nsp, uid, joined.slice(i, i + ROOMS_PER_REPORT), [], at);
      }
      for (let i = 0; i < left.length; i += ROOMS_PER_REPORT) {
        codec.rooms(nsp, uid, [], left.slice(i, i + ROOMS_PER_REPORT), at);
      }
    }
  }

  // The whole room set of each namespace (or of one), replacing what the hub knew.
  queueRoomSnapshot(nsp) {
    for (const report of roomReport.snapshot(nsp)) {
      this.connection.codec.roomSnapshot(report.nsp, report.uid, report.joined, this.state === "linked" ? this.applied : undefined, report.recovers);
    }
    this.scheduleFlush();
  }

  /**
   * A server heard over IPC while this worker is linked to a standalone hub is not linked to it
   * (a @socket.io/cluster-adapter worker under PM2's primary, or one of ours between two links):
   * it does not receive what this worker sends through the hub. Said once per server.
   */
  heardOverIpc(message) {
    if (!this.standalone || this.state !== "linked" || this.ipcServers.has(message.uid)) return;
    if (this.ipcServers.size >= MAX_IPC_SERVERS_NAMED) return;
    this.ipcServers.add(message.uid);
    debug("server %s speaks over IPC, not through the standalone hub %s: it does not receive what this worker sends (a @socket.io/cluster-adapter worker?)", message.uid, this.standalone);
  }

  // A standalone hub's worker has nobody else to send to: what it sends waits for its link.
  holdUntilLinked(message) {
    let payload;
    try {
      payload = encodePayload(message);
    } catch (err) {
      debug("cannot send message of type %o: %s", message.type, err.message);
      return true;
    }
    if (!this.unlinked.push(message, payload)) {
      debug("drop message of type %o: %d bytes already wait for the standalone hub's link", message.type, this.unlinked.bytes);
    }
    return true;
  }

  // The secret is read anew at each attempt: a hub started again has a new one.
  linkStandalone() {
    if (!this.transport || this.connection) return;
    // Required here: the binding has a hub only where it can run (not on Windows).
    const { standaloneSecretFile } = require("./binding");
    let secret;
    try {
      secret = fs.readFileSync(standaloneSecretFile(this.standalone), "utf8").trim();
    } catch (err) {
      debug("cannot link to the standalone hub at %s: %s", this.standalone, err.message);
      return this.retryLater();
    }
    this.connect({ path: this.standalone, secret, epoch: logEpoch(secret) });
  }

  retryLater() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(this.standalone ? this.linkStandalone : this.askForHub, RETRY_DELAY_MS);
    this.retryTimer.unref();
  }

  askForHub() {
    if (!this.transport || !process.connected) return;
    if (this.askedAt === 0) this.askedAt = Date.now();
    this.transport.sendIpc({ source: CONTROL_SOURCE, kind: ControlKind.HUB_REQUEST });
  }

  connect({ path, secret, epoch, serverCount, offsets }) {
    // Required here: the binding has a link (and frame batches) only where the hub can run.
    const { LinkCodec } = require("./binding");
    const { FrameBatchReader } = require("./frame-batch");
    let codec;
    try {
      // A standalone hub names its workers itself.
      codec = new LinkCodec(secret, this.standalone ? 0 : cluster.worker.id);
    } catch (err) {
      debug("cannot link to the hub: %s", err.message);
      if (this.standalone) this.retryLater();
      return;
    }
    const onRead = (length, buffer) => {
      if (this.connection !== current) return false;
      try {
        const batchLength = codec.push(buffer.subarray(0, length));
        if (this.state === "linking" && codec.accepted) this.opened();
        if (batchLength > 0) reader.readPushed(codec, batchLength, this.incoming);
      } catch (err) {
        this.closeLink(err.message, current);
        return false;
      }
      if (!this.draining) this.drain();
    };
    const socket = net.createConnection({ path, onread: { buffer: this.readBuffer, callback: onRead } });
    // An open link must not keep alive a worker that has nothing else to do.
    socket.unref();
    const timer = setTimeout(() => this.closeLink("cannot link to the hub: timed out"), CONNECT_TIMEOUT_MS);
    timer.unref();
    const reader = new FrameBatchReader();
    const current = { socket, codec, timer };
    this.connection = current;
    this.epoch = epoch;
    // OFFSETS_STREAM: the hub speaks the streams adapter's protocol; offsets are stream ids.
    this.streamOffsets = offsets === OFFSETS_STREAM;
    this.serverCountBy = serverCount || null;
    this.state = "linking";
    debug("linking to the hub at %s", path);
    socket.on("connect", () => socket.write(codec.hello()));
    socket.on("error", (err) => this.closeLink(`${codec.accepted ? "link failed" : "cannot link to the hub"}: ${err.message}`, current));
    socket.on("close", () => this.closeLink("closed by the hub", current));
  }

  opened() {
    clearTimeout(this.connection.timer);
    this.state = this.standalone ? "linked" : "switching";
    this.stats.links++;
    this.applied = 0;
    // The hub routes by room only once it knows this worker's rooms: they are the link's first frames.
    roomReport.setReporting(true, this.onRoomChange);
    this.queueRoomSnapshot();
    if (this.standalone) {
      // Nothing went through a primary to wait for; what was sent meanwhile leaves now, in order.
      const held = this.unlinked.takeAll();
      for (const [message, payload] of held) {
        try {
          this.queueOnLink(message, false, payload);
          this.stats.sent++;
        } catch (err) {
          debug("cannot send message of type %o on the link: %s", message.type, err.message);
        }
      }
      this.settleLinkWaiters(true);
      return debug("linked to the standalone hub at %s (%d messages were held)", this.standalone, held.length);
    }
    // Last IPC message of this worker: the primary relays what came before, then the hub
    // relays what this worker sends on its link from now on.
    this.transport.sendIpc({ source: CONTROL_SOURCE, kind: ControlKind.SWITCHED });
    debug("linked; switching from IPC");
  }

  /** Closes the link (`which`, if given, only if it is still the current one). */
  closeLink(reason, which = this.connection) {
    if (!this.connection || this.connection !== which) return;
    const { socket, timer } = this.connection;
    this.connection = null;
    clearTimeout(timer);
    socket.destroy();
    this.onClosed(reason);
  }

  // Applies frames in order. After a restore completes it yields (setImmediate) before the next
  // frame, so that socket.io, resuming from restoreSession() in microtasks, has the recovered
  // socket in its rooms before any later broadcast is applied: none is lost, none doubled.
  drain() {
    this.draining = true;
    if (this.restoredRooms) this.reportRestoredRooms();
    while (this.incoming.length > 0) {
      const frame = this.incoming.shift();
      let outcome;
      try {
        outcome = this.receive(frame);
      } catch (err) {
        // One frame must never stop the ones behind it.
        debug("error while applying a frame of type %d from %s: %s", frame.type, frame.uid, err.message);
      }
      if (this.state === "linked") this.applied++;
      if (outcome === "yield") {
        setImmediate(this.drain);
        return;
      }
    }
    this.draining = false;
  }

  receive(frame) {
    switch (frame.type) {
      case OFFSET_ASSIGNED:
        // Without an offset: the hub could not store it (delivered all the same, not recoverable).
        return this.acknowledgeStored(frame.offset == null ? "" : this.toOffset(frame.offset));
      case RESTORE_SESSION_RESPONSE:
        this.requests.settle(frame);
        return "yield";
      case SERVER_COUNT_RESPONSE:
        return this.requests.settle(frame);
    }
    let message;
    try {
      message = frameToMessage(frame);
    } catch (err) {
      debug("drop a frame with a corrupt payload (type %d from %s): %s", frame.type, frame.uid, err.message);
      return;
    }
    this.stats.received++;
    const offset = frame.offset == null ? undefined : this.toOffset(frame.offset);
    if (this.state === "linked") this.applyFromLink(message, offset);
    else this.held.push([message, offset]);
  }

  applyFromLink(message, offset) {
    this.transport.apply(message, offset);
    // The hub counted the joined rooms as this worker's when it routed the join here: those that
    // no socket here joined are reported gone (after the frame is counted as applied).
    if (message.type === MessageType.SOCKETS_JOIN) queueMicrotask(() => reportAbsent(message.nsp, message.data.rooms));
  }

  // A restored session's rooms, which the hub counted as this worker's when it answered: those
  // that socket.io did not join here (the restore failed) are reported gone.
  reportRestoredRooms() {
    const { nsp, rooms } = this.restoredRooms;
    this.restoredRooms = null;
    reportAbsent(nsp, rooms);
  }

  finishSwitch() {
    this.state = "linked";
    this.settleLinkWaiters(true);
    const messages = this.held;
    this.held = [];
    debug("switched to the hub link (%d messages were held)", messages.length);
    for (const [message, offset] of messages) {
      try {
        this.applyFromLink(message, offset);
      } catch (err) {
        debug("error while applying a held message of type %d: %s", message.type, err.message);
      }
      this.applied++;
    }
    // Everything sent to this worker over IPC has been applied by now: its rooms again, counted.
    if (this.connection) this.queueRoomSnapshot();
  }

  onClosed(reason) {
    debug("hub link closed: %s", reason);
    this.connection = null;
    this.state = "ipc";
    roomReport.setReporting(false);
    const messages = this.held;
    this.held = [];
    if (this.transport) for (const [message, offset] of messages) this.transport.apply(message, offset);
    // Stored broadcasts never acknowledged still reach this worker's sockets, without an offset.
    while (this.offsetCallbacks.length > 0) this.offsetCallbacks.shift()("");
    this.requests.rejectAll(reason);
    this.retryLater();
  }

  // Hands one message of this worker to the link: its routing fields, and its data packed.
  queueOnLink(message, store, payload = encodePayload(message)) {
    const { data } = message;
    const opts = data && data.opts;
    const { codec } = this.connection;
    this.queueRoomChanges(codec);
    codec.send(
      message.type,
      message.nsp,
      message.uid,
      message.requesterUid,
      data && data.requestId,
      opts ? roomNames(opts.rooms) : undefined,
      opts ? roomNames(opts.except) : undefined,
      message.type === MessageType.SOCKETS_JOIN ? roomNames(data.rooms) : undefined,
      payload,
      store,
    );
    this.scheduleFlush();
    // The hub counts the rooms of this worker's own join as its until it reports them: socket.io-
    // adapter applies the join here after publishing it, so those no socket here joined are
    // reported gone once it has.
    if (message.type === MessageType.SOCKETS_JOIN) setImmediate(reportAbsent, message.nsp, data.rooms);
  }

  settleLinkWaiters(linked) {
    for (const waiter of this.linkWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(linked);
    }
    this.linkWaiters.clear();
  }

  acknowledgeStored(offset) {
    const callback = this.offsetCallbacks.shift();
    if (callback) callback(offset);
    else debug("an offset came for no stored broadcast: %s", offset);
  }
}

function canLink() {
  return cluster.isWorker && typeof process.send === "function" && process.platform !== "win32";
}

function reportAbsent(nsp, rooms) {
  for (const room of rooms) roomReport.noteAbsent(nsp, room);
}

// Rooms are strings, but socket.io does not forbid numbers: the header carries their text.
function roomNames(rooms) {
  return rooms.every((room) => typeof room === "string") ? rooms : rooms.map(String);
}

module.exports = { HubLink };
