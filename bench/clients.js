"use strict";

// A process of socket.io clients (websocket only, 127.0.0.1), forked by the orchestrator. Clients
// live in their own processes so that the servers' CPU figures hold only server work.
//
// It counts the deliveries of the current run, per emitting worker, and sends each worker a
// running count (a "credit") over this process's first connection to it: that is the flow control
// of the saturation scenarios (see worker-load.js). It also times deliveries against the emitter's
// clock (process.hrtime.bigint(), CLOCK_MONOTONIC, shared by every process of the machine).
//
// With connection state recovery on in the servers (the "ours-recovery" variant), socket.io
// appends the packet's offset ("<epoch>-<position>" with our hub) to the arguments of every stored
// packet, so every event here has one more argument. It is checked, for every delivery: present
// (and absent without recovery), of one epoch, and strictly increasing for each client, since our
// hub gives each stored packet one position of one cluster-wide order and every client must see
// them in that order. A delivery that fails the check still counts as a delivery (it did arrive)
// and is reported as a bad offset.

const { io } = require("socket.io-client");
const { serve, announceReady } = require("./harness/rpc");
const { advanceOffset } = require("./harness/offsets");

const MAX_SAMPLES = 200000; // per run and process: bounded memory, still far more than needed
const EVENTS = ["b", "u", "rm", "sr", "e"]; // and "bb", whose payload is checked
const BINARY_LENGTH = 1024; // what worker-load.js sends with "bb"

const clients = []; // { socket, worker, index }
const controlByWorker = new Map(); // worker index => the socket that carries credits to it
let procIndex = 0;
let disconnects = 0;
let recovery = false; // whether the servers append an offset to every stored packet

const state = {
  run: -1,
  count: 0,
  stale: 0, // deliveries of another run (there should be none)
  corrupt: 0, // deliveries whose binary payload did not arrive as 1 KiB of bytes
  badOffsets: 0, // deliveries whose trailing offset was missing, unexpected or out of order
  byEmitter: [],
  credited: [],
  credits: false,
  flushScheduled: false,
  sampleEvery: 1,
  countdown: 1,
  remoteOnly: false,
  samples: [], // latency of deliveries from another worker (every delivery in the floor)
  localSamples: [], // latency of deliveries to clients of the emitting worker
};

/** The trailing offset argument: there with recovery only, one epoch, increasing per client. */
function checkOffset(client, offset) {
  if (!recovery) {
    if (offset !== undefined) state.badOffsets++;
    return;
  }
  if (!advanceOffset(client.offsets, offset)) state.badOffsets++;
}

function onDelivery(client, message, payload, offset) {
  checkOffset(client, offset);
  if (!message || message.r !== state.run) {
    state.stale++;
    return;
  }
  state.count++;
  // A binary payload must arrive as bytes (with JSON IPC it would arrive as { type, data }).
  if (client.checkBinary && !(payload && payload.byteLength === BINARY_LENGTH)) state.corrupt++;
  const w = message.w;
  state.byEmitter[w] = (state.byEmitter[w] || 0) + 1;
  if (state.credits && !state.flushScheduled) {
    // One credit per emitter per event-loop turn, however many deliveries the turn held.
    state.flushScheduled = true;
    setImmediate(flushCredits);
  }
  if (--state.countdown === 0) {
    state.countdown = state.sampleEvery;
    // Latency is "emit on one worker -> receipt by a client of another worker"; in the floor
    // (one worker) every client counts.
    const latencyUs = Number(process.hrtime.bigint() - BigInt(message.t)) / 1000;
    if ((!state.remoteOnly || w !== client.worker) && state.samples.length < MAX_SAMPLES) state.samples.push(latencyUs);
    // Deliveries to the emitter's own clients: with recovery on, these wait for the hub's offset.
    if (w === client.worker && state.localSamples.length < MAX_SAMPLES) state.localSamples.push(latencyUs);
  }
}

function flushCredits() {
  state.flushScheduled = false;
  for (let w = 0; w < state.byEmitter.length; w++) {
    const n = state.byEmitter[w] || 0;
    if (n === (state.credited[w] || 0)) continue;
    state.credited[w] = n;
    const control = controlByWorker.get(w);
    if (control) control.emit("credit", { r: state.run, p: procIndex, n });
  }
}

function connectOne({ index, worker, port }) {
  return new Promise((resolve, reject) => {
    const socket = io(`http://127.0.0.1:${port}`, {
      transports: ["websocket"],
      reconnection: false, // a lost connection must show up as lost deliveries, not be papered over
      forceNew: true,
      timeout: 20000,
    });
    // `offsets` is shared by both views of the client: one order across all events.
    const client = { socket, worker, index, checkBinary: false, offsets: { epoch: null, last: 0 } };
    const binaryClient = { ...client, checkBinary: true };
    for (const event of EVENTS) socket.on(event, (message, offset) => onDelivery(client, message, undefined, offset));
    socket.on("bb", (message, payload, offset) => onDelivery(binaryClient, message, payload, offset));
    socket.once("connect", () => {
      socket.on("disconnect", () => disconnects++);
      resolve(client);
    });
    socket.once("connect_error", (err) => reject(new Error(`client ${index} -> port ${port}: ${err.message}`)));
  });
}

serve({
  /** Opens the connections: [{ index, worker, port }] => [{ index, worker, id }]. */
  async connect({ proc, assignments, recovery: withRecovery = false }) {
    procIndex = proc;
    recovery = withRecovery;
    const connected = await Promise.all(assignments.map(connectOne));
    for (const client of connected) {
      clients.push(client);
      if (!controlByWorker.has(client.worker)) controlByWorker.set(client.worker, client.socket);
    }
    return connected.map((c) => ({ index: c.index, worker: c.worker, id: c.socket.id }));
  },

  /** Joins rooms: { clientIndex: [room, ...] }. */
  async join({ rooms }) {
    const byIndex = new Map(clients.map((c) => [c.index, c]));
    await Promise.all(
      Object.entries(rooms).map(([index, names]) => byIndex.get(Number(index)).socket.timeout(10000).emitWithAck("join", names)),
    );
    return true;
  },

  /** Starts counting a new run. */
  reset({ run, sampleEvery, remoteOnly, credits }) {
    Object.assign(state, {
      run,
      count: 0,
      stale: 0,
      corrupt: 0,
      badOffsets: 0,
      byEmitter: [],
      credited: [],
      credits,
      sampleEvery,
      countdown: sampleEvery,
      remoteOnly,
      samples: [],
      localSamples: [],
    });
    return true;
  },

  /** Deliveries so far, stamped with this process's clock (the throughput window is per process). */
  mark: () => ({ count: state.count, t: Number(process.hrtime.bigint()) }),

  count: () => ({ count: state.count, stale: state.stale, disconnects }),

  report: () => ({
    count: state.count,
    stale: state.stale,
    corrupt: state.corrupt,
    badOffsets: state.badOffsets,
    disconnects,
    samples: state.samples,
    localSamples: state.localSamples,
  }),
});

process.on("disconnect", () => process.exit(0)); // the orchestrator is gone
announceReady({ pid: process.pid });
