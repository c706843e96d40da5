"use strict";

// The bench's own connection to a redis-server, for `INFO` only: CPU time (used_cpu_sys +
// used_cpu_user), bytes sent (total_net_output_bytes) and connected clients, read before and after
// a measured window. One plain RESP connection, no client library, so it is one connection that
// the figures can subtract exactly (connected_clients counts it).

const net = require("node:net");

class RedisInfo {
  constructor(port, host = "127.0.0.1") {
    this.port = port;
    this.host = host;
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    this.waiting = []; // FIFO of { resolve, reject }
  }

  connect() {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port: this.port, host: this.host });
      socket.once("connect", () => {
        socket.off("error", reject);
        socket.on("error", (err) => this.failAll(err));
        socket.on("close", () => this.failAll(new Error(`INFO connection to redis-server :${this.port} closed`)));
        resolve();
      });
      socket.once("error", reject);
      socket.on("data", (chunk) => this.onData(chunk));
      socket.unref(); // never keeps the orchestrator alive
      this.socket = socket;
    });
  }

  failAll(err) {
    for (const { reject } of this.waiting.splice(0)) reject(err);
  }

  onData(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const reply = parseReply(this.buffer);
      if (!reply) return;
      this.buffer = this.buffer.subarray(reply.length);
      const waiter = this.waiting.shift();
      if (!waiter) continue;
      if (reply.error) waiter.reject(new Error(`redis-server: ${reply.error}`));
      else waiter.resolve(reply.value);
    }
  }

  /** Sends one command (an array of strings); resolves to its reply (a string for INFO). */
  command(args) {
    return new Promise((resolve, reject) => {
      if (!this.socket || this.socket.destroyed) return reject(new Error("INFO connection is not open"));
      this.waiting.push({ resolve, reject });
      this.socket.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(""));
    });
  }

  /**
   * { cpuUs, bytesOut, bytesIn, clients, commands, byCommand } now. `clients` counts this
   * connection too (see infoDelta()); `byCommand` is `INFO commandstats`: { name: { calls, usec } }.
   */
  async read() {
    const fields = parseInfo(await this.command(["INFO", "cpu", "stats", "clients", "commandstats"]));
    const num = (key) => Number(fields[key]);
    return {
      cpuUs: Math.round((num("used_cpu_sys") + num("used_cpu_user")) * 1e6),
      bytesOut: num("total_net_output_bytes"),
      bytesIn: num("total_net_input_bytes"),
      commands: num("total_commands_processed"),
      clients: num("connected_clients"),
      byCommand: commandStats(fields),
    };
  }

  close() {
    if (this.socket) this.socket.destroy();
  }
}

/** One RESP reply at the start of `buf`: { value | error, length } or null if incomplete. */
function parseReply(buf) {
  const eol = buf.indexOf("\r\n");
  if (eol < 0) return null;
  const head = buf.toString("latin1", 1, eol);
  switch (String.fromCharCode(buf[0])) {
    case "+":
      return { value: head, length: eol + 2 };
    case "-":
      return { error: head, length: eol + 2 };
    case ":":
      return { value: Number(head), length: eol + 2 };
    case "$": {
      const n = Number(head);
      if (n < 0) return { value: null, length: eol + 2 };
      if (buf.length < eol + 2 + n + 2) return null;
      return { value: buf.toString("utf8", eol + 2, eol + 2 + n), length: eol + 2 + n + 2 };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(String.fromCharCode(buf[0]))}`);
  }
}

function parseInfo(text) {
  const fields = {};
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && line[0] !== "#") fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/**
 * `cmdstat_<name>:calls=N,usec=U,...` lines: { name: { calls, usec } }, where usec is the time
 * Redis spent executing that command (what it spends reading, writing and waking is not in it).
 */
function commandStats(fields) {
  const stats = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!key.startsWith("cmdstat_")) continue;
    const parts = Object.fromEntries(value.split(",").map((kv) => kv.split("=")));
    stats[key.slice("cmdstat_".length)] = { calls: Number(parts.calls), usec: Number(parts.usec) };
  }
  return stats;
}

/**
 * after - before: Redis CPU (us), bytes out and in, commands (and per command: calls, usec);
 * connections at `after`, minus ours.
 */
function infoDelta(before, after) {
  if (!before || !after) return null;
  const byCommand = {};
  for (const [name, { calls, usec }] of Object.entries(after.byCommand || {})) {
    const was = (before.byCommand || {})[name] || { calls: 0, usec: 0 };
    if (calls > was.calls) byCommand[name] = { calls: calls - was.calls, usec: usec - was.usec };
  }
  return {
    cpuUs: after.cpuUs - before.cpuUs,
    bytesOut: after.bytesOut - before.bytesOut,
    bytesIn: after.bytesIn - before.bytesIn,
    commands: after.commands - before.commands,
    byCommand,
    connections: after.clients - 1, // the bench's own INFO connection
  };
}

module.exports = { RedisInfo, infoDelta, parseReply, parseInfo };
