//! Connection state recovery in the hub: the cluster-wide packet log and the sessions of
//! disconnected sockets. Sans-IO: time is passed in (milliseconds), payloads are opaque bytes.
//!
//! Design. Every broadcast a worker asks to store goes through the hub, which gives it the next
//! position of one log shared by the whole cluster, before anything delivers it: the sender
//! delivers to its own sockets only once the hub has answered with the offset, and the hub queues
//! that answer on the sender's link after every frame it routed earlier. So the order in which a
//! client receives stored packets is the log's order, whatever worker emitted them, and the offset
//! it last saw names one position: what it missed is exactly what follows, filtered by its rooms
//! as socket.io-adapter's `SessionAwareAdapter` filters (`shouldIncludePacket`).
//!
//! Bounds. The log keeps at most `max_packets` entries and `max_bytes` of retained bytes (payload,
//! namespace, room and except lists, per-entry overhead: [`LogEntry::retained_bytes`]), and nothing
//! older than the longest `maxDisconnectionDuration` it was told about; sessions likewise. When
//! what follows an offset is no longer all there, a restore fails (the client gets a new
//! session) rather than delivering a partial history. A restore is read one page at a time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::view::View;

/// socket.io's default `maxDisconnectionDuration`: packets are kept that long at least, until a
/// session says its server allows longer (sessions carry their server's duration).
pub const DEFAULT_RETENTION_MS: u64 = 2 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryLimits {
    pub max_packets: usize,
    pub max_bytes: usize,
    pub max_sessions: usize,
    /// Bytes retained by sessions (`socket.data`, ids, rooms, overhead).
    pub max_session_bytes: usize,
    /// Packets per page of a restore.
    pub page_packets: usize,
    /// Payload bytes per page of a restore (at least one packet per page).
    pub page_bytes: usize,
}

impl Default for RecoveryLimits {
    fn default() -> Self {
        RecoveryLimits {
            max_packets: 100_000,
            max_bytes: 64 * 1024 * 1024,
            max_sessions: 100_000,
            max_session_bytes: 64 * 1024 * 1024,
            page_packets: 1000,
            page_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub offset: u64,
    pub nsp: String,
    pub rooms: Vec<String>,
    pub except: Vec<String>,
    /// The frame payload: the broadcast message's `data`, opaque here.
    pub payload: Arc<[u8]>,
    pub at_ms: u64,
}

/// What the log holds for an entry besides its strings and payload: the entry itself and the
/// payload's `Arc` counts.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<LogEntry>() + 2 * std::mem::size_of::<usize>();

/// What a `String` held in a list costs: its 24 bytes in the list, and its heap block as glibc's
/// malloc gives it (the length rounded up to 16, plus 16 of the allocator's own; measured with
/// the scale suite: a stored broadcast to 100,000 rooms of 10-character names retained about
/// 58 bytes a room, where the length plus 24 counted 34).
fn string_cost(text: &str) -> usize {
    std::mem::size_of::<String>() + text.len().next_multiple_of(16) + 16
}

impl LogEntry {
    /// The bytes the log retains for this entry, counted against `max_bytes`: its payload, its
    /// namespace, every room and except name (each a `String` of its own) and the entry itself.
    /// Computed in time proportional to the entry's room lists, which it holds.
    pub fn retained_bytes(&self) -> usize {
        let names = |list: &[String]| -> usize { list.iter().map(|r| string_cost(r)).sum() };
        ENTRY_OVERHEAD
            + self.payload.len()
            + self.nsp.len()
            + names(&self.rooms)
            + names(&self.except)
    }

    /// `shouldIncludePacket` of socket.io-adapter, for a session in the entry's namespace.
    fn concerns(&self, session_rooms: &[String]) -> bool {
        let included =
            self.rooms.is_empty() || session_rooms.iter().any(|r| self.rooms.contains(r));
        let excluded = session_rooms.iter().any(|r| self.except.contains(r));
        included && !excluded
    }
}

/// Why a session cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreError {
    UnknownSession,
    Expired,
    /// The offset is not one this log gave, or what follows it was dropped from the log.
    OffsetGone,
}

#[derive(Debug)]
pub struct PacketLog {
    entries: VecDeque<LogEntry>,
    /// The offset the next entry gets; offsets start at 1, so 0 is never valid.
    next: u64,
    bytes: usize,
    max_age_ms: u64,
    limits: RecoveryLimits,
}

/// One page of what a session missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub entries: Vec<LogEntry>,
    /// Where the next page starts (the last offset examined), if the log holds more after it.
    pub more: Option<u64>,
}

impl PacketLog {
    pub fn new(limits: RecoveryLimits) -> Self {
        PacketLog {
            entries: VecDeque::new(),
            next: 1,
            bytes: 0,
            max_age_ms: DEFAULT_RETENTION_MS,
            limits,
        }
    }

    /// A log whose first offset is `next` (as after that many stored broadcasts): for tests of
    /// offsets past what a 32-bit integer holds.
    #[doc(hidden)]
    pub fn starting_at(limits: RecoveryLimits, next: u64) -> Self {
        PacketLog {
            next: next.max(1),
            ..PacketLog::new(limits)
        }
    }

    /// The offset the next stored broadcast gets.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Stores a broadcast and returns its offset.
    pub fn append(
        &mut self,
        nsp: String,
        mut rooms: Vec<String>,
        mut except: Vec<String>,
        payload: Arc<[u8]>,
        now_ms: u64,
    ) -> u64 {
        let offset = self.next;
        self.next += 1;
        // The lists were collected without knowing their length: give back what they grew for.
        rooms.shrink_to_fit();
        except.shrink_to_fit();
        let entry = LogEntry {
            offset,
            nsp,
            rooms,
            except,
            payload,
            at_ms: now_ms,
        };
        self.bytes += entry.retained_bytes();
        self.entries.push_back(entry);
        // Bound: `max_bytes` of retained entries (payload, namespace, room lists, overhead),
        // `max_packets` entries; over it, the oldest entries are dropped.
        self.prune(now_ms);
        offset
    }

    /// Keeps packets at least as long as the longest disconnection a session may last.
    pub fn retain_for(&mut self, max_disconnection_ms: u64) {
        // Never below the default: a server with a longer duration may not have said so yet.
        self.max_age_ms = self.max_age_ms.max(max_disconnection_ms);
    }

    /// Drops what is over the count and byte bounds or older than the retention.
    pub fn prune(&mut self, now_ms: u64) {
        while let Some(oldest) = self.entries.front() {
            let too_many = self.entries.len() > self.limits.max_packets;
            let too_big = self.bytes > self.limits.max_bytes;
            let too_old = now_ms.saturating_sub(oldest.at_ms) > self.max_age_ms;
            if !(too_many || too_big || too_old) {
                break;
            }
            self.bytes -= oldest.retained_bytes();
            self.entries.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes retained by the entries (see [`LogEntry::retained_bytes`]), at most `max_bytes`.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The last offset given, 0 before the first.
    pub fn last_offset(&self) -> u64 {
        self.next - 1
    }

    /// Whether everything after `offset` is still in the log.
    pub fn holds_after(&self, offset: u64) -> bool {
        if offset == 0 || offset >= self.next {
            return false;
        }
        match self.entries.front() {
            Some(oldest) => offset + 1 >= oldest.offset,
            // Empty: nothing was dropped only if nothing came after `offset`.
            None => offset == self.last_offset(),
        }
    }

    /// The entries of `nsp` after `after` that concern a session in `rooms`, one bounded page.
    pub fn page(&self, nsp: &str, rooms: &[String], after: u64) -> Result<Page, RestoreError> {
        if !self.holds_after(after) {
            return Err(RestoreError::OffsetGone);
        }
        let start = self.entries.front().map_or(0, |oldest| {
            (after + 1).saturating_sub(oldest.offset) as usize
        });
        let mut page = Page {
            entries: Vec::new(),
            more: None,
        };
        // A page examines at most `page_packets` entries (the hub holds its lock meanwhile) and
        // carries at most `page_bytes` of payload (but always one packet, however large).
        let mut bytes = 0;
        for (examined, entry) in self.entries.iter().skip(start).enumerate() {
            let concerned = entry.nsp == nsp && entry.concerns(rooms);
            let over_budget = concerned
                && !page.entries.is_empty()
                && bytes + entry.payload.len() > self.limits.page_bytes;
            if examined >= self.limits.page_packets || over_budget {
                page.more = Some(entry.offset - 1);
                break;
            }
            if concerned {
                bytes += entry.payload.len();
                page.entries.push(entry.clone());
            }
        }
        Ok(page)
    }
}

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

/// Whether a worker with connection state recovery on gives this message's packet an offset
/// (socket.io-adapter's `addOffsetIfNecessary`: a BROADCAST without acknowledgements of an EVENT
/// packet without an id, `flags.volatile` absent). A broadcast the hub did not get from a worker
/// (the primary's Emitter's, another machine's) is stored in the log when it is one of these: a
/// worker that stores appends whatever offset arrives, even none, and a client that recovers must
/// get it. The primary cannot know whether the workers use recovery, so it is stored either way.
pub fn stored_by_workers<V: View>(message: &V) -> bool {
    let Some(data) = message.field("data") else {
        return false;
    };
    let Some(packet) = data.field("packet") else {
        return false;
    };
    message.field("type").and_then(|t| t.number()) == Some(3.0)
        && data.field("requestId").is_none()
        && packet.field("type").and_then(|t| t.number()) == Some(2.0)
        && packet.field("id").is_none()
        && data
            .field("opts")
            .and_then(|opts| opts.field("flags"))
            .and_then(|flags| flags.field("volatile"))
            .is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RecoveryLimits {
        RecoveryLimits {
            max_packets: 5,
            max_bytes: 100_000,
            max_sessions: 2,
            max_session_bytes: 1024 * 1024,
            page_packets: 2,
            page_bytes: 1000,
        }
    }

    fn log_with(entries: &[(&str, &[&str], &[&str])]) -> PacketLog {
        let mut log = PacketLog::new(limits());
        log.retain_for(60_000);
        for (i, (nsp, rooms, except)) in entries.iter().enumerate() {
            log.append(
                nsp.to_string(),
                rooms.iter().map(|r| r.to_string()).collect(),
                except.iter().map(|r| r.to_string()).collect(),
                vec![i as u8; 3].into(),
                1000,
            );
        }
        log
    }

    fn offsets(page: &Page) -> Vec<u64> {
        page.entries.iter().map(|e| e.offset).collect()
    }

    #[test]
    fn pages_follow_the_offset_filtered_by_namespace_rooms_and_except() {
        let log = log_with(&[
            ("/", &[], &[]),        // 1: to all
            ("/", &["a"], &[]),     // 2: to room a
            ("/chat", &[], &[]),    // 3: other namespace
            ("/", &["b"], &[]),     // 4: to room b
            ("/", &[], &["sid-1"]), // 5: to all but sid-1
        ]);
        let rooms = vec!["sid-1".to_string(), "a".to_string()];
        let first = log.page("/", &rooms, 1).unwrap();
        assert_eq!(offsets(&first), vec![2]); // 2 and 3 examined (page of 2), 3 is /chat
        assert_eq!(first.more, Some(3));
        let second = log.page("/", &rooms, 3).unwrap();
        assert_eq!(offsets(&second), Vec::<u64>::new()); // 4: room b, 5: excepted
        assert_eq!(second.more, None);
        let other = vec!["sid-2".to_string(), "b".to_string()];
        let all: Vec<u64> = offsets(&log.page("/", &other, 3).unwrap());
        assert_eq!(all, vec![4, 5]);
    }

    #[test]
    fn an_offset_whose_followers_were_dropped_cannot_be_restored() {
        let none: &[&str] = &[];
        let mut log = log_with(&[("/", none, none); 5]);
        assert!(log.holds_after(1));
        log.append("/".into(), vec![], vec![], vec![9; 3].into(), 1000); // drops offset 1
        assert!(log.holds_after(1)); // 2..6 are all there
        log.append("/".into(), vec![], vec![], vec![9; 3].into(), 1000); // drops offset 2
        assert_eq!(log.page("/", &[], 1), Err(RestoreError::OffsetGone));
        assert!(log.page("/", &[], 2).is_ok());
        assert_eq!(log.page("/", &[], 0), Err(RestoreError::OffsetGone));
        assert_eq!(log.page("/", &[], 99), Err(RestoreError::OffsetGone));
        assert_eq!(log.page("/", &[], 7).unwrap().entries, vec![]); // the latest: nothing missed
    }

    #[test]
    fn the_log_is_bounded_in_bytes_and_age() {
        let entry = ENTRY_OVERHEAD + 1 + 40; // "/" and the payload
        let mut log = PacketLog::new(RecoveryLimits {
            max_bytes: 2 * entry + 10,
            ..limits()
        });
        log.retain_for(DEFAULT_RETENTION_MS + 10_000);
        for _ in 0..3 {
            log.append("/".into(), vec![], vec![], vec![0; 40].into(), 0);
        }
        assert_eq!(log.len(), 2); // 3 entries > max_bytes
        assert_eq!(log.bytes(), 2 * entry);
        log.prune(DEFAULT_RETENTION_MS + 10_000);
        assert_eq!(log.len(), 2);
        log.prune(DEFAULT_RETENTION_MS + 10_001);
        assert!(log.is_empty());
        assert!(!log.holds_after(2));
        assert!(log.holds_after(3));
    }

    /// Room lists are retained bytes: 600 broadcasts to 10,000 rooms each held ~390 MB while
    /// `bytes()` said 40 KB (payloads only).
    #[test]
    fn room_lists_count_against_the_byte_bound() {
        let max_bytes = 8 * 1024 * 1024;
        let mut log = PacketLog::new(RecoveryLimits {
            max_bytes,
            ..RecoveryLimits::default()
        });
        let rooms: Vec<String> = (0..10_000).map(|i| format!("room-{i:05}")).collect();
        let mut counted = 0;
        for _ in 0..600 {
            log.append(
                "/".into(),
                rooms.clone(),
                vec!["someone".into()],
                vec![0; 66].into(),
                0,
            );
            assert!(log.bytes() <= max_bytes);
            // Honest: at least the names and payloads of what is held.
            let held: usize = log
                .entries
                .iter()
                .map(|e| {
                    e.payload.len()
                        + e.rooms
                            .iter()
                            .chain(&e.except)
                            .map(String::len)
                            .sum::<usize>()
                })
                .sum();
            assert!(log.bytes() >= held);
            counted = log.bytes();
        }
        // Each entry retains 10,000 names of 10 bytes and their `String`s: 24 fit in 8 MiB.
        assert!(log.len() < 30, "{} entries, {counted} bytes", log.len());
        assert!(log.holds_after(log.last_offset() - 1));
    }

    #[test]
    fn a_page_holds_at_least_one_packet_and_respects_the_byte_budget() {
        let mut log = PacketLog::new(RecoveryLimits {
            page_bytes: 10,
            ..limits()
        });
        log.retain_for(1000);
        for _ in 0..3 {
            log.append("/".into(), vec![], vec![], vec![0; 30].into(), 0);
        }
        let page = log.page("/", &[], 1).unwrap();
        assert_eq!(offsets(&page), vec![2]);
        assert_eq!(page.more, Some(2));
    }

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
