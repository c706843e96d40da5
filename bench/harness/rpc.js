"use strict";

// Request/response over Node's IPC channel, between an orchestrator (bench, soak, scale, a Jest
// test) and the processes it drives: the one dialect of the project's harness.
//
//   orchestrator  RpcClient(child).call(cmd, args, { to })   `to`: a worker of a cluster primary
//   child         serve({ cmd: handler }), announceReady(info), notify(event, info)
//   primary       relayToWorkers(workers): requests with a `to` go to that worker, answers come back
//
// Messages carry a `_bench` field, so both adapters (which only look at messages whose `source` is
// "_sio_adapter") ignore them when they cross a cluster's IPC channels. They are few (a handful per
// scenario), so they do not weigh on what is measured.

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

/** An event a child tells its parent of (`notify`), e.g. a cluster primary's "a worker exited". */
function isEvent(message, event) {
  return message !== null && typeof message === "object" && message[TAG] === "event" && (event === undefined || message.event === event);
}

function ignoreError() {}

/** Resolves to the child's announceReady() message; rejects if it exits first or after `timeoutMs`. */
function waitReady(child, name, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited during start-up (${signal || `code ${code}`})`));
    };
    child.on("message", function onMessage(message) {
      if (!isReady(message)) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(message);
    });
    child.once("exit", onExit);
  });
}

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

  /**
   * Sends `cmd` to the child (or, through a cluster primary, to its worker `to`). `timeoutMs`:
   * 0 for none (a Jest test has its own).
   */
  call(cmd, args = {}, { to = null, timeoutMs = 30000 } = {}) {
    if (this.exited) return Promise.reject(new Error(`${this.exited}: cannot send "${cmd}"`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new Error(`${this.name}: "${cmd}"${to === null ? "" : ` to worker ${to}`} timed out after ${timeoutMs} ms`));
            }, timeoutMs)
          : null;
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

/** `value` as it can cross an IPC channel: what cannot be cloned (functions, sockets...) as null. */
function cloneable(value) {
  try {
    return value === undefined ? null : structuredClone(value);
  } catch {
    return null;
  }
}

/** Tells the parent this process is up; `info` goes with it. */
function announceReady(info) {
  if (process.connected) process.send({ [TAG]: "ready", ...info }, null, {}, ignoreError);
}

/** Tells the parent of `event` (see isEvent); `info` goes with it. */
function notify(event, info) {
  if (process.connected) process.send({ [TAG]: "event", event, ...info }, null, {}, ignoreError);
}

/**
 * In a cluster primary: forwards the orchestrator's requests addressed to a worker (`to`: its
 * index in `workers`) and the workers' responses back. Returns `attach(worker)`, for a worker
 * forked later (it must be in `workers` by then).
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
  const attach = (worker) => {
    worker.on("message", (message) => {
      if (isResponse(message) && process.connected) process.send(message);
    });
  };
  for (const worker of workers) if (worker) attach(worker);
  return attach;
}

module.exports = { TAG, RpcClient, serve, cloneable, announceReady, notify, waitReady, relayToWorkers, isRequest, isResponse, isReady, isEvent };
