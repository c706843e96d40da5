"use strict";
// Several "machines" on one box: each a real cluster (its own primary process and workers), joined
// through one Redis. A Fleet numbers every worker of every machine in one sequence and offers the
// TestCluster interface over it, so the feature suite runs unchanged across machines.

const { TestCluster, settle, waitFor } = require("./cluster");
const { startRedis, startRedisCluster, shardNumSub } = require("./redis");

class Fleet {
  /**
   * `machines`: one TestCluster config per machine, without the Redis address (a Redis, or a Redis
   * Cluster of 3 masters with `{ cluster: { replicas } }`, is started first and given to every
   * machine).
   */
  constructor(machines, { cluster = false, redisOptions = {}, startRedis: start = null } = {}) {
    this.specs = machines;
    this.startRedis = start; // a Redis of the test's own (e.g. with TLS): () => ({ url, stop })
    this.cluster = cluster;
    this.redisOptions = redisOptions;
    this.machines = [];
    this.config = { workers: machines.flatMap((m) => m.workers), serialization: "advanced" };
  }

  /** The config of a machine, with the address of this fleet's Redis. */
  withRedis(spec) {
    const address = this.cluster ? { nodes: this.redis.urls } : { url: this.redis.url };
    const config = { ...spec, redisUrl: this.cluster ? this.redis.urls[0] : this.redis.url };
    if (spec.primary === "native") {
      config.primaryOptions = { ...spec.primaryOptions, redis: { ...address, ...this.redisOptions } };
    }
    return config;
  }

  /** Worker `index` of the fleet as [its machine, its index there]. */
  locate(index) {
    let local = index;
    for (const machine of this.machines) {
      if (local < machine.workers.length) return [machine, local];
      local -= machine.workers.length;
    }
    throw new Error(`no worker ${index} in the fleet`);
  }

  get workers() {
    return this.machines.flatMap((m) => m.workers);
  }

  async start() {
    if (this.startRedis) this.redis = await this.startRedis();
    else this.redis = this.cluster ? await startRedisCluster(3, this.cluster.replicas || 0) : await startRedis();
    let indexBase = 0;
    this.machines = this.specs.map((spec) => {
      const machine = new TestCluster({ ...this.withRedis(spec), indexBase });
      indexBase += spec.workers.length;
      return machine;
    });
    for (const machine of this.machines) await machine.start();
  }

  run(index, fn, ...args) {
    const [machine, local] = this.locate(index);
    return machine.run(local, fn, ...args);
  }

  runAll(fn, ...args) {
    return Promise.all(this.aliveIndexes().map((i) => this.run(i, fn, ...args)));
  }

  aliveIndexes() {
    return this.workers.map((w, i) => (w && w.alive ? i : -1)).filter((i) => i >= 0);
  }

  /**
   * A client of worker `index`. Once it has joined `opts.rooms`, waits until Redis counts every
   * subscriber of their channels: with dynamic subscriptions (the default), a room's channel is
   * subscribed when the room is created, after socket.io has acknowledged the join, so a message
   * published to the room right after it may reach the channel before the subscriber and be
   * dropped by Redis. That holds for @socket.io/redis-adapter as for our hubs; the suite's tests
   * emit right after joining, so they wait for it.
   */
  async client(index, opts = {}) {
    const [machine, local] = this.locate(index);
    const socket = await machine.client(local, opts);
    await this.waitForRoomSubscribers(opts.nsp || "/", opts.rooms || []);
    return socket;
  }

  /**
   * Waits until Redis counts, for each of `rooms` of `nsp`, one subscriber per server that holds it
   * now (a machine of ours subscribes once for all its workers; a plain server, itself).
   */
  async waitForRoomSubscribers(nsp, rooms) {
    const mode = this.redisOptions.subscriptionMode || "dynamic";
    // One server's SHARDNUMSUB counts; a Cluster or a Redis of the test's own is not read here.
    // The streams mode (and the streams adapter) has no room channels.
    const streams = this.redisOptions.mode === "streams";
    if (!rooms.length || mode === "static" || streams || this.cluster || this.startRedis) return;
    const indexes = this.aliveIndexes();
    const held = await this.runAll(({ io }, nsp, rooms) => rooms.map((r) => io.of(nsp).adapter.rooms.has(r)), nsp, rooms);
    const prefix = this.redisOptions.channelPrefix || "socket.io";
    for (const [r, room] of rooms.entries()) {
      const holders = new Set();
      indexes.forEach((index, i) => {
        if (!held[i][r]) return;
        const [machine] = this.locate(index);
        const m = this.machines.indexOf(machine);
        holders.add(this.specs[m].primary === "native" ? `machine ${m}` : `worker ${index}`);
      });
      const channel = `${prefix}#${nsp}#${room}#`;
      await waitFor(() => shardNumSub(this.redis.port, channel) >= holders.size, `subscribers of ${channel}`, 5000);
    }
  }


  reconnect(client, index) {
    const [machine, local] = this.locate(index);
    return machine.reconnect(client, local);
  }

  /** Waits until every live worker of every machine counts `count` servers in namespace `nsp`. */
  /**
   * Waits until a broadcast from worker `from` reaches `client` exactly once (the path through
   * Redis works again): one probe event after another until one arrives.
   */
  async waitForCrossing(from, client) {
    let attempt = 0;
    await waitFor(
      async () => {
        const event = `probe-${attempt++}`;
        await this.run(from, ({ io }, e) => io.emit(e), event);
        await settle(100);
        return client.received.filter((r) => r.event === event).length === 1;
      },
      "a broadcast crossing machines again",
      20000,
    );
  }

  waitForServerCount(count, nsp = "/", timeout = 20000) {
    return TestCluster.prototype.waitForServerCount.call(this, count, nsp, timeout);
  }

  async disconnectClients() {
    await Promise.all(this.machines.map((m) => m.disconnectClients()));
  }

  async stop() {
    await Promise.all(this.machines.map((m) => m.stop()));
    if (this.redis) await this.redis.stop();
  }
}

module.exports = { Fleet };
