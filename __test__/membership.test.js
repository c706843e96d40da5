"use strict";
// Heartbeats and adapter close: how servers learn that another one is gone or back.

const { TestCluster, sleep } = require("./support/cluster");

describe.each([
  ["our primary", "native"],
  ["reference primary", "reference"],
])("%s + our workers, short heartbeats", (_, primary) => {
  const cluster = new TestCluster({
    primary,
    workers: ["native", "native", "native"],
    adapterOptions: { heartbeatInterval: 200, heartbeatTimeout: 1000 },
  });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(3);
  });
  afterAll(() => cluster.stop());

  const countOn = (w, nsp = "/") => cluster.run(w, ({ io }, name) => io.of(name).adapter.serverCount(), nsp);

  async function waitForCount(w, expected, nsp) {
    for (let i = 0; i < 100; i++) {
      if ((await countOn(w, nsp)) === expected) return;
      await sleep(100);
    }
    throw new Error(`worker ${w} never counted ${expected} servers`);
  }

  test("heartbeats keep an idle cluster together", async () => {
    await sleep(1500); // longer than heartbeatTimeout, with no traffic but heartbeats
    expect(await countOn(0)).toBe(3);
  });

  test("a silent worker is dropped after heartbeatTimeout and counted again when it is back", async () => {
    cluster.signal(2, "SIGSTOP");
    await waitForCount(0, 2);
    cluster.signal(2, "SIGCONT");
    await waitForCount(0, 3);
  });

  test("closing an adapter removes that server from its namespace at once", async () => {
    await cluster.run(2, ({ io }) => io.of("/chat").adapter.close());
    await waitForCount(0, 2, "/chat");
    expect(await countOn(0, "/")).toBe(3);
  });
});
