// Two "machines" on one box, joined through Redis: one command starts everything, shows a
// broadcast, a room message and a fetchSockets() crossing machines, stops everything it started
// and exits with 0 (nothing lost) or 1.
//
//   node examples/redis/run.js                                  # starts a throw-away redis-server
//   REDIS_URL=redis://127.0.0.1:6379 node examples/redis/run.js # uses yours (Redis >= 7)
//
//   redis-server (127.0.0.1, a free port, no persistence)   unless REDIS_URL is given
//   machine A: cluster.js = primary (sticky + our hub, Redis client) + 2 workers
//   machine B: the same, on another port
//   this process: CLIENTS socket.io clients on each machine (socket.io-client)
const path = require("node:path");
const { io } = require("socket.io-client");
const { sleep } = require("../../bench/harness/wait");
// Two machines on this box: Redis, the machines, the waits, the run's end (examples/two-machines.js).
const { problems, log, startRedis, startMachine, withTimeout, waitFor, run } = require("../two-machines");

const MACHINES = ["A", "B"];
const WORKERS = 2; // per machine
const CLIENTS = Number(process.env.CLIENTS) || 4; // per machine
const ROOM = "lobby";

/** One client: HTTP long-polling first, then WebSocket (the sticky sessions keep it on its worker). */
function connectClient(url, name) {
  const socket = io(url, {
    auth: { name },
    forceNew: true,
    // like a default client, retry a failed first attempt (a known race in @socket.io/sticky,
    // socketio/socket.io-sticky#2); once connected, no reconnection: a drop must show as a loss
    reconnectionAttempts: 3,
    reconnectionDelay: 100,
  });
  const client = { name, socket, machine: null, worker: null, news: [], said: [] };
  socket.on("news", (m) => client.news.push(m));
  socket.on("said", (m) => client.said.push(m));
  return withTimeout(
    new Promise((resolve) =>
      socket.once("welcome", ({ machine, worker }) => {
        socket.io.reconnection(false);
        Object.assign(client, { machine, worker });
        resolve(client);
      }),
    ),
    10000,
    `client ${name} connecting to ${url}`,
  );
}

const where = (c) => `${c.name} (machine ${c.machine}, worker ${c.worker})`;

async function main() {
  const redisUrl = await startRedis({ version: 7, command: "examples/redis/run.js" });
  const urls = {};
  for (const name of MACHINES) urls[name] = (await startMachine(path.join(__dirname, "cluster.js"), name, redisUrl, WORKERS)).url;

  // 1. Clients: CLIENTS on each machine, spread over its workers by the sticky load balancer
  const clients = [];
  for (const name of MACHINES) {
    for (let i = 1; i <= CLIENTS; i++) clients.push(await connectClient(urls[name], `${name.toLowerCase()}${i}`));
  }
  log();
  log(`${clients.length} clients connected:`);
  for (const name of MACHINES) {
    log(`  machine ${name} (${urls[name]}): ${clients.filter((c) => c.machine === name).map((c) => `${c.name} on ${c.worker}`).join(", ")}`);
  }
  const workers = [...new Set(clients.map((c) => c.worker))];
  if (workers.length !== MACHINES.length * WORKERS) problems.push(`clients landed on ${workers.length} workers, expected ${MACHINES.length * WORKERS}`);

  // Every worker's adapter must count every worker of both machines (heartbeats through Redis)
  const total = MACHINES.length * WORKERS;
  const oneClientPerWorker = workers.map((w) => clients.find((c) => c.worker === w));
  const counts = async () => Promise.all(oneClientPerWorker.map((c) => c.socket.timeout(5000).emitWithAck("servers")));
  const deadline = Date.now() + 15000;
  let seen = await counts();
  while (seen.some((s) => s.servers !== total) && Date.now() < deadline) {
    await sleep(100);
    seen = await counts();
  }
  log(`  servers seen by each worker's adapter: ${seen.map((s) => `${s.worker} ${s.servers}`).join(", ")} (expected ${total})`);
  if (seen.some((s) => s.servers !== total)) problems.push(`a worker does not count ${total} servers`);

  // 2. Broadcast: a client of machine A asks its worker for io.emit(): every client of both machines
  const announcer = clients.find((c) => c.machine === "A");
  announcer.socket.emit("announce", "hello, every machine");
  await waitFor(() => clients.every((c) => c.news.length >= 1), 5000);
  await sleep(100); // duplicates, if any, would show up here
  log();
  log(`Broadcast: io.emit("news") on worker ${announcer.worker} (machine A), asked by ${announcer.name}`);
  for (const c of clients) {
    const got = c.news.length ? `got it${c.machine !== "A" ? "  <- crossed machines through Redis" : ""}` : "MISSED IT";
    log(`  ${where(c).padEnd(30)} ${got}${c.news.length > 1 ? ` (${c.news.length} times)` : ""}`);
  }
  const newsMissing = clients.filter((c) => c.news.length === 0).length;
  const newsDuplicated = clients.filter((c) => c.news.length > 1).length;
  if (newsMissing) problems.push(`broadcast: ${newsMissing} client(s) missed it`);
  if (newsDuplicated) problems.push(`broadcast: ${newsDuplicated} client(s) got it more than once`);

  // 3. Room: the first client of each worker joins "lobby"; a member on machine B speaks to it
  const members = oneClientPerWorker;
  await Promise.all(members.map((c) => c.socket.timeout(5000).emitWithAck("join", ROOM)));
  const speaker = members.find((c) => c.machine === "B");
  speaker.socket.emit("say", ROOM, `hi ${ROOM}, from machine B`);
  const listeners = members.filter((c) => c !== speaker);
  await waitFor(() => listeners.every((c) => c.said.length >= 1), 5000);
  await sleep(100);
  log();
  log(`Room: ${members.map((c) => c.name).join(", ")} joined "${ROOM}"; ${speaker.name} (machine B) says socket.to("${ROOM}").emit()`);
  for (const c of clients.filter((x) => x !== speaker)) {
    const member = members.includes(c);
    const got = c.said.length;
    const verdict = member ? (got === 1 ? `got it${c.machine !== "B" ? "  <- crossed machines through Redis" : ""}` : got ? `got it ${got} times` : "MISSED IT") : got ? "GOT IT (not a member!)" : "nothing (not a member)";
    log(`  ${where(c).padEnd(30)} ${verdict}`);
    if (member && got !== 1) problems.push(`room: ${c.name} got the message ${got} times, expected once`);
    if (!member && got) problems.push(`room: ${c.name} is not a member and got it`);
  }
  if (speaker.said.length) problems.push("room: the speaker got its own message");

  // 4. fetchSockets(): asked on a worker of machine A, it sees the sockets of both machines
  const asker = clients.find((c) => c.machine === "A");
  const answer = await asker.socket.timeout(8000).emitWithAck("who is online");
  log();
  log(`fetchSockets(): io.fetchSockets() on worker ${answer.worker} (machine A), asked by ${asker.name}`);
  if (answer.error) {
    problems.push(`fetchSockets failed: ${answer.error}`);
  } else {
    const byMachine = (m) => answer.sockets.filter((s) => s.machine === m);
    for (const m of MACHINES) {
      log(`  machine ${m}: ${byMachine(m).map((s) => `${s.name} on ${s.worker}${s.rooms.includes(ROOM) ? ` [${ROOM}]` : ""}`).join(", ")}`);
    }
    const wrong = clients.filter((c) => {
      const s = answer.sockets.find((x) => x.id === c.socket.id);
      return !s || s.name !== c.name || s.worker !== c.worker || s.rooms.includes(ROOM) !== members.includes(c);
    });
    log(`  ${answer.sockets.length}/${clients.length} sockets, ${byMachine("B").length} of them on machine B`);
    if (answer.sockets.length !== clients.length) problems.push(`fetchSockets saw ${answer.sockets.length} sockets, expected ${clients.length}`);
    if (wrong.length) problems.push(`fetchSockets: ${wrong.length} socket(s) missing or with a wrong name, worker or rooms`);
  }

  for (const c of clients) c.socket.disconnect();
}

run(main, { okResult: "nothing lost (broadcast, room message and fetchSockets() all crossed machines)" });
