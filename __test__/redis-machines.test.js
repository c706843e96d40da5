"use strict";
// Several machines through one Redis: every feature of the suite, from every worker, across two
// machines (two primaries with our hub, 2 workers each), as if they were one socket.io server.
const { describeFeatures } = require("./support/features");
const { Fleet } = require("./support/fleet");
const { describeWithRedis } = require("./support/redis");
const { settle } = require("./support/cluster");

const machine = { primary: "native", workers: ["native", "native"] };

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
});
