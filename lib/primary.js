"use strict";

// setupPrimary(): starts the hub (Rust, its own thread) that relays between workers linked to it,
// and bridges the workers still on IPC (the reference's, or ours before they link): their
// messages are routed by the hub too, and what the hub routes to them is sent over IPC here.
// With every worker linked, this file does no work per message.
//
// Without a hub (option `hub: false`, or a platform without Unix sockets) it relays over IPC only,
// like @socket.io/cluster-adapter's primary, with the Rust core validating and routing.

const cluster = require("node:cluster");
const debug = require("debug")("socket.io-cluster-adapter-native:primary");
const { MessageType } = require("socket.io-adapter");
const { PrimaryRouter, inspectMessage, HubEventKind, IpcAction, RouteAction } = require("./binding");
const { startNativeHub, closeOnExit } = require("./native-hub");
const { MESSAGE_SOURCE, CONTROL_SOURCE, ControlKind, COUNT_BY_REDIS, OFFSETS_STREAM, logEpoch, isAdapterMessage, isControlMessage } = require("./protocol");
const { encodePayload, encodeIpcPayload, frameToMessage } = require("./codec");
const { normalizePrimaryOptions } = require("./options");

const stats = { relayed: 0, bridged: 0, dropped: 0 };
let started = false;
let activeHub = null;
// Sends a message the primary made itself (the Emitter's) to every worker it concerns.
let inject = null;

function ignoreError() {}

function sendTo(worker, message) {
  if (worker && worker.isConnected()) worker.send(message, null, ignoreError);
}

function sendToIds(ids, message) {
  for (const id of ids) sendTo(cluster.workers[id], message);
}

function drop(worker, message, reason) {
  stats.dropped++;
  debug("drop message from worker %d (type %o): %s", worker.id, message.type, reason);
}

/** The relay through the hub. */
function startHub(options) {
  const hub = startNativeHub(options, onHubEvent);
  const epoch = logEpoch(hub.secret);
  debug("hub listening on %s", hub.path);

  function onHubEvent(event) {
    try {
      handleHubEvent(event);
    } catch (err) {
      debug("error while handling a hub event (%s): %s", event.kind, err.message); // never crash the primary
    }
  }

  function handleHubEvent(event) {
    switch (event.kind) {
      case HubEventKind.Deliver:
        return bridge(event.to, event.frame);
      case HubEventKind.Flushed:
        return sendTo(cluster.workers[event.worker], { source: CONTROL_SOURCE, kind: ControlKind.FLUSHED });
      case HubEventKind.Log:
        return debug("hub: %s", event.message);
    }
  }

  // A frame from a linked worker, for workers on IPC: rebuilt once, checked, sent to each.
  function bridge(to, frame) {
    let message;
    try {
      message = frameToMessage(frame);
    } catch (err) {
      stats.dropped++;
      return debug("drop a frame with a corrupt payload from %s: %s", frame.uid, err.message);
    }
    message.source = MESSAGE_SOURCE;
    const verdict = inspectMessage(message);
    if (!verdict.valid) {
      stats.dropped++;
      return debug("drop an invalid frame from %s: %s", frame.uid, verdict.reason);
    }
    stats.bridged++;
    sendToIds(to, message);
  }

  function onMessage(worker, message) {
    try {
      handleMessage(worker, message);
    } catch (err) {
      // e.g. the hub was closed while the process keeps running: never crash the primary.
      drop(worker, message, err.message);
    }
  }

  function handleMessage(worker, message) {
    if (isAdapterMessage(message)) {
      const payload = hub.needsPayload ? encodeIpcPayload(message) : undefined;
      const route = hub.routeIpc(worker.id, message, payload);
      if (route.action !== IpcAction.Ipc) return drop(worker, message, route.reason);
      stats.relayed++;
      return sendToIds(route.to, message);
    }
    if (!isControlMessage(message)) return;
    if (message.kind === ControlKind.HUB_REQUEST) {
      hub.allow(worker.id, worker.process.pid);
      const streams = Boolean(options.redis && options.redis.mode === "streams");
      // Beside plain servers (mixedFleet) servers are counted as they count them: PUBSUB (SHARD)NUMSUB.
      const serverCount = options.redis && options.redis.mixedFleet ? COUNT_BY_REDIS : undefined;
      const offsets = streams ? OFFSETS_STREAM : undefined;
      sendTo(worker, { source: CONTROL_SOURCE, kind: ControlKind.HUB, path: hub.path, secret: hub.secret, epoch, serverCount, offsets });
    } else if (message.kind === ControlKind.SWITCHED) {
      hub.switch(worker.id);
    }
  }

  inject = (message) => sendToIds(hub.inject(message, encodePayload(message)), message);

  cluster.on("message", onMessage);
  cluster.on("exit", (worker) => hub.removeWorker(worker.id));
  closeOnExit(hub);
  activeHub = hub;
  return hub;
}

/** The relay over IPC only. */
function startIpcRelay() {
  const router = new PrimaryRouter();
  // No log here: nothing is stored (as for the workers' own broadcasts without a hub).
  inject = (message) => {
    const verdict = inspectMessage(message);
    if (!verdict.valid) throw new Error(`invalid adapter message: ${verdict.reason}`); // as the hub's inject says it
    for (const worker of Object.values(cluster.workers)) sendTo(worker, message);
  };

  cluster.on("message", (worker, message) => {
    if (!isAdapterMessage(message)) return;
    let decision;
    try {
      decision = router.route(worker.id, message);
    } catch (err) {
      decision = { action: RouteAction.Drop, reason: `routing failed: ${err.message}` };
    }
    if (decision.action === RouteAction.One) {
      stats.relayed++;
      sendTo(cluster.workers[decision.workerId], message);
    } else if (decision.action === RouteAction.Others) {
      stats.relayed++;
      for (const other of Object.values(cluster.workers)) if (other.id !== worker.id) sendTo(other, message);
    } else {
      drop(worker, message, decision.reason);
    }
  });

  // The reference says nothing when a worker dies, so its peers wait for a heartbeat timeout
  // (10 s, longer than the 5 s request timeout). We tell the survivors at once, in the protocol
  // they already speak: one ADAPTER_CLOSE per adapter the dead worker held.
  cluster.on("exit", (worker) => {
    for (const { uid, nsp } of router.workerExited(worker.id)) {
      debug("worker %d exited: closing its adapter %s (%s)", worker.id, uid, nsp);
      const close = { source: MESSAGE_SOURCE, uid, nsp, type: MessageType.ADAPTER_CLOSE };
      for (const other of Object.values(cluster.workers)) if (other.id !== worker.id) sendTo(other, close);
    }
  });
}

/**
 * Relays adapter messages between the workers of this primary. Call it once, in the primary.
 * Options: see PrimaryOptions in index.d.ts (checked by lib/options.js).
 */
function setupPrimary(opts) {
  const options = normalizePrimaryOptions(opts);
  if (started) {
    debug("setupPrimary() was already called: ignored");
    return;
  }
  if (options.redis && process.platform === "win32") {
    // Without it the machine would run alone, silently: say so at once.
    throw new Error("socket.io-cluster-adapter-native: option \"redis\" needs the hub, which needs Unix domain sockets (not on Windows)");
  }
  if (options.hub && process.platform !== "win32") {
    try {
      startHub(options);
      started = true;
      return;
    } catch (err) {
      // Relaying over IPC only would leave the machine alone: throw, and a later call may retry.
      if (options.redis) throw err;
      debug("cannot start the hub, relaying over IPC only: %s", err.message);
    }
  } else if (options.hub) {
    debug("no hub on Windows (it needs Unix domain sockets): relaying over IPC only");
  }
  startIpcRelay();
  started = true;
}

/**
 * How the Emitter sends: `inject(message)` routes an adapter message from no worker (the hub
 * gives a broadcast its place in the recovery log when workers would store it). Throws where it
 * cannot work.
 */
function primaryInjector() {
  if (!cluster.isPrimary) {
    throw new Error("socket.io-cluster-adapter-native: the Emitter works in the cluster's primary process only");
  }
  if (!inject) {
    throw new Error("socket.io-cluster-adapter-native: call setupPrimary() of this package before creating an Emitter");
  }
  return inject;
}

/** The hub's address and counters, for diagnostics and tests (null without a hub). */
function hubInfo() {
  if (!activeHub) return null;
  return { path: activeHub.path, secret: activeHub.secret, stats: activeHub.stats() };
}

/** The hub's counters, in the primary (null without a hub): for monitoring. */
function hubStats() {
  return activeHub ? activeHub.stats() : null;
}

module.exports = { setupPrimary, stats, hubInfo, hubStats, primaryInjector };
