"use strict";

// A client process of the scale suite: many light socket.io clients over the `ws` package, speaking
// engine.io v4 / socket.io v5 directly (socket.io-client costs too much CPU per connection to reach
// tens of thousands of connections on 2 cores). Driven by bench/scale/run.js over IPC (bench/harness/rpc.js).
//
// What it speaks: the engine.io open packet `0{...}`, ping `2` answered with pong `3`, socket.io
// CONNECT `40` (`40/nsp,` for a namespace; `40{"pid":..,"offset":..}` to recover a session), the
// server's CONNECT answer `40{"sid":..,"pid":..}`, EVENT `42[...]`, CONNECT_ERROR `44`. Like
// socket.io-client, each connection keeps the last string argument of every event as its offset.

const WebSocket = require("ws");
const { serve, announceReady } = require("../harness/rpc");

const conns = []; // every connection ever opened by this process
const counts = new Map(); // event name => receptions
const probeTimes = []; // reception times (ms, performance clock + timeOrigin) of "probe" events
const now = () => performance.timeOrigin + performance.now();

function parseNsp(body) {
  // body after the packet type: optional "/nsp," then the rest
  if (body[0] !== "/") return ["/", body];
  const comma = body.indexOf(",");
  if (comma < 0) return [body, ""];
  return [body.slice(0, comma), body.slice(comma + 1)];
}

/**
 * Opens one connection. `auth`: the CONNECT packet's payload (recovery: { pid, offset }).
 * Resolves with the connection once the server answered CONNECT (or refused), or on failure.
 */
function openOne({ port, nsp = "/", localAddress, auth = null, prev = null, timeoutMs = 60000 }) {
  return new Promise((resolve) => {
    const conn = { port, nsp, sid: null, pid: null, offset: null, state: "opening", prev, recovered: false };
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, {
      localAddress,
      perMessageDeflate: false,
    });
    conn.ws = ws;
    const prefix = nsp === "/" ? "" : `${nsp},`;
    let settled = false;
    const settle = (state) => {
      if (state) conn.state = state;
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(conn);
    };
    const timer = setTimeout(() => {
      settle("timeout");
      ws.terminate();
    }, timeoutMs);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return; // attachments of binary events: not needed here
      const text = data.toString();
      const type = text[0];
      if (type === "0") {
        ws.send(`40${prefix}${auth ? JSON.stringify(auth) : ""}`);
      } else if (type === "2") {
        ws.send("3");
      } else if (type === "4") {
        const kind = text[1];
        const [, rest] = parseNsp(text.slice(2));
        if (kind === "0") {
          const answer = JSON.parse(rest);
          conn.sid = answer.sid;
          conn.pid = answer.pid || null;
          conn.recovered = !!(prev && prev.sid === answer.sid);
          conns.push(conn);
          settle("open");
        } else if (kind === "2" || kind === "5") {
          // an EVENT or BINARY_EVENT ("<n>-" attachments first), maybe with an ack id before the array
          const start = rest.indexOf("[");
          let args;
          try {
            args = JSON.parse(rest.slice(start));
          } catch {
            return;
          }
          const name = args[0];
          counts.set(name, (counts.get(name) || 0) + 1);
          if (name === "probe") probeTimes.push(now());
          const last = args[args.length - 1];
          if (args.length > 1 && typeof last === "string") conn.offset = last;
        } else if (kind === "4") {
          settle("refused");
        } else if (kind === "1") {
          conn.state = "disconnected";
        }
      }
    });
    ws.on("error", () => settle("failed"));
    ws.on("close", () => {
      if (!settled) settle("failed");
      else if (conn.state === "open" || conn.state === "disconnected") conn.state = "closed";
    });
  });
}

/** Runs `jobs` (functions returning promises) with at most `limit` at a time. */
async function pool(jobs, limit) {
  const results = new Array(jobs.length);
  let next = 0;
  async function lane() {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, lane));
  return results;
}

function summary(list) {
  const by = {};
  for (const c of list) by[c.state] = (by[c.state] || 0) + 1;
  return by;
}

serve({
  /** Opens `n` connections to `port` (namespace `nsp`, or `nsps` one each); resolves when all answered. */
  async open({ port, n = 1, nsp = "/", nsps = null, localAddress, concurrency = 100 }) {
    const started = now();
    const targets = nsps || Array.from({ length: n }, () => nsp);
    const list = await pool(
      targets.map((name) => () => openOne({ port, nsp: name, localAddress })),
      concurrency,
    );
    return { ms: now() - started, states: summary(list), sids: list.filter((c) => c.sid).map((c) => c.sid) };
  },
  /** Every connection closed by the server reconnects, to ports[i % ports.length], asking to recover. */
  async reconnect({ ports, localAddress, concurrency = 100 }) {
    const started = now();
    // The server's close may still be on its way to some connections: wait for it (at most 30 s).
    const deadline = now() + 30000;
    while (conns.some((c) => c.state === "open") && now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const stillOpen = conns.filter((c) => c.state === "open").length;
    const closed = conns.filter((c) => c.state === "closed" || c.state === "disconnected");
    const withOffset = closed.filter((c) => c.offset).length;
    const list = await pool(
      closed.map((c, i) => () =>
        openOne({
          port: ports[i % ports.length],
          nsp: c.nsp,
          localAddress,
          prev: c,
          auth: c.pid && c.offset ? { pid: c.pid, offset: c.offset } : null,
        }).then((conn) => {
          c.state = "replaced";
          return conn;
        }),
      ),
      concurrency,
    );
    return {
      ms: now() - started,
      closed: closed.length,
      stillOpen,
      withOffset,
      recovered: list.filter((c) => c.recovered).length,
      states: summary(list),
    };
  },
  states: () => summary(conns),
  counts: () => Object.fromEntries(counts),
  resetCounts() {
    counts.clear();
    return true;
  },
  /** The largest interval between consecutive probe receptions overlapping [from, to]. */
  probeGap({ from, to }) {
    let gap = 0;
    let n = 0;
    for (let i = 1; i < probeTimes.length; i++) {
      const a = probeTimes[i - 1];
      const b = probeTimes[i];
      if (b < from || a > to) continue;
      n++;
      gap = Math.max(gap, b - a);
    }
    // nothing received since `from`: the gap is still open
    const last = probeTimes[probeTimes.length - 1];
    if (last === undefined || last < to) gap = Math.max(gap, to - Math.max(from, last === undefined ? from : last));
    return { gap, receptions: n, total: probeTimes.length };
  },
  closeAll() {
    for (const c of conns) c.ws.terminate();
    return true;
  },
});

process.on("disconnect", () => process.exit(0));
announceReady({ pid: process.pid });
