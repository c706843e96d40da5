"use strict";
// Streams mode when things go wrong, and under many restores at once: two of our machines (2
// workers each, connection state recovery on) on one real redis-server.
const { Fleet } = require("./support/fleet");
const { describeWithRedis, startRedis, cli, ownerOf } = require("./support/redis");
const { settle, waitFor, waitForEvents } = require("./support/cluster");

const serverOptions = { connectionStateRecovery: { maxDisconnectionDuration: 60000 } };
const ours = { primary: "native", workers: ["native", "native"], serverOptions };

function streamsFleet() {
  const fleet = new Fleet([ours, ours], { redisOptions: { mode: "streams" } });
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(4);
  });
  afterAll(() => fleet.stop());
  afterEach(() => fleet.disconnectClients());
  return fleet;
}

const events = (client, event) => client.received.filter((r) => r.event === event);

describeWithRedis("streams mode: Redis restarted", () => {
  const fleet = streamsFleet();

  test("local traffic goes on while Redis is away (stored broadcasts without an offset); cross-machine traffic resumes; sessions kept in the lost Redis are new sessions", async () => {
    const a0 = await fleet.client(0);
    const a1 = await fleet.client(1);
    const b0 = await fleet.client(2);
    const away = await fleet.client(1, { rooms: ["away"] });
    await fleet.run(0, ({ io }) => io.emit("up", 1));
    for (const c of [a0, a1, b0, away]) await waitForEvents(c, "up");
    // A session persisted in the Redis about to be lost.
    const gone = new Promise((resolve) => away.once("disconnect", resolve));
    away.io.engine.close();
    await gone;
    const key = `sio:session:${away._pid}`;
    await waitFor(() => cli(fleet.redis.port, "exists", key).trim() === "1", "session in Redis");

    const port = fleet.redis.port;
    await fleet.redis.stop();
    for (let n = 1; n <= 5; n++) await fleet.run(0, ({ io }, n) => io.emit("down", n), n);
    // Machine A's own clients get every one, in order, without an offset (nothing stored them).
    await waitForEvents(a1, "down", 5);
    await waitForEvents(a0, "down", 5);
    for (const c of [a0, a1]) {
      expect(events(c, "down").map((r) => r.args[0])).toEqual([1, 2, 3, 4, 5]);
      // No stream id: "" on the sender's sockets, none (null) on the other worker's.
      for (const r of events(c, "down")) expect(r.args[1] == null || r.args[1] === "").toBe(true);
    }
    await settle(300);
    expect(events(b0, "down")).toEqual([]);

    fleet.redis = await startRedis({ port });
    // Once the hubs are back (the bridge and the stream reader reconnect), machines hear each other.
    let n = 0;
    await waitFor(
      async () => {
        await fleet.run(0, ({ io }, n) => io.emit("again", n), ++n);
        await fleet.run(2, ({ io }, n) => io.emit("again-b", n), n);
        await settle(100);
        return events(b0, "again").length > 0 && events(a1, "again-b").length > 0;
      },
      "traffic across machines after the restart",
      20000,
    );
    const before = events(b0, "again").length;
    await fleet.run(0, ({ io }) => io.emit("again", "last"));
    await waitFor(() => events(b0, "again").length === before + 1, "one more");
    expect(events(b0, "again").at(-1).args[0]).toBe("last");
    expect(events(b0, "again").at(-1).args[1]).toMatch(/^\d+-\d+$/);

    // The session was in the Redis that restarted empty: a new session, cleanly.
    const id = away.id;
    await fleet.reconnect(away, 2);
    expect(away.recovered).toBe(false);
    expect(away.id).not.toBe(id);
  });
});

describeWithRedis("streams mode: many restores at once", () => {
  const fleet = streamsFleet();

  test("200 clients of machine A recover on machine B at once, each with exactly what it missed; B's own traffic keeps flowing meanwhile", async () => {
    const N = 200;
    const clients = [];
    for (let i = 0; i < N; i++) clients.push(await fleet.client(i % 2, { rooms: [i % 2 ? "odd" : "even"] }));
    await fleet.run(2, ({ io }) => io.emit("before"));
    await Promise.all(clients.map((c) => waitForEvents(c, "before")));
    const ids = clients.map((c) => c.id);
    await Promise.all(
      clients.map((c) => {
        const gone = new Promise((resolve) => c.once("disconnect", resolve));
        c.io.engine.close();
        return gone;
      }),
    );
    await waitFor(() => Number(cli(fleet.redis.port, "eval", "return #redis.call('keys', 'sio:session:*')", "0").trim()) === N, "sessions in Redis", 10000);
    // Each on the stream before the next is sent: the stream's order is the order clients get, and
    // two machines' emits in flight at once may reach it either way (seen under load: 5 before 4).
    const streamLength = () => Number(cli(fleet.redis.port, "xlen", "socket.io").trim());
    const emitted = async (worker, fn, n) => {
      const before = streamLength();
      await fleet.run(worker, fn, n);
      await waitFor(() => streamLength() > before, `packet ${n} on the stream`);
    };
    for (let n = 1; n <= 5; n++) await emitted(n % 2 ? 0 : 3, ({ io }, n) => io.to("even").emit("missed", n), n);
    for (let n = 6; n <= 8; n++) await emitted(1, ({ io }, n) => io.emit("missed", n), n);

    const probe = await fleet.client(3, { rooms: ["probe"] });
    const started = Date.now();
    const restoring = Promise.all(clients.map((c, i) => fleet.reconnect(c, 2 + (i % 2))));
    // Meanwhile machine B keeps routing its own traffic.
    const latencies = [];
    for (let k = 0; k < 10; k++) {
      const sent = Date.now();
      await fleet.run(2, ({ io }, k) => io.to("probe").emit("probe", k), k);
      await waitForEvents(probe, "probe", k + 1);
      latencies.push(Date.now() - sent);
    }
    await restoring;
    const restoredIn = Date.now() - started;
    expect(clients.every((c, i) => c.recovered && c.id === ids[i])).toBe(true);
    await waitFor(() => clients.every((c) => events(c, "missed").length >= (clients.indexOf(c) % 2 ? 3 : 8)), "missed packets", 10000);
    await settle(300);
    clients.forEach((c, i) => {
      expect(events(c, "missed").map((r) => r.args[0])).toEqual(i % 2 ? [6, 7, 8] : [1, 2, 3, 4, 5, 6, 7, 8]);
    });
    // eslint-disable-next-line no-console
    console.log(`${N} restores on machine B in ${restoredIn} ms; probe round trips meanwhile (ms): ${latencies.join(", ")}`);
    // (No bound on those round trips here: timings belong to the bench, not to tests on shared machines.)
  });
});

describeWithRedis("streams mode: bad input on the stream and the channels", () => {
  const fleet = streamsFleet();

  test("malformed entries and messages are dropped and counted; the machine goes on", async () => {
    const onB = await fleet.client(2, { rooms: ["r"] });
    const before = (await fleet.machines[1].hubInfo()).stats.redisBad;
    const entries = [
      ["uid", "x", "type", "3", "data", "{}"], // no nsp
      ["uid", "x", "nsp", "/", "type", "three", "data", "{}"],
      ["uid", "x", "nsp", "/", "type", "3", "data", "{not json"],
      ["uid", "x", "nsp", "/", "type", "3", "data", "!!not base64!!"],
      ["uid", "x", "nsp", "/", "type", "3", "data", "kw=="], // base64 of a cut MessagePack array
      ["uid", "x", "nsp", "/", "type", "3", "data", '{"packet":{"type":2,"data":["ev"]}}'], // no opts
      ["uid", "x", "nsp", "/", "type", "3", "data", `{"a":${"[".repeat(5000)}${"]".repeat(5000)}}`],
    ];
    for (const fields of entries) cli(fleet.redis.port, "xadd", "socket.io", "*", ...fields);
    for (const message of ["{not json", "\x93\x01", ""]) cli(fleet.redis.port, "publish", "socket.io#/#", message);
    await settle(500);
    const after = (await fleet.machines[1].hubInfo()).stats.redisBad;
    expect(after - before).toBe(entries.length + 3);
    await fleet.waitForCrossing(0, onB);
    // A well-formed entry written by someone else still arrives, with its id as offset.
    cli(fleet.redis.port, "xadd", "socket.io", "*", "uid", "other", "nsp", "/", "type", "3", "data",
      JSON.stringify({ packet: { type: 2, data: ["hand-made", 1], nsp: "/" }, opts: { rooms: ["r"], except: [], flags: {} } }));
    const [got] = await waitForEvents(onB, "hand-made");
    expect(got.args).toEqual([1, expect.stringMatching(/^\d+-\d+$/)]);
  });
});

describeWithRedis("streams mode: a Redis Cluster master fails over", () => {
  const fleet = new Fleet([ours, ours], { cluster: { replicas: 1 }, redisOptions: { mode: "streams" } });
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(4);
  }, 60000);
  afterAll(() => fleet.stop());

  test("the stream's master stops: its replica takes over and traffic crosses machines again", async () => {
    const onA = await fleet.client(1);
    const onB = await fleet.client(2);
    await fleet.waitForCrossing(0, onB);
    await fleet.waitForCrossing(3, onA);
    const owner = ownerOf(fleet.redis.nodes, "socket.io");
    await owner.stop();
    await waitFor(() => ![null, owner].includes(ownerOf(fleet.redis.nodes, "socket.io")), "a replica to take over", 30000);
    await fleet.waitForCrossing(0, onB);
    await fleet.waitForCrossing(3, onA);
    await fleet.waitForServerCount(4);
    for (const worker of [0, 1, 2, 3]) {
      const ids = await fleet.run(worker, async ({ io }) => (await io.fetchSockets()).map((s) => s.id).sort());
      expect(ids).toEqual([onA.id, onB.id].sort());
    }
  }, 60000);
});
