"use strict";
// The package's surface, without a cluster: exports, options checking, use outside a cluster.

const { execFileSync } = require("node:child_process");
const path = require("node:path");
const { createAdapter, setupPrimary, startHub, NodeClusterAdapter, Emitter, hubStats } = require("..");

describe("exports", () => {
  test("CommonJS and ESM imports expose createAdapter, setupPrimary, NodeClusterAdapter and Emitter", () => {
    expect(typeof createAdapter).toBe("function");
    expect(typeof setupPrimary).toBe("function");
    expect(typeof NodeClusterAdapter).toBe("function");
    expect(typeof Emitter).toBe("function");
    const script =
      'import { createAdapter, setupPrimary, NodeClusterAdapter, Emitter } from "socket.io-cluster-adapter-native";' +
      "console.log([createAdapter, setupPrimary, NodeClusterAdapter, Emitter].map((f) => typeof f).join());";
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: path.join(__dirname, ".."),
      encoding: "utf8",
    });
    expect(out.trim()).toBe("function,function,function,function");
  });
});

describe("options", () => {
  test.each([
    [{ requestsTimeout: "5000" }, /option "requestsTimeout" must be a positive number/],
    [{ heartbeatInterval: -1 }, /option "heartbeatInterval" must be a positive number/],
    [{ heartbeatTimeout: NaN }, /option "heartbeatTimeout" must be a positive number/],
    [{ heartbeatTimeout: null }, /option "heartbeatTimeout"/],
    ["fast", /options must be an object/],
    [[1], /options must be an object/],
    [{ hub: true }, /option "hub" must be the path of a hub's socket/],
    [{ hub: "" }, /option "hub" must be the path of a hub's socket/],
  ])("createAdapter(%p) throws a TypeError naming the problem", (opts, message) => {
    expect(() => createAdapter(opts)).toThrow(TypeError);
    expect(() => createAdapter(opts)).toThrow(message);
  });

  test.each([
    [{ requestTimeout: 5000 }, /unknown option "requestTimeout" \(known: requestsTimeout/],
    [{ redis: { url: "redis://x" } }, /unknown option "redis"/],
  ])("createAdapter(%p) throws a TypeError for an unknown option name", (opts, message) => {
    expect(() => createAdapter(opts)).toThrow(TypeError);
    expect(() => createAdapter(opts)).toThrow(message);
  });

  test.each([
    [{ routeByRoom: "no" }, /option "routeByRoom" must be a boolean/],
    [{ hub: 0 }, /option "hub" must be a boolean/],
    [{ reddis: { url: "redis://127.0.0.1:6379" } }, /unknown option "reddis" \(known: .*redis/],
    [{ recovery: { maxPacket: 1 } }, /unknown option "recovery.maxPacket"/],
    [{ redis: "redis://127.0.0.1:6379" }, /option "redis" must be an object/],
    [{ redis: {} }, /needs exactly one of "url" \(one server\) or "nodes" \(a Cluster\)/],
    [{ redis: { url: "redis://a:1", nodes: ["redis://b:1"] } }, /needs exactly one of/],
    [{ redis: { url: "http://127.0.0.1:6379" } }, /option "redis.url" must be a redis:\/\/ URL/],
    [{ redis: { nodes: [] } }, /option "redis.nodes" must be a non-empty array/],
    [{ redis: { nodes: ["redis://a:1", 7000] } }, /option "redis.nodes\[1\]" must be a redis:\/\/ URL/],
    [{ redis: { url: "redis://a:1", subscriptionMode: "sharded" } }, /"redis.subscriptionMode" must be one of static, dynamic, dynamic-private/],
    [{ redis: { url: "redis://a:1", channelPrefix: "" } }, /"redis.channelPrefix" must be a non-empty string/],
    [{ redis: { url: "redis://a:1", mixedFleet: "yes" } }, /"redis.mixedFleet" must be a boolean/],
    [{ redis: { url: "redis://a:1", prefix: "x" } }, /unknown option "redis.prefix"/],
    [{ hub: false, redis: { url: "redis://a:1" } }, /option "redis" needs the hub/],
    // mode "streams": @socket.io/redis-streams-adapter's options, only there.
    [{ redis: { url: "redis://a:1", mode: "stream" } }, /"redis.mode" must be one of sharded, streams/],
    [{ redis: { url: "redis://a:1", streamName: "s" } }, /unknown option "redis.streamName"/],
    [{ redis: { url: "redis://a:1", mode: "streams", streamname: "s" } }, /unknown option "redis.streamname" \(known: .*streamName/],
    [{ redis: { url: "redis://a:1", mode: "streams", mixedFleet: 1 } }, /"redis.mixedFleet" must be a boolean/],
    [{ redis: { url: "redis://a:1", mode: "streams", subscriptionMode: "static" } }, /"redis.subscriptionMode" is the sharded mode's/],
    [{ redis: { url: "redis://a:1", mode: "streams", streamName: "" } }, /"redis.streamName" must be a non-empty string/],
    [{ redis: { url: "redis://a:1", mode: "streams", sessionKeyPrefix: 1 } }, /"redis.sessionKeyPrefix" must be a non-empty string/],
    [{ redis: { url: "redis://a:1", mode: "streams", maxLen: 0 } }, /"redis.maxLen" must be a positive integer/],
    [{ redis: { url: "redis://a:1", mode: "streams", readCount: 1.5 } }, /"redis.readCount" must be a positive integer/],
    [{ redis: { url: "redis://a:1", mode: "streams", blockTimeInMs: "5000" } }, /"redis.blockTimeInMs" must be a positive integer/],
    [{ redis: { url: "redis://a:1", mode: "streams", streamCount: 1025 } }, /"redis.streamCount" must be at most 1024/],
    [{ redis: { url: "redis://a:1", mode: "streams", heartbeatTimeout: -1 } }, /"redis.heartbeatTimeout" must be a positive integer/],
    [{ redis: { url: "redis://a:1", mode: "streams", useShardedPubSub: 1 } }, /"redis.useShardedPubSub" must be a boolean/],
    [{ redis: { url: "redis://a:1", mode: "streams", onlyPlaintext: "no" } }, /"redis.onlyPlaintext" must be a boolean/],
  ])("setupPrimary(%p) throws a TypeError naming the problem (and starts nothing)", (opts, message) => {
    expect(() => setupPrimary(opts)).toThrow(TypeError);
    expect(() => setupPrimary(opts)).toThrow(message);
  });

  test("the streams mode takes every option of @socket.io/redis-streams-adapter's createAdapter", () => {
    const { normalizePrimaryOptions } = require("../lib/options");
    const redis = {
      url: "redis://127.0.0.1:6379",
      mode: "streams",
      channelPrefix: "p",
      streamName: "s",
      streamCount: 3,
      maxLen: 500,
      readCount: 10,
      blockTimeInMs: 1000,
      sessionKeyPrefix: "k:",
      heartbeatInterval: 1000,
      heartbeatTimeout: 2000,
      useShardedPubSub: true,
      onlyPlaintext: true,
      mixedFleet: true,
    };
    const { url, ...rest } = redis;
    expect(normalizePrimaryOptions({ redis }).redis).toEqual({ nodes: [url], cluster: false, ...rest });
    // Without a mode: the sharded mode, as before.
    expect(normalizePrimaryOptions({ redis: { url } }).redis).toEqual({ nodes: [url], cluster: false });
  });

  test.each([
    [undefined, /the hub's options must be an object/],
    [{}, /option "socket" \(the hub's socket path\) is required/],
    [{ socket: 5 }, /option "socket" must be the path of a hub's socket/],
    [{ socket: "/tmp/x.sock", group: -1 }, /option "group" must be a group name or gid/],
    [{ socket: "/tmp/x.sock", hub: true }, /unknown option "hub"/],
    [{ socket: "/tmp/x.sock", sockets: 1 }, /unknown option "sockets" \(known: socket, group/],
    [{ socket: "/tmp/x.sock", recovery: { maxPackets: 0 } }, /option "recovery.maxPackets" must be a positive integer/],
    [{ socket: "/tmp/x.sock", redis: { url: "redis://a:1", mode: "streams" } }, /"streams" is not supported by a standalone hub yet/],
  ])("startHub(%p) throws a TypeError naming the problem (and starts nothing)", (opts, message) => {
    expect(() => startHub(opts)).toThrow(TypeError);
    expect(() => startHub(opts)).toThrow(message);
  });

  test.each([
    [{ hub: "" }, /Emitter option "hub" must be the path of a hub's socket/],
    [{ hub: "/x.sock", nsp: "/a" }, /unknown Emitter option "nsp"/],
  ])("new Emitter(%p) throws a TypeError naming the problem", (opts, message) => {
    expect(() => new Emitter(opts)).toThrow(TypeError);
    expect(() => new Emitter(opts)).toThrow(message);
  });

  test("hubStats() is null before setupPrimary()", () => {
    expect(hubStats()).toBeNull();
  });

  test("valid options and no options are accepted", () => {
    expect(() => createAdapter()).not.toThrow();
    expect(() => createAdapter({ requestsTimeout: 100, heartbeatInterval: 50, heartbeatTimeout: 200 })).not.toThrow();
    expect(() => createAdapter({ hub: "/run/sio/hub.sock" })).not.toThrow();
  });
});

describe("outside a cluster (no IPC channel)", () => {
  // Run in a plain child process: Jest's own workers have an IPC channel to Jest.
  test("socket.io constructs the adapter with `new` and it works as a single server", () => {
    const script = `
            const { Server } = require("socket.io");
      const { createAdapter, NodeClusterAdapter } = require("socket.io-cluster-adapter-native");
      (async () => {
        const io = new Server(require("node:http").createServer(), { adapter: createAdapter() });
        const adapter = io.of("/").adapter;
        const result = {
          instance: adapter instanceof NodeClusterAdapter,
          serverCount: await adapter.serverCount(),
          sockets: (await io.fetchSockets()).length,
          answers: await io.serverSideEmitWithAck("nobody"),
        };
        io.emit("nobody-listens");
        io.close();
        console.log(JSON.stringify(result));
      })();`;
    const out = execFileSync(process.execPath, ["-e", script], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
    expect(JSON.parse(out)).toEqual({ instance: true, serverCount: 1, sockets: 0, answers: [] });
  });
});

describe("the native addon", () => {
  test("a panic in Rust becomes a JavaScript exception, not an abort of the process", () => {
    const native = require("../native.js");
    expect(() => native.__panicForTest()).toThrow(/deliberate panic/);
    expect(native.inspectMessage({ uid: "a", nsp: "/", type: 2 }).valid).toBe(true); // still usable
  });
});
