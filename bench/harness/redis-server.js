"use strict";

// A throw-away redis-server: 127.0.0.1 only, a free port (or the one given), no persistence,
// stopped by pid. The bench's Redis column and its machines, the scale suite, the tests of several
// machines (__test__/support/redis.js: Redis Cluster nodes too) and examples/redis start theirs here.

const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
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

/**
 * Starts redis-server; resolves to { pid, port, url, child, alive, stop(signal) }.
 *   port       a fixed port (default: a free one, tried again on another if taken meanwhile)
 *   extraArgs  more arguments (e.g. a Redis Cluster node's)
 *   dir        its working directory (default: the OS's temporary directory)
 *   stopSignal what stop() sends by default: SIGTERM, or SIGKILL for a crash (nothing flushed)
 * stop() resolves once the process has exited.
 */
async function startRedis({ port: fixedPort = 0, extraArgs = [], dir = os.tmpdir(), stopSignal = "SIGTERM" } = {}) {
  const bin = findOnPath("redis-server");
  if (!bin) throw new Error("redis-server is not on PATH");
  let lastError = null;
  // A free port can be taken before redis binds it: try a few times (a fixed port, once).
  for (let attempt = 0; attempt < (fixedPort ? 1 : 3); attempt++) {
    const port = fixedPort || (await freePort());
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"];
    const child = spawn(bin, [...args, ...extraArgs], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const server = {
      pid: child.pid,
      port,
      url: `redis://127.0.0.1:${port}`,
      child,
      alive: true,
      /** Stops it (`signal`, default `stopSignal`) and resolves once it is gone. */
      stop(signal = stopSignal) {
        server.alive = false;
        if (child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(child.pid, signal);
          } catch {
            // already gone
          }
        }
        return exited;
      },
    };
    const died = exited.then((code) => {
      throw new Error(`redis-server exited (code ${code})`);
    });
    died.catch(() => {}); // once it has answered, its exit is no error
    try {
      await Promise.race([waitForPong(port, 5000), died]);
      return server;
    } catch (err) {
      lastError = err;
      await server.stop();
    }
  }
  throw lastError;
}

module.exports = { findOnPath, freePort, waitForPong, startRedis };
