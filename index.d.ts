// One definition of the hub's counters, generated from its Rust struct (crates/hub/src/stats.rs).
import type { HubStats } from "./native";

import {
  ClusterAdapterWithHeartbeat,
  ClusterAdapterOptions as BaseClusterAdapterOptions,
  ClusterMessage,
  ClusterResponse,
  ServerId,
} from "socket.io-adapter";

export interface ClusterAdapterOptions extends BaseClusterAdapterOptions {
  /**
   * The number of ms before fetchSockets() and serverSideEmit() with acknowledgements reject.
   * Unlike @socket.io/cluster-adapter, this option is honoured.
   * @default 5000
   */
  requestsTimeout?: number;
  /**
   * The socket of a standalone hub (`socket.io-cluster-hub --socket <path>`, or `startHub()`) to
   * link to, for processes that no primary of this package started (PM2 instances, systemd
   * services, containers sharing a directory). Its secret is read from `<path>.secret`.
   * @default process.env.SOCKET_IO_CLUSTER_HUB
   */
  hub?: string;
}

/**
 * Returns a function that will create a NodeClusterAdapter instance.
 *
 * @param opts - additional options
 * @see https://nodejs.org/api/cluster.html
 */
export declare function createAdapter(opts?: Partial<ClusterAdapterOptions>): (nsp: any) => NodeClusterAdapter;

export declare class NodeClusterAdapter extends ClusterAdapterWithHeartbeat {
  constructor(nsp: any, opts?: Partial<ClusterAdapterOptions>);
  protected doPublish(message: ClusterMessage & { source: string }): Promise<string>;
  protected doPublishResponse(
    requesterUid: ServerId,
    response: ClusterResponse & { source: string; requesterUid: string },
  ): Promise<void>;
}

export interface PrimaryOptions {
  /**
   * Start the Rust hub, through which our workers exchange messages. `false`: relay over IPC only.
   * @default true
   */
  hub: boolean;
  /** The hub sends a message addressed to rooms only to the workers holding one of them. @default true */
  routeByRoom: boolean;
  /**
   * Bytes the hub queues for one worker that does not read fast enough; past that, its link is
   * closed and it is announced gone to the others.
   * @default 67108864 (64 MiB)
   */
  maxQueueBytes: number;
  /** Bounds of the hub's packet log and session store (connection state recovery). */
  recovery: Partial<{
    /** @default 100000 */
    maxPackets: number;
    /**
     * Bytes the log retains: payloads, namespaces, room and except names of its entries, and
     * their overhead; past that, the oldest entries go.
     * @default 67108864 (64 MiB)
     */
    maxBytes: number;
    /** @default 100000 */
    maxSessions: number;
    /**
     * Bytes the sessions retain (`socket.data`, ids, room names, overhead); past that, the
     * sessions closest to expiry go, and a session larger than this alone is not kept.
     * @default 67108864 (64 MiB)
     */
    maxSessionBytes: number;
  }>;
  /**
   * Several machines: the hub bridges this machine to the others through Redis, as its one Redis
   * client: by default (>= 7, sharded Pub/Sub) in the protocol of `@socket.io/redis-adapter`'s
   * `createShardedAdapter`; with `mode: "streams"` in `@socket.io/redis-streams-adapter`'s, where
   * clients recover on any machine. Off unless given. Needs the hub (not on Windows).
   */
  redis: RedisOptions;
}

/** One Redis server (`url`) or a Redis Cluster (`nodes`), and the options of the mode chosen. */
export type RedisOptions = ({ url: string; nodes?: never } | { nodes: string[]; url?: never }) &
  (ShardedRedisOptions | StreamsRedisOptions);

/** The sharded mode (the default): `@socket.io/redis-adapter`'s `createShardedAdapter` protocol. */
export interface ShardedRedisOptions {
  /** @default "sharded" */
  mode?: "sharded";
  /** @default "socket.io" */
  channelPrefix?: string;
  /** @default "dynamic" */
  subscriptionMode?: "static" | "dynamic" | "dynamic-private";
  /**
   * Plain `@socket.io/redis-adapter` servers share the channels (a fleet being migrated): count
   * servers as they do, the subscribers of a namespace's channel. The hub then keeps one Redis
   * connection per worker subscribed to it, and Redis sends each machine a namespace's messages
   * once per worker. See README, "Several machines".
   * @default false
   */
  mixedFleet?: boolean;
}

/**
 * The streams mode: `@socket.io/redis-streams-adapter` 0.3.x's protocol (Redis >= 6.2), with its
 * `createAdapter`'s options and defaults. Clients recover on any worker of any machine (sessions
 * and packets are in Redis). Two Redis connections per machine: one for commands and pub/sub,
 * one blocked in `XREAD`.
 */
export interface StreamsRedisOptions {
  mode: "streams";
  /** @default "socket.io" */
  channelPrefix?: string;
  /** @default "socket.io" */
  streamName?: string;
  /** Streams the namespaces are spread over (by a hash of their name). @default 1 (at most 1024) */
  streamCount?: number;
  /** `XADD ... MAXLEN ~ maxLen`. @default 10000 */
  maxLen?: number;
  /** Entries per `XREAD`. @default 100 */
  readCount?: number;
  /** `XREAD BLOCK`. @default 5000 */
  blockTimeInMs?: number;
  /** @default "sio:session:" */
  sessionKeyPrefix?: string;
  /** Accepted and unused, as by the adapter 0.3.1 itself. @default 5000 */
  heartbeatInterval?: number;
  /** Accepted and unused, as by the adapter 0.3.1 itself. @default 10000 */
  heartbeatTimeout?: number;
  /** `SPUBLISH` / `SSUBSCRIBE` for requests and responses. @default false */
  useShardedPubSub?: boolean;
  /** Stream entries always in JSON, never MessagePack. @default false */
  onlyPlaintext?: boolean;
  /**
   * Plain `@socket.io/redis-streams-adapter` servers share the streams and channels (a fleet being
   * migrated): count servers as they do (`PUBSUB NUMSUB`), the subscribers of a namespace's
   * channel. The hub then keeps one more Redis connection per worker beyond the first, subscribed
   * to it. Without it, servers count each other by heartbeats. See README, "Several machines".
   * @default false
   */
  mixedFleet?: boolean;
}

/** Relays adapter messages between the workers of this primary. Call it in the primary process. */
export declare function setupPrimary(opts?: Partial<PrimaryOptions>): void;

/** A standalone hub's options: where it listens and who may link, and the hub's of `setupPrimary()`. */
export interface StandaloneHubOptions extends Partial<Omit<PrimaryOptions, "hub">> {
  /**
   * The socket's path. Its directory is made (0700, or 0750 with `group`) if missing; an existing
   * one must belong to this user and be writable by nobody else. The secret goes to
   * `<socket>.secret` (0600, or 0640 with `group`).
   */
  socket: string;
  /** A group (name or gid) whose processes may link too (besides this process's user). */
  group?: string | number;
}

/** A running standalone hub. */
export interface StandaloneHub {
  readonly path: string;
  /** Where its secret is (workers read it there). */
  readonly secretFile: string;
  /** Its counters, as `hubStats()`. */
  stats(): HubStats;
  /** Stops it, and removes its socket and secret file. */
  close(): void;
}

/**
 * Starts a standalone hub in this process (the `socket.io-cluster-hub` command runs this): socket.io
 * servers of any process link to it with `createAdapter({ hub: socket })`. It keeps the process
 * running until `close()`, and closes when the process exits.
 */
export declare function startHub(opts: StandaloneHubOptions): StandaloneHub;

/**
 * The hub's counters, in the primary after `setupPrimary()` (null without a hub): frames and bytes
 * relayed, queues, the recovery log, routing by room, and Redis (`redisConnected`,
 * `redisPublished`, `redisReceived`, `redisDropped`: cross-machine messages lost while Redis was
 * away, `redisBad`: malformed messages from Redis, `redisEchoes`, `redisChannels`).
 */
export declare function hubStats(): HubStats | null;
export type { HubStats };


/** An events map: event names to listener signatures (as socket.io's). */
export interface EventsMap {
  [event: string]: any;
}

/** Any event name, any arguments. */
export interface DefaultEventsMap {
  [event: string]: (...args: any[]) => void;
}

export type EventNames<Map extends EventsMap> = keyof Map & (string | symbol);
export type EventParams<Map extends EventsMap, Ev extends EventNames<Map>> = Parameters<Map[Ev]>;

/**
 * Emits from the cluster's primary, with @socket.io/redis-emitter's API: to the clients of every
 * worker, through the hub (or the IPC relay). Create it in the primary, after `setupPrimary()`
 * (it throws otherwise), or in any process with `new Emitter({ hub: socketPath })` (a standalone hub).
 *
 * @example
 * setupPrimary();
 * const emitter = new Emitter();
 * emitter.to("room1").emit("news", { text: "hi" });
 */
export declare class Emitter<EmitEvents extends EventsMap = DefaultEventsMap> {
  readonly nsp: string;
  /** @param nsp - the namespace (default "/"); see also `of()`. */
  constructor(nsp?: string);
  /** In any process, through a standalone hub (the namespace "/"; see also `of()`). */
  constructor(options: { hub: string });
  /** Ends the link of an Emitter of a standalone hub once what was emitted is written (nothing in the primary). */
  close(): void;
  /** An emitter for another namespace. */
  of(nsp: string): Emitter<EmitEvents>;
  /** Emits to every client of the namespace. Throws for a reserved event name. */
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): true;
  /** Targets a room (or rooms) when emitting. */
  to(room: string | string[]): BroadcastOperator<EmitEvents>;
  /** Same as `to()`. */
  in(room: string | string[]): BroadcastOperator<EmitEvents>;
  /** Excludes a room (or rooms) when emitting. */
  except(room: string | string[]): BroadcastOperator<EmitEvents>;
  /** The packet may be lost if a client is not ready to receive it; it is not stored for recovery. */
  get volatile(): BroadcastOperator<EmitEvents>;
  /** Sets the compress flag. */
  compress(compress: boolean): BroadcastOperator<EmitEvents>;
  /** Makes the matching sockets join the rooms. */
  socketsJoin(rooms: string | string[]): void;
  /** Makes the matching sockets leave the rooms. */
  socketsLeave(rooms: string | string[]): void;
  /** Disconnects the matching sockets; `close`: also close their underlying connection. */
  disconnectSockets(close?: boolean): void;
  /** Emits to the servers' namespace handlers (`io.on(ev, ...)`) of every worker; no acknowledgements. */
  serverSideEmit(ev: string, ...args: any[]): void;
}

/** Rooms, exceptions and flags of one emission (made by an Emitter); each modifier returns a new one. */
export interface BroadcastOperator<EmitEvents extends EventsMap> {
  to(room: string | string[]): BroadcastOperator<EmitEvents>;
  in(room: string | string[]): BroadcastOperator<EmitEvents>;
  except(room: string | string[]): BroadcastOperator<EmitEvents>;
  compress(compress: boolean): BroadcastOperator<EmitEvents>;
  readonly volatile: BroadcastOperator<EmitEvents>;
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): true;
  socketsJoin(rooms: string | string[]): void;
  socketsLeave(rooms: string | string[]): void;
  disconnectSockets(close?: boolean): void;
}
