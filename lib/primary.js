"use strict";

// The primary's relay for workers on Node's IPC channel. The Rust core validates each message and
// decides its recipients (responses to the requester's worker only, everything else to every
// worker but the sender); this file only moves the message objects.

const cluster = require("node:cluster");
const debug = require("debug")("socket.io-cluster-adapter-native:primary");
const { PrimaryRouter } = require("./native");
const { MESSAGE_SOURCE, isAdapterMessage } = require("./protocol");

const ADAPTER_CLOSE = 13;
const stats = { relayed: 0, dropped: 0 };
let router = null;

function ignoreError() {}

function sendTo(worker, message) {
  if (worker && worker.isConnected()) worker.send(message, null, ignoreError);
}

function broadcastExcept(senderId, message) {
  for (const worker of Object.values(cluster.workers)) {
    if (worker.id !== senderId) sendTo(worker, message);
  }
}

function onWorkerMessage(worker, message) {
  if (!isAdapterMessage(message)) return;
  let decision;
  try {
    decision = router.route(worker.id, message);
  } catch (err) {
    decision = { action: "drop", reason: `routing failed: ${err.message}` };
  }
  switch (decision.action) {
    case "one":
      stats.relayed++;
      sendTo(cluster.workers[decision.workerId], message);
      break;
    case "others":
      stats.relayed++;
      broadcastExcept(worker.id, message);
      break;
    default:
      stats.dropped++;
      debug("drop message from worker %d (type %o): %s", worker.id, message.type, decision.reason);
  }
}

// The reference says nothing when a worker dies, so its peers wait for a heartbeat timeout (10 s,
// longer than the 5 s request timeout). We tell the survivors at once, in the protocol they
// already speak: one ADAPTER_CLOSE per adapter the dead worker held.
function onWorkerExit(worker) {
  const orphans = router.workerExited(worker.id);
  for (const { uid, nsp } of orphans) {
    debug("worker %d exited: closing its adapter %s (%s)", worker.id, uid, nsp);
    broadcastExcept(worker.id, { source: MESSAGE_SOURCE, uid, nsp, type: ADAPTER_CLOSE });
  }
}

/** Relays adapter messages between the workers of this primary. Safe to call more than once. */
function setupPrimary() {
  if (router) {
    debug("setupPrimary() was already called: ignored");
    return;
  }
  router = new PrimaryRouter();
  cluster.on("message", onWorkerMessage);
  cluster.on("exit", onWorkerExit);
}

module.exports = { setupPrimary, stats };
