"use strict";
// Every cross-process socket.io feature, run against one cluster configuration (a "pairing" of
// primary and workers). Each pairing's test file calls describeFeatures() with its own cluster.

const { TestCluster, settle, waitForEvents } = require("./cluster");

/** `cluster`: what runs the workers (a TestCluster of `config`, or a Fleet of several machines). */
function describeFeatures(title, config, cluster = new TestCluster(config)) {
  describe(title, () => {
    const n = config.workers.length;
    const binary = (config.serialization || "advanced") === "advanced";
    const all = [...Array(n).keys()];
    // `config.senders`: the workers each feature is tried from (default: every one). A variant of
    // a configuration tested in full elsewhere tries one worker of each kind, to keep npm test short.
    const senders = config.senders || all;

    beforeAll(async () => {
      await cluster.start();
      await cluster.waitForServerCount(n);
      await cluster.waitForServerCount(n, "/chat");
    });
    afterAll(() => cluster.stop());

    // Each test starts with no client connected anywhere.
    afterEach(() => cluster.disconnectClients());

    // Two clients on each worker, in rooms named after their worker and their position.
    async function clientsEverywhere(opts = {}) {
      const clients = [];
      for (let w = 0; w < n; w++) {
        for (let k = 0; k < 2; k++) {
          const socket = await cluster.client(w, { rooms: [`w${w}`, `k${k}`], ...opts });
          socket.worker = w;
          socket.k = k;
          clients.push(socket);
        }
      }
      return clients;
    }
    const count = (socket, event) => socket.received.filter((r) => r.event === event).length;

    test("serverCount() counts every worker", async () => {
      expect(await cluster.runAll(({ io }) => io.of("/").adapter.serverCount())).toEqual(Array(n).fill(n));
    });

    test.each(senders)("io.emit from worker %i reaches every client exactly once", async (from) => {
      const clients = await clientsEverywhere();
      await cluster.run(from, ({ io }, f) => io.emit("all", "hi", { from: f }), from);
      for (const c of clients) {
        const [got] = await waitForEvents(c, "all");
        expect(got.args).toEqual(["hi", { from }]);
      }
      await settle();
      for (const c of clients) expect(count(c, "all")).toBe(1);
    });

    test.each(senders)("rooms, several rooms and except, from worker %i", async (from) => {
      const clients = await clientsEverywhere();
      await cluster.run(from, ({ io }) => {
        io.to("k0").emit("room");
        io.to("k0").to("w0").emit("union");
        io.to("k1").except("w0").emit("except");
      });
      await settle(500);
      for (const c of clients) {
        expect(count(c, "room")).toBe(c.k === 0 ? 1 : 0);
        expect(count(c, "union")).toBe(c.k === 0 || c.worker === 0 ? 1 : 0);
        expect(count(c, "except")).toBe(c.k === 1 && c.worker !== 0 ? 1 : 0);
      }
    });

    test.each(senders)("namespaces stay apart, from worker %i", async (from) => {
      const main = await clientsEverywhere();
      const chat = await clientsEverywhere({ nsp: "/chat" });
      await cluster.run(from, ({ io }) => io.of("/chat").emit("chat-only"));
      for (const c of chat) await waitForEvents(c, "chat-only");
      await settle();
      for (const c of main) expect(count(c, "chat-only")).toBe(0);
    });

    test.each(senders)("io.local.emit from worker %i stays on that worker", async (from) => {
      const clients = await clientsEverywhere();
      await cluster.run(from, ({ io }) => io.local.emit("local"));
      await settle(500);
      for (const c of clients) expect(count(c, "local")).toBe(c.worker === from ? 1 : 0);
    });

    test.each(senders)("socket.broadcast from a socket on worker %i", async (from) => {
      const clients = await clientsEverywhere();
      const sender = clients.find((c) => c.worker === from);
      await cluster.run(from, ({ io }, id) => io.sockets.sockets.get(id).broadcast.emit("bcast", id), sender.id);
      await settle(500);
      for (const c of clients) expect(count(c, "bcast")).toBe(c === sender ? 0 : 1);
    });

    test.each(senders)("volatile and compress flags pass through, from worker %i", async (from) => {
      const clients = await clientsEverywhere();
      await cluster.run(from, ({ io }) => {
        io.volatile.emit("volatile", 1);
        io.compress(false).emit("uncompressed", 2);
      });
      for (const c of clients) {
        expect((await waitForEvents(c, "volatile"))[0].args).toEqual([1]);
        expect((await waitForEvents(c, "uncompressed"))[0].args).toEqual([2]);
      }
    });

    (binary ? test.each(senders) : test.skip.each(senders))(
      "binary payloads (Buffer, nested, typed arrays) from worker %i",
      async (from) => {
        const clients = await clientsEverywhere();
        await cluster.run(from, ({ io }) => {
          io.emit("bin", Buffer.from([1, 2, 3]), { nested: [Buffer.from("abc")] }, new Uint8Array([9, 8]));
        });
        for (const c of clients) {
          const [{ args }] = await waitForEvents(c, "bin");
          expect([...args[0]]).toEqual([1, 2, 3]);
          expect(Buffer.from(args[1].nested[0]).toString()).toBe("abc");
          expect([...new Uint8Array(args[2])]).toEqual([9, 8]);
        }
      },
    );

    test.each(senders)("broadcast with acknowledgements from worker %i", async (from) => {
      const clients = await clientsEverywhere();
      for (const c of clients) c.on("ask", (q, cb) => cb(`${q}:${c.id}`));
      const responses = await cluster.run(from, ({ io }) => io.timeout(3000).emitWithAck("ask", "q"));
      expect(responses.sort()).toEqual(clients.map((c) => `q:${c.id}`).sort());
    });

    test.each(senders)("broadcast with acks times out with partial acks, from worker %i", async (from) => {
      const clients = await clientsEverywhere();
      const silent = clients.find((c) => c.worker !== from);
      for (const c of clients) if (c !== silent) c.on("ask2", (cb) => cb(c.id));
      const result = await cluster.run(
        from,
        ({ io }) =>
          new Promise((resolve) =>
            io.timeout(800).emit("ask2", (err, responses) => resolve({ err: err && err.message, responses })),
          ),
      );
      expect(result.err).toBeTruthy();
      expect(result.responses.sort()).toEqual(clients.filter((c) => c !== silent).map((c) => c.id).sort());
    });

    test.each(senders)("socketsJoin and socketsLeave across workers, from worker %i", async (from) => {
      const clients = await clientsEverywhere();
      const target = clients.find((c) => c.worker !== from);
      await cluster.run(
        from,
        async ({ io }, id) => {
          io.in(id).socketsJoin("joined");
          io.in("k1").socketsJoin(["k1-joined"]);
        },
        target.id,
      );
      await settle();
      // Across machines, the rooms' channels are subscribed as the joins land (see Fleet.client).
      if (cluster.waitForRoomSubscribers) await cluster.waitForRoomSubscribers("/", ["joined", "k1-joined"]);
      await cluster.run(from, ({ io }) => {
        io.to("joined").emit("to-joined");
        io.to("k1-joined").emit("to-k1-joined");
      });
      await settle();
      for (const c of clients) {
        expect(count(c, "to-joined")).toBe(c === target ? 1 : 0);
        expect(count(c, "to-k1-joined")).toBe(c.k === 1 ? 1 : 0);
      }
      await cluster.run(from, ({ io }) => io.in("k1-joined").socketsLeave("k1-joined"));
      await settle();
      await cluster.run(from, ({ io }) => io.to("k1-joined").emit("after-leave"));
      await settle();
      for (const c of clients) expect(count(c, "after-leave")).toBe(0);
    });

    test.each(senders)("disconnectSockets across workers, from worker %i", async (from) => {
      const clients = await clientsEverywhere();
      const reasons = new Map(clients.map((c) => [c, null]));
      for (const c of clients) c.on("disconnect", (reason) => reasons.set(c, reason));
      await cluster.run(from, ({ io }) => io.in("k0").disconnectSockets());
      await settle(500);
      for (const c of clients) expect(reasons.get(c)).toBe(c.k === 0 ? "io server disconnect" : null);
      await cluster.run(from, ({ io }) => io.in("k1").disconnectSockets(true));
      await settle(500);
      for (const c of clients) expect(reasons.get(c)).toBe("io server disconnect");
      const remaining = await cluster.runAll(({ io }) => io.of("/").sockets.size);
      expect(remaining).toEqual(Array(n).fill(0));
    });

    test.each(senders)("fetchSockets sees every socket with its details, from worker %i", async (from) => {
      const clients = await clientsEverywhere({ auth: { token: "t" } });
      const sockets = await cluster.run(from, async ({ io }) =>
        (await io.fetchSockets()).map((s) => ({
          id: s.id,
          rooms: [...s.rooms].sort(),
          data: s.data,
          auth: s.handshake.auth,
        })),
      );
      expect(sockets.map((s) => s.id).sort()).toEqual(clients.map((c) => c.id).sort());
      for (const c of clients) {
        const s = sockets.find((x) => x.id === c.id);
        expect(s.rooms).toEqual([c.id, `k${c.k}`, `w${c.worker}`].sort());
        expect(s.data).toEqual({ worker: c.worker });
        expect(s.auth).toEqual({ token: "t" });
      }
      const inRoom = await cluster.run(from, async ({ io }) => (await io.in("k1").fetchSockets()).length);
      expect(inRoom).toBe(n);
    });

    test.each(senders)("remote sockets from fetchSockets: emit, join, leave, disconnect, from worker %i", async (from) => {
      const clients = await clientsEverywhere();
      const target = clients.find((c) => c.worker !== from);
      const gone = new Promise((resolve) => target.once("disconnect", resolve));
      await cluster.run(
        from,
        async ({ io }, id) => {
          const [remote] = await io.in(id).fetchSockets();
          remote.emit("direct", "to-you");
          remote.join("extra");
          remote.leave(`k${remote.rooms.has("k0") ? 0 : 1}`);
        },
        target.id,
      );
      expect((await waitForEvents(target, "direct"))[0].args).toEqual(["to-you"]);
      await settle();
      const rooms = await cluster.run(from, async ({ io }, id) => [...(await io.in(id).fetchSockets())[0].rooms], target.id);
      expect(rooms).toContain("extra");
      expect(rooms).not.toContain(`k${target.k}`);
      await cluster.run(from, async ({ io }, id) => (await io.in(id).fetchSockets())[0].disconnect(), target.id);
      expect(await gone).toBe("io server disconnect");
    });

    test.each(senders)("serverSideEmit without acknowledgement from worker %i", async (from) => {
      await cluster.runAll(({ state }) => (state.serverSideEvents = []));
      await cluster.run(from, ({ io }) => io.serverSideEmit("hello", "world", { n: 1 }));
      await settle();
      const seen = await cluster.runAll(({ state }) => state.serverSideEvents);
      cluster.aliveIndexes().forEach((i, k) => {
        expect(seen[k]).toEqual(i === from ? [] : [["world", { n: 1 }]]);
      });
    });

    test.each(senders)("serverSideEmitWithAck collects every other worker's answer, from worker %i", async (from) => {
      const answers = await cluster.run(from, ({ io }) => io.serverSideEmitWithAck("ping", "x"));
      expect(answers.map((a) => a.from).sort()).toEqual(all.filter((i) => i !== from));
      expect(answers.every((a) => a.arg === "x")).toBe(true);
    });
  });
}

module.exports = { describeFeatures };
