"use strict";
// Emit from the primary: the Emitter (@socket.io/redis-emitter's API) through our primary's hub
// (routing by room, the recovery log), over IPC to the reference's workers, and with the IPC relay
// (`hub: false`). Real primary, real workers, real socket.io clients.

const { execFileSync } = require("node:child_process");
const path = require("node:path");
const { TestCluster, dropConnection, linkState, settle, waitFor, waitForEvents } = require("./support/cluster");

function startCluster(config) {
  const cluster = new TestCluster({ primary: "native", adapterOptions: { heartbeatInterval: 500 }, ...config });
  const n = config.workers.length;
  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(n);
    await cluster.waitForServerCount(n, "/chat");
    if (config.primaryOptions && config.primaryOptions.hub === false) return;
    const natives = config.workers.flatMap((kind, i) => (kind === "native" ? [i] : []));
    await waitFor(async () => (await Promise.all(natives.map((i) => cluster.run(i, linkState)))).every((s) => s === "linked"), "links");
  });
  afterAll(() => cluster.stop());
  afterEach(() => cluster.disconnectClients());
  return cluster;
}

// One client per worker, in the room named after its worker (and in `rooms`).
async function onePerWorker(cluster, { rooms = [], ...opts } = {}) {
  const clients = [];
  for (const w of cluster.aliveIndexes()) {
    const socket = await cluster.client(w, { rooms: [`w${w}`, ...rooms], ...opts });
    socket.worker = w;
    clients.push(socket);
  }
  return clients;
}

const argsOf = (client, event) => client.received.filter((r) => r.event === event).map((r) => r.args);
const firstArgs = (client, event) => argsOf(client, event).map((args) => args[0]);
const unrouted = ({ require }) => require("../../lib/transport").stats.unrouted;
const serverCounts = (cluster) => cluster.runAll(({ io }) => io.of("/").adapter.serverCount());

describe("our primary (hub) + 3 of our workers", () => {
  const cluster = startCluster({ workers: ["native", "native", "native"] });

  test("emit() reaches every client of every worker; workers do not count the emitter as a server", async () => {
    const clients = await onePerWorker(cluster);
    const returned = await cluster.runPrimary(({ pkg }) => new pkg.Emitter().emit("announcement", { text: "hi" }, 42));
    expect(returned).toBe(true);
    for (const c of clients) {
      const [{ args }] = await waitForEvents(c, "announcement");
      expect(args).toEqual([{ text: "hi" }, 42]);
    }
    await settle(600); // more than a heartbeat interval
    expect(await serverCounts(cluster)).toEqual([3, 3, 3]);
    for (const c of clients) expect(argsOf(c, "announcement")).toHaveLength(1);
  });

  test("to / in / except, chained and with arrays: exactly the matching clients; only workers with the rooms are sent it", async () => {
    const clients = await onePerWorker(cluster, { rooms: ["all"] });
    const { stats: before } = await cluster.hubInfo();
    const unroutedBefore = await cluster.runAll(unrouted);
    await cluster.runPrimary(({ pkg }) => {
      const emitter = new pkg.Emitter();
      emitter.to("w1").emit("m", "to w1");
      emitter.in(["w0", "w2"]).except("w2").emit("m", "in w0 w2 except w2");
      emitter.to("all").except(["w1"]).emit("m", "to all except w1");
      emitter.except("w0").emit("m", "except w0");
      emitter.to("w0").to("w1").emit("m", "to w0 to w1");
      emitter.to("nobody").emit("m", "to a room nobody has");
    });
    await waitForEvents(clients[1], "m", 3);
    await settle();
    expect(firstArgs(clients[0], "m")).toEqual(["in w0 w2 except w2", "to all except w1", "to w0 to w1"]);
    expect(firstArgs(clients[1], "m")).toEqual(["to w1", "except w0", "to w0 to w1"]);
    expect(firstArgs(clients[2], "m")).toEqual(["to all except w1", "except w0"]);
    // Routing by room: "to w1" skipped 2 workers, "in w0 w2" 1, "to w0 to w1" 1, "nobody" 3.
    const { stats: after } = await cluster.hubInfo();
    expect(after.skipped - before.skipped).toBe(7);
    expect(await cluster.runAll(unrouted)).toEqual(unroutedBefore);
  });

  test('of("/chat") and of("chat") reach that namespace only', async () => {
    const main = await onePerWorker(cluster);
    const chat = await onePerWorker(cluster, { nsp: "/chat" });
    await cluster.runPrimary(({ pkg }) => {
      const emitter = new pkg.Emitter();
      emitter.of("/chat").emit("n", 1);
      emitter.of("chat").to("w1").emit("n", 2);
      emitter.emit("n", 3);
    });
    await waitForEvents(chat[1], "n", 2);
    for (const c of main) await waitForEvents(c, "n", 1);
    await settle();
    expect(chat.map((c) => firstArgs(c, "n"))).toEqual([[1], [1, 2], [1]]);
    expect(main.map((c) => firstArgs(c, "n"))).toEqual([[3], [3], [3]]);
  });

  test("binary payloads (Buffer, nested, typed arrays) keep their type", async () => {
    const clients = await onePerWorker(cluster);
    await cluster.runPrimary(({ pkg }) => {
      new pkg.Emitter().emit("bin", Buffer.from([1, 2, 3]), { nested: [Buffer.from("abc")] }, new Uint8Array([9, 8]));
    });
    for (const c of clients) {
      const [{ args }] = await waitForEvents(c, "bin");
      expect(Buffer.isBuffer(args[0])).toBe(true);
      expect([...args[0]]).toEqual([1, 2, 3]);
      expect(Buffer.isBuffer(args[1].nested[0])).toBe(true);
      expect(args[1].nested[0].toString()).toBe("abc");
      expect([...new Uint8Array(args[2])]).toEqual([9, 8]);
    }
  });

  test("volatile and compress(false), alone and chained, reach connected clients", async () => {
    const clients = await onePerWorker(cluster);
    // One at a time: socket.io drops a volatile packet while the transport is still writing.
    const steps = [
      ({ pkg }) => new pkg.Emitter().volatile.emit("v", 1),
      ({ pkg }) => new pkg.Emitter().compress(false).emit("v", 2),
      ({ pkg }) => new pkg.Emitter().of("/").volatile.compress(false).to("w2").emit("v", 3),
      ({ pkg }) => new pkg.Emitter().to("w2").volatile.emit("v", 4),
    ];
    for (const [i, step] of steps.entries()) {
      await cluster.runPrimary(step);
      await waitForEvents(clients[2], "v", i + 1);
    }
    await settle();
    expect(clients.map((c) => argsOf(c, "v"))).toEqual([[[1], [2]], [[1], [2]], [[1], [2], [3], [4]]]);
  });

  test("socketsJoin / socketsLeave, each followed at once by an emit to the room", async () => {
    const clients = await onePerWorker(cluster);
    await cluster.runPrimary(({ pkg }) => {
      const emitter = new pkg.Emitter();
      emitter.socketsJoin("room3"); // every socket
      emitter.to("room3").emit("r3", "after join"); // the hub knows the join: every worker gets it
      emitter.in("w0").socketsJoin(["x", "y"]);
      emitter.in("w1").socketsLeave("room3");
      emitter.to("room3").emit("r3", "after w1 left");
    });
    await waitForEvents(clients[0], "r3", 2);
    await waitForEvents(clients[2], "r3", 2);
    await settle();
    expect(clients.map((c) => firstArgs(c, "r3"))).toEqual([
      ["after join", "after w1 left"],
      ["after join"],
      ["after join", "after w1 left"],
    ]);
    const rooms = await cluster.runAll(async ({ io }) => [...(await io.local.fetchSockets())[0].rooms].sort());
    expect(rooms).toEqual([
      [clients[0].id, "room3", "w0", "x", "y"].sort(),
      [clients[1].id, "w1"].sort(),
      [clients[2].id, "room3", "w2"].sort(),
    ]);
  });

  test("disconnectSockets(), with and without closing the connection", async () => {
    const clients = await onePerWorker(cluster);
    // A second namespace on the same connection shows whether the connection was closed.
    const chats = await Promise.all(
      clients.map((c) => {
        const chat = c.io.socket("/chat"); // connects at once (on the connection already open)
        cluster.clients.add(chat);
        return new Promise((resolve) => chat.once("connect", () => resolve(chat)));
      }),
    );
    const gone = clients.map((c) => new Promise((resolve) => c.once("disconnect", resolve)));
    const chatGone = new Promise((resolve) => chats[1].once("disconnect", resolve));
    await cluster.runPrimary(({ pkg }) => {
      const emitter = new pkg.Emitter();
      emitter.in("w0").disconnectSockets();
      emitter.in("w1").disconnectSockets(true);
    });
    expect(await gone[0]).toBe("io server disconnect");
    expect(await gone[1]).toBe("io server disconnect");
    await chatGone; // its connection was closed
    await settle();
    expect([clients[0].connected, chats[0].connected]).toEqual([false, true]); // only "/" left
    expect([clients[2].connected, chats[2].connected]).toEqual([true, true]);
  });

  test("serverSideEmit() reaches every worker's namespace handlers, binary included, and is no server", async () => {
    await cluster.runAll(({ state }) => (state.serverSideEvents = []));
    await cluster.runPrimary(({ pkg }) => new pkg.Emitter().serverSideEmit("hello", { version: 2 }, Buffer.from([7])));
    await waitFor(async () => (await cluster.runAll(({ state }) => state.serverSideEvents.length)).every((n) => n === 1), "events");
    const got = await cluster.runAll(({ state }) => state.serverSideEvents.map(([a, b]) => [a, Buffer.isBuffer(b), [...b]]));
    expect(got).toEqual(Array(3).fill([[{ version: 2 }, true, [7]]]));
    expect(await serverCounts(cluster)).toEqual([3, 3, 3]);
  });

  test("in a worker: a clear error", async () => {
    const message = await cluster.run(0, ({ require }) => {
      try {
        new (require("../..").Emitter)();
        return "no error";
      } catch (err) {
        return err.message;
      }
    });
    expect(message).toBe("socket.io-cluster-adapter-native: the Emitter works in the cluster's primary process only");
  });

  test("errors: reserved event names and acknowledgements throw, as @socket.io/redis-emitter's; invalid rooms too", async () => {
    const errors = await cluster.runPrimary(({ pkg }) => {
      const emitter = new pkg.Emitter();
      const attempts = [
        () => emitter.emit("connect"),
        () => emitter.to("r").emit("disconnect"),
        () => emitter.volatile.emit("newListener"),
        () => emitter.serverSideEmit("ping", () => {}),
        () => emitter.serverSideEmit("connection", 1), // refused by socket.io's serverSideEmit too
        () => emitter.to({ not: "a room" }).emit("m"),
      ];
      return attempts.map((attempt) => {
        try {
          attempt();
          return "no error";
        } catch (err) {
          return err.message;
        }
      });
    });
    expect(errors.slice(0, 5)).toEqual([
      '"connect" is a reserved event name',
      '"disconnect" is a reserved event name',
      '"newListener" is a reserved event name',
      "Acknowledgements are not supported",
      '"connection" is a reserved event name',
    ]);
    expect(errors[5]).toMatch(/invalid adapter message: .*data\.opts\.rooms/);
  });
});

describe("our primary (hub) + our workers, connection state recovery on", () => {
  const cluster = startCluster({
    workers: ["native", "native"],
    serverOptions: { connectionStateRecovery: { maxDisconnectionDuration: 5000 } },
  });

  test("the emitter's broadcasts are stored in the hub's log: a client that recovers gets them, in order with the workers'", async () => {
    const client = await cluster.client(0, { rooms: ["r"] });
    const other = await cluster.client(1, { rooms: ["r"] });
    const id = client.id;
    await cluster.runPrimary(({ pkg }) => new pkg.Emitter().to("r").emit("m", "before"));
    const [{ args }] = await waitForEvents(client, "m");
    expect(args[0]).toBe("before");
    expect(args[1]).toMatch(/^[0-9a-f]+-\d+$/); // the offset, appended by socket.io as for any stored broadcast

    await dropConnection(cluster, client, 0);
    await cluster.runPrimary(({ pkg }) => new pkg.Emitter().to("r").emit("m", "emitter to r"));
    await cluster.run(1, ({ io }) => io.emit("m", "worker 1 to all"));
    await cluster.runPrimary(({ pkg }, sid) => {
      const emitter = new pkg.Emitter();
      emitter.emit("m", "emitter to all");
      emitter.to("elsewhere").emit("m", "emitter to elsewhere");
      emitter.to(sid).emit("m", "emitter to its id"); // no worker has it now: only the log
    }, id);
    await waitForEvents(other, "m", 4);
    // Alone, once the client has the others: socket.io drops a volatile packet while the
    // transport is still writing.
    await cluster.runPrimary(({ pkg }) => new pkg.Emitter().volatile.emit("m", "emitter volatile: not stored"));
    const seen = await waitForEvents(other, "m", 5);
    expect(seen.map((r) => r.args.length)).toEqual([2, 2, 2, 2, 1]); // the volatile one has no offset

    await cluster.reconnect(client, 1);
    expect(client.recovered).toBe(true);
    expect(client.id).toBe(id);
    await settle();
    const received = argsOf(client, "m");
    expect(received.map((a) => a[0])).toEqual(["before", "emitter to r", "worker 1 to all", "emitter to all", "emitter to its id"]);
    const positions = received.map((a) => Number(a[1].split("-")[1]));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(new Set(positions).size).toBe(positions.length);
  });
});

describe.each([
  ["our primary (hub) + one of our workers + one of the reference's", { workers: ["native", "reference"] }],
  ["our primary with hub: false (IPC relay) + ours + the reference's", { workers: ["native", "reference"], primaryOptions: { hub: false } }],
])("%s", (_, config) => {
  const cluster = startCluster(config);

  test("emit (binary, rooms), socketsJoin and serverSideEmit reach both kinds of worker", async () => {
    const clients = await onePerWorker(cluster);
    await cluster.runAll(({ state }) => (state.serverSideEvents = []));
    await cluster.runPrimary(({ pkg }) => {
      const emitter = new pkg.Emitter();
      emitter.emit("bin", Buffer.from([1, 2]), { nested: new Uint8Array([3]) });
      emitter.to("w1").emit("m", "to the reference's worker");
      emitter.except("w1").emit("m", "to ours");
      emitter.in("w1").socketsJoin("joined");
      emitter.to("joined").emit("m", "to joined");
      emitter.serverSideEmit("hello", Buffer.from([7]));
    });
    for (const c of clients) {
      const [{ args }] = await waitForEvents(c, "bin");
      expect(Buffer.isBuffer(args[0])).toBe(true);
      expect([...args[0]]).toEqual([1, 2]);
      expect([...new Uint8Array(args[1].nested)]).toEqual([3]);
    }
    await waitForEvents(clients[1], "m", 2);
    await waitFor(async () => (await cluster.runAll(({ state }) => state.serverSideEvents.length)).every((n) => n === 1), "events");
    await settle();
    expect(firstArgs(clients[0], "m")).toEqual(["to ours"]);
    expect(firstArgs(clients[1], "m")).toEqual(["to the reference's worker", "to joined"]);
    const got = await cluster.runAll(({ state }) => state.serverSideEvents.map(([b]) => [Buffer.isBuffer(b), [...b]]));
    expect(got).toEqual([[[true, [7]]], [[true, [7]]]]);
    expect(await serverCounts(cluster)).toEqual([2, 2]);
    const invalid = cluster.runPrimary(({ pkg }) => new pkg.Emitter().to([{ not: "a room" }]).emit("m"));
    await expect(invalid).rejects.toThrow(/invalid adapter message: .*data\.opts\.rooms/);
  });
});

describe("outside a cluster", () => {
  const run = (script) =>
    execFileSync(process.execPath, ["-e", script], { cwd: path.join(__dirname, ".."), encoding: "utf8" }).trim();

  test("before setupPrimary() (or under another package's primary): a clear error", () => {
    const script = `
      const { Emitter, setupPrimary } = require("socket.io-cluster-adapter-native");
      try { new Emitter(); console.log("no error"); } catch (err) { console.log(err.message); }
      setupPrimary({ hub: false });
      console.log(new Emitter().emit("nobody-listens"));`;
    expect(run(script).split("\n")).toEqual([
      "socket.io-cluster-adapter-native: call setupPrimary() of this package before creating an Emitter",
      "true",
    ]);
  });
});
