"use strict";

// Recovery on another machine, ours (streams mode) against @socket.io/redis-streams-adapter:
// for each system, one redis-server and two "machines" of 2 workers (real clusters, through the
// test harness's primary), CLIENTS socket.io clients on machine A, in one room. "restart": machine
// A is stopped as a deploy stops it (SIGTERM: each worker io.close(), which persists its clients'
// sessions, then exits); "drop": the clients' connections drop. Machine B broadcasts MISSED
// packets to the room, then every client reconnects to machine B at once. Reported: the sessions
// found in Redis, how long until every client that recovered has every missed packet, how many
// recovered, and Redis's CPU time and bytes sent meanwhile (INFO).
//
//   npm run build && node bench/streams-recovery.js [--clients 1000] [--missed 10]

const { TestCluster, waitFor } = require("../__test__/support/cluster");
const { startRedis } = require("./harness/redis-server");
const { RedisInfo } = require("./redis-info");

const arg = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const CLIENTS = arg("--clients", 1000);
const MISSED = arg("--missed", 10);
const serverOptions = { connectionStateRecovery: { maxDisconnectionDuration: 120000 } };

const SYSTEMS = {
  "ours-streams": (url) => ({
    primary: "native",
    workers: ["native", "native"],
    primaryOptions: { redis: { url, mode: "streams" } },
  }),
  "redis-streams": () => ({ primary: "none", workers: ["redis-streams", "redis-streams"] }),
};

async function measure(name, how) {
  const redis = await startRedis();
  const info = new RedisInfo(redis.port);
  await info.connect();
  const config = (indexBase) => ({ ...SYSTEMS[name](redis.url), redisUrl: redis.url, serverOptions, graceful: true, indexBase });
  const a = new TestCluster(config(0));
  const b = new TestCluster(config(2));
  try {
    await a.start();
    await b.start();
    await waitFor(async () => (await a.runAll(({ io }) => io.of("/").adapter.serverCount())).every((n) => n === 4), "server counts", 20000);
    const clients = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await a.client(i % 2, { rooms: ["r"] }));
    await b.run(0, ({ io }) => io.to("r").emit("tick", 0));
    await waitFor(() => clients.every((c) => c.received.length === 1), "first tick", 20000);

    const gone = clients.map((c) => new Promise((resolve) => c.once("disconnect", resolve)));
    if (how === "restart") {
      // The deploy: machine A's workers close socket.io (which persists the sessions), then exit.
      for (const w of [0, 1]) a.signal(w, "SIGTERM");
    } else {
      // The clients' connections drop; machine A stays up.
      for (const c of clients) c.io.engine.close();
    }
    await Promise.all(gone);
    const sessions = async () => Number(await info.command(["EVAL", "return #redis.call('keys', 'sio:session:*')", "0"]));
    // Whatever the system persisted within 5 s.
    await waitFor(async () => (await sessions()) >= CLIENTS, "sessions in Redis", 5000).catch(() => {});
    const persisted = await sessions();
    for (let n = 1; n <= MISSED; n++) await b.run(n % 2, ({ io }, n) => io.to("r").emit("tick", n), n);

    const before = await info.read();
    const started = process.hrtime.bigint();
    const reconnects = clients.map((c, i) => b.reconnect(c, i % 2).catch(() => {}));
    await Promise.all(reconnects);
    const complete = (c) => c.received.length >= MISSED + 1;
    await waitFor(() => clients.every((c) => !c.recovered || complete(c)), "missed packets", 30000).catch(() => {});
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const after = await info.read();
    const recovered = clients.filter((c) => c.recovered).length;
    const whole = clients.filter((c) => c.recovered && c.received.map((r) => r.args[0]).join() === [...Array(MISSED + 1).keys()].join()).length;
    return { name, how, persisted, ms, recovered, whole, redisCpuMs: (after.cpuUs - before.cpuUs) / 1000, redisBytesOut: after.bytesOut - before.bytesOut };
  } finally {
    await Promise.allSettled([a.stop(), b.stop()]);
    info.close();
    await redis.stop();
  }
}

async function main() {
  console.log(`${CLIENTS} clients of machine A (2 workers) reconnect at once to machine B (2 workers); ${MISSED} packets missed`);
  console.log("restart: machine A stopped as a deploy stops it (SIGTERM, io.close(), exit); drop: the clients' connections drop");
  for (const how of ["restart", "drop"]) {
    for (const name of Object.keys(SYSTEMS)) {
      const r = await measure(name, how);
      console.log(
        `${r.how.padEnd(8)} ${r.name.padEnd(14)} sessions persisted ${r.persisted}/${CLIENTS}; reconnected and done in ${r.ms.toFixed(0)} ms; ` +
          `recovered ${r.recovered}/${CLIENTS}, with every missed packet once and in order ${r.whole}/${CLIENTS}; ` +
          `Redis CPU ${r.redisCpuMs.toFixed(1)} ms, bytes out ${r.redisBytesOut}`,
      );
    }
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
