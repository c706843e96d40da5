"use strict";
// Chaos under load: our primary and 4 workers (ours, or ours and the reference's), every worker broadcasting numbered packets,
// emitting to single sockets and to rooms, and making requests, while a random worker is killed
// (SIGKILL) and replaced every second or so, and another is stopped (SIGSTOP) past the heartbeat
// timeout, then resumed. CHAOS_SECONDS=60 (or more) for a longer run; 12 s by default.

const fs = require("node:fs");
const { TestCluster, linkState, sleep, waitFor } = require("./support/cluster");

const SECONDS = Number(process.env.CHAOS_SECONDS || 12);
const REQUESTS_TIMEOUT_MS = 2000;
const adapterOptions = { heartbeatInterval: 300, heartbeatTimeout: 1000, requestsTimeout: REQUESTS_TIMEOUT_MS };

/** Run in a worker: starts its load; `name` tells its packets apart from other incarnations'. */
function startLoad({ io, state }, name, timeoutMs) {
  state.load = { name, sent: 0, requests: 0, slowest: 0, late: 0, failed: [] };
  const load = state.load;
  const request = async (what, call) => {
    const started = Date.now();
    try {
      await call();
    } catch (err) {
      // A timeout is a settled request (a server died meanwhile); anything else is a failure.
      if (!/timeout/.test(String(err && err.message))) load.failed.push(`${what}: ${err && err.message}`);
    }
    const took = Date.now() - started;
    load.requests++;
    load.slowest = Math.max(load.slowest, took);
    if (took > timeoutMs + 1000) load.late++;
  };
  state.timers = [
    setInterval(() => {
      io.emit("seq", name, load.sent++);
      io.to("everyone").emit("room", name);
      const ids = [...io.of("/").sockets.keys()];
      if (ids.length) io.to(ids[0]).emit("direct", name);
    }, 15),
    setInterval(() => request("fetchSockets", () => io.fetchSockets()), 100),
    setInterval(() => request("serverSideEmitWithAck", () => io.serverSideEmitWithAck("ping", 1)), 100),
  ];
}

function stopLoad({ state }) {
  for (const timer of state.timers || []) clearInterval(timer);
  return state.load;
}

describe.each([
  ["4 of our workers", ["native", "native", "native", "native"]],
  ["2 of ours and 2 of @socket.io/cluster-adapter's", ["native", "reference", "native", "reference"]],
])("chaos under load: our primary + %s", (_, kinds) => {
  const cluster = new TestCluster({ primary: "native", workers: kinds, adapterOptions });
  const kindOf = new Map(kinds.map((kind, i) => [i, kind]));
  const linked = async () => {
    const natives = cluster.aliveIndexes().filter((w) => kindOf.get(w) === "native");
    return (await Promise.all(natives.map((w) => cluster.run(w, linkState)))).every((s) => s === "linked");
  };

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(4);
    await waitFor(linked, "links");
  });
  afterAll(() => cluster.stop());

  test(`${SECONDS} s of kills, replacements and a stopped worker: nothing lost between live workers, requests settle`, async () => {
    const clients = new Map(); // worker index => client
    const addClient = async (w) => {
      const client = await cluster.client(w, { rooms: ["everyone"] });
      client.worker = w;
      clients.set(w, client);
    };
    const loads = [];
    const start = async (w) => {
      await addClient(w);
      await cluster.run(w, startLoad, `w${w}`, REQUESTS_TIMEOUT_MS);
    };
    for (const w of cluster.aliveIndexes()) await start(w);

    const live = () => cluster.aliveIndexes();
    let kills = 0;
    let stops = 0;
    let serverCountChecks = 0;
    const deadline = Date.now() + SECONDS * 1000;
    while (Date.now() < deadline) {
      await sleep(700);
      const candidates = live();
      if (stops === 0 && Date.now() > deadline - (SECONDS * 1000) / 2) {
        // Stopped past the heartbeat timeout: the others count it gone, then it comes back.
        const victim = candidates[0];
        cluster.signal(victim, "SIGSTOP");
        await sleep(adapterOptions.heartbeatTimeout + 500);
        cluster.signal(victim, "SIGCONT");
        stops++;
        continue;
      }
      const victim = candidates[Math.floor(Math.random() * candidates.length)];
      loads.push(await cluster.run(victim, stopLoad));
      clients.get(victim).received.length = 0; // its client goes with it
      clients.get(victim).disconnect();
      clients.delete(victim);
      cluster.signal(victim, "SIGKILL");
      await cluster.waitForExit(victim);
      kills++;
      // The survivors count one server less within 1 s (our primary announces the death).
      const survivors = live();
      const countedRight = async () => {
        const counts = await Promise.all(survivors.map((w) => cluster.run(w, ({ io }) => io.of("/").adapter.serverCount())));
        return counts.every((c) => c === survivors.length);
      };
      await waitFor(countedRight, `server count ${survivors.length} on every survivor within 1 s of a kill`, 1000);
      serverCountChecks++;
      const replacement = await cluster.forkWorker(kindOf.get(victim));
      kindOf.set(replacement, kindOf.get(victim));
      await start(replacement);
    }
    for (const w of live()) loads.push(await cluster.run(w, stopLoad));
    await sleep(1000);

    // Between workers that stayed alive, every broadcast arrived once and in order per sender.
    let checked = 0;
    for (const client of clients.values()) {
      const bySender = new Map();
      for (const { event, args } of client.received) {
        if (event !== "seq") continue;
        if (!bySender.has(args[0])) bySender.set(args[0], []);
        bySender.get(args[0]).push(args[1]);
      }
      for (const [sender, seqs] of bySender) {
        // From the first packet it got from that sender (it may have connected later), none missing.
        const expected = seqs.map((_, i) => seqs[0] + i);
        expect([client.worker, sender, seqs]).toEqual([client.worker, sender, expected]);
        checked += seqs.length;
      }
    }
    const requests = loads.reduce((n, l) => n + l.requests, 0);
    const late = loads.reduce((n, l) => n + l.late, 0);
    const failed = loads.flatMap((l) => l.failed);
    const slowest = Math.max(...loads.map((l) => l.slowest));
    console.log(
      `chaos: ${SECONDS} s, ${kills} kills, ${stops} stop/cont, ${serverCountChecks} server counts right within 1 s, ` +
        `${checked} broadcasts checked in order (0 lost, 0 duplicated), ${requests} requests, ${late} late, ` +
        `${failed.length} failed, slowest ${slowest} ms`,
    );
    expect(kills).toBeGreaterThan(0);
    expect(checked).toBeGreaterThan(0);
    expect(failed).toEqual([]);
    expect(late).toBe(0);
    // The primary is alive and still routing, within its memory bound: what the hub may hold (a
    // queue of maxQueueBytes, 64 MiB, per worker, and the recovery log's 64 MiB) above the ~60 MB
    // of a Node process.
    await waitFor(linked, "links of the live workers");
    const { stats } = await cluster.hubInfo();
    expect(stats.links).toBe(live().filter((w) => kindOf.get(w) === "native").length);
    const rssMb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${cluster.primary.pid}/status`, "utf8"))[1]) / 1024;
    console.log(`chaos: primary RSS ${rssMb.toFixed(1)} MB, hub queued ${stats.queuedBytes} bytes`);
    expect(rssMb).toBeLessThan(60 + 64 * (kinds.length + 1));
  }, SECONDS * 1000 + 30000);
});
