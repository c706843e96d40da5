"use strict";
// The standalone hub as its users run it: `socket.io-cluster-hub --socket <path>` (the package's
// bin), a process of its own, for a test cluster's primary (__test__/support/primary.js) or a
// bench cluster's (bench/cluster-primary.js) to start, stop and start again.

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const BIN = path.join(__dirname, "..", "..", "bin", "socket.io-cluster-hub.js");

class StandaloneHubProcess {
  constructor(args = []) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-standalone-"));
    // The hub makes its own directory, private: a fresh one inside the test's.
    this.socket = path.join(this.dir, "run", "hub.sock");
    this.args = args;
    this.child = null;
  }

  get pid() {
    return this.child ? this.child.pid : null;
  }

  /** Resolves once the hub says it listens. */
  start() {
    const child = spawn(process.execPath, [BIN, "--socket", this.socket, ...this.args], { stdio: ["ignore", "pipe", "inherit"] });
    this.child = child;
    return new Promise((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (chunk) => {
        out += chunk;
        if (out.includes("listening on")) resolve();
      });
      child.once("exit", (code, signal) => reject(new Error(`the standalone hub exited (${signal || code}): ${out}`)));
    });
  }

  /** Resolves with how it exited. */
  stop(signal = "SIGTERM") {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve(null);
    const exited = new Promise((resolve) => child.once("exit", (code, sig) => resolve({ code, signal: sig })));
    child.kill(signal);
    return exited;
  }

  kill(signal) {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Removes the temporary directory (once stopped). */
  removeDir() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

module.exports = { StandaloneHubProcess };
