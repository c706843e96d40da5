"use strict";

// Starting a hub (Rust) from checked options, and closing it when the process goes: shared by
// setupPrimary()'s hub (lib/primary.js) and the standalone hub (lib/standalone-hub.js).

const { NativeHub } = require("./binding");

/**
 * A NativeHub from options checked by lib/options.js (what the user left out is undefined here:
 * the hub takes its own defaults for it). `socket` (and `group`): a standalone hub's.
 */
function startNativeHub(options, onEvent) {
  const { recovery = {}, redis } = options;
  return new NativeHub(
    {
      maxQueueBytes: options.maxQueueBytes,
      recoveryMaxPackets: recovery.maxPackets,
      recoveryMaxBytes: recovery.maxBytes,
      recoveryMaxSessions: recovery.maxSessions,
      recoveryMaxSessionBytes: recovery.maxSessionBytes,
      routeByRoom: options.routeByRoom,
      socket: options.socket,
      group: options.group === undefined ? undefined : String(options.group),
      ...(redis && {
        redisNodes: redis.nodes,
        redisCluster: redis.cluster,
        redisChannelPrefix: redis.channelPrefix,
        redisSubscriptionMode: redis.subscriptionMode,
        redisCountEachWorker: redis.mixedFleet,
        redisMode: redis.mode,
        redisStreamName: redis.streamName,
        redisStreamCount: redis.streamCount,
        redisMaxLen: redis.maxLen,
        redisReadCount: redis.readCount,
        redisBlockTimeInMs: redis.blockTimeInMs,
        redisSessionKeyPrefix: redis.sessionKeyPrefix,
        redisUseShardedPubSub: redis.useShardedPubSub,
        redisOnlyPlaintext: redis.onlyPlaintext,
      }),
    },
    onEvent,
  );
}

// The hub removes its socket (and a standalone hub its secret file) when closed; make sure that
// happens when the process goes, including on the signals whose default action ends the process
// without "exit" handlers. (SIGKILL and aborts cannot be caught: the next hub started removes what
// they leave behind.)
function closeOnExit(hub) {
  process.once("exit", () => hub.close());
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]) {
    process.once(signal, () => {
      // An application that handles the signal itself decides when to exit (and "exit" then
      // closes the hub); otherwise keep the default behaviour: close, then die of the signal.
      if (process.listenerCount(signal) > 0) return;
      hub.close();
      process.kill(process.pid, signal);
    });
  }
}

module.exports = { startNativeHub, closeOnExit };
