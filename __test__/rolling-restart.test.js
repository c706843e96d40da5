"use strict";
// A rolling restart with connection state recovery, as PM2's reload or a zero-downtime deploy does
// it: under a steady stream of stored broadcasts from every worker, each worker in turn is replaced
// (a new one forked, then the old one SIGTERMed: io.close(), then exit), and its clients reconnect
// at once to the replacement with their session id and offset. Each must recover (same id, rooms,
// data) with every packet exactly once and in order.

const { TestCluster, linkState, settle, sleep, waitFor } = require("./support/cluster");

const RECOVERY = { connectionStateRecovery: { maxDisconnectionDuration: 30000 } };

/** Run in a worker: emits to "feed", every `ms`, numbered packets under the name `sender`. */
function startFeeding({ io, state }, sender, ms) {
  state.sent = 0;
  state.feeder = setInterval(() => io.to("feed").emit("m", sender, state.sent++), ms);
}

/** Run in a worker: stops feeding; returns how many packets it emitted. */
function stopFeeding({ state }) {
  clearInterval(state.feeder);
  return state.sent;
}


describe("rolling restart (graceful) with connection state recovery: our primary + 3 of our workers", () => {
  const cluster = new TestCluster({
    primary: "native",
    workers: ["native", "native", "native"],
    serverOptions: RECOVERY,
    graceful: true,
    adapterOptions: { heartbeatInterval: 500 },
  });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(3);
    await cluster.waitForLinks();
  });
  afterAll(() => cluster.stop());

  test("every client recovers on the replacement of its worker, every packet once and in order", async () => {
    const clients = [];
    for (const w of [0, 1, 2]) {
      for (let k = 0; k < 2; k++) {
        const client = await cluster.client(w, { rooms: ["feed"] });
        client.worker = w;
        client.data = `client ${w}.${k}`;
        await cluster.run(w, ({ io }, id, note) => (io.of("/").sockets.get(id).data.note = note), client.id, client.data);
        clients.push(client);
      }
    }
    const sent = new Map(); // sender => packets emitted
    const feeding = new Map(); // worker index => sender name
    for (const w of [0, 1, 2]) {
      await cluster.run(w, startFeeding, `w${w}`, 10);
      feeding.set(w, `w${w}`);
    }
    await waitFor(() => clients.every((c) => typeof c._lastOffset === "string"), "an offset for every client");

    let recovered = 0;
    let longestGapMs = 0;
    for (const old of [0, 1, 2]) {
      // The replacement's link comes 300 ms after it listens: its first clients arrive before it.
      const replacement = await cluster.forkWorker("native", { TEST_HUB_QUESTION_DELAY_MS: "300" });
      expect(await cluster.run(replacement, linkState)).toBe("ipc");
      sent.set(feeding.get(old), await cluster.run(old, stopFeeding));
      feeding.delete(old);
      const mine = clients.filter((c) => c.worker === old);
      const gone = mine.map((c) => new Promise((resolve) => c.once("disconnect", resolve)));
      const exited = cluster.waitForExit(old);
      cluster.signal(old, "SIGTERM");
      await Promise.all(gone);
      const since = Date.now();
      // At once, as a client's reconnection would: the replacement may not be linked to the hub yet.
      await Promise.all(mine.map((c) => cluster.reconnect(c, replacement)));
      longestGapMs = Math.max(longestGapMs, Date.now() - since);
      await cluster.run(replacement, startFeeding, `r${replacement}`, 10);
      feeding.set(replacement, `r${replacement}`);
      for (const c of mine) {
        const [details] = await cluster.run(replacement, ({ io }, id) => {
          const socket = io.of("/").sockets.get(id);
          return socket ? [{ rooms: [...socket.rooms], note: socket.data.note }] : [null];
        }, c.id);
        if (c.recovered && details && details.rooms.includes("feed") && details.note === c.data) recovered++;
        c.worker = replacement;
      }
      await exited;
    }
    await sleep(200); // the last replacement feeds too
    for (const [w, sender] of feeding) sent.set(sender, await cluster.run(w, stopFeeding));
    await settle(500);

    console.log(`rolling restart: ${recovered} of ${clients.length} clients recovered; longest reconnection ${longestGapMs} ms`);
    expect(recovered).toBe(clients.length);
    for (const c of clients) {
      const bySender = new Map();
      for (const { event, args } of c.received) {
        if (event !== "m") continue;
        const [sender, seq] = args;
        if (!bySender.has(sender)) bySender.set(sender, []);
        bySender.get(sender).push(seq);
      }
      for (const [sender, count] of sent) {
        // Every packet of every sender, once, in order.
        expect([c.data, sender, bySender.get(sender) || []]).toEqual([c.data, sender, [...Array(count).keys()]]);
      }
    }
  });
});

describe("abrupt stop (SIGKILL) with connection state recovery: our primary + 2 of our workers", () => {
  const cluster = new TestCluster({
    primary: "native",
    workers: ["native", "native"],
    serverOptions: RECOVERY,
    adapterOptions: { heartbeatInterval: 500 },
  });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(2);
    await cluster.waitForLinks();
  });
  afterAll(() => cluster.stop());

  // socket.io persists a session when its socket disconnects; a killed process persists nothing,
  // and the hub does not mirror live sessions: those clients start new sessions, cleanly.
  test("the killed worker's clients get new sessions at once, without a partial history", async () => {
    const client = await cluster.client(0, { rooms: ["feed"] });
    const id = client.id;
    await cluster.run(1, startFeeding, "w1", 10);
    await waitFor(() => typeof client._lastOffset === "string", "an offset");
    const gone = new Promise((resolve) => client.once("disconnect", resolve));
    cluster.signal(0, "SIGKILL");
    await gone;
    await sleep(100); // packets the client misses
    await cluster.reconnect(client, 1);
    expect(client.recovered).toBe(false);
    expect(client.id).not.toBe(id);
    const before = client.received.filter((r) => r.event === "m").length;
    await sleep(100);
    // It is a new socket, in no room yet: nothing of "feed" (no replay, no partial history).
    expect(client.received.filter((r) => r.event === "m").length).toBe(before);
    await cluster.run(1, stopFeeding);
  });
});
