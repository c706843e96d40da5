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
//! Bounds. The log keeps at most `max_packets` entries and `max_bytes` of payload, and nothing
//! older than the longest `maxDisconnectionDuration` it was told about; sessions likewise. When
//! what follows an offset is no longer all there, a restore fails (the client gets a new
//! session) rather than delivering a partial history. A restore is read one page at a time.

use std::collections::{HashMap, VecDeque};
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

impl LogEntry {
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

    /// Stores a broadcast and returns its offset.
    pub fn append(
        &mut self,
        nsp: String,
        rooms: Vec<String>,
        except: Vec<String>,
        payload: Arc<[u8]>,
        now_ms: u64,
    ) -> u64 {
        let offset = self.next;
        self.next += 1;
        self.bytes += payload.len();
        self.entries.push_back(LogEntry {
            offset,
            nsp,
            rooms,
            except,
            payload,
            at_ms: now_ms,
        });
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
            self.bytes -= oldest.payload.len();
            self.entries.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

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

/// Sessions of disconnected sockets, by namespace and private id.
#[derive(Debug)]
pub struct SessionStore {
    sessions: HashMap<(String, String), Session>,
    max_sessions: usize,
    /// How many sessions hold each room, by namespace: whether a broadcast from another machine
    /// concerns a session here costs its rooms, not a walk of the sessions. Bound: one entry per
    /// distinct room of the sessions stored (themselves bounded by `max_sessions`).
    rooms: HashMap<String, HashMap<String, usize>>,
}

impl SessionStore {
    pub fn new(limits: RecoveryLimits) -> Self {
        SessionStore {
            sessions: HashMap::new(),
            max_sessions: limits.max_sessions,
            rooms: HashMap::new(),
        }
    }

    /// Stores a session; at the bound, the session closest to expiry makes room.
    pub fn persist(&mut self, nsp: String, session: Session, now_ms: u64) {
        self.prune(now_ms);
        let key = (nsp, session.pid.clone());
        if !self.sessions.contains_key(&key) && self.sessions.len() >= self.max_sessions {
            let soonest = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.expires_at_ms)
                .map(|(k, _)| k.clone());
            if let Some(soonest) = soonest {
                if let Some(gone) = self.sessions.remove(&soonest) {
                    unindex(&mut self.rooms, &soonest.0, &gone);
                }
            }
        }
        index(&mut self.rooms, &key.0, &session);
        if let Some(replaced) = self.sessions.insert(key.clone(), session) {
            unindex(&mut self.rooms, &key.0, &replaced);
        }
    }

    /// Whether a stored session of `nsp` is in one of `rooms`.
    pub fn holds_any(&self, nsp: &str, rooms: &[String]) -> bool {
        self.rooms
            .get(nsp)
            .is_some_and(|held| rooms.iter().any(|room| held.contains_key(room)))
    }

    pub fn get(&self, nsp: &str, pid: &str, now_ms: u64) -> Result<&Session, RestoreError> {
        let session = self
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
        let session = self.sessions.remove(&(nsp.to_string(), pid.to_string()))?;
        unindex(&mut self.rooms, nsp, &session);
        Some(session)
    }

    pub fn prune(&mut self, now_ms: u64) {
        let rooms = &mut self.rooms;
        self.sessions.retain(|(nsp, _), s| {
            let keep = s.expires_at_ms >= now_ms;
            if !keep {
                unindex(rooms, nsp, s);
            }
            keep
        });
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
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
            max_bytes: 100,
            max_sessions: 2,
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
        let mut log = PacketLog::new(limits());
        log.retain_for(DEFAULT_RETENTION_MS + 10_000);
        for _ in 0..3 {
            log.append("/".into(), vec![], vec![], vec![0; 40].into(), 0);
        }
        assert_eq!(log.len(), 2); // 120 bytes > 100
        assert_eq!(log.bytes(), 80);
        log.prune(DEFAULT_RETENTION_MS + 10_000);
        assert_eq!(log.len(), 2);
        log.prune(DEFAULT_RETENTION_MS + 10_001);
        assert!(log.is_empty());
        assert!(!log.holds_after(2));
        assert!(log.holds_after(3));
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
