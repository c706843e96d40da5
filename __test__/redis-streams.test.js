"use strict";
// Streams mode (`redis: { mode: "streams" }`): the hub speaks @socket.io/redis-streams-adapter
// 0.3's protocol. Two of our machines and a plain streams-adapter server on one real redis-server:
// every feature of the suite from every process, plain server included (with mixedFleet, servers
// counted as the plain server counts them); and our machines alone, counting by heartbeats.
const { describeFeatures } = require("./support/features");
const { Fleet } = require("./support/fleet");
const { describeWithRedis } = require("./support/redis");

const ours = { primary: "native", workers: ["native", "native"] };
const plain = { primary: "none", workers: ["redis-streams"] };

describeWithRedis("streams mode with a plain @socket.io/redis-streams-adapter server", () => {
  const fleet = new Fleet([ours, plain, ours], { redisOptions: { mode: "streams", mixedFleet: true } });
  describeFeatures("2 of our machines x 2 workers + a plain redis-streams-adapter server", fleet.config, fleet);
});

describeWithRedis("streams mode: the Emitter of a primary, with a plain streams-adapter server", () => {
  const { cli } = require("./support/redis");
  const { settle, waitForEvents } = require("./support/cluster");
  const fleet = new Fleet([ours, plain, ours], { redisOptions: { mode: "streams", mixedFleet: true } });
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(5);
  });
  afterAll(() => fleet.stop());

  test("emit (to all, rooms, binary) and serverSideEmit reach every server once; entries are on the stream", async () => {
    const clients = [];
    for (let w = 0; w < 5; w++) {
      const socket = await fleet.client(w, { rooms: [w % 2 ? "odd" : "even"] });
      socket.worker = w;
      clients.push(socket);
    }
    await fleet.runAll(({ state }) => (state.serverSideEvents = []));
    const before = Number(cli(fleet.redis.port, "xlen", "socket.io").trim());
    const [a] = fleet.machines;
    await a.runPrimary(({ pkg }) => {
      const emitter = new pkg.Emitter();
      emitter.emit("news", Buffer.from([1, 2]));
      emitter.to("odd").emit("odd-only", "x");
      emitter.serverSideEmit("hello", 7);
    });
    for (const c of clients) await waitForEvents(c, "news");
    await settle(500);
    const count = (socket, event) => socket.received.filter((r) => r.event === event).length;
    for (const c of clients) {
      expect(count(c, "news")).toBe(1);
      expect([...c.received.find((r) => r.event === "news").args[0]]).toEqual([1, 2]);
      expect(count(c, "odd-only")).toBe(c.worker % 2 ? 1 : 0);
    }
    // Over pub/sub (ephemeral), to every server once, the primary's own machine included.
    expect(await fleet.runAll(({ state }) => state.serverSideEvents)).toEqual(Array(5).fill([[7]]));
    // The two broadcasts went on the stream, once, as the adapter writes them.
    expect(Number(cli(fleet.redis.port, "xlen", "socket.io").trim())).toBe(before + 2);
    const last = cli(fleet.redis.port, "xrevrange", "socket.io", "+", "-", "COUNT", "1").trim().split("\n");
    expect(last.slice(1, 7)).toEqual(["uid", "emitter", "nsp", "/", "type", "3"]);
    expect(last[8]).toMatch(/^\{"packet":/);
  });
});

describeWithRedis("streams mode: streamCount 3 and useShardedPubSub, with a plain server set alike", () => {
  const options = { streamCount: 3, useShardedPubSub: true };
  const fleet = new Fleet([ours, { ...plain, adapterOptions: options }, ours], { redisOptions: { mode: "streams", mixedFleet: true, ...options } });
  // Every feature from one of our workers and from the plain server (all five senders: the first block).
  describeFeatures("2 of our machines x 2 workers + a plain server, streamCount 3, sharded pub/sub", { ...fleet.config, senders: [0, 2] }, fleet);
});

describeWithRedis("streams mode, our machines alone (no mixedFleet): two Redis connections per machine", () => {
  const { cli } = require("./support/redis");
  const fleet = new Fleet([ours, ours], { redisOptions: { mode: "streams" } });
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(4);
  });
  afterAll(() => fleet.stop());

  test("each hub holds two connections (commands and pub/sub, XREAD); servers count each other by heartbeats", async () => {
    // `CLIENT LIST` without the connection of the cli that asks.
    const connections = cli(fleet.redis.port, "client", "list").trim().split("\n").length - 1;
    expect(connections).toBe(4);
    expect(Number(cli(fleet.redis.port, "pubsub", "numsub", "socket.io#/#").trim().split("\n")[1])).toBe(2);
    expect(await fleet.runAll(({ io }) => io.of("/").adapter.serverCount())).toEqual([4, 4, 4, 4]);
    const clients = [];
    for (let w = 0; w < 4; w++) clients.push(await fleet.client(w));
    const ids = await fleet.run(0, async ({ io }) => (await io.fetchSockets()).map((s) => s.id).sort());
    expect(ids).toEqual(clients.map((c) => c.id).sort());
  });
});

describeWithRedis("streams mode on a Redis Cluster of 3 masters", () => {
  const fleet = new Fleet([ours, ours], { cluster: { replicas: 0 }, redisOptions: { mode: "streams" } });
  // Every feature from a worker of each machine (every worker: the first block, on one Redis).
  describeFeatures("2 of our machines x 2 workers, Redis Cluster", { ...fleet.config, senders: [0, 2] }, fleet);
});

describeWithRedis("streams mode on a Redis Cluster with streamCount 3: one blocking reader per stream", () => {
  const { cli } = require("./support/redis");
  const { settle, waitForEvents } = require("./support/cluster");
  const fleet = new Fleet([ours, ours], { cluster: { replicas: 0 }, redisOptions: { mode: "streams", streamCount: 3, blockTimeInMs: 2000 } });
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(4);
  });
  afterAll(() => fleet.stop());
  // XREAD calls on every node of the Cluster.
  const xreads = () =>
    fleet.redis.nodes.reduce((sum, node) => {
      const line = cli(node.port, "info", "commandstats").split("\n").find((l) => l.startsWith("cmdstat_xread:"));
      return sum + (line ? Number(/calls=(\d+)/.exec(line)[1]) : 0);
    }, 0);

  test("broadcasts cross both ways, once; idle readers block (about one XREAD per reader per blockTimeInMs), never poll", async () => {
    const clients = [];
    for (let w = 0; w < 4; w++) clients.push(await fleet.client(w, { rooms: [w < 2 ? "a" : "b"] }));
    await fleet.run(0, ({ io }) => io.to("b").emit("to-b", 1));
    await fleet.run(3, ({ io }) => io.emit("to-all", 2));
    for (const c of clients.slice(2)) await waitForEvents(c, "to-b");
    for (const c of clients) await waitForEvents(c, "to-all");
    await settle(300);
    for (const c of clients) {
      expect(c.received.filter((r) => r.event === "to-all").length).toBe(1);
      expect(c.received.filter((r) => r.event === "to-b").length).toBe(c === clients[2] || c === clients[3] ? 1 : 0);
    }
    // 2 machines x 5 streams (the adapter's hash keeps its sign: indices -2..2) = 10 readers, each
    // blocking 2 s: 10 calls in 2 s (seen), where reading in turn with 1 ms blocks made 100.
    const before = xreads();
    await settle(2000);
    expect(xreads() - before).toBeLessThanOrEqual(30);
  });
});

describeWithRedis("streams mode: onlyPlaintext, with a plain server set alike", () => {
  const { cli } = require("./support/redis");
  const { waitForEvents } = require("./support/cluster");
  const fleet = new Fleet([ours, { ...plain, adapterOptions: { onlyPlaintext: true } }], {
    redisOptions: { mode: "streams", mixedFleet: true, onlyPlaintext: true },
  });
  beforeAll(async () => {
    await fleet.start();
    await fleet.waitForServerCount(3);
  });
  afterAll(() => fleet.stop());

  test("every entry is JSON, a Buffer crosses as JSON.stringify writes it, both ways alike", async () => {
    const onOurs = await fleet.client(0);
    const onPlain = await fleet.client(2);
    await fleet.run(1, ({ io }) => io.emit("bin", "ours", Buffer.from([1, 2])));
    await fleet.run(2, ({ io }) => io.emit("bin", "plain", Buffer.from([1, 2])));
    const buffer = { type: "Buffer", data: [1, 2] };
    // Each machine's own clients get the Buffer; the other's, its JSON, as plain servers do.
    const seen = async (client) => {
      const got = await waitForEvents(client, "bin", 2);
      return Object.fromEntries(got.map((r) => [r.args[0], Buffer.isBuffer(r.args[1]) ? "buffer" : r.args[1]]));
    };
    expect(await seen(onPlain)).toEqual({ ours: buffer, plain: "buffer" });
    expect(await seen(onOurs)).toEqual({ ours: "buffer", plain: buffer });
    const lines = cli(fleet.redis.port, "xrange", "socket.io", "-", "+").trim().split("\n");
    const data = lines.filter((_, i) => lines[i - 1] === "data");
    expect(data.length).toBeGreaterThanOrEqual(2);
    for (const d of data) expect(d.startsWith("{")).toBe(true);
  });
});
