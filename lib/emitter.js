"use strict";

// Emit from the primary (or, through a standalone hub, from any process: lib/emitter-link.js):
// @socket.io/redis-emitter 5.x's API (same methods, chaining, errors), for a cluster of this package. Its messages are the ones socket.io-adapter's cluster adapters
// already apply, sent with the emitter uid ("emitter"), which no worker counts as a server; they
// leave through setupPrimary()'s relay (lib/primary.js): through the hub's routing (by room, into
// the recovery log) to our linked workers, over IPC to workers still on it (the reference's too).

const { MessageType } = require("socket.io-adapter");
// socket.io-adapter's EMITTER_UID (not exported by it), as the core knows it.
const { EMITTER_UID } = require("./binding");
const { MESSAGE_SOURCE } = require("./protocol");
const { primaryInjector } = require("./primary");

const EVENT = 2; // socket.io-parser's PacketType.EVENT: the encoder makes it BINARY_EVENT when needed

// Event names a client or a server cannot receive from a broadcast, as in @socket.io/redis-emitter.
const RESERVED_EVENTS = new Set(["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]);
// Event names socket.io's Namespace#serverSideEmit refuses (a worker would emit them on its
// namespace as if socket.io had). @socket.io/redis-emitter does not check them.
const SERVER_RESERVED_EVENTS = new Set(["connect", "connection", "new_namespace"]);

class Emitter {
  /**
   * In the primary, after setupPrimary(): `new Emitter()`, or `new Emitter(nsp)`. In any process,
   * through a standalone hub: `new Emitter({ hub: socketPath })` (then `close()` ends its link).
   * `nsp`: the namespace (default "/"; see also of()).
   */
  constructor(nsp = "/", sender = undefined) {
    if (nsp !== null && typeof nsp === "object") {
      const { hub, ...unknown } = nsp;
      if (Object.keys(unknown).length > 0) throw new TypeError(`socket.io-cluster-adapter-native: unknown Emitter option "${Object.keys(unknown)[0]}" (known: hub)`);
      if (typeof hub !== "string" || hub === "") throw new TypeError('socket.io-cluster-adapter-native: Emitter option "hub" must be the path of a hub\'s socket');
      const { EmitterLink } = require("./emitter-link");
      const link = new EmitterLink(hub);
      sender = { inject: (message) => link.send(message), close: () => link.close() };
      nsp = "/";
    }
    this.nsp = nsp;
    this.sender = sender || { inject: primaryInjector(), close() {} };
    this.inject = this.sender.inject;
  }

  /** An emitter for namespace `nsp` (the same way out as this one's). */
  of(nsp) {
    return new Emitter((nsp[0] !== "/" ? "/" : "") + nsp, this.sender);
  }

  /** Ends the link of an Emitter of a standalone hub, once what was emitted is written (nothing in the primary). */
  close() {
    this.sender.close();
  }

  emit(ev, ...args) {
    return this.operator().emit(ev, ...args);
  }

  to(room) {
    return this.operator().to(room);
  }

  in(room) {
    return this.operator().in(room);
  }

  except(room) {
    return this.operator().except(room);
  }

  get volatile() {
    return this.operator().volatile;
  }

  compress(compress) {
    return this.operator().compress(compress);
  }

  socketsJoin(rooms) {
    return this.operator().socketsJoin(rooms);
  }

  socketsLeave(rooms) {
    return this.operator().socketsLeave(rooms);
  }

  disconnectSockets(close = false) {
    return this.operator().disconnectSockets(close);
  }

  /** Emits `ev` to the servers' namespace handlers (`io.on(ev, ...)`) of every worker. */
  serverSideEmit(...args) {
    if (typeof args[args.length - 1] === "function") throw new Error("Acknowledgements are not supported");
    if (SERVER_RESERVED_EVENTS.has(args[0])) throw new Error(`"${String(args[0])}" is a reserved event name`);
    this.send(MessageType.SERVER_SIDE_EMIT, { packet: args });
  }

  operator() {
    return new BroadcastOperator(this);
  }

  send(type, data) {
    this.inject({ source: MESSAGE_SOURCE, uid: EMITTER_UID, nsp: this.nsp, type, data });
  }
}

/** Rooms, exceptions and flags of one emission; each modifier returns a new operator. */
class BroadcastOperator {
  constructor(emitter, rooms = new Set(), exceptRooms = new Set(), flags = {}) {
    this.emitter = emitter;
    this.rooms = rooms;
    this.exceptRooms = exceptRooms;
    this.flags = flags;
  }

  to(room) {
    return new BroadcastOperator(this.emitter, withRooms(this.rooms, room), this.exceptRooms, this.flags);
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    return new BroadcastOperator(this.emitter, this.rooms, withRooms(this.exceptRooms, room), this.flags);
  }

  compress(compress) {
    return new BroadcastOperator(this.emitter, this.rooms, this.exceptRooms, { ...this.flags, compress });
  }

  get volatile() {
    return new BroadcastOperator(this.emitter, this.rooms, this.exceptRooms, { ...this.flags, volatile: true });
  }

  /** Emits to the matching clients of every worker. Always returns true. */
  emit(ev, ...args) {
    if (RESERVED_EVENTS.has(ev)) throw new Error(`"${ev}" is a reserved event name`);
    const packet = { type: EVENT, data: [ev, ...args], nsp: this.emitter.nsp };
    const opts = { rooms: [...this.rooms], except: [...this.exceptRooms], flags: this.flags };
    // The hub stores it for connection state recovery when workers would (crates/core's
    // stored_by_workers: not volatile).
    this.emitter.send(MessageType.BROADCAST, { packet, opts });
    return true;
  }

  socketsJoin(rooms) {
    this.emitter.send(MessageType.SOCKETS_JOIN, { opts: this.target(), rooms: asArray(rooms) });
  }

  socketsLeave(rooms) {
    this.emitter.send(MessageType.SOCKETS_LEAVE, { opts: this.target(), rooms: asArray(rooms) });
  }

  disconnectSockets(close = false) {
    this.emitter.send(MessageType.DISCONNECT_SOCKETS, { opts: this.target(), close });
  }

  target() {
    return { rooms: [...this.rooms], except: [...this.exceptRooms] };
  }
}

function withRooms(rooms, room) {
  const result = new Set(rooms);
  for (const r of asArray(room)) result.add(r);
  return result;
}

function asArray(rooms) {
  return Array.isArray(rooms) ? rooms : [rooms];
}

module.exports = { Emitter, BroadcastOperator, RESERVED_EVENTS };
