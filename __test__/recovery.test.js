"use strict";
// Connection state recovery across the cluster (socket.io >= 4.6 `connectionStateRecovery`):
// sessions and missed packets are kept by our primary's hub, so a client recovers on any worker.

const { TestCluster, dropConnection, linkState, settle, sleep, waitFor, waitForEvents } = require("./support/cluster");


function startCluster(config) {
  const cluster = new TestCluster({
    primary: "native",
    serverOptions: { connectionStateRecovery: { maxDisconnectionDuration: 5000 } },
    ...config,
  });
  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(config.workers.length);
    const natives = config.workers.flatMap((kind, i) => (kind === "native" ? [i] : []));
    if (config.primary !== "reference") {
      await waitFor(async () => (await Promise.all(natives.map((i) => cluster.run(i, linkState)))).every((s) => s === "linked"), "links");
    }
  });
  afterAll(() => cluster.stop());
  afterEach(() => cluster.disconnectClients());
  return cluster;
}

const events = (client, name) => client.received.filter((r) => r.event === name).map((r) => r.args[0]);

describe.each([
  ["the same worker", 0],
  ["another worker", 1],
])("our primary (hub) + our workers: recover on %s", (_, target) => {
  const cluster = startCluster({ workers: ["native", "native", "native"] });

  test("same id, rooms and data, every missed packet in order exactly once, from every worker", async () => {
    const client = await cluster.client(0, { rooms: ["r"] });
    const other = await cluster.client(1, { rooms: ["r"] });
    const id = client.id;
    await cluster.run(0, ({ io }, sid) => (io.of("/").sockets.get(sid).data.note = "kept"), id);
    await cluster.run(2, ({ io }) => io.to("r").emit("m", "before"));
    await waitForEvents(client, "m", 1);
    expect(typeof client._lastOffset).toBe("string");

    await dropConnection(cluster, client, 0);
    await cluster.run(0, ({ io }) => io.to("r").emit("m", "w0 to r"));
    await cluster.run(1, ({ io }) => io.emit("m", "w1 to all"));
    await cluster.run(2, ({ io }) => io.to("elsewhere").emit("m", "w2 to elsewhere"));
    await cluster.run(2, ({ io }, sid) => io.to("r").except(sid).emit("m", "w2 to r except it"), id);
    await cluster.run(1, ({ io }, sid) => io.to(sid).emit("m", "w1 to its id"), id);
    await cluster.run(0, ({ io }) => io.volatile.emit("m", "volatile: not stored"));
    await waitForEvents(other, "m", 5); // everything has gone through the hub

    await cluster.reconnect(client, target);
    expect(client.recovered).toBe(true);
    expect(client.id).toBe(id);
    await settle(300);
    expect(events(client, "m")).toEqual(["before", "w0 to r", "w1 to all", "w1 to its id"]);

    const [details] = await cluster.run(target, async ({ io }, sid) => {
      const [s] = await io.in(sid).fetchSockets();
      return [{ rooms: [...s.rooms].sort(), data: s.data }];
    }, id);
    expect(details.rooms).toEqual([id, "r"].sort());
    // `note` came back with the session; `worker` is rewritten by the "connection" handler of the
    // test server, which socket.io runs for recovered sockets too.
    expect(details.data).toEqual({ worker: target, note: "kept" });

    // It keeps receiving, and its offset keeps advancing.
    await cluster.run(2, ({ io }) => io.to("r").emit("m", "after"));
    await waitForEvents(client, "m", 5);
    expect(events(client, "m").slice(-1)).toEqual(["after"]);
  });
});

describe("our primary (hub) + 3 of our workers: routing by room with recovery on", () => {
  const cluster = startCluster({ workers: ["native", "native", "native"] });
  const unrouted = ({ require }) => require("../../lib/transport").stats.unrouted;

  test("socket.emit() reaches no other worker, and still gets its offset from the hub's log", async () => {
    const client = await cluster.client(0);
    const { stats: before } = await cluster.hubInfo();
    const unroutedBefore = await cluster.runAll(unrouted);
    await cluster.run(0, ({ io }, sid) => {
      const socket = io.of("/").sockets.get(sid);
      for (let i = 0; i < 10; i++) socket.emit("own", i);
    }, client.id);
    const got = await waitForEvents(client, "own", 10);
    expect(got.map((r) => r.args[0])).toEqual([...Array(10).keys()]);
    const offsets = got.map((r) => r.args[1]);
    for (const offset of offsets) expect(offset).toMatch(/^[0-9a-f]+-\d+$/);
    const positions = offsets.map((o) => Number(o.split("-")[1]));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    const { stats: after } = await cluster.hubInfo();
    expect(after.skipped - before.skipped).toBe(20); // 10 packets, 2 other workers each
    expect(await cluster.runAll(unrouted)).toEqual(unroutedBefore);
  });
});

describe("our primary (hub) + our workers: packets emitted while the client recovers", () => {
  const cluster = startCluster({ workers: ["native", "native"] });

  test("are neither lost nor doubled", async () => {
    const client = await cluster.client(0, { rooms: ["seq"] });
    // Worker 1 emits a numbered packet every 2 ms while the client drops and recovers on worker 1.
    const emitting = cluster.run(1, async ({ io }) => {
      for (let i = 0; i < 400; i++) {
        io.to("seq").emit("n", i);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    });
    await waitForEvents(client, "n", 20);
    await dropConnection(cluster, client, 0);
    await cluster.reconnect(client, 1);
    expect(client.recovered).toBe(true);
    await emitting;
    await waitForEvents(client, "n", 400, 10000);
    await settle(200);
    expect(events(client, "n")).toEqual([...Array(400).keys()]);
  });
});

describe("our primary (hub) + our workers: when recovery is not possible", () => {
  const cluster = startCluster({
    workers: ["native", "native"],
    serverOptions: { connectionStateRecovery: { maxDisconnectionDuration: 800 } },
    primaryOptions: { recovery: { maxPackets: 5 } },
  });

  test("after maxDisconnectionDuration the client gets a new session", async () => {
    const client = await cluster.client(0, { rooms: ["r"] });
    const id = client.id;
    await cluster.run(1, ({ io }) => io.to("r").emit("m", 1));
    await waitForEvents(client, "m", 1);
    await dropConnection(cluster, client, 0);
    await sleep(1200);
    await cluster.reconnect(client, 1);
    expect(client.recovered).toBe(false);
    expect(client.id).not.toBe(id);
  });

  test("when what it missed is no longer in the log, it gets a new session, no partial history", async () => {
    const client = await cluster.client(0, { rooms: ["r"] });
    const id = client.id;
    await cluster.run(1, ({ io }) => io.to("r").emit("m", 0));
    await waitForEvents(client, "m", 1);
    await dropConnection(cluster, client, 0);
    await cluster.run(1, ({ io }) => {
      for (let i = 1; i <= 10; i++) io.to("r").emit("m", i); // the log keeps 5
    });
    await settle(200);
    await cluster.reconnect(client, 1);
    expect(client.recovered).toBe(false);
    expect(client.id).not.toBe(id);
    await settle(200);
    expect(events(client, "m")).toEqual([0]);
  });
});

describe("our primary (hub) + our workers: offsets a client makes up", () => {
  const cluster = startCluster({ workers: ["native", "native"] });

  // A client controls `auth.offset`. A position past 2^32 is packed by msgpackr as a float64
  // (the hub refused to read it and never answered: 10 s of silence); an unsafe integer, a
  // negative or fractional one or garbage must not reach the hub at all. Each gets a new session
  // at once, well before the hub request's 10 s timeout.
  test.each([
    ["past 2^32 (float64 on the wire)", (epoch) => `${epoch}-${2 ** 32 + 5}`],
    ["past 2^53", (epoch) => `${epoch}-99999999999999999999`],
    ["negative", (epoch) => `${epoch}--1`],
    ["fractional", (epoch) => `${epoch}-1.5`],
    ["garbage", () => "garbage"],
  ])("an offset %s gets a new session at once", async (_, makeOffset) => {
    const client = await cluster.client(0, { rooms: ["r"] });
    const id = client.id;
    await cluster.run(1, ({ io }) => io.to("r").emit("m", 1));
    await waitForEvents(client, "m", 1);
    const epoch = client._lastOffset.split("-")[0];
    await dropConnection(cluster, client, 0);
    client._lastOffset = makeOffset(epoch);
    const started = Date.now();
    await cluster.reconnect(client, 1);
    const elapsed = Date.now() - started;
    expect(client.recovered).toBe(false);
    expect(client.id).not.toBe(id);
    expect(elapsed).toBeLessThan(5000); // behaviour, not speed: the timeout it waited was 10 s
  }, 60000);
});

describe("our primary (hub) + mixed workers", () => {
  const cluster = startCluster({ workers: ["native", "native", "reference"] });

  test("our workers' clients recover what our workers emitted; reference workers' packets are not stored", async () => {
    const client = await cluster.client(0, { rooms: ["r"] });
    await cluster.run(1, ({ io }) => io.to("r").emit("m", "from ours"));
    await waitForEvents(client, "m", 1);
    await dropConnection(cluster, client, 0);
    await cluster.run(1, ({ io }) => io.to("r").emit("m", "missed, from ours"));
    await cluster.run(2, ({ io }) => io.to("r").emit("m", "missed, from a reference worker"));
    await settle(300);
    await cluster.reconnect(client, 1);
    expect(client.recovered).toBe(true);
    await settle(300);
    expect(events(client, "m")).toEqual(["from ours", "missed, from ours"]);
  });
});

describe("the reference's primary + our workers (no hub)", () => {
  const cluster = startCluster({ primary: "reference", workers: ["native", "native"] });

  test("recovery is refused, never half-done: the client gets a new session", async () => {
    const client = await cluster.client(0, { rooms: ["r"] });
    const id = client.id;
    await cluster.run(1, ({ io }) => io.to("r").emit("m", 1));
    await waitForEvents(client, "m", 1);
    await dropConnection(cluster, client, 0);
    await cluster.run(1, ({ io }) => io.to("r").emit("m", 2));
    await cluster.reconnect(client, 0);
    expect(client.recovered).toBe(false);
    expect(client.id).not.toBe(id);
  });
});
