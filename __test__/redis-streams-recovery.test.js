"use strict";
// Streams mode: connection state recovery across machines, with the sessions and packets in Redis
// as @socket.io/redis-streams-adapter 0.3 keeps them. Two of our machines (2 workers each) and a
// plain streams-adapter server on one real redis-server; clients recover on any of them, with
// exactly the packets they missed, in order, once.
const { Fleet } = require("./support/fleet");
const { execFileSync } = require("node:child_process");
const { describeWithRedis } = require("./support/redis");
const { TestCluster, settle, waitFor, waitForEvents } = require("./support/cluster");

const serverOptions = { connectionStateRecovery: { maxDisconnectionDuration: 60000 } };
const ours = { primary: "native", workers: ["native", "native"], serverOptions };
const plain = { primary: "none", workers: ["redis-streams"], serverOptions };
// Workers 0, 1: machine A; 2: the plain server; 3, 4: machine B.
const A = [0, 1];
const PLAIN = 2;
const B = [3, 4];
const STREAM_ID = /^\d+-\d+$/;

function recoveringFleet() {
  const fleet = new Fleet([ours, plain, ours], { redisOptions: { mode: "streams", mixedFleet: true } });
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(5);
  });
  afterAll(() => fleet.stop());
  afterEach(() => fleet.disconnectClients());
  return fleet;
}

const sessionKey = (client) => `sio:session:${client._pid}`;

/** redis-cli against the fleet's Redis (following MOVED on a Cluster). */
function cli(fleet, ...args) {
  const port = fleet.redis.port ?? fleet.redis.nodes[0].port;
  return execFileSync("redis-cli", ["-c", "-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8" });
}

/** Drops the client's connection and waits until its server has persisted its session in Redis. */
async function drop(fleet, client) {
  const gone = new Promise((resolve) => client.once("disconnect", resolve));
  client.io.engine.close();
  await gone;
  await waitFor(() => cli(fleet, "exists", sessionKey(client)).trim() === "1", "session in Redis");
}

/**
 * Sends (an emit, from any process) and waits until its entry is on the stream: emits from
 * different servers reach the stream in any order otherwise (a plain server's XADD is written on
 * its client's next tick, a hub's when its link is read), and the stream's order is the order a
 * restored client gets.
 */
async function onStream(fleet, send) {
  const length = () => Number(cli(fleet, "xlen", "socket.io").trim());
  const before = length();
  await send();
  await waitFor(() => length() > before, "the entry on the stream");
}

/** The `seq` of each "missed" event the client got, in order. */
const seqs = (client, event = "missed") => client.received.filter((r) => r.event === event).map((r) => r.args[0]);

describeWithRedis("streams mode: recovery across machines", () => {
  const fleet = recoveringFleet();

  test("a client of machine A recovers on machine B: exactly what it missed, from everywhere, in order, once", async () => {
    const client = await fleet.client(A[0], { rooms: ["r"] });
    await fleet.run(B[0], ({ io }) => io.to("r").emit("before", 0));
    const [before] = await waitForEvents(client, "before");
    expect(before.args).toEqual([0, expect.stringMatching(STREAM_ID)]);
    const id = client.id;
    await drop(fleet, client);
    // Interleaved, from every kind of server, to the client's room, to everyone and elsewhere.
    let seq = 0;
    for (const from of [A[1], B[0], PLAIN, A[0], B[1], PLAIN]) {
      await onStream(fleet, () => fleet.run(from, ({ io }, n) => io.to("r").emit("missed", n), ++seq));
      await onStream(fleet, () => fleet.run(from, ({ io }) => io.to("elsewhere").emit("not-for-it")));
      await onStream(fleet, () => fleet.run(from, ({ io }, n) => io.emit("missed", n), ++seq));
      await onStream(fleet, () => fleet.run(from, ({ io }) => io.except("r").emit("not-for-it")));
    }
    await settle(300);
    await fleet.reconnect(client, B[1]);
    expect(client.recovered).toBe(true);
    expect(client.id).toBe(id);
    await waitFor(() => seqs(client).length >= seq, "missed packets");
    await settle(300);
    expect(seqs(client)).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    expect(client.received.filter((r) => r.event === "not-for-it")).toEqual([]);
    // Each carries its stream id, increasing.
    const offsets = client.received.filter((r) => r.event === "missed").map((r) => r.args[1]);
    const ids = offsets.map((o) => o.split("-").map(BigInt));
    for (let i = 1; i < ids.length; i++) {
      expect(ids[i][0] > ids[i - 1][0] || (ids[i][0] === ids[i - 1][0] && ids[i][1] > ids[i - 1][1])).toBe(true);
    }
    // Its rooms came back: live traffic to them reaches it, once.
    await fleet.run(A[0], ({ io }) => io.to("r").emit("after", 1));
    expect((await waitForEvents(client, "after")).length).toBe(1);
    // The session was taken (GETDEL): it recovers once.
    expect(cli(fleet, "exists", sessionKey(client)).trim()).toBe("0");
  });

  test("persisted by a plain streams-adapter server, restored by ours; and the other way round", async () => {
    const client = await fleet.client(PLAIN, { rooms: ["p"] });
    await fleet.run(A[0], ({ io }) => io.to("p").emit("before", 0));
    await waitForEvents(client, "before");
    const id = client.id;
    await drop(fleet, client);
    for (let n = 1; n <= 3; n++) await onStream(fleet, () => fleet.run(n % 2 ? B[0] : PLAIN, ({ io }, n) => io.to("p").emit("missed", n), n));
    await fleet.reconnect(client, A[1]);
    expect(client.recovered).toBe(true);
    expect(client.id).toBe(id);
    await waitFor(() => seqs(client).length >= 3, "missed packets on ours");
    // Persisted by ours (its data came through the hub), restored by the plain server.
    await fleet.run(A[1], ({ io }, sid) => { io.of("/").sockets.get(sid).data.note = "kept"; }, client.id);
    await drop(fleet, client);
    for (let n = 4; n <= 6; n++) await onStream(fleet, () => fleet.run(n % 2 ? PLAIN : B[1], ({ io }, n) => io.to("p").emit("missed", n), n));
    await fleet.reconnect(client, PLAIN);
    expect(client.recovered).toBe(true);
    expect(client.id).toBe(id);
    await waitFor(() => seqs(client).length >= 6, "missed packets on the plain server");
    await settle(300);
    expect(seqs(client)).toEqual([1, 2, 3, 4, 5, 6]);
    const data = await fleet.run(PLAIN, ({ io }, sid) => io.of("/").sockets.get(sid).data, client.id);
    expect(data).toEqual({ worker: PLAIN, note: "kept" });
  });

  test("the Emitter's broadcasts carry their stream ids and are recovered like any", async () => {
    const client = await fleet.client(A[0], { rooms: ["e"] });
    const [a, , b] = fleet.machines;
    await a.runPrimary(({ pkg }) => new pkg.Emitter().to("e").emit("missed", 0));
    const [first] = await waitForEvents(client, "missed");
    expect(first.args).toEqual([0, expect.stringMatching(STREAM_ID)]);
    await drop(fleet, client);
    await onStream(fleet, () => b.runPrimary(({ pkg }) => new pkg.Emitter().to("e").emit("missed", 1)));
    await onStream(fleet, () => a.runPrimary(({ pkg }) => new pkg.Emitter().to("e").emit("missed", 2)));
    await onStream(fleet, () => fleet.run(PLAIN, ({ io }) => io.to("e").emit("missed", 3)));
    await fleet.reconnect(client, B[0]);
    expect(client.recovered).toBe(true);
    await waitFor(() => seqs(client).length >= 4, "missed packets");
    await settle(300);
    expect(seqs(client)).toEqual([0, 1, 2, 3]);
    for (const r of client.received.filter((e) => e.event === "missed")) expect(r.args[1]).toMatch(STREAM_ID);
  });

  test("a session that expired or an offset trimmed from the stream: a clean new session", async () => {
    const client = await fleet.client(A[0], { rooms: ["t"] });
    await fleet.run(B[0], ({ io }) => io.to("t").emit("before", 0));
    await waitForEvents(client, "before");
    await drop(fleet, client);
    // The session expires after maxDisconnectionDuration (PX), as the adapter sets it.
    const ttl = Number(cli(fleet, "pttl", sessionKey(client)).trim());
    expect(ttl).toBeGreaterThan(50000);
    expect(ttl).toBeLessThanOrEqual(60000);
    cli(fleet, "del", sessionKey(client)); // as if expired
    await fleet.run(A[1], ({ io }) => io.to("t").emit("missed", 1));
    const id = client.id;
    await fleet.reconnect(client, B[1]);
    expect(client.recovered).toBe(false);
    expect(client.id).not.toBe(id);
    await settle(200);
    expect(seqs(client)).toEqual([]);

    // Trimmed under the client's offset (MAXLEN reached while it was away).
    await client.emitWithAck("join", ["t"]);
    await fleet.run(A[0], ({ io }) => io.to("t").emit("before", 1));
    await waitForEvents(client, "before", 2);
    await drop(fleet, client);
    await fleet.run(A[1], ({ io }) => io.to("t").emit("missed", 2));
    cli(fleet, "xtrim", "socket.io", "MAXLEN", "0");
    await fleet.run(A[1], ({ io }) => io.to("t").emit("missed", 3));
    const second = client.id;
    await fleet.reconnect(client, B[0]);
    expect(client.recovered).toBe(false);
    expect(client.id).not.toBe(second);
    await settle(200);
    expect(seqs(client)).toEqual([]);
  });
});

describeWithRedis("streams mode: recovery under a steady stream of broadcasts", () => {
  const fleet = recoveringFleet();

  /** Worker `from` emits "tick" 1..count to room `room`, one every `everyMs` (returns at once). */
  const ticking = (from, room, count, everyMs) =>
    fleet.run(
      from,
      ({ io, state }, room, count, everyMs) => {
        let n = 0;
        state.ticker = setInterval(() => {
          io.to(room).emit("tick", ++n);
          if (n === count) clearInterval(state.ticker);
        }, everyMs);
      },
      room,
      count,
      everyMs,
    );

  test.each([
    ["from another machine (read from the stream)", A[0], B[0], A[1]],
    ["from the machine it recovers on (its own entries)", A[0], B[0], B[1]],
    ["from a plain server", B[0], PLAIN, A[0]],
  ])("ticks %s: every one once, in order, across the drop", async (_, on, from, to) => {
    const client = await fleet.client(on, { rooms: ["tick"] });
    const count = 300;
    await ticking(from, "tick", count, 3);
    await waitFor(() => seqs(client, "tick").length >= 50, "first ticks");
    await drop(fleet, client);
    await settle(100);
    await fleet.reconnect(client, to);
    expect(client.recovered).toBe(true);
    await waitFor(() => seqs(client, "tick").length >= count || seqs(client, "tick").at(-1) === count, "last tick", 10000);
    await settle(300);
    expect(seqs(client, "tick")).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });
});

describeWithRedis("streams mode: recovery after a machine was stopped and started again", () => {
  const fleet = recoveringFleet();

  test("a client of the restarted machine recovers on its new workers", async () => {
    const client = await fleet.client(B[0], { rooms: ["d"] });
    await fleet.run(A[0], ({ io }) => io.to("d").emit("before", 0));
    await waitForEvents(client, "before");
    const id = client.id;
    await drop(fleet, client);
    const m = 2; // machine B
    await fleet.machines[m].stop();
    for (let n = 1; n <= 4; n++) await onStream(fleet, () => fleet.run(n % 2 ? A[0] : PLAIN, ({ io }, n) => io.to("d").emit("missed", n), n));
    const again = new TestCluster({ ...fleet.withRedis(fleet.specs[m]), indexBase: B[0] });
    await again.start();
    fleet.machines[m] = again;
    await fleet.waitForServerCount(5);
    await fleet.reconnect(client, B[1]);
    expect(client.recovered).toBe(true);
    expect(client.id).toBe(id);
    await waitFor(() => seqs(client).length >= 4, "missed packets");
    await settle(300);
    expect(seqs(client)).toEqual([1, 2, 3, 4]);
    client.disconnect(); // the new machine's TestCluster does not know it
  });
});

describeWithRedis("streams mode: recovery across machines on a Redis Cluster of 3 masters", () => {
  const fleet = new Fleet([ours, ours], { cluster: { replicas: 0 }, redisOptions: { mode: "streams" } });
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(4);
  });
  afterAll(() => fleet.stop());
  afterEach(() => fleet.disconnectClients());

  test("a client of machine A recovers on machine B with exactly what it missed, in order", async () => {
    const client = await fleet.client(0, { rooms: ["c"] });
    await fleet.run(2, ({ io }) => io.to("c").emit("before", 0));
    await waitForEvents(client, "before");
    const id = client.id;
    await drop(fleet, client);
    for (let n = 1; n <= 6; n++) await onStream(fleet, () => fleet.run(n % 4, ({ io }, n) => io.to("c").emit("missed", n), n));
    await fleet.run(1, ({ io }) => io.to("elsewhere").emit("missed", -1));
    await fleet.reconnect(client, 3);
    expect(client.recovered).toBe(true);
    expect(client.id).toBe(id);
    await waitFor(() => seqs(client).length >= 6, "missed packets");
    await settle(300);
    expect(seqs(client)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
