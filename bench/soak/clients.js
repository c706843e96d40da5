"use strict";

// A process of socket.io clients (websocket, 127.0.0.1), forked by bench/soak/run.js. It holds its
// clients, churns them, and checks what they receive (see bench/soak/README.md):
//
//   - every stream has a sequence: "b" per sending worker, "r" per (sending worker, room), "u" per
//     (sending worker, target socket); each client checks each stream it is on: the next packet
//     must carry the next number. A jump is a loss (counted by the numbers skipped), a number not
//     above the last is a duplicate.
//   - a stream's first packet after a client joined it (connected, joined the room) is its
//     baseline. A client that reconnects with a new session starts over; one that recovered its
//     session (socket.recovered) must continue every stream without a gap: socket.io delivers what
//     it missed before its "connect" event.
//   - every packet carries socket.io's offset (recovery is on): of one epoch and strictly
//     increasing within a session, recovered sessions included.
//
// Churn, every `churnMs`: `recover` clients drop their transport (socket.io.engine.close()) and
// let socket.io-client reconnect and recover; `renew` clients disconnect and come back as a new
// connection to a worker drawn at random; `rooms` clients join or leave a room.

const { io } = require("socket.io-client");
const { serve, announceReady } = require("../harness/rpc");
const { prng } = require("../harness/stats");
const { advanceOffset } = require("../harness/offsets");

const MAX_EVENTS = 50; // problems kept with details, per process

let cfg = null;
let random = Math.random;
const slots = []; // slot => current client
let churnTimer = null;

const totals = {
  checked: { b: 0, r: 0, u: 0 },
  lost: { b: 0, r: 0, u: 0 },
  duplicated: { b: 0, r: 0, u: 0 },
  baselines: 0,
  badOffsets: 0,
  notMember: 0, // room packets for a room the client is not (or not yet) in: ignored
  recoveries: { attempted: 0, succeeded: 0, failed: 0, withoutOffset: 0 },
  drops: { recover: 0, renew: 0, unplanned: 0 },
  connects: 0,
  connectErrors: 0,
  joins: 0,
  leaves: 0,
  joinFailed: 0,
  tailLost: 0,
  events: [],
};

function note(event) {
  if (totals.events.length < MAX_EVENTS) totals.events.push({ at: new Date().toISOString(), proc: cfg.proc, ...event });
}

const pick = (list) => list[Math.floor(random() * list.length)];

/** Settles a reconnection: recovered (keep every stream) or a new session (start over). */
function settle(client) {
  if (!client.pending) return;
  const { socket } = client;
  client.pending = false;
  if (socket.recovered) {
    if (client.attempted) totals.recoveries.succeeded++;
    return;
  }
  if (client.attempted) {
    totals.recoveries.failed++;
    note({ kind: "recovery failed", slot: client.slot, id: socket.id });
  }
  client.last.clear();
  client.member.clear();
  client.offsets = { epoch: null, last: -1 };
  // A new session has no rooms: join some again.
  joinSome(client);
}

function checkOffset(client, offset) {
  if (cfg.checkOffsets === false) return; // --adapter reference: no stored packets, empty offsets
  const seen = client.offsets;
  if (!advanceOffset(seen, offset)) {
    totals.badOffsets++;
    note({ kind: "bad offset", slot: client.slot, id: client.socket.id, offset, last: seen.last, epoch: seen.epoch });
  }
}

function check(client, kind, key, s) {
  const prev = client.last.get(key);
  if (prev === undefined) {
    totals.baselines++;
    client.last.set(key, s);
    return;
  }
  totals.checked[kind]++;
  if (s === prev + 1) {
    client.last.set(key, s);
  } else if (s > prev + 1) {
    totals.lost[kind] += s - prev - 1;
    note({ kind: `lost ${kind}`, slot: client.slot, id: client.socket.id, key, expected: prev + 1, got: s, recovered: client.socket.recovered });
    client.last.set(key, s);
  } else {
    totals.duplicated[kind]++;
    note({ kind: `duplicate ${kind}`, slot: client.slot, id: client.socket.id, key, last: prev, got: s });
  }
}

function connect(slot, port) {
  const socket = io(`http://127.0.0.1:${port}`, {
    transports: ["websocket"],
    forceNew: true,
    reconnectionDelay: 300,
    reconnectionDelayMax: 2000,
    timeout: 20000,
  });
  const client = {
    slot,
    port,
    socket,
    last: new Map(), // stream key => last sequence
    member: new Set(), // rooms joined (acknowledged) and not left
    offsets: { epoch: null, last: -1 },
    pending: false, // reconnecting: not yet known whether recovered
    attempted: false, // the reconnection will present an offset (a recovery attempt)
    busy: false, // a join or leave in flight
    ever: false,
    retired: false,
  };
  slots[slot] = client;
  const onPacket = (kind) => (message, offset) => {
    if (client.retired) return;
    settle(client);
    checkOffset(client, offset);
    if (!message) return;
    if (kind === "r") {
      if (!client.member.has(message.room)) {
        totals.notMember++;
        return;
      }
      check(client, "r", `r:${message.w}:${message.room}`, message.s);
    } else if (kind === "u") {
      check(client, "u", `u:${message.w}:${socket.id}`, message.s);
    } else {
      check(client, "b", `b:${message.w}`, message.s);
    }
  };
  socket.on("b", onPacket("b"));
  socket.on("r", onPacket("r"));
  socket.on("u", onPacket("u"));
  socket.on("connect", () => {
    if (client.retired) return;
    totals.connects++;
    if (!client.ever) {
      client.ever = true;
      joinSome(client);
    }
    settle(client);
  });
  socket.on("connect_error", () => {
    totals.connectErrors++;
  });
  socket.on("disconnect", (reason) => {
    if (client.retired) return;
    if (reason === "io client disconnect") return;
    if (!client.dropping) {
      totals.drops.unplanned++;
      note({ kind: "unplanned disconnect", slot, id: client.lastId, reason });
    }
    client.dropping = false;
    client.pending = true;
    client.attempted = Boolean(socket._pid && socket._lastOffset);
    if (client.attempted) totals.recoveries.attempted++;
    else totals.recoveries.withoutOffset++;
  });
  socket.on("connect", () => {
    client.lastId = socket.id;
  });
  return client;
}

function join(client, room) {
  client.busy = true;
  client.socket
    .timeout(10000)
    .emitWithAck("join", room)
    .then(() => {
      if (client.retired) return;
      totals.joins++;
      client.member.add(room);
    })
    .catch((err) => {
      totals.joinFailed++;
      note({ kind: "join failed", slot: client.slot, room, error: err.message });
    })
    .finally(() => {
      client.busy = false;
    });
}

function leave(client, room) {
  // Out of the room for the check at once: packets still on their way are ignored.
  client.member.delete(room);
  for (const key of [...client.last.keys()]) if (key.startsWith("r:") && key.endsWith(`:${room}`)) client.last.delete(key);
  client.busy = true;
  client.socket
    .timeout(10000)
    .emitWithAck("leave", room)
    .then(() => {
      totals.leaves++;
    })
    .catch((err) => note({ kind: "leave failed", slot: client.slot, room, error: err.message }))
    .finally(() => {
      client.busy = false;
    });
}

function joinSome(client) {
  const rooms = Array.from({ length: cfg.rooms }, (_, k) => `room-${k}`);
  const a = pick(rooms);
  join(client, a);
  // one or two rooms (join acknowledgements come back in order)
  if (random() < 0.5) {
    const b = pick(rooms.filter((r) => r !== a));
    const c = client;
    setTimeout(() => !c.retired && c.socket.connected && !c.pending && join(c, b), 100);
  }
}

const idle = (c) => c && !c.retired && c.socket.connected && !c.pending && !c.busy;

function churn() {
  const candidates = () => slots.filter(idle);
  for (let i = 0; i < cfg.churn.recover; i++) {
    const list = candidates();
    if (list.length === 0) break;
    const client = pick(list);
    client.dropping = true;
    totals.drops.recover++;
    client.socket.io.engine.close(); // socket.io-client reconnects by itself and presents its session
  }
  for (let i = 0; i < cfg.churn.renew; i++) {
    const list = candidates();
    if (list.length === 0) break;
    const client = pick(list);
    client.retired = true;
    client.socket.disconnect();
    client.socket.removeAllListeners();
    totals.drops.renew++;
    connect(client.slot, pick(cfg.ports));
  }
  for (let i = 0; i < cfg.churn.rooms; i++) {
    const list = candidates();
    if (list.length === 0) break;
    const client = pick(list);
    const joined = [...client.member];
    if (joined.length > 0 && (joined.length >= 3 || random() < 0.5)) leave(client, pick(joined));
    else {
      const rooms = Array.from({ length: cfg.rooms }, (_, k) => `room-${k}`).filter((r) => !client.member.has(r));
      if (rooms.length > 0) join(client, pick(rooms));
    }
  }
}

function summary() {
  const live = slots.filter((c) => c && !c.retired);
  return {
    proc: cfg.proc,
    clients: live.length,
    connected: live.filter((c) => c.socket.connected && !c.pending).length,
    checked: { ...totals.checked },
    lost: { ...totals.lost },
    duplicated: { ...totals.duplicated },
    badOffsets: totals.badOffsets,
    recoveries: { ...totals.recoveries },
    drops: { ...totals.drops },
  };
}

serve({
  /** { proc, seed, ports, clients, rooms, churn: { ms, recover, renew, rooms } }: connects every client. */
  async connect(args) {
    cfg = args;
    random = prng(args.seed);
    for (let i = 0; i < args.clients; i++) connect(i, args.ports[(args.proc + i) % args.ports.length]);
    const deadline = Date.now() + 30000;
    while (slots.some((c) => !c.socket.connected || c.busy)) {
      if (Date.now() > deadline) throw new Error("clients not all connected and in their rooms after 30 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    return summary();
  },
  startChurn() {
    churnTimer = setInterval(churn, cfg.churn.ms);
    return true;
  },
  /** Stops the churn; resolves once every client is connected, settled and idle (or after 20 s). */
  async quiesce() {
    clearInterval(churnTimer);
    const deadline = Date.now() + 20000;
    while (slots.some((c) => !idle(c)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return slots.filter((c) => !idle(c)).length;
  },
  summary,
  /**
   * The final check, after the workers stopped: finals = [{ w, b, rooms, uni }]. The last packet
   * of every stream a settled client is on must have arrived (a loss at the very end shows no gap).
   */
  final({ finals }) {
    for (const client of slots) {
      if (!idle(client)) continue;
      for (const f of finals) {
        const expect = [[`b:${f.w}`, f.b, "b"]];
        for (const room of client.member) expect.push([`r:${f.w}:${room}`, f.rooms[room], "r"]);
        expect.push([`u:${f.w}:${client.socket.id}`, f.uni[client.socket.id], "u"]);
        for (const [key, last, kind] of expect) {
          const seen = client.last.get(key);
          if (seen === undefined || last === undefined) continue;
          if (seen < last) {
            totals.lost[kind] += last - seen;
            totals.tailLost += last - seen;
            note({ kind: `lost at the end ${kind}`, slot: client.slot, id: client.socket.id, key, last: seen, final: last });
          }
        }
      }
    }
    return { ...summary(), totals };
  },
  close() {
    clearInterval(churnTimer);
    for (const c of slots) if (c) c.socket.disconnect();
    return true;
  },
});

process.on("disconnect", () => process.exit(0)); // the orchestrator is gone
announceReady({ pid: process.pid });
