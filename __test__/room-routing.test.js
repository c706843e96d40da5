"use strict";
// Routing by room: our hub sends a message addressed to rooms only to the workers that have a
// member of one of them, answers requests for the workers it skipped, and never loses a message to
// a room joined through any path (the rule in crates/core/src/rooms.rs). Three workers, so that
// skipping one is visible.

const { TestCluster, linkState, settle, waitFor, waitForEvents } = require("./support/cluster");

// requestsTimeout far above Jest's timeout: a request that waits for a skipped worker fails the
// test by hanging instead of resolving after the timeout with fewer answers.
const adapterOptions = { heartbeatInterval: 500, requestsTimeout: 60000 };

const count = (socket, event) => socket.received.filter((r) => r.event === event).length;
// Broadcasts of other workers that reached this worker's adapters (heartbeats left out).
const received = ({ state }) => state.broadcasts;
function countBroadcasts({ io, state, require }) {
  const BROADCAST = require("socket.io-adapter").MessageType.BROADCAST;
  state.broadcasts = 0;
  for (const nsp of ["/", "/chat"]) {
    const adapter = io.of(nsp).adapter;
    const onMessage = adapter.onMessage;
    adapter.onMessage = function (message, offset) {
      if (message.type === BROADCAST) state.broadcasts++;
      return onMessage.call(this, message, offset);
    };
  }
}
const unrouted = ({ require }) => require("../../lib/transport").stats.unrouted;

function routingCluster(title, config, body) {
  describe(title, () => {
    const cluster = new TestCluster({ adapterOptions, ...config });
    const n = config.workers.length;

    beforeAll(async () => {
      await cluster.start();
      await cluster.waitForServerCount(n);
      await cluster.waitForServerCount(n, "/chat");
      const native = config.workers.map((kind, i) => (kind === "native" ? i : -1)).filter((i) => i >= 0);
      await waitFor(async () => {
        const states = await Promise.all(native.map((i) => cluster.run(i, linkState)));
        return states.every((s) => s === "linked");
      }, "links");
      await cluster.runAll(countBroadcasts);
    });
    afterAll(() => cluster.stop());
    afterEach(() => cluster.disconnectClients());

    body(cluster);
  });
}

// One client per worker, in the room named after its worker.
async function onePerWorker(cluster, opts = {}) {
  const clients = [];
  for (const w of cluster.aliveIndexes()) {
    const socket = await cluster.client(w, { rooms: [`w${w}`], ...opts });
    socket.worker = w;
    clients.push(socket);
  }
  return clients;
}

routingCluster("routing by room: our primary + 3 of our workers", { primary: "native", workers: ["native", "native", "native"] }, (cluster) => {
  test("a message to a room reaches only the workers that have a member of it", async () => {
    const clients = await onePerWorker(cluster);
    const before = await cluster.runAll(received);
    const { stats: hubBefore } = await cluster.hubInfo();
    await cluster.run(0, ({ io }) => {
      for (let i = 0; i < 20; i++) io.to("w2").emit("to-w2", i);
      io.to(["w1", "w2"]).emit("to-w1-w2");
    });
    await waitForEvents(clients[2], "to-w2", 20);
    await waitForEvents(clients[1], "to-w1-w2");
    await waitForEvents(clients[2], "to-w1-w2");
    await settle();
    const after = await cluster.runAll(received);
    expect(after[1] - before[1]).toBe(1); // only the message to w1 and w2
    expect(after[2] - before[2]).toBe(21);
    expect(count(clients[0], "to-w2")).toBe(0);
    expect(count(clients[1], "to-w2")).toBe(0);
    const { stats: hubAfter } = await cluster.hubInfo();
    expect(hubAfter.skipped - hubBefore.skipped).toBe(20);
    expect(await cluster.run(1, unrouted)).toBe(0);
  });

  test("a socket leaving 25,000 rooms at once is reported in bounded parts, every one applied", async () => {
    const clients = await onePerWorker(cluster);
    const rooms = Array.from({ length: 25000 }, (_, i) => `many-${i}`);
    const frames = async () => (await cluster.hubInfo()).stats.framesIn;
    const start = await frames();
    await cluster.run(2, ({ io }, id, rooms) => io.of("/").sockets.get(id).join(rooms), clients[2].id, rooms);
    // Each room joined leaves at once, in a frame of its own (see onRoomChange in lib/hub-link.js).
    await waitFor(async () => (await frames()) - start >= rooms.length, "the joins reported");
    // The sizes of the reports worker 2 sends from now on.
    await cluster.run(2, ({ state, require }) => {
      const { LinkCodec } = require("../../lib/binding");
      const rooms = LinkCodec.prototype.rooms;
      state.reports = [];
      LinkCodec.prototype.rooms = function (nsp, uid, joined, left, ...rest) {
        state.reports.push(joined.length + left.length);
        return rooms.call(this, nsp, uid, joined, left, ...rest);
      };
    });
    await cluster.run(2, ({ io }, id, rooms) => {
      const socket = io.of("/").sockets.get(id);
      for (const room of rooms) socket.leave(room);
    }, clients[2].id, rooms);
    // One report of 25,000 rooms left, in parts of at most 10,000 (ROOMS_PER_REPORT).
    const reports = await cluster.run(2, ({ state }) => state.reports);
    expect(reports.reduce((a, b) => a + b, 0)).toBe(rooms.length);
    expect(Math.max(...reports)).toBeLessThanOrEqual(10000);
    await settle();
    const { stats: before } = await cluster.hubInfo();
    await cluster.run(0, ({ io }) => {
      for (const room of ["many-0", "many-12345", "many-24999"]) io.to(room).emit("to-many");
    });
    await settle();
    const { stats: after } = await cluster.hubInfo();
    // Worker 2 holds none of them any more (nor does worker 1): skipped for each of the three.
    expect(after.skipped - before.skipped).toBe(6);
    expect(count(clients[2], "to-many")).toBe(0);
  });

  test("io.to(socketId) reaches exactly one worker", async () => {
    const clients = await onePerWorker(cluster);
    const before = await cluster.runAll(received);
    await cluster.run(0, ({ io }, id) => io.to(id).emit("direct", 1), clients[1].id);
    await waitForEvents(clients[1], "direct");
    await settle();
    const after = await cluster.runAll(received);
    expect([after[1] - before[1], after[2] - before[2]]).toEqual([1, 0]);
  });

  test.each([
    ["awaited", true],
    ["not awaited", false],
  ])("io.socketsJoin(room) %s, then io.to(room).emit(): every joined socket gets it once", async (_, awaited) => {
    for (const from of [0, 1, 2]) {
      const clients = await onePerWorker(cluster);
      const room = `joined-${from}-${awaited}`;
      await cluster.run(
        from,
        async ({ io }, r, wait) => {
          const joining = io.socketsJoin(r);
          if (wait) await joining;
          io.to(r).emit("after-join", r);
        },
        room,
        awaited,
      );
      for (const c of clients) await waitForEvents(c, "after-join");
      await settle(100);
      for (const c of clients) expect(count(c, "after-join")).toBe(1);
      await cluster.disconnectClients();
    }
  });

  test("socketsJoin with except, then emit: the excepted sockets are not in the room", async () => {
    const clients = await onePerWorker(cluster);
    await cluster.run(0, ({ io }) => {
      io.except("w1").socketsJoin("most");
      io.to("most").emit("most");
    });
    await waitForEvents(clients[0], "most");
    await waitForEvents(clients[2], "most");
    await settle();
    expect(clients.map((c) => count(c, "most"))).toEqual([1, 0, 1]);
  });

  test("a remote socket's join (from fetchSockets), then emit", async () => {
    const clients = await onePerWorker(cluster);
    await cluster.run(0, async ({ io }, id) => {
      const sockets = await io.fetchSockets();
      sockets.find((s) => s.id === id).join("picked");
      io.to("picked").emit("picked");
    }, clients[2].id);
    await waitForEvents(clients[2], "picked");
    await settle();
    expect(clients.map((c) => count(c, "picked"))).toEqual([0, 0, 1]);
  });

  test("a local join, then a message of that worker that makes another worker emit to the room", async () => {
    const clients = await onePerWorker(cluster);
    await cluster.run(0, ({ io, state }) => {
      if (state.emitToInstalled) return;
      state.emitToInstalled = true;
      io.on("emit-to", (room) => io.to(room).emit("relayed", room));
    });
    await cluster.run(2, ({ io }, id) => {
      io.in(id).socketsJoin("local-first"); // a local socket: applied here, reported to the hub
      io.serverSideEmit("emit-to", "local-first");
    }, clients[2].id);
    await waitForEvents(clients[2], "relayed");
    await settle();
    expect(clients.map((c) => count(c, "relayed"))).toEqual([0, 0, 1]);
  });

  test("a client that has joined (its acknowledgement received) gets what another worker then emits to the room", async () => {
    // The causal chain goes outside the cluster (the client, then this test, then another worker):
    // the join must reach the hub before the client's acknowledgement can cause anything.
    const client = await cluster.client(0);
    for (let i = 0; i < 50; i++) {
      await client.emitWithAck("join", [`chain-${i}`]);
      await cluster.run(1 + (i % 2), ({ io }, room) => io.to(room).emit("chain", room), `chain-${i}`);
    }
    await waitForEvents(client, "chain", 50);
  });

  test("after a leave or a disconnect, nothing reaches the socket", async () => {
    const clients = await onePerWorker(cluster);
    await cluster.run(0, ({ io }) => io.socketsJoin("gone"));
    await cluster.run(0, ({ io }) => {
      io.socketsLeave("gone");
      io.to("gone").emit("left");
    });
    await cluster.run(0, ({ io }) => io.in("w2").disconnectSockets(true));
    await cluster.run(0, ({ io }) => io.to("w2").emit("disconnected"));
    await settle(500);
    expect(clients.map((c) => count(c, "left") + count(c, "disconnected"))).toEqual([0, 0, 0]);
  });

  test("fetchSockets to a room on one worker resolves with exactly its sockets, the hub answering for the others", async () => {
    const clients = await onePerWorker(cluster);
    const { stats: before } = await cluster.hubInfo();
    const ids = await cluster.run(0, async ({ io }) => (await io.in("w2").fetchSockets()).map((s) => s.id));
    expect(ids).toEqual([clients[2].id]);
    const none = await cluster.run(0, async ({ io }) => (await io.in("nobody").fetchSockets()).length);
    expect(none).toBe(0);
    const { stats: after } = await cluster.hubInfo();
    expect(after.answered - before.answered).toBe(3); // worker 1 for "w2"; workers 1 and 2 for "nobody"
  });

  test("a broadcast with acks to a room on one worker resolves with its members' answers only", async () => {
    const clients = await onePerWorker(cluster);
    for (const c of clients) c.on("question", (cb) => cb(`answer from ${c.worker}`));
    const answers = await cluster.run(1, ({ io }) => io.to("w2").timeout(20000).emitWithAck("question"));
    expect(answers).toEqual(["answer from 2"]);
    const nobody = await cluster.run(1, ({ io }) => io.to("nobody").timeout(20000).emitWithAck("question"));
    expect(nobody).toEqual([]);
  });

  test("namespaces stay apart: a room of one namespace does not route another's", async () => {
    const main = await cluster.client(1, { rooms: ["shared-name"] });
    const chat = await cluster.client(2, { nsp: "/chat", rooms: ["shared-name"] });
    const before = await cluster.runAll(received);
    await cluster.run(0, ({ io }) => io.of("/chat").to("shared-name").emit("chat-room"));
    await waitForEvents(chat, "chat-room");
    await settle();
    const after = await cluster.runAll(received);
    expect(after[1] - before[1]).toBe(0);
    expect(count(main, "chat-room")).toBe(0);
  });

  test("a worker that links again tells the hub its rooms again", async () => {
    const clients = await onePerWorker(cluster);
    const { path, secret } = await cluster.hubInfo();
    const linksBefore = await cluster.run(2, ({ require }) => require("../../lib/transport").link.stats.links);
    // A second link of worker 2 (its own process, right secret) replaces its link in the hub:
    // the worker goes back to IPC, links again, and sends its rooms first.
    await cluster.run(
      2,
      ({ require }, hubPath, key) =>
        new Promise((resolve) => {
          const { LinkCodec } = require("../../native.js");
          const codec = new LinkCodec(key, require("node:cluster").worker.id);
          const socket = require("node:net").connect(hubPath, () => socket.write(codec.hello()));
          socket.once("data", () => {
            socket.destroy();
            resolve();
          });
        }),
      path,
      secret,
    );
    await waitFor(async () => {
      const [state, links] = await cluster.run(2, ({ require }) => {
        const { link } = require("../../lib/transport");
        return [link.state, link.stats.links];
      });
      return state === "linked" && links > linksBefore;
    }, "worker 2 linked again");
    const before = await cluster.run(2, received);
    await cluster.run(0, ({ io }) => {
      io.to("w2").emit("again");
      io.to("w1").emit("not-for-w2");
    });
    await waitForEvents(clients[2], "again");
    await waitForEvents(clients[1], "not-for-w2");
    await settle();
    expect((await cluster.run(2, received)) - before).toBe(1);
  });
});

routingCluster(
  "routing by room off: setupPrimary({ routeByRoom: false })",
  { primary: "native", primaryOptions: { routeByRoom: false }, workers: ["native", "native", "native"] },
  (cluster) => {
    test("every worker receives every message, and everything still arrives", async () => {
      const clients = await onePerWorker(cluster);
      const before = await cluster.runAll(received);
      await cluster.run(0, ({ io }) => io.to("w2").emit("to-w2"));
      await waitForEvents(clients[2], "to-w2");
      await settle();
      const after = await cluster.runAll(received);
      expect(after[1] - before[1]).toBe(1);
      expect(await cluster.run(1, unrouted)).toBeGreaterThan(0);
      const { stats } = await cluster.hubInfo();
      expect(stats.skipped).toBe(0);
    });
  },
);

routingCluster(
  "routing by room with a reference worker: our primary + 2 of ours + @socket.io/cluster-adapter's",
  { primary: "native", workers: ["native", "native", "reference"] },
  (cluster) => {
    test("the reference worker keeps receiving everything; ours only their rooms", async () => {
      const clients = await onePerWorker(cluster);
      const before = await cluster.run(1, received);
      await cluster.run(0, ({ io }) => io.to("w2").emit("to-ref"));
      await cluster.run(2, ({ io }) => io.to("w0").emit("from-ref"));
      await waitForEvents(clients[2], "to-ref");
      await waitForEvents(clients[0], "from-ref");
      await settle();
      expect(await cluster.run(1, received)).toBe(before);
      expect(clients.map((c) => count(c, "to-ref") + count(c, "from-ref"))).toEqual([1, 0, 1]);
    });

    test("requests from the reference worker get answers for the workers the hub skipped", async () => {
      const clients = await onePerWorker(cluster);
      const ids = await cluster.run(2, async ({ io }) => (await io.in("w0").fetchSockets()).map((s) => s.id));
      expect(ids).toEqual([clients[0].id]);
    });

    test("a join from the reference worker, then its emit", async () => {
      const clients = await onePerWorker(cluster);
      await cluster.run(2, ({ io }) => {
        io.socketsJoin("from-ref-join");
        io.to("from-ref-join").emit("ref-joined");
      });
      for (const c of clients) await waitForEvents(c, "ref-joined");
      await settle();
      expect(clients.map((c) => count(c, "ref-joined"))).toEqual([1, 1, 1]);
    });
  },
);
