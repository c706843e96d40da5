"use strict";
// A worker that dies is no longer waited for: our primary tells the survivors at once (one
// ADAPTER_CLOSE per adapter of the dead worker), where the reference's primary says nothing and
// pending requests fail with "timeout reached" after 5 s. Also for reference workers under our primary.

const { TestCluster, waitForEvents } = require("./support/cluster");

describe.each([
  ["(hub)", "our workers", ["native", "native", "native"], true],
  ["(hub)", "reference workers", ["reference", "reference", "reference"], true],
  ["(hub)", "mixed workers", ["reference", "native", "native"], true],
  ["(IPC relay)", "our workers", ["native", "native", "native"], false],
  ["(IPC relay)", "mixed workers", ["native", "reference", "reference"], false],
])("our primary %s + %s: a worker killed with SIGKILL", (_, __, workers, hub) => {
  const cluster = new TestCluster({ primary: "native", primaryOptions: { hub }, workers });
  const [requester, victim, survivor] = [0, 1, 2];

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(3);
  });
  afterAll(() => cluster.stop());

  test("pending fetchSockets and serverSideEmitWithAck resolve with the survivors' answers", async () => {
    const clients = [];
    for (const w of [requester, victim, survivor]) clients.push(await cluster.client(w));
    // Stopped, the victim cannot answer: both requests stay pending until it is killed.
    cluster.signal(victim, "SIGSTOP");
    const fetched = cluster.run(requester, async ({ io }) => {
      const sockets = await io.fetchSockets();
      return sockets.map((s) => s.id);
    });
    const acked = cluster.run(requester, async ({ io }) => {
      const answers = await io.serverSideEmitWithAck("ping", "still there?");
      return answers.map((a) => a.from);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    cluster.signal(victim, "SIGKILL");
    await cluster.waitForExit(victim);

    expect((await fetched).sort()).toEqual([clients[requester].id, clients[survivor].id].sort());
    expect(await acked).toEqual([survivor]);
    expect(await cluster.run(requester, ({ io }) => io.of("/").adapter.serverCount())).toBe(2);
    expect(await cluster.run(survivor, ({ io }) => io.of("/").adapter.serverCount())).toBe(2);
  });

  test("a worker forked afterwards joins the cluster and receives broadcasts", async () => {
    const fresh = await cluster.forkWorker("native");
    await cluster.waitForServerCount(3);
    const client = await cluster.client(fresh);
    await cluster.run(requester, ({ io }) => io.emit("welcome", "new worker"));
    expect((await waitForEvents(client, "welcome"))[0].args).toEqual(["new worker"]);
  });
});
