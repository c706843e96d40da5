"use strict";

// Request/response over Node's IPC channel, between the orchestrator and the processes it drives.
// Bench messages carry a `_bench` field, so both adapters (which only look at messages whose
// `source` is "_sio_adapter") ignore them when they cross a cluster's IPC channels. They are few
// (a handful per scenario), so they do not weigh on what is measured.

const TAG = "_bench";

function isRequest(message) {
  return message !== null && typeof message === "object" && message[TAG] === "req";
}

function isResponse(message) {
  return message !== null && typeof message === "object" && message[TAG] === "res";
}

function isReady(message) {
  return message !== null && typeof message === "object" && message[TAG] === "ready";
}

function ignoreError() {}

/** The calling end, around a ChildProcess (or a cluster Worker's process). */
class RpcClient {
  constructor(child, name) {
    this.child = child;
    this.name = name;
    this.nextId = 1;
    this.pending = new Map();
    this.exited = null;
    child.on("message", (message) => this.onMessage(message));
    child.on("exit", (code, signal) => {
      this.exited = `${name} exited (${signal || `code ${code}`})`;
      for (const request of this.pending.values()) {
        clearTimeout(request.timer);
        request.reject(new Error(`${this.exited} while waiting for "${request.cmd}"`));
      }
      this.pending.clear();
    });
  }

  /** Sends `cmd` to the child (or, through a cluster primary, to its worker `to`). */
  call(cmd, args = {}, { to = null, timeoutMs = 30000 } = {}) {
    if (this.exited) return Promise.reject(new Error(`${this.exited}: cannot send "${cmd}"`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: "${cmd}"${to === null ? "" : ` to worker ${to}`} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, cmd });
      this.child.send({ [TAG]: "req", id, to, cmd, args }, (err) => {
        if (!err || !this.pending.has(id)) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${this.name}: cannot send "${cmd}": ${err.message}`));
      });
    });
  }

  onMessage(message) {
    if (!isResponse(message)) return;
    const request = this.pending.get(message.id);
    if (!request) return;
    this.pending.delete(message.id);
    clearTimeout(request.timer);
    if (message.ok) request.resolve(message.result);
    else request.reject(new Error(`${this.name}: "${request.cmd}" failed: ${message.error}`));
  }
}

/** The answering end, in a child process: `handlers[cmd](args)` may return a promise. */
function serve(handlers) {
  process.on("message", async (message) => {
    if (!isRequest(message) || message.to !== null) return;
    const reply = (body) => {
      if (process.connected) process.send({ [TAG]: "res", id: message.id, ...body }, null, {}, ignoreError);
    };
    const handler = handlers[message.cmd];
    if (!handler) return reply({ ok: false, error: `unknown command "${message.cmd}"` });
    try {
      reply({ ok: true, result: await handler(message.args) });
    } catch (err) {
      reply({ ok: false, error: (err && err.stack) || String(err) });
    }
  });
}

/** Tells the parent this process is up; `info` goes with it. */
function announceReady(info) {
  if (process.connected) process.send({ [TAG]: "ready", ...info }, null, {}, ignoreError);
}

/**
 * In a cluster primary: forwards the orchestrator's requests addressed to a worker (`to`: its
 * index in `workers`) and the workers' responses back.
 */
function relayToWorkers(workers) {
  process.on("message", (message) => {
    if (!isRequest(message) || message.to === null) return;
    const worker = workers[message.to];
    if (!worker || !worker.isConnected()) {
      process.send({ [TAG]: "res", id: message.id, ok: false, error: `worker ${message.to} is not connected` });
      return;
    }
    worker.send({ ...message, to: null });
  });
  for (const worker of workers) {
    worker.on("message", (message) => {
      if (isResponse(message) && process.connected) process.send(message);
    });
  }
}

module.exports = { TAG, RpcClient, serve, announceReady, relayToWorkers, isRequest, isResponse, isReady };
