"use strict";
// Several machines when Redis fails: a server restarted mid-traffic, a Cluster master failing over
// to its replica, a machine that stops cleanly or dies. Local traffic never depends on Redis;
// cross-machine messages sent while Redis is away are dropped (not queued), requests to the other
// machine end at requestsTimeout, and the hub subscribes everything again once Redis is back.
const { Fleet } = require("./support/fleet");
const { describeWithRedis, startRedis, ownerOf, shardNumSub, cli } = require("./support/redis");
const { TestCluster, settle, waitFor, waitForEvents } = require("./support/cluster");
const { freePort } = require("../bench/harness/redis-server");

const adapterOptions = { heartbeatInterval: 300, heartbeatTimeout: 1500, requestsTimeout: 1500 };
const machine = { primary: "native", workers: ["native", "native"], adapterOptions };
const count = (socket, event) => socket.received.filter((r) => r.event === event).length;

const redisStats = async (machine) => (await machine.hubInfo()).stats;

describeWithRedis("several machines: Redis restarted", () => {
  const fleet = new Fleet([machine, machine]);
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(4);
  });
  afterAll(() => fleet.stop());

  test("local traffic goes on while Redis is away; cross-machine traffic resumes after a restart", async () => {
    const [a, b] = fleet.machines;
    const onA = await fleet.client(1);
    const onB = await fleet.client(2);
    await fleet.waitForCrossing(0, onB);

    await fleet.redis.stop();
    await waitFor(async () => !(await redisStats(a)).redisConnected, "machine A to see Redis gone");
    const droppedBefore = (await redisStats(a)).redisDropped;
    for (let i = 0; i < 20; i++) await fleet.run(0, ({ io }) => io.emit("while-away"));
    await settle(300);
    expect(count(onA, "while-away")).toBe(20); // the other worker of machine A: through the hub only
    expect(count(onB, "while-away")).toBe(0);
    expect((await redisStats(a)).redisDropped).toBeGreaterThanOrEqual(droppedBefore + 20);
    // A request to the other machine's servers ends at requestsTimeout, with what arrived.
    const started = Date.now();
    const outcome = await fleet.run(0, async ({ io }) => {
      try {
        return { sockets: (await io.fetchSockets()).length };
      } catch (err) {
        return { error: err.message };
      }
    });
    expect(Date.now() - started).toBeLessThan(10000);
    expect(outcome.error || outcome.sockets === 1).toBeTruthy();

    fleet.redis = await startRedis({ port: fleet.redis.port });
    await waitFor(
      async () => (await redisStats(a)).redisConnected && (await redisStats(b)).redisConnected,
      "both hubs to reconnect",
      20000,
    );
    await fleet.waitForCrossing(0, onB);
    await fleet.waitForCrossing(3, onA);
    // Rooms and response channels were subscribed again too.
    await fleet.run(2, ({ io }, id) => io.in(id).socketsJoin("after-restart"), onA.id);
    await settle(300);
    await fleet.run(3, ({ io }) => io.to("after-restart").emit("room-after-restart"));
    expect((await waitForEvents(onA, "room-after-restart")).length).toBe(1);
    await fleet.waitForServerCount(4);
    const ids = await fleet.run(3, async ({ io }) => (await io.fetchSockets()).map((s) => s.id).sort());
    expect(ids).toEqual([onA.id, onB.id].sort());
    expect((await redisStats(a)).redisBad).toBe(0);
  });
});

describeWithRedis("several machines: machines leaving", () => {
  const fleet = new Fleet([machine, machine, machine]);
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(6);
  });
  afterAll(() => fleet.stop());

  test("a machine that stops is gone at once; one that dies, after heartbeatTimeout", async () => {
    const [, b, c] = fleet.machines;
    await b.stop(); // its workers exit and the hub tells the others before the primary goes
    const survivors = [0, 1, 4, 5];
    const counts = () => Promise.all(survivors.map((i) => fleet.run(i, ({ io }) => io.of("/").adapter.serverCount())));
    expect(await counts()).toEqual([4, 4, 4, 4]);

    c.primary.kill("SIGKILL"); // its workers lose their primary and exit; nobody says anything
    await waitFor(async () => (await Promise.all([0, 1].map((i) => fleet.run(i, ({ io }) => io.of("/").adapter.serverCount())))).every((n) => n === 2), "machine C to time out", 10000);
  });
});

describeWithRedis("several machines: a Redis Cluster master fails over", () => {
  const fleet = new Fleet([machine, machine], { cluster: { replicas: 1 } });
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(4);
  }, 60000);
  afterAll(() => fleet.stop());

  test("the hubs follow the namespace's channel to the promoted replica", async () => {
    const onA = await fleet.client(1);
    const onB = await fleet.client(2);
    await fleet.waitForCrossing(0, onB);
    const owner = ownerOf(fleet.redis.nodes, "socket.io#/#");
    await owner.stop();
    await waitFor(
      () => ![null, owner].includes(ownerOf(fleet.redis.nodes, "socket.io#/#")),
      "a replica to take over",
      30000,
    );
    await fleet.waitForCrossing(0, onB);
    await fleet.waitForCrossing(3, onA);
    // Away longer than heartbeatTimeout, each machine forgot the other's servers until their
    // next heartbeat.
    await fleet.waitForServerCount(4);
    // Every worker's response channel works again, wherever its slot went.
    for (const worker of [0, 1, 2, 3]) {
      const ids = await fleet.run(worker, async ({ io }) => (await io.fetchSockets()).map((s) => s.id).sort());
      expect(ids).toEqual([onA.id, onB.id].sort());
    }
  }, 60000);
});

describeWithRedis("several machines: bad input and an unreachable Redis", () => {
  test("malformed messages on the channels are dropped and counted; the machine goes on", async () => {
    const fleet = new Fleet([machine, machine]);
    try {
      await fleet.start();
      await fleet.waitForServerCount(4);
      const onB = await fleet.client(2);
      const garbage = [
        "{not json",
        '{"uid":"x","nsp":"/","type":3}', // a BROADCAST without data
        '{"uid":"x","nsp":"/","type":99,"data":{}}',
        '{"uid":"x","nsp":"/","type":8,"data":{"requestId":"1","sockets":[]}}', // a response on a namespace channel
        "\x93\x01\x02",
        "",
      ];
      for (const message of garbage) cli(fleet.redis.port, "spublish", "socket.io#/#", message);
      await settle(300);
      const stats = (await fleet.machines[1].hubInfo()).stats;
      expect(stats.redisBad).toBe(garbage.length);
      await fleet.waitForCrossing(0, onB);
      expect(await fleet.runAll(({ io }) => io.of("/").adapter.serverCount())).toEqual([4, 4, 4, 4]);
    } finally {
      await fleet.stop();
    }
  });

  test("a Redis unreachable at start-up: the primary retries, local traffic works, then it connects", async () => {
    const port = await freePort();
    const local = new TestCluster({ ...machine, primaryOptions: { redis: { url: `redis://127.0.0.1:${port}` } } });
    let redis;
    try {
      await local.start();
      await local.waitForServerCount(2);
      const client = await local.client(1);
      await local.run(0, ({ io }) => io.emit("local"));
      expect((await waitForEvents(client, "local")).length).toBe(1);
      expect((await local.hubInfo()).stats.redisConnected).toBe(false);
      redis = await startRedis({ port });
      await waitFor(async () => (await local.hubInfo()).stats.redisConnected, "the hub to connect", 15000);
      expect(shardNumSub(port, "socket.io#/#")).toBe(1);
    } finally {
      await local.stop();
      if (redis) await redis.stop();
    }
  });
});

describeWithRedis("several machines: a Redis Cluster slot moves", () => {
  const fleet = new Fleet([machine, machine], { cluster: { replicas: 0 } });
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(4);
  }, 60000);
  afterAll(() => fleet.stop());

  test("the hubs follow the namespace's channel to the node its slot moved to", async () => {
    const onA = await fleet.client(1);
    const onB = await fleet.client(2);
    await fleet.waitForCrossing(0, onB);
    const channel = "socket.io#/#";
    const { nodes } = fleet.redis;
    const from = ownerOf(nodes, channel);
    const to = nodes.find((n) => n !== from);
    const id = (node) => cli(node.port, "cluster", "myid").trim();
    const slot = cli(from.port, "cluster", "keyslot", channel).trim();
    // The steps of a resharding, for one slot (a shard channel holds no keys to migrate).
    cli(to.port, "cluster", "setslot", slot, "importing", id(from));
    cli(from.port, "cluster", "setslot", slot, "migrating", id(to));
    for (const node of nodes) cli(node.port, "cluster", "setslot", slot, "node", id(to));
    await waitFor(() => ownerOf(nodes, channel) === to, "the slot to move");
    await waitFor(() => shardNumSub(to.port, channel) === 2, "both hubs subscribed where the slot went", 20000);
    await fleet.waitForCrossing(0, onB);
    await fleet.waitForCrossing(3, onA);
  }, 60000);
});
