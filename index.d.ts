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
    /** @default 67108864 (64 MiB) */
    maxBytes: number;
    /** @default 100000 */
    maxSessions: number;
  }>;
}

/** Relays adapter messages between the workers of this primary. Call it in the primary process. */
export declare function setupPrimary(opts?: Partial<PrimaryOptions>): void;
