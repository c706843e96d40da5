"use strict";

// The load a worker generates, through nothing but socket.io's public API (io.emit,
// io.to(...).emit, io.fetchSockets, io.serverSideEmitWithAck), so the same code measures every
// adapter.
//
// Saturation ("flood"): a worker keeps at most `window` emits in flight. An emit is in flight
// until its deliveries are credited: each client process counts what it received from this
// worker and reports the running count back over one of its own connections to this worker.
// So every worker emits exactly as fast as the whole chain (relay, other workers, client
// processes) delivers, and the figure is a throughput, not the rate at which a queue grows.
//
// Every message carries its run number `r` (late messages of an earlier run are not counted),
// the emitting worker `w`, and `t`, process.hrtime.bigint() at emission: CLOCK_MONOTONIC, which
// on Linux is one clock for every process of the machine, so a client can subtract it from its
// own reading.

const crypto = require("node:crypto");
const { prng } = require("./harness/stats");

const BINARY_PAYLOAD = crypto.randomBytes(1024);
const TEXT = "the quick brown fox jumps over the lazy dog";
const PUMP_BATCH = 32; // emits per event-loop turn, so that credits and pings are read in between

function now() {
  return process.hrtime.bigint();
}

function meta(run, index) {
  return { r: run, w: index, t: now().toString() };
}

class WorkerLoad {
  constructor(io, index) {
    this.io = io;
    this.index = index;
    this.flood = null;
  }

  // --- saturation: broadcast, binary, unicast, rooms, small-rooms ---------------------------------------

  startFlood({ run, kind, window, targets = [], rooms = [], clients, seed = 1 }) {
    if (this.flood) this.flood.running = false;
    const largestRoom = Math.max(1, ...rooms.map((r) => r.size));
    const perEmit = { broadcast: clients, binary: clients, unicast: 1, rooms: largestRoom, "small-rooms": largestRoom }[kind];
    if (perEmit === undefined) throw new Error(`unknown flood kind "${kind}"`);
    this.flood = {
      run,
      kind,
      targets,
      rooms,
      clients,
      limit: window * perEmit, // in deliveries
      running: true,
      scheduled: false,
      emits: 0,
      sent: 0, // deliveries owed by the emits so far
      acked: 0, // deliveries credited by the client processes
      credits: new Map(), // client process => its running count
      next: 0,
      random: prng(seed), // small-rooms: which room next
    };
    this.pump();
    return true;
  }

  onCredit(credit) {
    const flood = this.flood;
    if (!flood || !credit || credit.r !== flood.run) return;
    const previous = flood.credits.get(credit.p) || 0;
    if (credit.n <= previous) return;
    flood.credits.set(credit.p, credit.n);
    flood.acked += credit.n - previous;
    this.pump();
  }

  pump() {
    const flood = this.flood;
    if (!flood || !flood.running || flood.scheduled) return;
    let budget = PUMP_BATCH;
    while (flood.sent - flood.acked < flood.limit) {
      if (budget-- === 0) {
        flood.scheduled = true;
        setImmediate(() => {
          flood.scheduled = false;
          this.pump();
        });
        return;
      }
      flood.sent += this.emitOne(flood);
      flood.emits++;
    }
  }

  /** Emits one message; returns the number of deliveries it owes. */
  emitOne(flood) {
    const io = this.io;
    switch (flood.kind) {
      case "broadcast":
        io.emit("b", { ...meta(flood.run, this.index), text: TEXT, n: flood.emits });
        return flood.clients;
      case "binary":
        io.emit("bb", meta(flood.run, this.index), BINARY_PAYLOAD);
        return flood.clients;
      case "unicast": {
        const target = flood.targets[flood.next++ % flood.targets.length];
        io.to(target).emit("u", meta(flood.run, this.index));
        return 1;
      }
      case "rooms": {
        const room = flood.rooms[Math.floor(Math.random() * flood.rooms.length)];
        io.to(room.name).emit("rm", meta(flood.run, this.index));
        return room.size;
      }
      case "small-rooms": {
        // Every member of the room is a distinct client: exactly `size` deliveries.
        const room = flood.rooms[Math.floor(flood.random() * flood.rooms.length)];
        io.to(room.name).emit("sr", meta(flood.run, this.index));
        return room.size;
      }
      default:
        throw new Error(`unknown flood kind "${flood.kind}"`);
    }
  }

  mark() {
    return { emits: this.flood ? this.flood.emits : 0 };
  }

  stopFlood() {
    const flood = this.flood;
    if (!flood) return { emits: 0, expected: 0 };
    flood.running = false;
    return { emits: flood.emits, expected: flood.sent };
  }

  // --- sequential requests: fetch-sockets, server-side-emit ---------------------------------

  /**
   * Sends one request at a time for `durationMs`; each answer is checked against `expect` (the
   * number of sockets of the cluster, or of other servers that must answer).
   */
  async runRequests({ kind, durationMs, expect }) {
    const samples = [];
    let errors = 0;
    let firstError = null;
    const started = now();
    const end = started + BigInt(durationMs) * 1000000n;
    while (now() < end) {
      const t0 = now();
      try {
        const answer =
          kind === "fetch-sockets"
            ? await this.io.fetchSockets()
            : await this.io.serverSideEmitWithAck("bench:ping", t0.toString());
        if (answer.length !== expect) {
          errors++;
          firstError = firstError || `got ${answer.length} answers, expected ${expect}`;
        }
      } catch (err) {
        errors++;
        firstError = firstError || err.message;
      }
      samples.push(Number(now() - t0) / 1000);
    }
    return { count: samples.length, errors, firstError, elapsedMs: Number(now() - started) / 1e6, samples };
  }

  // --- stored broadcasts: the recovery log's memory (bench/recovery-memory.js) ---------------

  /**
   * `count` broadcasts, as fast as the event loop allows (yielding every `batch`, so the link
   * flushes and offsets come back): `kind` "json", an object whose JSON is about `bytes` long, or
   * "binary", a small object and a Buffer of `bytes`. Returns the size of one payload.
   */
  async store({ count, kind, bytes, batch = 500 }) {
    const buffer = kind === "binary" ? crypto.randomBytes(bytes) : null;
    const object = (n) => ({ ...meta(0, this.index), text: TEXT, n });
    // Pad the JSON object's text so that the whole object is about `bytes` long.
    const pad = kind === "json" ? "x".repeat(Math.max(0, bytes - JSON.stringify(object(0)).length)) : "";
    let sample = null;
    for (let n = 0; n < count; n++) {
      if (kind === "binary") this.io.emit("s", meta(0, this.index), buffer);
      else {
        const data = object(n);
        data.text += pad;
        if (n === 0) sample = JSON.stringify(data).length;
        this.io.emit("s", data);
      }
      if (n % batch === batch - 1) await new Promise((resolve) => setImmediate(resolve));
    }
    return {
      emits: count,
      payloadBytes: kind === "binary" ? bytes : sample,
      metaBytes: kind === "binary" ? JSON.stringify(meta(0, this.index)).length : 0,
    };
  }

  // --- paced broadcasts: end-to-end latency at a low rate -----------------------------------

  /** Broadcasts every `intervalMs`, starting `phaseMs` from now, for `durationMs`. */
  runPaced({ run, intervalMs, phaseMs, durationMs, clients }) {
    return new Promise((resolve) => {
      const t0 = performance.now(); // one reading: start and end must not drift apart by a fencepost
      const start = t0 + phaseMs;
      const end = t0 + durationMs;
      let emits = 0;
      const tick = () => {
        const due = start + emits * intervalMs;
        if (due >= end) return resolve({ emits, expected: emits * clients });
        const wait = due - performance.now();
        if (wait > 0) return void setTimeout(tick, wait);
        this.io.emit("e", meta(run, this.index));
        emits++;
        setImmediate(tick);
      };
      tick();
    });
  }
}

module.exports = { WorkerLoad };
