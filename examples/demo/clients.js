// The demo's clients: CLIENTS socket.io clients in a process of their own, talking to the cluster
// through its one port. They join rooms, chat across workers, answer a broadcast with acks and
// ask every worker for fetchSockets(); at the end the primary announces that the demo is over, with
// its Emitter (run by run.js only); this process prints what crossed which worker, checks that
// nothing was lost, and exits with 0 (all good) or 1.
//
//   node examples/demo/clients.js [url]     (run.js forks it; point it at `run.js --serve` too)
const { io } = require("socket.io-client");

const URL = process.argv[2] || process.env.URL || "http://127.0.0.1:3000";
const CLIENTS = Number(process.env.CLIENTS) || 24;
const ROOMS = ["lobby", "games", "music"];
const SAMPLE_LINES = 6;
const RUN = Math.random().toString(36).slice(2, 8); // ignore sockets and messages of anyone else

if (process.send) {
  // Forked by run.js: it stops us (SIGTERM or closing the IPC channel), also on Ctrl-C.
  process.on("SIGINT", () => {});
  process.on("disconnect", () => process.exit(1));
}

const problems = [];
const log = (line = "") => console.log(line);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function waitFor(predicate, ms) {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await sleep(20);
  return predicate();
}

let retried = 0; // connection attempts that failed and were retried (see README: a race in sticky)

function connectClient(i) {
  const socket = io(URL, {
    auth: { client: i, run: RUN },
    forceNew: true,
    // default transports: HTTP long-polling first, then an upgrade to WebSocket. Every polling
    // request of a session must reach the same worker: that is what the sticky sessions are for.
    // While connecting, retry like a default client does; once connected, a reconnection would
    // hide lost messages, so it is turned off.
    reconnectionAttempts: 3,
    reconnectionDelay: 100,
    timeout: 5000,
  });
  const client = { i, socket, worker: null, room: null, chats: [], pings: 0, announcements: [] };
  socket.on("chat", (m) => {
    if (m.run === RUN) client.chats.push(m);
  });
  socket.on("announcement", (m) => {
    if (m.run === RUN) client.announcements.push(m.text);
  });
  socket.on("ping", (from, ack) => {
    client.pings++;
    ack({ client: i, run: RUN, worker: client.worker });
  });
  let lastError = null;
  socket.on("connect_error", (err) => {
    lastError = err;
    if (socket.io.reconnection()) retried++;
  });
  const welcomed = new Promise((resolve, reject) => {
    socket.once("welcome", ({ worker }) => {
      socket.io.reconnection(false);
      client.worker = worker;
      resolve(client);
    });
    socket.io.once("reconnect_failed", () =>
      reject(new Error(`client ${i} could not connect: ${lastError && lastError.message}`)),
    );
  });
  return withTimeout(welcomed, 10000, `client ${i} connecting`);
}

const byWorker = (items, worker) => items.filter((x) => x.worker === worker);
const names = (items) => items.map((c) => c.i).join(" ");

function perWorker(items, workers) {
  return workers.map((w) => `${byWorker(items, w).length} on worker ${w}`).join(", ");
}

async function main() {
  // 1. Connect
  const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connectClient(i)));
  const workers = [...new Set(clients.map((c) => c.worker))].sort((a, b) => a - b);
  await waitFor(() => clients.every((c) => c.socket.io.engine.transport.name === "websocket"), 3000);
  const upgraded = clients.filter((c) => c.socket.io.engine.transport.name === "websocket").length;
  log(`${CLIENTS} clients connected to ${URL}: ${perWorker(clients, workers)}`);
  log(`  (HTTP long-polling first, then ${upgraded}/${CLIENTS} upgraded to WebSocket)`);
  if (retried) {
    log(`  (${retried} connection attempt(s) failed and were retried: a known race in @socket.io/sticky, see README)`);
  }
  for (const w of workers) log(`  worker ${w} holds clients ${names(byWorker(clients, w))}`);
  if (workers.length < 2) problems.push(`all clients landed on one worker (${workers}): nothing can cross`);

  // 2. Rooms: the k-th client of each worker joins ROOMS[k % 3], so every room spans every worker
  for (const w of workers) byWorker(clients, w).forEach((c, k) => (c.room = ROOMS[k % ROOMS.length]));
  await Promise.all(clients.map((c) => withTimeout(c.socket.emitWithAck("join", c.room), 5000, `client ${c.i} joining`)));
  log();
  log(`Rooms (socket.join on each client's own worker):`);
  for (const room of ROOMS) {
    const members = clients.filter((c) => c.room === room);
    log(`  ${room.padEnd(6)} clients ${names(members)}  (${perWorker(members, workers)})`);
  }

  // 3. Chat: each client says hello to its room; its worker relays it with socket.to(room).emit()
  const expected = new Set();
  for (const s of clients) {
    for (const r of clients) if (r !== s && r.room === s.room) expected.add(`${s.i}>${r.i}`);
  }
  for (const c of clients) c.socket.emit("chat", c.room, `hello from client ${c.i}`);
  const received = () => clients.reduce((n, c) => n + c.chats.length, 0);
  await waitFor(() => received() >= expected.size, 5000);
  await sleep(100); // late duplicates, if any, would show up here

  const deliveries = clients.flatMap((r) => r.chats.map((m) => ({ to: r, from: clients[m.from], m })));
  const seen = new Set();
  let duplicates = 0;
  let unexpected = 0;
  for (const d of deliveries) {
    const key = `${d.m.from}>${d.to.i}`;
    if (seen.has(key)) duplicates++;
    else if (!expected.has(key)) unexpected++;
    seen.add(key);
  }
  const missing = [...expected].filter((key) => !seen.has(key));
  const crossed = deliveries.filter((d) => d.m.fromWorker !== d.to.worker);

  log();
  log(`Chat: each client says hello to its room (socket.to(room).emit() on the sender's worker)`);
  const pairs = new Map(); // "1>2" => deliveries from worker 1 to clients of worker 2
  for (const d of crossed) {
    const key = `${d.m.fromWorker}>${d.to.worker}`;
    if (!pairs.has(key)) pairs.set(key, []);
    pairs.get(key).push(d);
  }
  const perPair = Math.max(1, Math.ceil(SAMPLE_LINES / Math.max(1, pairs.size)));
  let shown = 0;
  for (const list of pairs.values()) {
    for (const d of list.slice(0, perPair)) {
      log(`  client ${d.to.i} on worker ${d.to.worker} got 'chat' from client ${d.m.from} on worker ${d.m.fromWorker}`);
      shown++;
    }
  }
  log(`  ... and ${deliveries.length - shown} more deliveries`);
  log(`  ${deliveries.length}/${expected.size} delivered, ${crossed.length} of them crossed from one worker to another`);
  if (missing.length) problems.push(`${missing.length} chat messages lost (sender>receiver: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""})`);
  if (duplicates) problems.push(`${duplicates} chat messages delivered twice`);
  if (unexpected) problems.push(`${unexpected} chat messages reached a client outside the sender's room`);
  if (crossed.length === 0) problems.push("no chat message crossed workers");

  // 4. Broadcast with acks, once from each worker: every client of every worker answers
  log();
  log(`Broadcast with acks: io.timeout(5000).emitWithAck("ping"), once from each worker`);
  const ackResults = [];
  for (const w of workers) {
    const asker = byWorker(clients, w)[0];
    const result = await withTimeout(asker.socket.emitWithAck("ping everyone"), 8000, `broadcast with acks from worker ${w}`);
    if (result.error) {
      log(`  worker ${w}: failed after ${result.ms} ms: ${result.error}`);
      problems.push(`broadcast with acks from worker ${w} failed: ${result.error}`);
      ackResults.push({ worker: w, got: 0 });
      continue;
    }
    const answers = result.answers.filter((a) => a && a.run === RUN);
    const answered = new Set(answers.map((a) => a.client));
    log(`  worker ${w}: ${answers.length}/${CLIENTS} acks in ${result.ms} ms, answered by clients on every worker (${perWorker(answers, workers)})`);
    ackResults.push({ worker: w, got: answers.length });
    if (answered.size !== CLIENTS || answers.length !== CLIENTS) {
      problems.push(`broadcast with acks from worker ${w}: ${answers.length} acks from ${answered.size} distinct clients, expected ${CLIENTS}`);
    }
  }

  // 5. fetchSockets(), asked on each worker: it must see the sockets of every worker
  log();
  log(`fetchSockets(): io.fetchSockets() on each worker`);
  const fetchResults = [];
  for (const w of workers) {
    const asker = byWorker(clients, w)[0];
    const result = await withTimeout(asker.socket.emitWithAck("who is online"), 8000, `fetchSockets on worker ${w}`);
    if (result.error) {
      log(`  worker ${w}: failed: ${result.error}`);
      problems.push(`fetchSockets on worker ${w} failed: ${result.error}`);
      fetchResults.push({ worker: w, sockets: [] });
      continue;
    }
    const sockets = result.sockets.filter((s) => s.run === RUN);
    const others = result.sockets.length - sockets.length;
    log(`  worker ${w}: ${sockets.length}/${CLIENTS} sockets (${perWorker(sockets, workers)})${others ? ` and ${others} other(s)` : ""}`);
    fetchResults.push({ worker: w, sockets });
    const wrong = sockets.filter((s) => {
      const c = clients[s.client];
      return !c || c.socket.id !== s.id || c.worker !== s.worker || !s.rooms.includes(c.room);
    });
    if (sockets.length !== CLIENTS) problems.push(`fetchSockets on worker ${w} saw ${sockets.length} sockets, expected ${CLIENTS}`);
    if (wrong.length) problems.push(`fetchSockets on worker ${w}: ${wrong.length} sockets with a wrong id, worker or rooms`);
  }

  // 6. Emit from the primary: run.js's Emitter announces the end to every client of every worker
  log();
  log(`Emit from the primary: new Emitter().emit("announcement", ...) in the primary, asked by this process`);
  let announced = null;
  if (process.send) {
    process.send({ demo: "announce", run: RUN });
    await waitFor(() => clients.every((c) => c.announcements.length > 0), 5000);
    await sleep(100); // late duplicates, if any, would show up here
    announced = clients.filter((c) => c.announcements.length === 1);
    const text = announced.length ? announced[0].announcements[0] : "-";
    log(`  "${text}" reached ${announced.length}/${CLIENTS} clients once (${perWorker(announced, workers)})`);
    if (announced.length !== CLIENTS) problems.push(`the primary's announcement reached ${announced.length} clients once, expected ${CLIENTS}`);
  } else {
    log("  (only when run.js runs this process)");
  }

  // 7. Summary
  const ackGot = ackResults.reduce((n, r) => n + r.got, 0);
  log();
  log("Summary");
  log(`  chat          ${deliveries.length}/${expected.size} delivered, ${crossed.length} crossed workers, ${missing.length} lost, ${duplicates} duplicated`);
  log(`  acks          ${ackGot}/${CLIENTS * workers.length} received (${workers.length} broadcasts x ${CLIENTS} clients)`);
  if (announced) log(`  announcement  ${announced.length}/${CLIENTS} clients (emitted by the primary)`);
  log(`  fetchSockets  ${fetchResults.map((r) => `worker ${r.worker} saw ${r.sockets.length}/${CLIENTS} (${r.sockets.length ? perWorker(r.sockets, workers) : "-"})`).join("; ")}`);

  for (const c of clients) c.socket.disconnect();
}

main()
  .catch((err) => problems.push(err.message))
  .finally(() => {
    if (problems.length === 0) {
      log("RESULT: OK, nothing lost");
      process.exit(0);
    }
    log(`RESULT: FAILED`);
    for (const p of problems) log(`  - ${p}`);
    process.exit(1);
  });
