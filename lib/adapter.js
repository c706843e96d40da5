"use strict";

// The Adapter subclass socket.io needs. socket.io-adapter's ClusterAdapterWithHeartbeat already
// holds the exact semantics of every cross-process operation (it is what @socket.io/cluster-adapter
// builds on too); this class only supplies the transport and the fixes listed in the README.

const { Adapter: InMemoryAdapter, ClusterAdapterWithHeartbeat, MessageType } = require("socket.io-adapter");
const debug = require("debug")("socket.io-cluster-adapter-native:adapter");
const transport = require("./transport");
const { pack, unpack } = require("./codec");
const { normalizeOptions } = require("./options");
const { MESSAGE_SOURCE } = require("./protocol");

// This process's link to the hub (transport.js owns it): connection state recovery and the
// server count of a mixed fleet go through it.
const { link } = transport;

class NodeClusterAdapter extends ClusterAdapterWithHeartbeat {
  constructor(nsp, opts = {}) {
    const options = normalizeOptions(opts);
    super(nsp, options);
    this.requestsTimeout = options.requestsTimeout;
    this.initialized = false;
    this.recovery = nsp.server && nsp.server.opts && nsp.server.opts.connectionStateRecovery;
    if (this.recovery) announceRecoveryOnce();
    transport.attach(this, options.hub);
    // socket.io 4.8 calls init() itself (Namespace._initAdapter) and the reference calls it here
    // too, for versions that did not; init() is idempotent here, so the cluster hears exactly one
    // INITIAL_HEARTBEAT per adapter either way.
    this.init();
  }

  init() {
    if (this.initialized) return;
    this.initialized = true;
    super.init();
  }

  doPublish(message) {
    message.source = MESSAGE_SOURCE;
    transport.send(message);
    return Promise.resolve(""); // no offset: connection state recovery needs the hub (see README)
  }

  doPublishResponse(requesterUid, response) {
    response.source = MESSAGE_SOURCE;
    response.requesterUid = requesterUid;
    transport.send(response);
    return Promise.resolve();
  }

  // In a fleet with plain @socket.io/redis-adapter servers (redis.mixedFleet), servers are counted
  // as they count them, the subscribers of the namespace's Redis channel: they send no heartbeats.
  async serverCount() {
    if (link.countsServers()) {
      try {
        const answer = await link.requests.serverCount(this.nsp.name, this.uid);
        if (answer.ok) return answer.count;
        debug("[%s] the hub has no server count (Redis away?): counting by heartbeats", this.uid);
      } catch (err) {
        debug("[%s] cannot ask the hub for the server count: %s", this.uid, err.message);
      }
    }
    return super.serverCount();
  }

  // `requestsTimeout` is documented by @socket.io/cluster-adapter but ignored by socket.io-adapter
  // 2.5 (it always waits 5000 ms). We honour it; io.timeout(ms).fetchSockets() still wins.
  fetchSockets(opts) {
    const timeout = (opts.flags && opts.flags.timeout) || this.requestsTimeout;
    return super.fetchSockets({ ...opts, flags: { ...opts.flags, timeout } });
  }

  serverSideEmit(packet) {
    const withAck = typeof packet[packet.length - 1] === "function";
    const pendingBefore = withAck ? new Set(this.customRequests.keys()) : null;
    const result = super.serverSideEmit(packet);
    // The parent registers its request synchronously with a fixed 5000 ms timer; re-arm that timer
    // with requestsTimeout, keeping the parent's timeout behaviour.
    if (withAck) {
      for (const [requestId, request] of this.customRequests) {
        if (!pendingBefore.has(requestId)) this.rearmServerSideEmitTimeout(requestId, request);
      }
    }
    return result;
  }

  rearmServerSideEmitTimeout(requestId, request) {
    clearTimeout(request.timeout);
    request.timeout = setTimeout(() => {
      if (this.customRequests.get(requestId) !== request) return;
      this.customRequests.delete(requestId);
      request.resolve(new Error(`timeout reached: missing ${request.missingUids.size} responses`), request.responses);
    }, this.requestsTimeout);
  }

  // Connection state recovery (see crates/core/src/recovery.rs for the design). A broadcast the
  // hub stores reaches this worker's own sockets only once the hub gave it its offset: so every
  // client sees stored packets in the order of the cluster-wide log.
  broadcast(packet, opts) {
    if (!this.recovery || (opts.flags && opts.flags.local) || !link.canRecover() || !isStorable(this, packet, opts)) {
      return super.broadcast(packet, opts);
    }
    const message = {
      uid: this.uid,
      nsp: this.nsp.name,
      type: MessageType.BROADCAST,
      data: { packet, opts: { rooms: [...opts.rooms], except: [...opts.except], flags: opts.flags } },
    };
    const sent = link.sendStored(message, (offset) => {
      packet.data.push(offset);
      InMemoryAdapter.prototype.broadcast.call(this, packet, opts); // local delivery only
    });
    if (!sent) return super.broadcast(packet, opts);
    this.scheduleHeartbeat(); // as publish() does: traffic stands for a heartbeat
  }

  persistSession(session) {
    if (!this.recovery || !link.canRecover()) return;
    const body = {
      sid: session.sid,
      pid: session.pid,
      rooms: [...session.rooms].map(String),
      data: pack(session.data),
      ttl: Math.ceil(this.recovery.maxDisconnectionDuration),
    };
    link.requests.persistSession(this.nsp.name, this.uid, body).catch((err) => {
      debug("[%s] cannot persist session %s: %s", this.uid, session.sid, err.message);
    });
  }

  async restoreSession(pid, offset) {
    if (!this.recovery) return null;
    if (!(await link.whenLinked())) {
      debug("[%s] refuse to restore session %s: this worker is not linked to a hub", this.uid, pid);
      return null;
    }
    let after = link.parseOffset(offset);
    if (after === null) {
      debug("[%s] refuse to restore session %s: offset %o is not one of this hub's", this.uid, pid, offset);
      return null;
    }
    const missedPackets = [];
    for (;;) {
      const page = await link.requests.restoreSession(this.nsp.name, this.uid, { pid, after });
      if (!page.ok) {
        debug("[%s] cannot restore session %s: %s", this.uid, pid, page.reason);
        return null; // never a partial history
      }
      for (const [position, payload] of page.packets) {
        const { packet } = unpack(payload);
        missedPackets.push([...packet.data, link.toOffset(position)]);
      }
      if (page.more == null) {
        debug("[%s] restored session %s with %d missed packets", this.uid, page.sid, missedPackets.length);
        return { sid: page.sid, pid, rooms: page.rooms, data: unpack(page.data), missedPackets };
      }
      after = page.more;
    }
  }

  onResponse(response) {
    const { requestId } = response.data;
    const pending =
      this.customRequests.has(requestId) ||
      this.requests.has(requestId) ||
      this.ackRequests.has(requestId);
    if (!pending) {
      debug("[%s] drop response of type %d to unknown or expired request %s", this.uid, response.type, requestId);
      return;
    }
    super.onResponse(response);
  }

  close() {
    // ADAPTER_CLOSE first, while the link is still there (detaching the last adapter ends it).
    const closed = super.close();
    transport.detach(this);
    return closed;
  }
}

// Whether socket.io-adapter would give this packet an offset (its rule, applied by its own
// addOffsetIfNecessary rather than copied here): event packets without ack, not volatile.
function isStorable(adapter, packet, opts) {
  const length = packet.data.length;
  adapter.addOffsetIfNecessary(packet, opts, "");
  if (packet.data.length === length) return false;
  packet.data.pop();
  return true;
}

let recoveryAnnounced = false;
function announceRecoveryOnce() {
  if (recoveryAnnounced) return;
  recoveryAnnounced = true;
  debug(
    "connection state recovery is on: sessions and missed packets are kept by the hub of our " +
      "setupPrimary(); while this worker is not linked to one (another primary, PM2, recluster " +
      "without ours), restores are refused and clients get new sessions",
  );
}

/**
 * Returns the adapter constructor to hand to `io.adapter()`. socket.io calls it with `new`, so it
 * must be a plain function, not an arrow function.
 */
function createAdapter(opts = {}) {
  const options = normalizeOptions(opts); // fail at start-up, not at the first namespace
  return function NodeClusterAdapterFactory(nsp) {
    return new NodeClusterAdapter(nsp, options);
  };
}

module.exports = { NodeClusterAdapter, createAdapter };
