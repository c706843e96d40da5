"use strict";
// Malformed or stray IPC messages are dropped (and counted), never crash a process, never reach
// other workers, and are never counted as servers.

const { TestCluster, settle, waitForEvents } = require("./support/cluster");

const SOURCE = "_sio_adapter";
const opts = { rooms: [], except: [] };

// One or more malformed variants of every message type (and of the common fields).
const MALFORMED = [
  { type: 42 },
  { type: "3" },
  { type: null },
  { type: 3.5 },
  { type: 1, uid: "" },
  { type: 2, uid: 5 },
  { type: 1, nsp: 7 },
  { type: 3 },
  { type: 3, data: {} },
  { type: 3, data: { packet: "x", opts } },
  { type: 3, data: { packet: { type: 2 }, opts } },
  { type: 3, data: { packet: { type: 2, data: "not an array" }, opts } },
  { type: 3, data: { packet: { type: 2, data: [] }, opts: { rooms: "r", except: [] } } },
  { type: 3, data: { packet: { type: 2, data: [] }, opts, requestId: 7 } },
  { type: 4, data: { opts } },
  { type: 4, data: { opts, rooms: [{}] } },
  { type: 5, data: { opts: null, rooms: [] } },
  { type: 6, data: { opts, close: "yes" } },
  { type: 6 },
  { type: 7, data: { opts } },
  { type: 8, requesterUid: "someone", data: { requestId: "r", sockets: [{ id: 1 }] } },
  { type: 8, requesterUid: "someone", data: { requestId: "r" } },
  { type: 9, data: { packet: [] } },
  { type: 9, data: { packet: "hello" } },
  { type: 10, data: { requestId: "r" } },
  { type: 11, requesterUid: "someone", data: { requestId: "r", clientCount: -1 } },
  { type: 11, requesterUid: "someone", data: { requestId: "r", clientCount: "3" } },
  { type: 12, requesterUid: "someone", data: {} },
  { type: 13, uid: {} },
].map((fields) => ({ source: SOURCE, uid: "intruder", nsp: "/", ...fields }));

const ipcStats = ({ require }) => ({ ...require("../../lib/transport").stats });

describe("our primary + our workers: malformed messages delivered to a worker", () => {
  const cluster = new TestCluster({ primary: "native", workers: ["native", "native"] });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(2);
  });
  afterAll(() => cluster.stop());

  async function stillWorks() {
    const client = await cluster.client(0);
    await cluster.run(1, ({ io }) => io.emit("still-works"));
    await waitForEvents(client, "still-works");
    client.disconnect();
    expect(await cluster.runAll(({ io }) => io.of("/").adapter.serverCount())).toEqual([2, 2]);
  }

  test.each(MALFORMED.map((m) => [JSON.stringify(m), m]))("%s is dropped and counted", async (_, message) => {
    const before = await cluster.run(0, ipcStats);
    cluster.sendRaw(0, message);
    await settle(100);
    const after = await cluster.run(0, ipcStats);
    expect(after.dropped).toBe(before.dropped + 1);
  });

  test("after all of them the worker is alive, counts no intruder, and works", async () => {
    expect(cluster.workers[0].alive).toBe(true);
    await stillWorks();
  });

  test("messages of other sources, null, strings and other namespaces are ignored, not dropped", async () => {
    const before = await cluster.run(0, ipcStats);
    for (const message of [null, "text", 42, [1], { source: "sticky" }, { cmd: "NODE_x" }]) cluster.sendRaw(0, message);
    cluster.sendRaw(0, { source: SOURCE, uid: "other-nsp", nsp: "/nowhere", type: 2 });
    await settle(200);
    const after = await cluster.run(0, ipcStats);
    expect(after.dropped).toBe(before.dropped);
    expect(after.received).toBe(before.received + 1); // only the one with our source
    await stillWorks();
  });

  test("a response to an unknown or expired request is dropped without effect", async () => {
    const [requesterUid, responderUid] = await cluster.runAll(({ io }) => io.of("/").adapter.uid);
    for (const type of [8, 10, 11, 12]) {
      cluster.sendRaw(0, {
        source: SOURCE,
        uid: responderUid,
        nsp: "/",
        type,
        requesterUid,
        data: { requestId: "long-gone", sockets: [], clientCount: 1, packet: ["late"] },
      });
    }
    await settle(200);
    await stillWorks();
  });
});

describe("our primary + mixed workers: malformed messages sent by a worker", () => {
  const cluster = new TestCluster({ primary: "native", workers: ["native", "reference"] });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(2);
  });
  afterAll(() => cluster.stop());

  test("are dropped by our primary and never reach the other workers", async () => {
    const before = await cluster.primaryStats();
    // A BROADCAST without data kills a reference worker (TypeError) if a primary relays it.
    await cluster.run(0, (_worker, messages) => messages.forEach((m) => process.send(m)), MALFORMED);
    await settle(300);
    const after = await cluster.primaryStats();
    expect(after.dropped).toBe(before.dropped + MALFORMED.length);
    expect(cluster.workers[1].alive).toBe(true);

    const client = await cluster.client(1);
    await cluster.run(0, ({ io }) => io.emit("still-works"));
    await waitForEvents(client, "still-works");
    expect(await cluster.run(1, ({ io }) => io.of("/").adapter.serverCount())).toBe(2);
  });
});
