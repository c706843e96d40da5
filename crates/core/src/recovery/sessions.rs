//! The sessions of disconnected sockets, until they recover or expire: bounded in count and
//! bytes, indexed by expiry and by room.

use std::collections::{BTreeMap, HashMap};

use super::{string_cost, RecoveryLimits};
use crate::error::RestoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub sid: String,
    pub pid: String,
    pub rooms: Vec<String>,
    /// `socket.data`, opaque here.
    pub data: Vec<u8>,
    pub expires_at_ms: u64,
}

/// What the store holds for a session besides its strings and data: the session, its key and
/// its place in the expiry index.
const SESSION_OVERHEAD: usize =
    std::mem::size_of::<Session>() + 4 * std::mem::size_of::<String>() + 32;

impl Session {
    /// The bytes the store retains for this session in `nsp`, counted against
    /// `max_session_bytes`: `socket.data`, sid, pid, the namespace (in both the key and the
    /// expiry index), every room name (each a `String` of its own) and the overhead.
    pub fn retained_bytes(&self, nsp: &str) -> usize {
        let rooms: usize = self.rooms.iter().map(|r| string_cost(r)).sum();
        SESSION_OVERHEAD
            + self.data.len()
            + self.sid.len()
            + 3 * self.pid.len()
            + 2 * nsp.len()
            + rooms
    }
}

/// What happened to the sessions a persist made room for, or to the new one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Persisted {
    /// Sessions that made room (the closest to expiry first), over the count or byte bound.
    pub evicted: usize,
    /// The new session is alone larger than the byte bound: it was not kept.
    pub refused: bool,
}

type SessionKey = (String, String);

/// Sessions of disconnected sockets, by namespace and private id, with an index by expiry.
///
/// Persisting, getting, removing and pruning cost O(log n) amortized: expired sessions are taken
/// from the front of the expiry index (each once), and at a bound the session closest to expiry
/// is the first of it. A `BTreeMap` rather than a queue in insertion order: sessions carry their
/// server's `maxDisconnectionDuration`, which may differ between namespaces and workers, so
/// expiries are not in insertion order.
#[derive(Debug)]
pub struct SessionStore {
    sessions: HashMap<SessionKey, (Session, u64)>,
    /// (expires_at_ms, sequence) -> key; the sequence keeps equal expiries apart.
    by_expiry: BTreeMap<(u64, u64), SessionKey>,
    sequence: u64,
    bytes: usize,
    max_sessions: usize,
    max_bytes: usize,
    /// Entries of the expiry index visited by prunes and evictions (their work), for tests.
    visited: u64,
    /// How many sessions hold each room, by namespace: whether a broadcast from another machine
    /// concerns a session here costs its rooms, not a walk of the sessions. Bound: one entry per
    /// distinct room of the sessions stored (themselves bounded by `max_sessions` and
    /// `max_session_bytes`, which count the room names).
    rooms: HashMap<String, HashMap<String, usize>>,
}

impl SessionStore {
    pub fn new(limits: RecoveryLimits) -> Self {
        SessionStore {
            sessions: HashMap::new(),
            by_expiry: BTreeMap::new(),
            sequence: 0,
            bytes: 0,
            max_sessions: limits.max_sessions,
            max_bytes: limits.max_session_bytes,
            visited: 0,
            rooms: HashMap::new(),
        }
    }

    /// Stores a session (replacing one with the same namespace and pid). Bounds: `max_sessions`
    /// sessions and `max_session_bytes` retained bytes; to stay within them, the sessions
    /// closest to expiry make room; a session alone larger than the byte bound is refused.
    pub fn persist(&mut self, nsp: String, session: Session, now_ms: u64) -> Persisted {
        self.prune(now_ms);
        let key = (nsp, session.pid.clone());
        self.remove_key(&key);
        let size = session.retained_bytes(&key.0);
        let mut outcome = Persisted::default();
        if size > self.max_bytes {
            outcome.refused = true;
            return outcome;
        }
        while self.sessions.len() >= self.max_sessions.max(1) || self.bytes + size > self.max_bytes
        {
            let Some((_, soonest)) = self.by_expiry.pop_first() else {
                break;
            };
            self.visited += 1;
            if self.forget(&soonest).is_some() {
                outcome.evicted += 1;
            }
        }
        self.sequence += 1;
        self.by_expiry
            .insert((session.expires_at_ms, self.sequence), key.clone());
        self.bytes += size;
        index(&mut self.rooms, &key.0, &session);
        self.sessions.insert(key, (session, self.sequence));
        outcome
    }

    /// Whether a stored session of `nsp` is in one of `rooms`.
    pub fn holds_any(&self, nsp: &str, rooms: &[String]) -> bool {
        self.rooms
            .get(nsp)
            .is_some_and(|held| rooms.iter().any(|room| held.contains_key(room)))
    }

    pub fn get(&self, nsp: &str, pid: &str, now_ms: u64) -> Result<&Session, RestoreError> {
        let (session, _) = self
            .sessions
            .get(&(nsp.to_string(), pid.to_string()))
            .ok_or(RestoreError::UnknownSession)?;
        if session.expires_at_ms < now_ms {
            return Err(RestoreError::Expired);
        }
        Ok(session)
    }

    /// A session is restored once: the last page of its restore removes it.
    pub fn remove(&mut self, nsp: &str, pid: &str) -> Option<Session> {
        self.remove_key(&(nsp.to_string(), pid.to_string()))
    }

    fn remove_key(&mut self, key: &SessionKey) -> Option<Session> {
        let sequence = self.sessions.get(key)?.1;
        let expires_at_ms = self.sessions.get(key)?.0.expires_at_ms;
        self.by_expiry.remove(&(expires_at_ms, sequence));
        self.forget(key)
    }

    /// Removes a session whose entry in the expiry index is already gone.
    fn forget(&mut self, key: &SessionKey) -> Option<Session> {
        let (session, _) = self.sessions.remove(key)?;
        self.bytes -= session.retained_bytes(&key.0);
        unindex(&mut self.rooms, &key.0, &session);
        Some(session)
    }

    /// Forgets expired sessions: each is visited once, from the front of the expiry index.
    pub fn prune(&mut self, now_ms: u64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            self.visited += 1;
            if entry.key().0 >= now_ms {
                break;
            }
            let key = entry.remove();
            self.forget(&key);
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Bytes retained by the sessions (see [`Session::retained_bytes`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries of the expiry index visited so far by prunes and evictions.
    #[doc(hidden)]
    pub fn visited(&self) -> u64 {
        self.visited
    }
}

fn index(rooms: &mut HashMap<String, HashMap<String, usize>>, nsp: &str, session: &Session) {
    let held = rooms.entry(nsp.to_string()).or_default();
    for room in &session.rooms {
        *held.entry(room.clone()).or_default() += 1;
    }
}

fn unindex(rooms: &mut HashMap<String, HashMap<String, usize>>, nsp: &str, session: &Session) {
    let Some(held) = rooms.get_mut(nsp) else {
        return;
    };
    for room in &session.rooms {
        if let Some(count) = held.get_mut(room) {
            *count -= 1;
            if *count == 0 {
                held.remove(room);
            }
        }
    }
    if held.is_empty() {
        rooms.remove(nsp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::test_limits as limits;

    fn session(pid: usize, data: usize, expires_at_ms: u64) -> Session {
        Session {
            sid: format!("sid-{pid}"),
            pid: format!("pid-{pid}"),
            rooms: vec![format!("sid-{pid}"), "room".into()],
            data: vec![0; data],
            expires_at_ms,
        }
    }

    /// `io.close()` of a worker holding N clients persists N sessions at once: each persist
    /// pruned the whole store and, at the bound, scanned it (O(N^2)). The work is counted as
    /// entries of the expiry index visited.
    #[test]
    fn persisting_many_sessions_costs_linear_work() {
        const N: usize = 100_000;
        for max_sessions in [N, N / 10] {
            let mut store = SessionStore::new(RecoveryLimits {
                max_sessions,
                ..RecoveryLimits::default()
            });
            let mut evicted = 0;
            for i in 0..N {
                // Expiries out of insertion order (servers with different durations).
                let expires = 120_000 + (i % 7) as u64 * 1000;
                evicted += store
                    .persist("/".into(), session(i, 16, expires), i as u64 / 10)
                    .evicted;
            }
            assert_eq!(store.len(), max_sessions);
            assert_eq!(evicted, N - max_sessions);
            for i in (N - 100)..N {
                let pid = format!("pid-{i}");
                // At the lower bound some made room; every one is kept at the higher.
                let held = store.get("/", &pid, N as u64).is_ok();
                assert!(held || max_sessions < N);
                assert_eq!(store.remove("/", &pid).is_some(), held);
            }
            store.prune(200_000); // all expired
            assert!(store.is_empty());
            assert_eq!(store.bytes(), 0);
            // One visit per persist or prune call, plus one per session dropped.
            assert!(
                store.visited() <= 3 * N as u64,
                "{} visits",
                store.visited()
            );
        }
    }

    /// 400 sessions with 1 MiB of `socket.data` each took +1.1 GB: retained bytes are bounded.
    #[test]
    fn sessions_are_bounded_in_bytes() {
        let max = 8 * 1024 * 1024;
        let mut store = SessionStore::new(RecoveryLimits {
            max_session_bytes: max,
            ..RecoveryLimits::default()
        });
        let mut evicted = 0;
        for i in 0..400 {
            let outcome = store.persist("/".into(), session(i, 1 << 20, 60_000 + i as u64), 0);
            assert!(!outcome.refused);
            evicted += outcome.evicted;
            assert!(store.bytes() <= max);
            let data: usize = (0..=i)
                .filter_map(|j| store.get("/", &format!("pid-{j}"), 0).ok())
                .map(|s| s.data.len())
                .sum();
            assert!(store.bytes() >= data); // honest
        }
        assert_eq!(store.len(), 7); // 7 sessions of 1 MiB and a little fit in 8 MiB
        assert_eq!(evicted, 393);
        assert!(store.get("/", "pid-399", 0).is_ok()); // the newest stay
        assert!(store.get("/", "pid-392", 0).is_err()); // the closest to expiry went
        let huge = store.persist("/".into(), session(1000, max, 60_000), 0);
        assert!(huge.refused);
        assert_eq!(store.len(), 7); // refused: nothing made room for it
    }

    #[test]
    fn sessions_expire_and_are_bounded() {
        let mut store = SessionStore::new(limits());
        let session = |pid: &str, expires_at_ms| Session {
            sid: format!("sid-{pid}"),
            pid: pid.into(),
            rooms: vec![],
            data: vec![],
            expires_at_ms,
        };
        store.persist("/".into(), session("p1", 100), 0);
        store.persist("/".into(), session("p2", 200), 0);
        store.persist("/".into(), session("p3", 300), 0); // evicts p1, closest to expiry
        assert_eq!(store.get("/", "p1", 0), Err(RestoreError::UnknownSession));
        assert_eq!(store.get("/", "p2", 150).unwrap().sid, "sid-p2");
        assert_eq!(store.get("/", "p2", 201), Err(RestoreError::Expired));
        assert_eq!(
            store.get("/chat", "p3", 0),
            Err(RestoreError::UnknownSession)
        );
        assert!(store.remove("/", "p3").is_some());
        store.prune(250);
        assert!(store.is_empty());
    }

    #[test]
    fn sessions_are_indexed_by_room_as_they_come_and_go() {
        let limits = RecoveryLimits {
            max_sessions: 2,
            ..RecoveryLimits::default()
        };
        let mut store = SessionStore::new(limits);
        let session = |pid: &str, rooms: &[&str], expires_at_ms| Session {
            sid: format!("s{pid}"),
            pid: pid.into(),
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            data: vec![],
            expires_at_ms,
        };
        let rooms = |names: &[&str]| names.iter().map(|r| r.to_string()).collect::<Vec<_>>();
        store.persist("/".into(), session("1", &["a", "b"], 100), 0);
        store.persist("/".into(), session("2", &["b"], 50), 0);
        assert!(store.holds_any("/", &rooms(&["x", "a"])));
        assert!(!store.holds_any("/", &rooms(&["x"])));
        assert!(!store.holds_any("/other", &rooms(&["a"])));
        // Persisted again with other rooms: the old ones are gone.
        store.persist("/".into(), session("1", &["c"], 100), 0);
        assert!(!store.holds_any("/", &rooms(&["a"])));
        assert!(store.holds_any("/", &rooms(&["b", "c"])));
        // At the bound, the session closest to expiry makes room.
        store.persist("/".into(), session("3", &["d"], 200), 0);
        assert!(!store.holds_any("/", &rooms(&["b"])));
        // Restored, or expired.
        store.remove("/", "1");
        assert!(!store.holds_any("/", &rooms(&["c"])));
        store.prune(300);
        assert!(!store.holds_any("/", &rooms(&["d"])));
        assert!(store.rooms.is_empty());
    }
}
