"use strict";

// A worker's requests to the hub itself, over its link: persist and restore a session
// (connection state recovery) and, in a fleet with plain redis-adapter servers, the server count
// of a namespace. A request with an answer carries a request id; the hub's answers arrive in
// link order and are settled here by that id.

const crypto = require("node:crypto");
const debug = require("debug")("socket.io-cluster-adapter-native:link");
const { PERSIST_SESSION, RESTORE_SESSION, RESTORE_SESSION_RESPONSE, SERVER_COUNT } = require("./binding");
const { pack, unpack } = require("./codec");

const HUB_REQUEST_TIMEOUT_MS = 10000;

class HubRequests {
  /**
   * `link`: the HubLink they travel on. `onRestored(nsp, rooms)`: a session was restored whole,
   * with these rooms (the link checks that socket.io joined them here).
   */
  constructor(link, onRestored) {
    this.link = link;
    this.onRestored = onRestored;
    this.pending = new Map(); // requestId => { resolve, reject, timer }
  }

  /** Stores a disconnected socket's session (`body`: sid, pid, rooms, data, ttl); no answer. */
  persistSession(nsp, uid, body) {
    return this.send(PERSIST_SESSION, nsp, uid, body, false);
  }

  /** Resolves with one page of a session and the packets it missed after `body.after`. */
  restoreSession(nsp, uid, body) {
    return this.send(RESTORE_SESSION, nsp, uid, body, true);
  }

  /** Resolves with the server count of `nsp`, as plain redis-adapter servers count it. */
  serverCount(nsp, uid) {
    return this.send(SERVER_COUNT, nsp, uid, {}, true);
  }

  send(kind, nsp, uid, body, expectsAnswer) {
    if (this.link.state !== "linked") return Promise.reject(new Error("not linked to a hub"));
    const requestId = expectsAnswer ? crypto.randomBytes(8).toString("hex") : null;
    return new Promise((resolve, reject) => {
      try {
        this.link.queueRequest(kind, nsp, uid, requestId, pack(body));
      } catch (err) {
        return reject(err);
      }
      if (!expectsAnswer) return resolve();
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error("the hub did not answer in time"));
      }, HUB_REQUEST_TIMEOUT_MS);
      this.pending.set(requestId, { resolve, reject, timer });
    });
  }

  /** The hub's answer `frame` (a response type) settles the request it names. */
  settle(frame) {
    const request = this.pending.get(frame.requestId);
    if (!request) return debug("an answer came for no pending request (%s)", frame.requestId);
    this.pending.delete(frame.requestId);
    clearTimeout(request.timer);
    let page;
    try {
      page = unpack(frame.payload);
    } catch (err) {
      return request.reject(err);
    }
    if (frame.type === RESTORE_SESSION_RESPONSE && page.ok && page.more == null && Array.isArray(page.rooms)) {
      this.onRestored(frame.nsp, page.rooms);
    }
    request.resolve(page);
  }

  /** The link closed: no answer will come. */
  rejectAll(reason) {
    for (const [requestId, request] of this.pending) {
      this.pending.delete(requestId);
      clearTimeout(request.timer);
      request.reject(new Error(`hub link closed: ${reason}`));
    }
  }
}

module.exports = { HubRequests };
