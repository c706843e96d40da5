"use strict";
// Several machines through one Redis: every feature of the suite, from every worker, across two
// machines (two primaries with our hub, 2 workers each), as if they were one socket.io server.
const { describeFeatures } = require("./support/features");
const { Fleet } = require("./support/fleet");
const { describeWithRedis, shardNumSub } = require("./support/redis");
const { dropConnection, settle, waitFor, waitForEvents } = require("./support/cluster");

const machine = { primary: "native", workers: ["native", "native"] };

/** Two machines whose workers keep sessions for recovery, started for the describe block that calls it. */
function recoveringFleet() {
  const serverOptions = { connectionStateRecovery: { maxDisconnectionDuration: 60000 } };
  const fleet = new Fleet([
    { ...machine, serverOptions },
    { ...machine, serverOptions },
  ]);
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(4);
  });
  afterAll(() => fleet.stop());
  return fleet;
}

describeWithRedis("several machines, one Redis", () => {
  const fleet = new Fleet([machine, machine]);
  describeFeatures("2 machines x 2 workers (ours), Redis standalone", fleet.config, fleet);
});

describeWithRedis("several machines, a Redis Cluster of 3 masters", () => {
  const fleet = new Fleet([machine, machine], { cluster: { replicas: 0 } });
  describeFeatures("2 machines x 2 workers (ours), Redis Cluster", fleet.config, fleet);
});

describeWithRedis("several machines: the Emitter of a primary", () => {
  const fleet = new Fleet([machine, machine]);
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(4);
  });
  afterAll(() => fleet.stop());

  test("reaches the clients of every machine once, to all and to rooms, binary kept", async () => {
    const clients = [];
    for (let w = 0; w < 4; w++) {
      const socket = await fleet.client(w, { rooms: [w % 2 ? "odd" : "even"] });
      socket.worker = w;
      clients.push(socket);
    }
    const [a] = fleet.machines;
    await a.runPrimary(({ pkg }) => {
      const emitter = new pkg.Emitter();
      emitter.emit("news", Buffer.from([1, 2]));
      emitter.to("odd").emit("odd-only", "x");
      emitter.except("odd").emit("not-odd");
    });
    await settle(500);
    const count = (socket, event) => socket.received.filter((r) => r.event === event).length;
    for (const c of clients) {
      expect(count(c, "news")).toBe(1);
      expect([...c.received.find((r) => r.event === "news").args[0]]).toEqual([1, 2]);
      expect(count(c, "odd-only")).toBe(c.worker % 2 ? 1 : 0);
      expect(count(c, "not-odd")).toBe(c.worker % 2 ? 0 : 1);
    }
    // The primary is no server: every worker still counts the 4 workers.
    expect(await fleet.runAll(({ io }) => io.of("/").adapter.serverCount())).toEqual([4, 4, 4, 4]);
  });

  test("without connection state recovery in any worker, broadcasts of the Emitter and of other machines take no place in a log", async () => {
    const client = await fleet.client(0);
    await fleet.run(3, ({ io }) => io.emit("from-b", 1));
    await fleet.machines[1].runPrimary(({ pkg }) => new pkg.Emitter().emit("from-emitter", 2));
    await waitForEvents(client, "from-b");
    // No offset appended (nobody recovers), and none stored in either machine's log.
    expect((await waitForEvents(client, "from-emitter"))[0].args).toEqual([2]);
    for (const machine of fleet.machines) expect((await machine.hubInfo()).stats.logPackets).toBe(0);
  });
});

describeWithRedis("several machines: connection state recovery", () => {
  const fleet = recoveringFleet();

  test("within a machine a client recovers; on another machine it gets a new session, cleanly", async () => {
    const client = await fleet.client(0, { rooms: ["r"] });
    await fleet.run(3, ({ io }) => io.to("r").emit("before", 1)); // from the other machine
    // It carries an offset of this machine's log (a worker with recovery appends one, even none).
    expect((await waitForEvents(client, "before"))[0].args).toEqual([1, expect.stringMatching(/^[0-9a-f]+-\d+$/)]);
    const [a] = fleet.machines;
    await dropConnection(a, client, 0);
    await fleet.run(2, ({ io }) => io.to("r").emit("missed", 2)); // from the other machine
    await settle(300);
    await fleet.reconnect(client, 1); // the same machine, another worker
    expect(client.recovered).toBe(true);
    expect((await waitForEvents(client, "missed"))[0].args).toEqual([2, expect.stringMatching(/^[0-9a-f]+-\d+$/)]);

    const id = client.id;
    await dropConnection(a, client, 1);
    await fleet.reconnect(client, 2); // the other machine
    expect(client.recovered).toBe(false);
    expect(client.id).not.toBe(id);
    await fleet.run(0, ({ io }) => io.emit("after", 3));
    expect((await waitForEvents(client, "after")).length).toBe(1);
  });
});

describeWithRedis("several machines: another machine's rooms cost nothing here", () => {
  const fleet = recoveringFleet();

  test("a join and broadcasts to rooms nobody here has subscribe no channel and take no place in this machine's log", async () => {
    const onA = await fleet.client(0, { rooms: ["a1", "a2"] });
    const onB = await fleet.client(2, { rooms: ["b"] });
    const [, b] = fleet.machines;
    await settle(1500); // B's subscriptions reconciled
    const before = (await b.hubInfo()).stats;
    // From machine A, to rooms only machine A has (two rooms: the namespace's channel, which B hears).
    await fleet.run(1, ({ io }) => {
      const rooms = Array.from({ length: 5000 }, (_, i) => `joined-${i}`);
      io.in(["a1", "a2"]).socketsJoin(rooms);
      for (let i = 0; i < 50; i++) io.to(["a1", "a2"]).emit("x", i);
    });
    // B's channels, watched until its reconcile has run (a channel subscribed by mistake is left
    // by the next reconcile: watch for it meanwhile).
    let most = 0;
    for (let i = 0; i < 60; i++) {
      most = Math.max(most, (await b.hubInfo()).stats.redisChannels);
      await settle(25);
    }
    await waitForEvents(onA, "x", 50);
    const after = (await b.hubInfo()).stats;
    expect(most).toBe(before.redisChannels);
    expect(after.redisChannels).toBe(before.redisChannels);
    expect(after.logPackets).toBe(before.logPackets);

    // A broadcast that concerns machine B (its client's room) is stored there, as is one to a
    // room only a disconnected client of B has in its stored session.
    await fleet.run(0, ({ io }) => io.to(["b", "nowhere"]).emit("y"));
    await waitForEvents(onB, "y");
    expect((await b.hubInfo()).stats.logPackets).toBe(before.logPackets + 1);
    await fleet.run(2, ({ io }, id) => io.in(id).socketsJoin("b-only"), onB.id);
    await settle(300);
    await dropConnection(b, onB, 0);
    await fleet.run(0, ({ io }) => io.to(["b-only", "nowhere"]).emit("missed"));
    await waitFor(async () => (await b.hubInfo()).stats.logPackets === before.logPackets + 2, "stored for the session");
    await fleet.reconnect(onB, 3);
    expect(onB.recovered).toBe(true);
    expect((await waitForEvents(onB, "missed")).length).toBe(1);
  });
});

describe.each(["dynamic", "dynamic-private", "static"])("several machines, subscriptionMode %s", (mode) => {
  describeWithRedis("rooms", () => {
    const fleet = new Fleet([machine, machine], { redisOptions: { subscriptionMode: mode } });
    beforeAll(async () => {
      await fleet.start();
      await fleet.waitForServerCount(4);
    });
    afterAll(() => fleet.stop());

    test("a room's broadcasts reach its members on every machine; Redis carries them only to machines that have it", async () => {
      const onA = await fleet.client(0, { rooms: ["only-a"] });
      const onB = await fleet.client(2, { rooms: ["both"] });
      const alsoA = await fleet.client(1, { rooms: ["both"] });
      const room = (name) => `socket.io#/#${name}#`;
      const numsub = (name) => shardNumSub(fleet.redis.port, room(name));
      await waitFor(() => numsub("both") === (mode === "static" ? 0 : 2), "room channels subscribed");
      // In the dynamic modes a room's channel has the machines that have it, no other.
      expect(numsub("only-a")).toBe(mode === "static" ? 0 : 1);
      // A socket id is a room of its own channel only in dynamic-private.
      expect(numsub(onB.id)).toBe(mode === "dynamic-private" ? 1 : 0);
      await fleet.run(3, ({ io }) => {
        io.to("only-a").emit("a");
        io.to("both").emit("b");
      });
      await fleet.run(1, ({ io }, id) => io.to(id).emit("direct"), onB.id);
      await settle(300);
      const count = (socket, event) => socket.received.filter((r) => r.event === event).length;
      expect([count(onA, "a"), count(onB, "a"), count(alsoA, "a")]).toEqual([1, 0, 0]);
      expect([count(onA, "b"), count(onB, "b"), count(alsoA, "b")]).toEqual([0, 1, 1]);
      expect(count(onB, "direct")).toBe(1);
      // Once nobody of machine A is in "only-a", its channel is left (within the hub's reconcile).
      if (mode !== "static") {
        onA.disconnect();
        await waitFor(() => numsub("only-a") === 0, "the room's channel left", 5000);
      }
    });
  });
});
