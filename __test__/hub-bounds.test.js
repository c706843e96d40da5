"use strict";
// Issue 15, "every input costs what it holds": the hub's queues and tables stay within their
// documented bounds whatever the workers send, and reaching a bound has one defined outcome.

const { TestCluster, linkState, waitFor, waitForEvents } = require("./support/cluster");

const MiB = 1024 * 1024;

describe("our primary (maxQueueBytes: 8 MiB) + our worker and a reference worker on IPC", () => {
  const bound = 8 * MiB;
  const cluster = new TestCluster({
    primary: "native",
    primaryOptions: { maxQueueBytes: bound },
    workers: ["native", "reference"],
    adapterOptions: { heartbeatInterval: 500 },
  });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(2);
    await waitFor(async () => (await cluster.run(0, linkState)) === "linked", "worker 0 linked");
  });
  afterAll(() => cluster.stop());

  test("frames for a worker on IPC wait for a busy primary within maxQueueBytes; past it they are dropped and counted, and traffic resumes", async () => {
    const total = 256 * MiB;
    const chunk = 64 * 1024;
    // Worker 0 floods worker 1 (on IPC) a little after this returns, while the primary's
    // JavaScript is busy for 5 s: what the hub hands it waits meanwhile.
    await cluster.run(0, ({ io, state }, count, size) => {
      state.flooded = false;
      setTimeout(() => {
        const payload = Buffer.alloc(size, 7);
        let i = 0;
        const tick = () => {
          for (let k = 0; k < 32 && i < count; k++, i++) io.emit("bulk", i, payload);
          if (i < count) setImmediate(tick);
          else state.flooded = true;
        };
        tick();
      }, 200);
    }, total / chunk, chunk);
    const { before, peak } = await cluster.runPrimary(() => {
      const before = process.memoryUsage().rss;
      let peak = before;
      const end = Date.now() + 5000;
      while (Date.now() < end) peak = Math.max(peak, process.memoryUsage().rss);
      return { before, peak };
    });
    await waitFor(() => cluster.run(0, ({ state }) => state.flooded), "the flood sent", 60000);
    const { stats } = await cluster.hubInfo();
    if (process.env.TEST_FIGURES) console.log({ growthMiB: (peak - before) / MiB, dropped: stats.bridgeDropped });
    // The bound, plus slack for what the JS thread holds while it sends one message, the hub's
    // frames in flight and allocator noise; without the bound this grew by the whole flood.
    expect((peak - before) / MiB).toBeLessThan(bound / MiB + 64);
    expect(stats.bridgeDropped).toBeGreaterThan(0);
    expect(stats.bridgeBytes).toBeLessThanOrEqual(bound);

    // Traffic resumes: worker 1 gets what worker 0 sends now.
    await waitFor(async () => (await cluster.hubInfo()).stats.bridgeBytes === 0, "the bridge drained", 30000);
    const client = await cluster.client(1);
    await cluster.run(0, ({ io }) => io.emit("after"));
    await waitForEvents(client, "after");
  }, 120000);
});

describe("our primary (maxQueueBytes: 8 MiB) + our workers and a reference worker that invents uids", () => {
  const bound = 8 * MiB;
  const cluster = new TestCluster({
    primary: "native",
    primaryOptions: { maxQueueBytes: bound },
    workers: ["native", "native", "reference"],
    adapterOptions: { heartbeatInterval: 500 },
  });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(3);
    await waitFor(async () => (await cluster.runAll(linkState)).slice(0, 2).every((s) => s === "linked"), "links");
  });
  afterAll(() => cluster.stop());

  test("the hub's uid table is bounded, and the worker's closing does not disconnect the healthy ones", async () => {
    const count = 100000;
    // Worker 2 speaks for 100,000 adapters of "/" (64-character uids): their ADAPTER_CLOSE
    // announcements alone would take about 10 MB of each other worker's queue.
    await cluster.run(2, ({ index }, n) => {
      for (let i = 0; i < n; i++) {
        process.send({ source: "_sio_adapter", type: 2, nsp: "/", uid: `${index}-${i}`.padStart(64, "0") });
      }
    }, count);
    await waitFor(async () => {
      const { stats } = await cluster.hubInfo();
      return stats.uids + stats.uidsRefused >= count;
    }, "the hub read them all", 60000);
    const { stats } = await cluster.hubInfo();
    expect(stats.uidsRefused).toBeGreaterThan(0);
    expect(stats.uidBytes).toBeLessThanOrEqual(1024 * 1024);

    cluster.signal(2, "SIGKILL");
    await cluster.waitForExit(2);
    const client = await cluster.client(1);
    await cluster.run(0, ({ io }) => io.emit("after"));
    await waitForEvents(client, "after");
    const { stats: after } = await cluster.hubInfo();
    expect(after.overflows).toBe(0);
    expect(after.links).toBe(2);
    expect(await cluster.runAll(linkState)).toEqual(["linked", "linked"]);
  }, 120000);
});
