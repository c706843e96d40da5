"use strict";

// The rooms this worker has, per namespace, as the hub must know them to route by room. Every
// adapter of the process reports its rooms here (socket.io-adapter emits "create-room" and
// "delete-room"); several adapters of one namespace (several servers in one process) count as one.
// Changes wait here until the link sends its next frame or flushes, so they reach the hub in link
// order with everything else this worker sends: a local `socket.join(r)` followed by an emit of
// this worker, anywhere in the cluster, is never routed past it.

const roomsByNsp = new Map(); // nsp => Map<room (text), number of adapters that have it>
const adaptersByNsp = new Map(); // nsp => Set<adapter>; reports are sent as the first one's uid
const pending = new Map(); // nsp => Map<room, whether this worker has it now>
let reporting = false; // only while linked to a hub: otherwise nobody reads the changes
let onChange = () => {};

function countsOf(nsp) {
  let counts = roomsByNsp.get(nsp);
  if (!counts) roomsByNsp.set(nsp, (counts = new Map()));
  return counts;
}

function note(nsp, room, present) {
  if (!reporting) return;
  let changes = pending.get(nsp);
  if (!changes) pending.set(nsp, (changes = new Map()));
  changes.set(room, present);
  onChange(present);
}

function created(nsp, room) {
  const counts = countsOf(nsp);
  const key = String(room);
  const count = counts.get(key) || 0;
  counts.set(key, count + 1);
  if (count === 0) note(nsp, key, true);
}

function deleted(nsp, room) {
  const counts = countsOf(nsp);
  const key = String(room);
  const count = counts.get(key) || 0;
  if (count <= 1) {
    counts.delete(key);
    note(nsp, key, false);
  } else {
    counts.set(key, count - 1);
  }
}

/** Starts reporting the rooms of `adapter` (its current ones included); returns how to stop. */
function track(adapter) {
  const nsp = adapter.nsp.name;
  const onCreate = (room) => created(nsp, room);
  const onDelete = (room) => deleted(nsp, room);
  adapter.on("create-room", onCreate);
  adapter.on("delete-room", onDelete);
  if (!adaptersByNsp.has(nsp)) adaptersByNsp.set(nsp, new Set());
  adaptersByNsp.get(nsp).add(adapter);
  for (const room of adapter.rooms.keys()) created(nsp, room);
  return function untrack() {
    adapter.off("create-room", onCreate);
    adapter.off("delete-room", onDelete);
    for (const room of adapter.rooms.keys()) deleted(nsp, room);
    const adapters = adaptersByNsp.get(nsp);
    adapters.delete(adapter);
    if (adapters.size === 0) {
      adaptersByNsp.delete(nsp);
      roomsByNsp.delete(nsp);
    }
  };
}

/** Whether some adapter of `nsp` in this process has `room`. */
function has(nsp, room) {
  const counts = roomsByNsp.get(nsp);
  return counts !== undefined && counts.has(String(room));
}

/** A room the hub may think this worker has (it routed a join here): report it if it is not here. */
function noteAbsent(nsp, room) {
  if (adaptersByNsp.has(nsp) && !has(nsp, room)) note(nsp, String(room), false);
}

function uidOf(nsp) {
  return adaptersByNsp.get(nsp).values().next().value.uid;
}

/** Takes the changes not reported yet: [{ nsp, uid, joined, left }]. */
function takeChanges() {
  if (pending.size === 0) return [];
  const reports = [];
  for (const [nsp, changes] of pending) {
    if (!adaptersByNsp.has(nsp)) continue; // its last adapter closed: the hub forgets it with it
    const joined = [];
    const left = [];
    for (const [room, present] of changes) (present ? joined : left).push(room);
    reports.push({ nsp, uid: uidOf(nsp), joined, left });
  }
  pending.clear();
  return reports;
}

/**
 * Every room of every namespace (or of `only`), for a new link or namespace: [{ nsp, uid, joined }];
 * the pending changes of those namespaces are part of it.
 */
function snapshot(only) {
  const reports = [];
  for (const nsp of only === undefined ? adaptersByNsp.keys() : [only]) {
    if (!adaptersByNsp.has(nsp)) continue;
    pending.delete(nsp);
    const counts = roomsByNsp.get(nsp);
    // recovers: the hub stores other servers' broadcasts in its log only once an adapter does.
    const recovers = [...adaptersByNsp.get(nsp)].some((adapter) => Boolean(adapter.recovery));
    reports.push({ nsp, uid: uidOf(nsp), joined: counts ? [...counts.keys()] : [], recovers });
  }
  return reports;
}

/**
 * Whether changes are recorded (while linked to a hub), and who is told of a new one
 * (`onNewChange(joined)`).
 */
function setReporting(on, onNewChange = () => {}) {
  reporting = on;
  onChange = onNewChange;
  if (!on) pending.clear();
}

module.exports = { track, has, noteAbsent, takeChanges, snapshot, setReporting };
