"use strict";
// Messages that cost far more than they hold. With `serialization: "advanced"` V8 carries sparse
// arrays (`a.length = 2 ** 32 - 1` is a few bytes on the wire), objects shared many times and
// cycles. Sent with process.send by any code in a worker, one of them aborted our primary
// ("memory allocation of 137438953440 bytes failed": validation preallocated the declared length),
// every one of our workers under the reference's primary, or kept our primary's JavaScript busy
// for a minute and a half inside msgpackr. Each must be dropped (or handled) at the cost of what it
// holds, and the cluster must go on working at once.

const { TestCluster, settle, waitForEvents } = require("./support/cluster");

// Runs in a worker: builds the hostile messages there (they must cross IPC as V8 serializes them)
// and sends them to the primary. `requesterUid`: whom the response among them is for (default: the
// sender). Returns how many it sent.
function sendHostile({ io }, requesterUid) {
  const uid = requesterUid || io.of("/").adapter.uid;
  const sparse = (...items) => {
    const array = [...items];
    array.length = 2 ** 32 - 1;
    return array;
  };
  const opts = (fields) => ({ rooms: [], except: [], flags: {}, ...fields });
  const bomb = (depth) => {
    let value = ["leaf"];
    for (let i = 0; i < depth; i++) value = [value, value];
    return value;
  };
  const cycle = { name: "cycle" };
  cycle.self = cycle;
  const base = { source: "_sio_adapter", uid: "hostile", nsp: "/" };
  const event = (data) => ({ type: 2, data, nsp: "/" });
  const messages = [
    { ...base, type: 8, requesterUid: uid, data: { requestId: "r", sockets: sparse() } },
    { ...base, type: 3, data: { packet: event(["e"]), opts: opts({ rooms: sparse() }) } },
    { ...base, type: 3, data: { packet: event(["e"]), opts: opts({ except: sparse("a") }) } },
    { ...base, type: 3, data: { packet: event(sparse("hostile-event")), opts: opts() } },
    { ...base, type: 4, data: { opts: opts({ rooms: sparse() }), rooms: ["r"] } },
    { ...base, type: 4, data: { opts: opts(), rooms: sparse("r") } },
    { ...base, type: 9, data: { packet: sparse("hostile-event") } },
    { ...base, type: 3, data: { packet: event(["hostile-event", bomb(40)]), opts: opts() } },
    { ...base, type: 3, data: { packet: event(["hostile-event", cycle]), opts: opts() } },
  ];
  for (const message of messages) process.send(message);
  return messages.length;
}

async function worksAtOnce(cluster, from, to) {
  const client = await cluster.client(to);
  await cluster.run(from, ({ io }) => io.emit("still-works"));
  await waitForEvents(client, "still-works");
  client.disconnect();
}

describe("our primary + mixed workers: hostile messages over IPC", () => {
  const cluster = new TestCluster({ primary: "native", workers: ["native", "reference", "native"] });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(3);
  });
  afterAll(() => cluster.stop());

  test.each([
    ["a reference worker (on IPC)", 1],
    ["one of ours (linked to the hub, still able to use IPC)", 0],
  ])("sent by %s: dropped by the primary, which keeps relaying", async (_, sender) => {
    const before = await cluster.primaryStats();
    const sent = await cluster.run(sender, sendHostile);
    // The primary answers a stats request only once it has handled every message before it.
    const after = await cluster.primaryStats();
    expect(after.dropped - before.dropped).toBe(sent);
    expect(cluster.workers.map((w) => w.alive)).toEqual([true, true, true]);
    await worksAtOnce(cluster, 1, 2);
    await worksAtOnce(cluster, 2, 1);
    expect(await cluster.runAll(({ io }) => io.of("/").adapter.serverCount())).toEqual([3, 3, 3]);
  });

  test("no worker got any of them", async () => {
    const got = await cluster.runAll(({ io }) => {
      let count = 0;
      io.on("hostile-event", () => count++);
      return new Promise((resolve) => setTimeout(() => resolve(count), 200));
    });
    expect(got).toEqual([0, 0, 0]);
  });
});

describe("the reference's primary + our workers: hostile messages relayed to them", () => {
  const cluster = new TestCluster({ primary: "reference", workers: ["native", "native", "reference"] });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(3);
  });
  afterAll(() => cluster.stop());

  test("our workers survive every one, drop them, and keep working", async () => {
    const dropped = () => cluster.run(0, ({ require }) => require("../../lib/transport").stats.dropped);
    const before = await dropped();
    const requesterUid = await cluster.run(0, ({ io }) => io.of("/").adapter.uid);
    const sent = await cluster.run(2, sendHostile, requesterUid);
    await settle(500);
    expect((await dropped()) - before).toBe(sent);
    expect(cluster.workers[0].alive).toBe(true);
    expect(cluster.workers[1].alive).toBe(true);
    await worksAtOnce(cluster, 0, 1);
    await worksAtOnce(cluster, 1, 0);
  });
});
