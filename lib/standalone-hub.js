"use strict";

// The standalone hub: the hub of setupPrimary(), in a process of its own (or embedded in any
// process), for socket.io servers that no primary of ours starts: PM2's instances (whose primary,
// @socket.io/pm2's daemon, runs the reference's relay), systemd services, containers sharing a
// directory. They link with `createAdapter({ hub: socket })` (or SOCKET_IO_CLUSTER_HUB); an
// Emitter in any process with `new Emitter({ hub: socket })`.
//
// Nobody is on IPC here: every worker is on its link, so the hub's events are only its log lines.

const debug = require("debug")("socket.io-cluster-adapter-native:hub");
const { HubEventKind, standaloneSecretFile } = require("./binding");
const { normalizeStandaloneOptions } = require("./options");
const { startNativeHub, closeOnExit } = require("./native-hub");

/**
 * Starts a standalone hub listening on `options.socket` (see StandaloneHubOptions in index.d.ts).
 * It keeps the process alive until `close()`, and is closed when the process exits.
 */
function startHub(opts) {
  const options = normalizeStandaloneOptions(opts);
  if (process.platform === "win32") {
    throw new Error("socket.io-cluster-adapter-native: the hub needs Unix domain sockets (not on Windows)");
  }
  const hub = startNativeHub(options, (event) => {
    if (event.kind === HubEventKind.Log) debug("%s", event.message);
    else debug("unexpected hub event %s: a standalone hub has no worker on IPC", event.kind);
  });
  // Like a listening server, the hub keeps its process running (its own thread does not).
  const keepAlive = setInterval(() => {}, 1 << 30);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    hub.close();
    debug("hub on %s closed", options.socket);
  };
  closeOnExit({ close });
  debug("hub listening on %s", hub.path);
  return {
    path: hub.path,
    secretFile: standaloneSecretFile(hub.path),
    /** The hub's counters (as hubStats() in a primary). */
    stats: () => hub.stats(),
    /** Stops the hub and removes its socket and secret file. */
    close,
  };
}

module.exports = { startHub };
