"use strict";
// Mutations of real adapter messages of all 13 types, sent over IPC into a live worker and into our
// primary (as a worker would): no process crashes, every message the validator lets through is
// applied by socket.io-adapter without an error, and the cluster works afterwards. IPC_FUZZ_COUNT
// sets how many go to each (default 4,000; 100,000 for the figure).

const { TestCluster, sleep, waitFor, waitForEvents } = require("./support/cluster");

const COUNT = Number(process.env.IPC_FUZZ_COUNT || 4000);
// Messages with declared lengths, each way (larger and slower to send: a twentieth as many).
const DECLARED_COUNT = Number(process.env.IPC_FUZZ_DECLARED_COUNT || Math.ceil(COUNT / 20));
const SOURCE = "_sio_adapter";
const opts = { rooms: ["r1"], except: ["sid-x"], flags: { volatile: false } };
const packet = { type: 2, nsp: "/", data: ["event", { a: 1 }, [1, 2]] };
// One real message of each type, as socket.io-adapter 2.5 writes them.
const TEMPLATES = [
  { type: 1 },
  { type: 2 },
  { type: 3, data: { packet, opts } },
  { type: 3, data: { packet, opts, requestId: "req-1" } },
  { type: 4, data: { opts, rooms: ["r2"] } },
  { type: 5, data: { opts, rooms: ["r2"] } },
  { type: 6, data: { opts, close: true } },
  { type: 7, data: { opts, requestId: "req-2" } },
  { type: 8, requesterUid: "other", data: { requestId: "req-2", sockets: [{ id: "s1", handshake: {}, rooms: ["s1"], data: {} }] } },
  { type: 9, data: { packet: ["hello", 1] } },
  { type: 9, data: { packet: ["hello", 1], requestId: "req-3" } },
  { type: 10, requesterUid: "other", data: { requestId: "req-3", packet: ["answer"] } },
  { type: 11, requesterUid: "other", data: { requestId: "req-1", clientCount: 3 } },
  { type: 12, requesterUid: "other", data: { requestId: "req-1", packet: ["ack"] } },
  { type: 13 },
].map((fields) => ({ source: SOURCE, uid: "fuzz-uid", nsp: "/", ...fields }));

// A small deterministic PRNG (mulberry32), so a failure can be replayed with its seed.
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutator(seed) {
  const random = prng(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const values = () => [
    null,
    undefined,
    0,
    -1,
    1.5,
    NaN,
    Infinity,
    2 ** 53,
    "",
    "x".repeat(Math.floor(random() * 64)),
    "/",
    "r1",
    true,
    [],
    [null],
    ["r1", 2],
    {},
    { rooms: [], except: [] },
    { packet: {} },
    Math.floor(random() * 20),
  ];
  const paths = (value, prefix = []) => {
    if (value === null || typeof value !== "object") return [prefix];
    const keys = Object.keys(value);
    return [prefix, ...keys.flatMap((key) => paths(value[key], [...prefix, key]))];
  };
  const mutateOnce = (message) => {
    const targets = paths(message).filter((path) => path.length > 0);
    const path = pick(targets);
    let parent = message;
    for (const key of path.slice(0, -1)) parent = parent[key];
    const key = path[path.length - 1];
    switch (Math.floor(random() * 4)) {
      case 0:
        delete parent[key];
        break;
      case 1:
        parent[key] = pick(values());
        break;
      case 2:
        parent[pick(["extra", "data", "opts", "rooms", "requestId", "packet", "type", "uid"])] = pick(values());
        break;
      default:
        parent[key] = structuredCloneish(pick(TEMPLATES));
    }
  };
  return () => {
    const message = structuredCloneish(pick(TEMPLATES));
    const mutations = 1 + Math.floor(random() * 3);
    for (let i = 0; i < mutations; i++) mutateOnce(message);
    message.source = SOURCE; // otherwise it is not an adapter message at all
    return message;
  };
}

// JSON-like copy that keeps undefined/NaN where they are (structuredClone would too, but keeps
// the templates apart from their mutations here without surprises).
function structuredCloneish(value) {
  return structuredClone(value);
}

// Runs where the messages are sent from (a worker, or the primary), because V8 must serialize
// them as built: messages of every type whose fields are replaced by values that declare more than
// they hold (sparse arrays of declared length up to 2^32 - 1 holding 0-3 elements), long strings,
// deep nesting, objects shared many times (2^depth copies once expanded) and cycles. Self-contained:
// its source is sent to the process that runs it. Returns the messages.
function declaredLengths(templates, seed, count) {
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (list) => list[Math.floor(random() * list.length)];
  const small = () => pick(["r1", "s1", 1, { id: "s1", handshake: {}, rooms: [] }, "event", null]);
  const hostile = () => {
    switch (Math.floor(random() * 6)) {
      case 0: {
        const array = Array.from({ length: Math.floor(random() * 4) }, small);
        array.length = pick([2 ** 32 - 1, 2 ** 31, 1e6, array.length + 17, Math.floor(random() * 2 ** 32)]);
        return array;
      }
      case 1:
        return "x".repeat(pick([1e5, 1e6, 8e6]));
      case 2: {
        let value = [];
        // At most 1,000 levels: from about 1,500 levels of objects, Node's own IPC deserializer
        // overflows its stack in the receiving process, before any listener runs, and the
        // process dies (any primary, the reference's too: node:internal/child_process/serialization).
        for (let i = 0, depth = Math.floor(random() * 1000); i < depth; i++) value = pick([[value], { a: value }]);
        return value;
      }
      case 3: {
        let value = [small()];
        for (let i = 0, depth = 20 + Math.floor(random() * 30); i < depth; i++) value = [value, value];
        return value;
      }
      case 4: {
        const cycle = { rooms: [] };
        cycle.self = cycle;
        return cycle;
      }
      default: {
        const sparse = [small()];
        sparse[Math.floor(random() * 2 ** 32 - 2)] = small(); // one far element: 2^32 - 1 at most
        return sparse;
      }
    }
  };
  const paths = (value, prefix = []) => {
    if (value === null || typeof value !== "object") return [prefix];
    return [prefix, ...Object.keys(value).flatMap((key) => paths(value[key], [...prefix, key]))];
  };
  const messages = [];
  for (let n = 0; n < count; n++) {
    const message = structuredClone(pick(templates));
    // The paths of the template (what it is edited into is never walked: it may be huge).
    const targets = paths(message).filter((path) => path.length > 1 || path[0] === "data");
    if (targets.length === 0) targets.push(["data"]);
    for (let i = 0, edits = 1 + Math.floor(random() * 2); i < edits; i++) {
      const path = pick(targets);
      let parent = message;
      for (const key of path.slice(0, -1)) parent = parent !== null && typeof parent === "object" ? parent[key] : undefined;
      if (parent !== null && typeof parent === "object") parent[path[path.length - 1]] = hostile();
    }
    messages.push(message);
  }
  return messages;
}

describe("mutated IPC messages of every type", () => {
  const cluster = new TestCluster({
    primary: "native",
    workers: ["native", "native"],
    adapterOptions: { heartbeatInterval: 300, heartbeatTimeout: 1000 },
  });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(2);
  });
  afterAll(() => cluster.stop());

  const stats = ({ require }) => ({ ...require("../../lib/transport").stats });

  test(`${COUNT} into a live worker and ${COUNT} into our primary: no crash, nothing applied with an error, the cluster works after`, async () => {
    const before = await cluster.runAll(stats);
    const primaryBefore = await cluster.primaryStats();
    const next = mutator(1);
    const batch = 500;
    for (let sent = 0; sent < COUNT; sent += batch) {
      const messages = Array.from({ length: Math.min(batch, COUNT - sent) }, next);
      // Into worker 0, as if our primary had relayed them.
      for (const message of messages) cluster.sendRaw(0, message);
      // Into our primary, from worker 1's own IPC channel.
      await cluster.run(1, (_, list) => {
        for (const message of list) process.send(message);
      }, messages.map((m) => JSON.parse(JSON.stringify(m) ?? "null")).filter((m) => m && typeof m === "object"));
    }
    await sleep(500);
    const after = await cluster.runAll(stats);
    const dropped = after.map((a, i) => a.dropped - before[i].dropped);
    const applied = after.map((a, i) => a.received - before[i].received);
    const unhandled = after.map((a, i) => a.unhandled - before[i].unhandled);
    const primaryAfter = await cluster.primaryStats();
    console.log(
      `IPC fuzz: ${COUNT} into worker 0 and ${COUNT} from worker 1 into our primary; our primary dropped ` +
        `${primaryAfter.dropped - primaryBefore.dropped} as invalid; worker 0 dropped ${dropped[0]} and applied ${applied[0]} ` +
        `(what it was sent directly and what our primary relayed); errors while applying: ${unhandled}`,
    );
    expect(cluster.aliveIndexes()).toEqual([0, 1]);
    expect(unhandled).toEqual([0, 0]);
    expect(dropped[0]).toBeGreaterThan(0);

    // Fake servers announced by valid mutations expire; the cluster works.
    await sleep(1500);
    await cluster.waitForServerCount(2);
    const client = await cluster.client(0);
    await cluster.run(1, ({ io }) => io.emit("after-fuzz"));
    await waitForEvents(client, "after-fuzz");
    expect(await cluster.run(0, async ({ io }) => (await io.fetchSockets()).length)).toBe(1);
    const answers = await cluster.run(0, ({ io }) => io.serverSideEmitWithAck("ping", 1));
    expect(answers).toEqual([{ from: 1, arg: 1 }]);
    await waitFor(async () => (await cluster.hubInfo()).stats.links === 2, "both links up");
  }, 120000);
});

describe("IPC messages that declare more than they hold", () => {
  // A reference worker on IPC beside ours: the primary bridges (and so encodes) what it sends.
  const cluster = new TestCluster({
    primary: "native",
    workers: ["native", "native", "reference"],
    adapterOptions: { heartbeatInterval: 300, heartbeatTimeout: 1000 },
  });

  beforeAll(async () => {
    await cluster.start();
    await cluster.waitForServerCount(3);
  });
  afterAll(() => cluster.stop());

  const stats = ({ require }) => ({ ...require("../../lib/transport").stats });

  test(`${DECLARED_COUNT} into our primary from a worker and ${DECLARED_COUNT} into a live worker: no crash, no stall, the cluster works after`, async () => {
    const before = await cluster.run(0, stats);
    const primaryBefore = await cluster.primaryStats();
    const batch = 50;
    for (let sent = 0; sent < DECLARED_COUNT; sent += batch) {
      const count = Math.min(batch, DECLARED_COUNT - sent);
      // Into our primary, from worker 1's IPC channel.
      await cluster.run(1, (_worker, source, templates, seed, n) => {
        const generate = new Function(`return (${source})`)();
        for (const message of generate(templates, seed, n)) process.send(message, null, {}, () => {});
      }, declaredLengths.toString(), TEMPLATES, 1 + sent, count);
      // Into worker 0 from the primary, as if relayed.
      await cluster.runPrimary(({ require }, source, templates, seed, n, pid) => {
        const generate = new Function(`return (${source})`)();
        const target = Object.values(require("node:cluster").workers).find((w) => w.process.pid === pid);
        for (const message of generate(templates, seed, n)) target.send(message, null, {}, () => {});
      }, declaredLengths.toString(), TEMPLATES, 100000 + sent, count, cluster.workers[0].pid);
    }
    const after = await cluster.run(0, stats);
    const primaryAfter = await cluster.primaryStats();
    console.log(
      `IPC fuzz (declared lengths): ${DECLARED_COUNT} from worker 1 into our primary, which dropped ` +
        `${primaryAfter.dropped - primaryBefore.dropped} and relayed ${primaryAfter.relayed - primaryBefore.relayed}; ` +
        `${DECLARED_COUNT} into worker 0, which dropped ${after.dropped - before.dropped}, applied ` +
        `${after.received - before.received} (with what our primary relayed), errors while applying: ${after.unhandled - before.unhandled}`,
    );
    expect(cluster.aliveIndexes()).toEqual([0, 1, 2]);
    expect(after.dropped - before.dropped).toBeGreaterThan(0);
    expect(primaryAfter.dropped - primaryBefore.dropped).toBeGreaterThan(0);

    await sleep(1500); // fake servers announced by valid ones expire
    await cluster.waitForServerCount(3);
    const client = await cluster.client(0);
    await cluster.run(2, ({ io }) => io.emit("after-fuzz"));
    await waitForEvents(client, "after-fuzz");
    await waitFor(async () => (await cluster.hubInfo()).stats.links === 2, "both links up");
  }, 300000);
});
