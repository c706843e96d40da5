// Compiled (not run) by types.test.js: the package's types as a user writes against them.
import { Server } from "socket.io";
import { createAdapter, setupPrimary, hubStats, startHub, NodeClusterAdapter, Emitter } from "socket.io-cluster-adapter-native";
import type { ClusterAdapterOptions, HubStats, PrimaryOptions, StandaloneHub } from "socket.io-cluster-adapter-native";

const options: Partial<ClusterAdapterOptions> = { requestsTimeout: 5000, heartbeatInterval: 5000, heartbeatTimeout: 10000 };
const io = new Server({ adapter: createAdapter(options) });
io.adapter(createAdapter());
const adapter: NodeClusterAdapter = io.of("/").adapter as NodeClusterAdapter;
adapter.serverCount().then((count: number) => count);

const primary: Partial<PrimaryOptions> = { hub: true, maxQueueBytes: 1 << 20, recovery: { maxPackets: 10 } };
setupPrimary(primary);
setupPrimary();

// @ts-expect-error: options are numbers
createAdapter({ requestsTimeout: "5000" });

// Redis: the sharded mode (default) or the streams mode, each with its own options.
const sharded: Partial<PrimaryOptions> = { redis: { url: "redis://127.0.0.1:6379", subscriptionMode: "static", mixedFleet: true } };
const streams: Partial<PrimaryOptions> = {
  redis: { nodes: ["redis://127.0.0.1:7000"], mode: "streams", streamName: "s", maxLen: 1000, useShardedPubSub: true },
};
void [sharded, streams];
const _mixed: Partial<PrimaryOptions> = { redis: { url: "redis://127.0.0.1:6379", mode: "streams", mixedFleet: true } };
// @ts-expect-error: subscriptionMode is the sharded mode's
const _subscribed: Partial<PrimaryOptions> = { redis: { url: "redis://127.0.0.1:6379", mode: "streams", subscriptionMode: "static" } };
// A standalone hub, and processes linking to it.
const standalone: StandaloneHub = startHub({ socket: "/run/sio/hub.sock", group: "www-data", recovery: { maxPackets: 10 } });
const _hubStats: HubStats = standalone.stats();
standalone.close();
io.adapter(createAdapter({ hub: "/run/sio/hub.sock" }));
// @ts-expect-error: a standalone hub needs its socket
startHub({ group: 33 });
// @ts-expect-error: the Emitter takes a namespace or { hub }
new Emitter({ hubs: "x" });
const anywhere = new Emitter({ hub: "/run/sio/hub.sock" });
anywhere.of("/admin").to("r").emit("news", 1);
anywhere.close();

// The Emitter, untyped and with an events map.
const emitter = new Emitter();
const _sent: true = emitter.to(["a", "b"]).except("c").volatile.compress(false).emit("any", 1, Buffer.from([2]));
emitter.of("/admin").in("r").socketsJoin(["x"]);
emitter.socketsLeave("x");
emitter.in("r").disconnectSockets(true);
emitter.serverSideEmit("reload", { version: 2 });
interface News {
  news: (text: string, at: number) => void;
}
const typed = new Emitter<News>();
typed.to("r").emit("news", "hi", Date.now());
// @ts-expect-error: wrong argument type for "news"
typed.emit("news", 1, 2);

// The hub's counters: one type, generated from the hub's Rust struct and re-exported.
const stats: HubStats | null = hubStats();
if (stats) {
  const relayed: number = stats.framesIn + stats.bytesOut + stats.roomOverflows;
  const connected: boolean = stats.redisConnected;
  void [relayed, connected];
  // @ts-expect-error: not a counter of the hub
  void stats.noSuchCounter;
}
