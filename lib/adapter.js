"use strict";

// The Adapter subclass socket.io needs. socket.io-adapter's ClusterAdapterWithHeartbeat already
// holds the exact semantics of every cross-process operation (it is what @socket.io/cluster-adapter
// builds on too); this class only supplies the transport and the fixes listed in the README.

const { ClusterAdapterWithHeartbeat, MessageType } = require("socket.io-adapter");
const debug = require("debug")("socket.io-cluster-adapter-native:adapter");
const channel = require("./channel");
const { normalizeOptions } = require("./options");
const { MESSAGE_SOURCE } = require("./protocol");

class NodeClusterAdapter extends ClusterAdapterWithHeartbeat {
  constructor(nsp, opts = {}) {
    const options = normalizeOptions(opts);
    super(nsp, options);
    this.requestsTimeout = options.requestsTimeout;
    this.initialized = false;
    channel.attach(this);
    // socket.io >= 4.? calls init() itself; older 4.x versions do not. init() is idempotent here,
    // so the cluster hears exactly one INITIAL_HEARTBEAT either way.
    this.init();
  }

  init() {
    if (this.initialized) return;
    this.initialized = true;
    super.init();
  }

  doPublish(message) {
    message.source = MESSAGE_SOURCE;
    channel.send(message);
    return Promise.resolve(""); // no offset: connection state recovery needs the hub (see README)
  }

  doPublishResponse(requesterUid, response) {
    response.source = MESSAGE_SOURCE;
    response.requesterUid = requesterUid;
    channel.send(response);
    return Promise.resolve();
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
    channel.detach(this);
    return super.close();
  }
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

module.exports = { NodeClusterAdapter, createAdapter, MessageType };
