"use strict";

// The worker's side of the hub: asks the primary for it over IPC, links to it, and switches from
// IPC to the link without losing, duplicating or reordering a message (see crates/hub/src/hub.rs,
// "Ordering"):
//
//   ipc ──hub announced──▶ linking ──link open──▶ switching ──"flushed" over IPC──▶ linked
//                                     (sends "switched" over IPC;   (frames the link brought
//                                      sends on the link from now)   meanwhile are applied now)
//
// Under a primary without a hub (@socket.io/cluster-adapter's, PM2, recluster) nobody answers,
// and the worker stays on IPC. If the link closes, the worker goes back to IPC and asks again.

const cluster = require("node:cluster");
const debug = require("debug")("socket.io-cluster-adapter-native:link");
const { CONTROL_SOURCE } = require("./protocol");
const { encodePayload, frameToMessage } = require("./codec");

const RETRY_DELAY_MS = 1000;

let transport = null; // { dispatch, sendIpc } from channel.js
let state = "ipc";
let link = null;
let held = []; // messages the link brought before the primary's "flushed" marker
let retryTimer = null;
const stats = { sent: 0, received: 0, links: 0 };

function canLink() {
  return cluster.isWorker && typeof process.send === "function" && process.platform !== "win32";
}

function start(channel) {
  transport = channel;
  if (canLink()) askForHub();
}

function stop() {
  clearTimeout(retryTimer);
  if (link) link.close();
  link = null;
  state = "ipc";
  transport = null;
}

function askForHub() {
  if (!transport || !process.connected) return;
  transport.sendIpc({ source: CONTROL_SOURCE, kind: "hub?" });
}

function onControl(message) {
  if (message.kind === "hub" && state === "ipc") return connect(message);
  if (message.kind === "flushed" && state === "switching") return finishSwitch();
  debug("ignore control message %o in state %s", message.kind, state);
}

function connect({ path, secret }) {
  const { NativeLink } = require("./native");
  try {
    link = new NativeLink(path, secret, cluster.worker.id, onLinkEvent);
    state = "linking";
    debug("linking to the hub at %s", path);
  } catch (err) {
    debug("cannot link to the hub: %s", err.message);
  }
}

function onLinkEvent(event) {
  switch (event.kind) {
    case "open":
      if (state !== "linking") return;
      state = "switching";
      stats.links++;
      // Last IPC message of this worker: the primary relays what came before, then the hub
      // relays what this worker sends on its link from now on.
      transport.sendIpc({ source: CONTROL_SOURCE, kind: "switched" });
      debug("linked; switching from IPC");
      break;
    case "frames":
      for (const frame of event.frames) receive(frame);
      break;
    case "closed":
      onClosed(event.reason);
      break;
  }
}

function receive(frame) {
  let message;
  try {
    message = frameToMessage(frame);
  } catch (err) {
    debug("drop a frame with a corrupt payload (type %d from %s): %s", frame.type, frame.uid, err.message);
    return;
  }
  stats.received++;
  if (state === "linked") transport.dispatch(message);
  else held.push(message);
}

function finishSwitch() {
  state = "linked";
  const messages = held;
  held = [];
  debug("switched to the hub link (%d messages were held)", messages.length);
  for (const message of messages) transport.dispatch(message);
}

function onClosed(reason) {
  debug("hub link closed: %s", reason);
  link = null;
  state = "ipc";
  const messages = held;
  held = [];
  if (transport) for (const message of messages) transport.dispatch(message);
  clearTimeout(retryTimer);
  retryTimer = setTimeout(askForHub, RETRY_DELAY_MS);
  retryTimer.unref();
}

/** Sends over the link when this worker has switched; false means "use IPC". */
function send(message) {
  if (state !== "switching" && state !== "linked") return false;
  try {
    if (!link.send(message, encodePayload(message))) return false;
  } catch (err) {
    debug("cannot send message of type %o on the link: %s", message.type, err.message);
    return false;
  }
  stats.sent++;
  return true;
}

module.exports = {
  start,
  stop,
  onControl,
  send,
  stats,
  get state() {
    return state;
  },
};
