//! One restore in streams mode, sans-IO: the hub fetches the pages this asks for (`XRANGE
//! <start> + COUNT <page>`) and feeds them in; this filters them as the streams adapter's
//! `restoreSession` does (broadcasts of the namespace that reach the session's rooms) and keeps
//! count.
//!
//! Bounds. The adapter reads up to 100 `XRANGE` calls with no `COUNT` (each may return the
//! whole stream), a known complaint of its users. Here a restore reads pages of
//! [`RestoreBounds::page_entries`] entries and at most [`RestoreBounds::max_entries`] entries and
//! [`RestoreBounds::max_bytes`] bytes of entries in all (what it keeps, the packets for the
//! client, is part of what it read, so that bounds its memory too). A restore that reaches a
//! bound before the end of the stream fails: the client gets a new session, never a partial
//! history.

use crate::recovery::RestoredSession;
use crate::streams_wire::{decode_entry, should_include, StreamId, StreamSession};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreBounds {
    /// Entries per `XRANGE` page.
    pub page_entries: usize,
    /// Entries one restore reads in all.
    pub max_entries: usize,
    /// Bytes of entries (ids, field names and values) one restore reads in all.
    pub max_bytes: usize,
}

impl Default for RestoreBounds {
    fn default() -> Self {
        RestoreBounds {
            page_entries: 1000,
            // The adapter's default `maxLen` (10,000) ten times over: a client that missed more
            // than that in `maxDisconnectionDuration` is better off with a new session.
            max_entries: 100_000,
            // Well under a hub frame (64 MiB): the answer, these packets and the session, is one
            // frame to the worker.
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Why a restore ends without a session (the reason a worker logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreFailure {
    /// A bound was reached before the end of the stream.
    Bound,
    /// A packet for the session has an id a worker cannot carry (see `streams_wire`).
    NoPosition,
    /// An entry for the session could not be read.
    BadEntry(String),
}

impl RestoreFailure {
    pub fn reason(&self) -> &'static str {
        match self {
            RestoreFailure::Bound => "missed more than a restore reads (restore bound)",
            RestoreFailure::NoPosition => "a missed packet has an id without a position",
            RestoreFailure::BadEntry(_) => "a missed packet cannot be read",
        }
    }
}

/// One stream entry as Redis returns it: its id and its field/value pairs.
pub struct Entry<'a> {
    pub id: &'a [u8],
    pub fields: Vec<(&'a [u8], &'a [u8])>,
}

pub struct StreamRestore {
    nsp: String,
    session: StreamSession,
    cursor: StreamId,
    bounds: RestoreBounds,
    read_entries: usize,
    read_bytes: usize,
    packets: Vec<Missed>,
}

/// A packet for the session, with what the hub needs to tell whether it was routed to its
/// workers yet (see [`StreamRestore::finish`]).
struct Missed {
    id: StreamId,
    position: u64,
    uid: String,
    /// A broadcast a worker would store (a machine routes its own only once Redis gave the id).
    stored: bool,
    payload: Vec<u8>,
}

impl StreamRestore {
    /// A restore of `session` (of namespace `nsp`) from the client's offset `after`, which the
    /// caller checked is still in the stream.
    pub fn new(nsp: &str, session: StreamSession, after: StreamId, bounds: RestoreBounds) -> Self {
        StreamRestore {
            nsp: nsp.to_string(),
            session,
            cursor: after,
            bounds,
            read_entries: 0,
            read_bytes: 0,
            packets: Vec::new(),
        }
    }

    /// The first id of the next page (exclusive of what was read).
    pub fn next_start(&self) -> String {
        self.cursor.next().to_string()
    }

    pub fn page_entries(&self) -> usize {
        self.bounds.page_entries.max(1)
    }

    /// Takes one page, in order. Ok(true): read the next page; Ok(false): the end of the stream
    /// was reached and the session is whole ([`StreamRestore::finish`]).
    pub fn feed(&mut self, page: Vec<Entry<'_>>) -> Result<bool, RestoreFailure> {
        let full = page.len() >= self.page_entries();
        for entry in page {
            self.read_entries += 1;
            let bytes = entry.id.len()
                + entry
                    .fields
                    .iter()
                    .map(|(n, v)| n.len() + v.len())
                    .sum::<usize>();
            self.read_bytes = self.read_bytes.saturating_add(bytes);
            if self.read_entries > self.bounds.max_entries
                || self.read_bytes > self.bounds.max_bytes
            {
                return Err(RestoreFailure::Bound);
            }
            let id = StreamId::parse_bytes(entry.id)
                .filter(|id| *id > self.cursor)
                .ok_or_else(|| RestoreFailure::BadEntry("an id out of order".into()))?;
            self.cursor = id;
            // The adapter's test, on the raw fields: this namespace's BROADCASTs only.
            let raw = |name: &[u8]| {
                entry
                    .fields
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| *v)
            };
            if raw(b"nsp") != Some(self.nsp.as_bytes()) || raw(b"type") != Some(b"3") {
                continue;
            }
            let (header, payload) = decode_entry(entry.fields.iter().copied())
                .map_err(|e| RestoreFailure::BadEntry(e.reason))?;
            if !should_include(&self.session.rooms, &header.rooms, &header.except) {
                continue;
            }
            let position = id.position().ok_or(RestoreFailure::NoPosition)?;
            self.packets.push(Missed {
                id,
                position,
                uid: header.uid,
                stored: header.store,
                payload,
            });
        }
        Ok(full)
    }

    /// The id of the last entry read.
    pub fn last_read(&self) -> StreamId {
        self.cursor
    }

    /// The session and the packets it missed that were routed to the workers already:
    /// `routed(id, uid, stored)` says which (the others reach the restored socket live, after the
    /// answer, so each packet reaches it once).
    pub fn finish(self, routed: impl Fn(StreamId, &str, bool) -> bool) -> RestoredSession {
        RestoredSession {
            sid: self.session.sid,
            rooms: self.session.rooms,
            data: self.session.data,
            packets: self
                .packets
                .into_iter()
                .filter(|p| routed(p.id, &p.uid, p.stored))
                .map(|p| (p.position, p.payload))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session(rooms: &[&str]) -> StreamSession {
        StreamSession {
            sid: "sid".into(),
            pid: "pid".into(),
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            data: vec![0x80],
        }
    }

    struct Owned(String, Vec<(&'static [u8], Vec<u8>)>);

    fn entry(id: &str, nsp: &str, rooms: &[&str], except: &[&str], n: u32) -> Owned {
        let data = json!({"packet": {"type": 2, "nsp": nsp, "data": ["ev", n]},
                          "opts": {"rooms": rooms, "except": except, "flags": {}}});
        Owned(
            id.into(),
            vec![
                (b"uid", b"u1".to_vec()),
                (b"nsp", nsp.as_bytes().to_vec()),
                (b"type", b"3".to_vec()),
                (b"data", data.to_string().into_bytes()),
            ],
        )
    }

    fn page(entries: &[Owned]) -> Vec<Entry<'_>> {
        entries
            .iter()
            .map(|Owned(id, fields)| Entry {
                id: id.as_bytes(),
                fields: fields.iter().map(|(n, v)| (*n, v.as_slice())).collect(),
            })
            .collect()
    }

    fn bounds(page_entries: usize, max_entries: usize, max_bytes: usize) -> RestoreBounds {
        RestoreBounds {
            page_entries,
            max_entries,
            max_bytes,
        }
    }

    #[test]
    fn filters_by_rooms_and_namespace_in_order() {
        let after = StreamId::parse("10-0").unwrap();
        let mut restore =
            StreamRestore::new("/", session(&["sid", "a"]), after, bounds(2, 100, 1 << 20));
        assert_eq!(restore.next_start(), "10-1");
        let first = [
            entry("11-0", "/", &[], &[], 1),
            entry("12-0", "/", &["b"], &[], 2),
        ];
        assert_eq!(restore.feed(page(&first)), Ok(true));
        assert_eq!(restore.next_start(), "12-1");
        let second = [
            entry("13-0", "/other", &[], &[], 3),
            entry("14-0", "/", &["a"], &[], 4),
        ];
        assert_eq!(restore.feed(page(&second)), Ok(true));
        let third = [entry("15-0", "/", &[], &["a"], 5)];
        assert_eq!(restore.feed(page(&third)), Ok(false));
        let restored = restore.finish(|id, uid, stored| {
            assert_eq!((uid, stored), ("u1", true));
            id.ms < 15
        });
        let positions: Vec<u64> = restored.packets.iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, vec![11 << 10, 14 << 10]);
        assert_eq!(
            StreamRestore::new("/", session(&["a"]), after, bounds(2, 100, 1 << 20)).last_read(),
            after
        );
        let back: serde_json::Value = rmp_serde::from_slice(&restored.packets[1].1).unwrap();
        assert_eq!(back["packet"]["data"], json!(["ev", 4]));
    }

    #[test]
    fn bounds_fail_the_restore() {
        let after = StreamId::parse("1-0").unwrap();
        let entries = [
            entry("2-0", "/", &[], &[], 1),
            entry("3-0", "/", &[], &[], 2),
        ];
        let mut by_count = StreamRestore::new("/", session(&["x"]), after, bounds(10, 1, 1 << 20));
        assert_eq!(by_count.feed(page(&entries)), Err(RestoreFailure::Bound));
        let mut by_bytes = StreamRestore::new("/", session(&["x"]), after, bounds(10, 100, 150));
        assert_eq!(by_bytes.feed(page(&entries)), Err(RestoreFailure::Bound));
    }

    #[test]
    fn ids_without_position_or_out_of_order_fail() {
        let after = StreamId::parse("1-0").unwrap();
        let mut restore = StreamRestore::new("/", session(&["x"]), after, bounds(10, 100, 1 << 20));
        assert_eq!(
            restore.feed(page(&[entry("2-5000", "/", &[], &[], 1)])),
            Err(RestoreFailure::NoPosition)
        );
        let mut restore = StreamRestore::new("/", session(&["x"]), after, bounds(10, 100, 1 << 20));
        assert!(matches!(
            restore.feed(page(&[entry("1-0", "/", &[], &[], 1)])),
            Err(RestoreFailure::BadEntry(_))
        ));
        // Not for this session: an id without position is only passed over.
        let mut restore = StreamRestore::new("/", session(&["x"]), after, bounds(10, 100, 1 << 20));
        assert_eq!(
            restore.feed(page(&[entry("2-5000", "/", &["y"], &[], 1)])),
            Ok(false)
        );
    }
}
