"use strict";
// The standalone hub (`socket.io-cluster-hub --socket <path>`, a process of its own) with socket.io
// servers that no primary of ours started: every feature of the pairing suite across three plain
// processes (not cluster workers) and across the workers of a cluster under the reference's primary
// (as under PM2, whose daemon runs it); the Emitter from another process; a rolling replacement of
// every process with connection state recovery; the hub stopped and started again; and who is
// refused.

const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { describeFeatures } = require("./support/features");
const { TestCluster, linkState, settle, sleep, waitFor, waitForEvents } = require("./support/cluster");
const { describeWithRedis, startRedis, shardNumSub } = require("./support/redis");

const ROOT = path.join(__dirname, "..");

describeFeatures("standalone hub + 3 plain processes (no node:cluster)", {
  primary: "none",
  plain: true,
  standaloneHub: {},
  workers: ["native", "native", "native"],
});

describeFeatures("standalone hub + the reference's primary + 2 of our cluster workers (as under PM2)", {
  // Both workers are alike: every feature from one of them (from each: the plain processes above).
  senders: [0],
  primary: "reference",
  standaloneHub: {},
  workers: ["native", "native"],
});

const RECOVERY = { connectionStateRecovery: { maxDisconnectionDuration: 30000 } };

describe("standalone hub: the Emitter, recovery across a rolling replacement, a hub restart", () => {
  const cluster = new TestCluster({
    primary: "none",
    plain: true,
    standaloneHub: {},
    workers: ["native", "native", "native"],
    serverOptions: RECOVERY,
    graceful: true,
    // A timeout no test waits for: a process counted gone was announced so by the hub.
    adapterOptions: { heartbeatInterval: 500, heartbeatTimeout: 600000 },
  });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(3);
    await cluster.waitForLinks();
  });
  afterAll(() => cluster.stop());
  afterEach(() => cluster.disconnectClients());

  test("an Emitter in another process (no primary of ours) reaches the clients of every process", async () => {
    const clients = [];
    for (const w of [0, 1, 2]) clients.push(await cluster.client(w, { rooms: [w === 1 ? "news" : "other"] }));
    // In the test's primary process, which runs no hub of its own (primary: "none").
    const socket = await cluster.request("hubSocket");
    await cluster.runPrimary(({ pkg }, hub) => {
      const emitter = new pkg.Emitter({ hub });
      emitter.emit("all", 1);
      emitter.to("news").emit("news", 2);
      emitter.of("/chat").emit("chat", 3);
      emitter.close(); // what was emitted still leaves
    }, socket);
    for (const c of clients) await waitForEvents(c, "all");
    await waitForEvents(clients[1], "news");
    await settle();
    expect(clients.map((c) => c.received.filter((r) => r.event === "news").length)).toEqual([0, 1, 0]);
    expect(clients.map((c) => c.received.filter((r) => r.event === "all").length)).toEqual([1, 1, 1]);
  });

  test("every process replaced in turn: its clients recover on the replacement, every packet once and in order", async () => {
    const clients = [];
    for (const w of [0, 1, 2]) {
      for (let k = 0; k < 2; k++) {
        const client = await cluster.client(w, { rooms: ["feed"] });
        client.worker = w;
        clients.push(client);
      }
    }
    let sent = 0;
    // The feed comes from a process that stays: the last one forked below replaces nothing.
    const feeder = await cluster.forkWorker("native");
    await waitFor(async () => (await cluster.run(feeder, linkState)) === "linked", "the feeder linked");
    await cluster.run(feeder, ({ io, state }) => {
      state.sent = 0;
      state.feeder = setInterval(() => io.to("feed").emit("m", state.sent++), 10);
    });
    await waitFor(() => clients.every((c) => typeof c._lastOffset === "string"), "an offset for every client");
    let recovered = 0;
    for (const old of [0, 1, 2]) {
      const replacement = await cluster.forkWorker("native");
      const mine = clients.filter((c) => c.worker === old);
      const gone = mine.map((c) => new Promise((resolve) => c.once("disconnect", resolve)));
      const exited = cluster.waitForExit(old);
      cluster.signal(old, "SIGTERM");
      await Promise.all(gone);
      await Promise.all(mine.map((c) => cluster.reconnect(c, replacement)));
      for (const c of mine) {
        if (c.recovered) recovered++;
        c.worker = replacement;
      }
      await exited;
    }
    await sleep(100);
    sent = await cluster.run(feeder, ({ state }) => {
      clearInterval(state.feeder);
      return state.sent;
    });
    await settle(500);
    console.log(`standalone hub, rolling replacement: ${recovered} of ${clients.length} clients recovered`);
    expect(recovered).toBe(clients.length);
    for (const c of clients) {
      const seqs = c.received.filter((r) => r.event === "m").map((r) => r.args[0]);
      expect(seqs).toEqual([...Array(sent).keys()]);
    }
  });

  test("a process killed (SIGKILL) is gone for the others at once, not after heartbeatTimeout", async () => {
    const victim = await cluster.forkWorker("native");
    await waitFor(async () => (await cluster.run(victim, linkState)) === "linked", "linked");
    const survivors = cluster.aliveIndexes().filter((i) => i !== victim);
    await waitFor(async () => (await cluster.run(survivors[0], ({ io }) => io.of("/").adapter.serverCount())) === survivors.length + 1, "counted");
    const exited = cluster.waitForExit(victim);
    cluster.signal(victim, "SIGKILL");
    await exited;
    // heartbeatTimeout is 10 minutes here: only the hub's ADAPTER_CLOSE can uncount it.
    await waitFor(async () => (await cluster.run(survivors[0], ({ io }) => io.of("/").adapter.serverCount())) === survivors.length, "the victim uncounted");
  });

  test("the hub stopped and started again: the processes link again and broadcasts cross again", async () => {
    const live = cluster.workers.map((w, i) => (w && w.alive ? i : -1)).filter((i) => i >= 0);
    const exit = await cluster.request("hubStop");
    expect(exit).toEqual({ code: 0, signal: null }); // SIGTERM: a clean stop
    const socket = await cluster.request("hubSocket");
    expect(fs.existsSync(socket)).toBe(false);
    expect(fs.existsSync(`${socket}.secret`)).toBe(false);
    await waitFor(async () => (await cluster.runAll(linkState)).every((s) => s === "ipc"), "links closed");
    await cluster.request("hubStart");
    await waitFor(async () => (await cluster.runAll(linkState)).every((s) => s === "linked"), "links again", 10000);
    const clients = [];
    for (const w of live) clients.push(await cluster.client(w));
    await cluster.run(live[0], ({ io }) => io.emit("again"));
    for (const c of clients) await waitForEvents(c, "again");
  });
});

describe("standalone hub beside a reference worker (under the reference's primary)", () => {
  const cluster = new TestCluster({ primary: "reference", standaloneHub: {}, workers: ["native", "reference"], adapterOptions: { heartbeatInterval: 300 } });
  beforeAll(() => cluster.start());
  afterAll(() => cluster.stop());

  test("our worker hears the reference worker over IPC and names it: it does not hear our worker", async () => {
    await waitFor(async () => (await cluster.run(0, linkState)) === "linked", "linked");
    const referenceUid = await cluster.run(1, ({ io }) => io.of("/").adapter.uid);
    await waitFor(
      async () => cluster.run(0, ({ require }, uid) => require("../../lib/transport").link.ipcServers.has(uid), referenceUid),
      "the reference worker named",
    );
    // What the debug line says is so: the reference worker counts only itself.
    await sleep(1000);
    expect(await cluster.run(1, ({ io }) => io.of("/").adapter.serverCount())).toBe(1);
  });
});

describeWithRedis("standalone hubs bridged through Redis (--redis)", () => {
  let redis;
  const machines = [];
  beforeAll(async () => {
    redis = await startRedis();
    for (const base of [0, 2]) {
      const machine = new TestCluster({ primary: "none", plain: true, indexBase: base, standaloneHub: { args: ["--redis", redis.url] }, workers: ["native", "native"] });
      machines.push(machine);
      await machine.start();
    }
  });
  afterAll(async () => {
    for (const machine of machines) await machine.stop();
    if (redis) await redis.stop();
  });

  test("a broadcast and a room message cross machines; serverCount() counts every process", async () => {
    await waitFor(async () => (await Promise.all(machines.map((m) => m.runAll(({ io }) => io.of("/").adapter.serverCount())))).flat().every((n) => n === 4), "4 servers everywhere", 15000);
    const a = await machines[0].client(0);
    const b = await machines[1].client(1, { rooms: ["r"] });
    const bOther = await machines[1].client(0);
    await waitFor(() => shardNumSub(redis.port, "socket.io#/#r#") >= 1, "machine B subscribed the room");
    await machines[0].run(1, ({ io }) => {
      io.emit("all");
      io.to("r").emit("room");
    });
    for (const c of [a, b, bOther]) await waitForEvents(c, "all");
    await waitForEvents(b, "room");
    await settle();
    expect([a, b, bOther].map((c) => c.received.filter((r) => r.event === "room").length)).toEqual([0, 1, 0]);
  });
});

describe("standalone hub: who is refused", () => {
  const cluster = new TestCluster({ primary: "none", plain: true, standaloneHub: {}, workers: ["native"] });
  beforeAll(() => cluster.start());
  afterAll(() => cluster.stop());

  // Runs `code` in a new node process (`options`: spawnSync's, e.g. another uid); returns its stdout.
  function probe(code, options = {}) {
    const result = spawnSync(process.execPath, ["-e", code], { cwd: ROOT, encoding: "utf8", timeout: 10000, ...options });
    return (result.stdout || "").trim() + (result.stderr ? ` ${result.stderr.trim()}` : "");
  }

  // Connects, sends a hello with the given secret, prints what happened.
  const helloProbe = (socket, secretExpr) => `
    const net = require("node:net");
    const { LinkCodec } = require("./native.js");
    let secret;
    try { secret = ${secretExpr}; } catch (e) { console.log("cannot read the secret: " + e.code); process.exit(0); }
    const codec = new LinkCodec(secret, 0);
    const s = net.createConnection(${JSON.stringify(socket)});
    s.on("error", (e) => { console.log("error " + e.code); process.exit(0); });
    s.on("connect", () => s.write(codec.hello()));
    s.on("data", (b) => { try { codec.push(b); console.log(codec.accepted ? "accepted" : "?"); } catch (e) { console.log("refused"); } process.exit(0); });
    s.on("close", () => { console.log("closed"); process.exit(0); });
  `;

  test("a process of the hub's user with the secret file is accepted; without it, refused", async () => {
    const socket = await cluster.request("hubSocket");
    expect(probe(helloProbe(socket, `require("node:fs").readFileSync(${JSON.stringify(`${socket}.secret`)}, "utf8")`))).toBe("accepted");
    expect(probe(helloProbe(socket, `"ab".repeat(32)`))).toBe("closed");
  });

  test("a process of another user cannot reach the socket nor read the secret", async () => {
    if (process.getuid() !== 0) return console.log("skipped: needs root to run a probe as another user");
    const socket = await cluster.request("hubSocket");
    const asNobody = { uid: 65534, gid: 65534 };
    // Its own copy of the binding (the checkout may be unreadable to it), to get as far as it can.
    const out = probe(helloProbe(socket, `"ab".repeat(32)`).replace('require("./native.js")', `require(${JSON.stringify(path.join(ROOT, "native.js"))})`), asNobody);
    expect(out).toMatch(/error EACCES|Cannot find module|EACCES/);
    const secret = probe(`try { require("node:fs").readFileSync(${JSON.stringify(`${socket}.secret`)}); console.log("read") } catch (e) { console.log(e.code) }`, asNobody);
    expect(secret).toBe("EACCES");
  });
});

describe("the socket.io-cluster-hub command", () => {
  const bin = path.join(ROOT, "bin", "socket.io-cluster-hub.js");
  const run = (args, env = {}) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 10000, env: { ...process.env, ...env } });

  test("--help prints the usage; a missing or wrong argument exits 2 naming it", () => {
    const help = run(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--socket <path>/);
    const none = run([], { SOCKET_IO_CLUSTER_HUB: "" });
    expect([none.status, none.stderr]).toEqual([2, expect.stringMatching(/--socket is required/)]);
    const unknown = run(["--socket", "/tmp/x.sock", "--sokcet", "y"]);
    expect([unknown.status, unknown.stderr]).toEqual([2, expect.stringMatching(/--sokcet/)]);
    const mode = run(["--socket", "/tmp/x.sock", "--redis", "redis://127.0.0.1:1", "--redis-subscription-mode", "sharded"]);
    expect([mode.status, mode.stderr]).toEqual([2, expect.stringMatching(/subscriptionMode" must be one of/)]);
    const count = run(["--socket", "/tmp/x.sock", "--recovery-max-packets", "ten"]);
    expect([count.status, count.stderr]).toEqual([2, expect.stringMatching(/--recovery-max-packets must be a positive integer/)]);
  });

  test("a directory others may write is refused (exit 1, said why)", () => {
    const dir = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "sio-open-"));
    fs.chmodSync(dir, 0o777);
    const result = run(["--socket", path.join(dir, "hub.sock")]);
    expect([result.status, result.stderr]).toEqual([1, expect.stringMatching(/may be written by other users/)]);
    fs.rmdirSync(dir);
  });

  test("a second hub on the same socket is refused while the first runs", async () => {
    const cluster = new TestCluster({ primary: "none", plain: true, standaloneHub: {}, workers: [] });
    await cluster.start();
    try {
      const socket = await cluster.request("hubSocket");
      await waitFor(() => fs.existsSync(`${socket}.secret`), "the first hub up"); // written once it listens
      const second = run(["--socket", socket]);
      expect([second.status, second.stderr]).toEqual([1, expect.stringMatching(/a hub already listens on/)]);
      expect(fs.existsSync(socket)).toBe(true);
    } finally {
      await cluster.stop();
    }
  });
});
