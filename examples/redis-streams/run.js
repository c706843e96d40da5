// Two "machines" on one box, joined through Redis in streams mode: one command starts everything,
// shows a client of machine A recovering on machine B after machine A was stopped (a deploy), with
// exactly the news it missed, then on the restarted machine A, stops everything it started and
// exits with 0 (recovered, nothing lost or doubled) or 1.
//
//   node examples/redis-streams/run.js                                  # a throw-away redis-server
//   REDIS_URL=redis://127.0.0.1:6379 node examples/redis-streams/run.js # yours (Redis >= 6.2)
const path = require("node:path");
const { io } = require("socket.io-client");
const { sleep } = require("../../bench/harness/wait");
// Two machines on this box: Redis, the machines, the waits, the run's end (examples/two-machines.js).
const { problems, log, startRedis, startMachine, stopMachine, withTimeout, waitFor, run } = require("../two-machines");

const ROOM = "lobby";
const CLUSTER = path.join(__dirname, "cluster.js");

/** A client of `url` (WebSocket, no automatic reconnection: the run moves it itself). */
function connectClient(url, name) {
  const socket = io(url, { auth: { name }, forceNew: true, transports: ["websocket"], reconnection: false });
  const client = { name, socket, news: [], welcome: null };
  socket.on("news", (text, offset) => client.news.push({ text, offset }));
  socket.on("welcome", (w) => (client.welcome = w));
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once("welcome", () => resolve(client));
      socket.once("connect_error", reject);
    }),
    10000,
    `${name} connecting to ${url}`,
  );
}

/** Connects the client again, to `url`, with its session id and offset (what socket.io-client sends). */
function reconnect(client, url) {
  const { hostname, port } = new URL(url);
  Object.assign(client.socket.io.opts, { hostname, port, secure: false });
  client.socket.io.uri = url;
  client.welcome = null;
  const welcomed = new Promise((resolve, reject) => {
    client.socket.once("welcome", resolve);
    client.socket.once("connect_error", reject);
  });
  client.socket.connect();
  return withTimeout(welcomed, 10000, `${client.name} reconnecting to ${url}`);
}

async function publish(publisher, text) {
  await publisher.socket.timeout(5000).emitWithAck("publish", ROOM, text);
}

function check(what, got, expected) {
  const ok = JSON.stringify(got) === JSON.stringify(expected);
  log(`  ${what}: ${JSON.stringify(got)}${ok ? "" : `  EXPECTED ${JSON.stringify(expected)}`}`);
  if (!ok) problems.push(`${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
}

async function main() {
  const redisUrl = await startRedis({ version: "6.2", command: "examples/redis-streams/run.js" });
  let a = await startMachine(CLUSTER, "A", redisUrl);
  const b = await startMachine(CLUSTER, "B", redisUrl);

  const alice = await connectClient(a.url, "alice");
  const bob = await connectClient(b.url, "bob");
  await alice.socket.timeout(5000).emitWithAck("join", ROOM);
  log();
  log(`alice is on machine A (worker ${alice.welcome.worker}), in "${ROOM}"; bob publishes from machine B (worker ${bob.welcome.worker})`);
  await publish(bob, "news 1");
  await waitFor(() => alice.news.length === 1, 5000);
  check("alice got", alice.news.map((n) => n.text), ["news 1"]);
  log(`  its offset is a Redis stream id: ${alice.news[0] && alice.news[0].offset}`);

  // 1. A deploy: machine A stops (its workers close socket.io: alice's session goes to Redis).
  log();
  log("machine A stops (SIGTERM: its workers io.close(), persisting their clients' sessions in Redis)");
  const id = alice.socket.id;
  const gone = new Promise((resolve) => alice.socket.once("disconnect", resolve));
  await stopMachine(a);
  await gone;
  for (const text of ["news 2", "news 3", "news 4"]) await publish(bob, text);
  log('bob published "news 2", "news 3", "news 4" while alice was away; machine A starts again');
  a = await startMachine(CLUSTER, "A", redisUrl);

  // 2. alice reconnects to the other machine, B: the session and what it missed come from Redis.
  await reconnect(alice, b.url);
  log();
  log(`alice reconnects to machine B (worker ${alice.welcome.worker})`);
  check("recovered", alice.welcome.recovered, true);
  check("same socket id", alice.socket.id === id, true);
  check("socket.data kept", alice.welcome.data, { name: "alice", joinedOn: alice.welcome.data.joinedOn });
  await waitFor(() => alice.news.length >= 4, 5000);
  await sleep(200); // duplicates, if any, would show up here
  check("alice got, in all", alice.news.map((n) => n.text), ["news 1", "news 2", "news 3", "news 4"]);

  // 3. Her connection drops; she comes back to the restarted machine A.
  const idOnB = alice.socket.id;
  const dropped = new Promise((resolve) => alice.socket.once("disconnect", resolve));
  alice.socket.io.engine.close();
  await dropped;
  await sleep(300); // machine B notices and persists the session
  await publish(bob, "news 5");
  await reconnect(alice, a.url);
  log();
  log(`alice's connection drops, bob publishes "news 5", alice reconnects to the restarted machine A (worker ${alice.welcome.worker})`);
  check("recovered", alice.welcome.recovered, true);
  check("same socket id", alice.socket.id === idOnB, true);
  await waitFor(() => alice.news.length >= 5, 5000);
  await sleep(200);
  check("alice got, in all", alice.news.map((n) => n.text), ["news 1", "news 2", "news 3", "news 4", "news 5"]);

  alice.socket.disconnect();
  bob.socket.disconnect();
}

run(main, { okResult: "alice recovered on the other machine and on the restarted one, with exactly what she missed" });
