"use strict";

// A throw-away redis-server for the Redis column: 127.0.0.1 only, a free port, no persistence.
// Started by the cluster primary of the redis target and stopped by pid when that primary ends.

const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const { spawn } = require("node:child_process");

/** The absolute path of `name` on PATH, or null. */
function findOnPath(name) {
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1", exclusive: true }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once the server answers PING, rejects after `timeoutMs`. */
async function waitForPong(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect({ port, host: "127.0.0.1" });
      let answer = "";
      socket.setTimeout(500, () => socket.destroy());
      socket.on("connect", () => socket.write("PING\r\n"));
      socket.on("data", (chunk) => {
        answer += chunk;
        if (answer.includes("\r\n")) socket.end();
      });
      socket.on("close", () => resolve(answer.startsWith("+PONG")));
      socket.on("error", () => {});
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
}

/** Starts redis-server; resolves to { pid, port, url, stop() }. */
async function startRedis() {
  const bin = findOnPath("redis-server");
  if (!bin) throw new Error("redis-server is not on PATH");
  let lastError = null;
  // The port is free when we look and could be taken before redis binds it: try a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      bin,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
    };
    try {
      await Promise.race([
        waitForPong(port, 5000),
        new Promise((_, reject) => child.once("exit", (code) => reject(new Error(`redis-server exited (code ${code})`)))),
      ]);
      return { pid: child.pid, port, url: `redis://127.0.0.1:${port}`, stop, child };
    } catch (err) {
      lastError = err;
      stop();
    }
  }
  throw lastError;
}

module.exports = { findOnPath, freePort, waitForPong, startRedis };
