"use strict";
// requestsTimeout is honoured (socket.io-adapter 2.5 ignores it and always waits 5000 ms), and
// io.timeout(ms) still wins for fetchSockets. Bounds are loose on purpose: shared, noisy machines.

const { TestCluster } = require("./support/cluster");

describe("our workers with requestsTimeout: 1000", () => {
  const cluster = new TestCluster({
    primary: "native",
    workers: ["native", "native"],
    adapterOptions: { requestsTimeout: 1000 },
  });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(2);
  });
  afterAll(() => cluster.stop());

  const timed = (fn) =>
    cluster.run(0, async (ctx, source) => {
      const started = Date.now();
      try {
        const value = await new Function(`return (${source})`)()(ctx);
        return { value, elapsed: Date.now() - started };
      } catch (err) {
        return { error: err.message, elapsed: Date.now() - started };
      }
    }, fn.toString());

  test("serverSideEmitWithAck rejects after requestsTimeout when a worker does not answer", async () => {
    await cluster.run(1, ({ state }) => (state.silent = true));
    const result = await timed(({ io }) => io.serverSideEmitWithAck("ping", 1));
    await cluster.run(1, ({ state }) => (state.silent = false));
    expect(result.error).toMatch(/timeout reached/);
    expect(result.elapsed).toBeGreaterThanOrEqual(900);
    expect(result.elapsed).toBeLessThan(4000);
  });

  test("serverSideEmit with a callback gets the timeout error and the answers received", async () => {
    await cluster.run(1, ({ state }) => (state.silent = true));
    const result = await cluster.run(
      0,
      ({ io }) => new Promise((resolve) => io.serverSideEmit("ping", 1, (err, answers) => resolve({ err: err && err.message, answers }))),
    );
    await cluster.run(1, ({ state }) => (state.silent = false));
    expect(result.err).toMatch(/timeout reached: missing 1 responses/);
    expect(result.answers).toEqual([]);
  });

  test("fetchSockets rejects after requestsTimeout when a worker does not answer", async () => {
    cluster.signal(1, "SIGSTOP");
    const result = await timed(({ io }) => io.fetchSockets());
    cluster.signal(1, "SIGCONT");
    expect(result.error).toMatch(/timeout reached/);
    expect(result.elapsed).toBeGreaterThanOrEqual(900);
    expect(result.elapsed).toBeLessThan(4000);
  });

  test("io.timeout(ms).fetchSockets() wins over requestsTimeout", async () => {
    cluster.signal(1, "SIGSTOP");
    const result = await timed(({ io }) => io.timeout(2500).fetchSockets());
    cluster.signal(1, "SIGCONT");
    expect(result.error).toMatch(/timeout reached/);
    expect(result.elapsed).toBeGreaterThanOrEqual(2400);
  });

  test("answers arriving after the timeout are dropped without harm", async () => {
    // The stopped worker of the previous tests answers late, after SIGCONT: nothing breaks.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answers = await cluster.run(0, ({ io }) => io.serverSideEmitWithAck("ping", 2));
    expect(answers).toEqual([{ from: 1, arg: 2 }]);
  });
});
