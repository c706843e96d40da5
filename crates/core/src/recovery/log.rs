//! The packet log: every stored broadcast of the cluster in one order, bounded in entries, bytes
//! and age, read one page at a time from an offset (see the module above for the design).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::error::RestoreError;

use super::{string_cost, RecoveryLimits, DEFAULT_RETENTION_MS};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::test_limits as limits;

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
}
