"use strict";

// An Emitter's way to a standalone hub from any process: a link that only sends (the hub makes it
// nobody's recipient), with the secret read from the file beside the hub's socket. Messages are
// checked and queued by the binding (LinkCodec.sendMade, the same rules as the primary's Emitter),
// and leave in one write per turn. While the link is not open (connecting, or the hub restarting)
// they wait, up to MAX_WAITING_BYTES; beyond that emit() throws, as the primary's Emitter throws
// where it cannot work. Its socket does not keep the process alive.

const fs = require("node:fs");
const net = require("node:net");
const debug = require("debug")("socket.io-cluster-adapter-native:emitter");
const { MAX_FRAME_BYTES, SENDS_ONLY, inspectMessage } = require("./binding");
const { encodePayload } = require("./codec");
const { HeldMessages } = require("./held-messages");
const { takeQueued } = require("./link-writes");

const RETRY_DELAY_MS = 1000;
const MAX_WAITING_BYTES = 4 * MAX_FRAME_BYTES;

class EmitterLink {
  constructor(socketPath) {
    this.path = socketPath;
    this.connection = null; // { socket, codec } while connecting or open
    this.open = false;
    this.waiting = new HeldMessages(MAX_WAITING_BYTES); // not written yet, in order
    this.flushScheduled = false;
    this.retryTimer = null;
    this.closed = false;
    this.flush = this.flush.bind(this);
    this.connect = this.connect.bind(this);
    this.connect();
  }

  /** Sends one adapter message the Emitter made (throws if it is invalid, or too much waits, or after close()). */
  send(message) {
    if (this.closed) throw new Error("socket.io-cluster-adapter-native: this Emitter is closed");
    const verdict = inspectMessage(message);
    if (!verdict.valid) throw new Error(`invalid adapter message: ${verdict.reason}`); // as the primary's Emitter says it
    const payload = encodePayload(message);
    if (this.open) this.connection.codec.sendMade(message, payload);
    else {
      if (!this.waiting.push(message, payload)) {
        throw new Error(`socket.io-cluster-adapter-native: the hub at ${this.path} is not reachable (${this.waiting.bytes} bytes wait for it)`);
      }
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /**
   * Ends the link once what was sent is written (what still waits for the link leaves when it
   * opens; it is given up if the link fails meanwhile).
   */
  close() {
    this.closed = true;
    if (this.open) this.end();
    else if (this.waiting.length === 0) this.giveUp();
  }

  end() {
    const { socket, codec } = this.connection;
    this.connection = null;
    this.open = false;
    socket.end(takeQueued(codec) || undefined);
  }

  giveUp() {
    clearTimeout(this.retryTimer);
    if (this.waiting.length > 0) debug("closed before the hub at %s could be reached: %d messages dropped", this.path, this.waiting.length);
    this.waiting.clear();
    if (this.connection) this.connection.socket.destroy();
    this.connection = null;
  }

  flush() {
    this.flushScheduled = false;
    if (!this.open || !this.connection) return;
    const bytes = takeQueued(this.connection.codec);
    if (bytes) this.connection.socket.write(bytes);
  }

  connect() {
    const { LinkCodec, standaloneSecretFile } = require("./binding");
    let codec;
    try {
      codec = new LinkCodec(fs.readFileSync(standaloneSecretFile(this.path), "utf8").trim(), SENDS_ONLY);
    } catch (err) {
      debug("cannot link to the hub at %s: %s", this.path, err.message);
      return this.retry();
    }
    const socket = net.createConnection(this.path);
    socket.unref();
    const current = { socket, codec };
    this.connection = current;
    socket.on("connect", () => socket.write(codec.hello()));
    socket.on("data", (bytes) => {
      if (this.connection !== current) return;
      try {
        // The hub's answer to the hello, then only the offsets of stored broadcasts: not needed here.
        codec.push(bytes);
      } catch (err) {
        debug("link to the hub at %s: %s", this.path, err.message);
        return socket.destroy();
      }
      if (!this.open && codec.accepted) this.opened();
    });
    socket.on("error", (err) => debug("link to the hub at %s: %s", this.path, err.message));
    socket.on("close", () => {
      if (this.connection !== current) return;
      this.connection = null;
      this.open = false;
      this.retry();
    });
  }

  opened() {
    this.open = true;
    const { codec } = this.connection;
    for (const [message, payload] of this.waiting.takeAll()) {
      try {
        codec.sendMade(message, payload);
      } catch (err) {
        debug("drop a message the hub cannot take: %s", err.message);
      }
    }
    debug("linked to the hub at %s", this.path);
    if (this.closed) this.end();
    else this.flush();
  }

  retry() {
    if (this.closed) return this.giveUp();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(this.connect, RETRY_DELAY_MS);
    this.retryTimer.unref();
  }
}

module.exports = { EmitterLink };
