//! The requests of connection state recovery, as the hub reads them from the workers' links: a
//! broadcast to store, PERSIST_SESSION and RESTORE_SESSION, answered from the packet log and the
//! session store.
//!
//! Payloads of the hub-only frames are MessagePack written by the worker's JS (msgpackr):
//! - PERSIST_SESSION: `{ sid, pid, rooms, data: bin, ttl }` (`data` is `socket.data`, packed);
//! - RESTORE_SESSION: `{ pid, after }` (`after`: the offset the client gave, then each page's
//!   `more`);
//! - RESTORE_SESSION_RESPONSE: `{ ok, reason?, sid?, rooms?, data?, packets: [[offset, bin]], more? }`.

use std::sync::Arc;

use super::{PacketLog, RecoveryLimits, RestoreError, Session, SessionStore};
use crate::frame::{encode_frame, FrameError, RawFrame};
use crate::header::Header;
use crate::message::MessageType;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// What the hub sends back to the worker whose frame it handled.
pub struct Reply {
    pub bytes: Vec<u8>,
    /// The namespace and rooms the worker's sockets join when it applies the reply (a restored
    /// session's), which the hub's room view must hold from then on.
    pub joins: Option<Joins>,
    /// Something worth a debug line.
    pub note: Option<String>,
}

/// A namespace and rooms joined in it.
pub type Joins = (String, Vec<String>);

impl Reply {
    pub fn new(bytes: Vec<u8>) -> Reply {
        Reply {
            bytes,
            joins: None,
            note: None,
        }
    }
}

pub struct Recovery {
    log: PacketLog,
    sessions: SessionStore,
    /// Sessions evicted or refused at the store's bounds.
    sessions_dropped: u64,
    /// Whether a worker has used recovery (see [`Recovery::in_use`]).
    in_use: bool,
}

#[derive(Deserialize)]
struct PersistRequest {
    sid: String,
    pid: String,
    rooms: Vec<String>,
    data: ByteBuf,
    #[serde(deserialize_with = "js_duration")]
    ttl: u64,
}

#[derive(Deserialize)]
struct RestoreRequest {
    pid: String,
    #[serde(deserialize_with = "js_position")]
    after: u64,
}

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// msgpackr packs a JS number that is an integer below 2^32 as a MessagePack integer and any
/// other as a float64 (an offset past 4,294,967,295, a `maxDisconnectionDuration` of 50 days):
/// these read either.
struct JsNumber;

impl serde::de::Visitor<'_> for JsNumber {
    type Value = f64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
}

/// A position in the log, as a JS number: an integer in 0..=2^53-1 (exact), else refused.
fn js_position<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = d.deserialize_any(JsNumber)?;
    if v.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER as f64).contains(&v) {
        Ok(v as u64)
    } else {
        Err(serde::de::Error::custom(format!("{v} is not a position")))
    }
}

/// A duration in milliseconds, as a JS number: rounded up, saturating (`Infinity` lasts for
/// ever); negative or NaN refused.
fn js_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = d.deserialize_any(JsNumber)?;
    if v >= 0.0 {
        Ok(v.ceil() as u64) // `as` saturates at u64::MAX
    } else {
        Err(serde::de::Error::custom(format!("{v} is not a duration")))
    }
}

#[derive(Serialize, Default)]
struct RestoreResponse {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rooms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<ByteBuf>,
    packets: Vec<(u64, ByteBuf)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    more: Option<u64>,
}

/// A session a hub restored elsewhere than from its own log (a Redis stream), whole.
pub struct RestoredSession {
    pub sid: String,
    pub rooms: Vec<String>,
    /// The MessagePack of `socket.data`.
    pub data: Vec<u8>,
    /// `(position, MessagePack of the broadcast's data)`, in order.
    pub packets: Vec<(u64, Vec<u8>)>,
}

/// A PERSIST_SESSION's content, for a hub that keeps sessions elsewhere (Redis).
pub struct PersistedRequest {
    pub sid: String,
    pub pid: String,
    pub rooms: Vec<String>,
    pub data: Vec<u8>,
    /// `maxDisconnectionDuration`, in milliseconds.
    pub ttl: u64,
}

/// Reads a PERSIST_SESSION's payload.
pub fn read_persist_request(payload: &[u8]) -> Result<PersistedRequest, String> {
    let request: PersistRequest =
        rmp_serde::from_slice(payload).map_err(|e| format!("bad session: {e}"))?;
    Ok(PersistedRequest {
        sid: request.sid,
        pid: request.pid,
        rooms: request.rooms,
        data: request.data.into_vec(),
        ttl: request.ttl,
    })
}

/// Reads a RESTORE_SESSION's payload: `(pid, after)`.
pub fn read_restore_request(payload: &[u8]) -> Result<(String, u64), String> {
    let request: RestoreRequest =
        rmp_serde::from_slice(payload).map_err(|e| format!("bad restore request: {e}"))?;
    Ok((request.pid, request.after))
}

/// The answer to the RESTORE_SESSION `request`: the whole session in one page, or a refusal
/// with its reason (the worker then gives its client a new session).
pub fn answer_restore(
    request: &Header,
    outcome: Result<RestoredSession, &'static str>,
) -> Result<Reply, String> {
    let response = match outcome {
        Ok(session) => RestoreResponse {
            ok: true,
            sid: Some(session.sid),
            rooms: Some(session.rooms),
            data: Some(ByteBuf::from(session.data)),
            packets: session
                .packets
                .into_iter()
                .map(|(position, payload)| (position, ByteBuf::from(payload)))
                .collect(),
            more: None,
            reason: None,
        },
        Err(reason) => RestoreResponse {
            reason: Some(reason),
            ..RestoreResponse::default()
        },
    };
    restore_reply(request, response, None)
}

/// The RESTORE_SESSION_RESPONSE frame to `request`. The page with the rooms is the last: the
/// worker's socket joins them when it applies it.
fn restore_reply(
    request: &Header,
    response: RestoreResponse,
    note: Option<String>,
) -> Result<Reply, String> {
    let payload = rmp_serde::to_vec_named(&response).map_err(|e| e.to_string())?;
    let joins = response.rooms.map(|rooms| (request.nsp.clone(), rooms));
    let reply = Header {
        request_id: request.request_id.clone(),
        ..hub_header(
            MessageType::RestoreSessionResponse,
            &request.nsp,
            Some(&request.uid),
        )
    };
    let bytes = encode_frame(&reply, &payload).map_err(|e| e.to_string())?;
    Ok(Reply { bytes, joins, note })
}

/// The sender of hub-made frames (their header needs a non-empty uid).
const HUB_UID: &str = "hub";

impl Recovery {
    pub fn new(limits: RecoveryLimits) -> Self {
        Self::starting_at(limits, 1)
    }

    /// Recovery whose log gives `next` as its first offset (a test's or a fuzz target's way to
    /// reach offsets a real log takes days to reach).
    pub fn starting_at(limits: RecoveryLimits, next: u64) -> Self {
        Recovery {
            log: PacketLog::starting_at(limits, next),
            sessions: SessionStore::new(limits),
            sessions_dropped: 0,
            in_use: false,
        }
    }

    /// A worker uses recovery: its link's room snapshot says an adapter there recovers (its
    /// first frames), or it stored a broadcast, persisted or restored a session.
    pub fn note_in_use(&mut self) {
        self.in_use = true;
    }

    /// Whether a broadcast made by the hub (another machine's, the Emitter's) needs a place in
    /// the log: only once a worker has used recovery. Until then no client holds an offset of this
    /// log (offsets come only from stored broadcasts, and the first one a worker stores marks it
    /// in use before it gets its offset), so no restore can ask for what came before; from then
    /// on every such broadcast is stored. Workers say so when they link, so that the first
    /// offsets their clients get may be the Emitter's or another machine's. Storing them sooner costs every message from another
    /// machine a frame and a place in the log on machines whose workers never recover (13% of a
    /// busy hub's CPU in the bench's unicast).
    pub fn in_use(&self) -> bool {
        self.in_use
    }

    /// Gives a broadcast its place in the log; returns the frame to relay (its header now carries
    /// the offset) and the acknowledgement for the sender.
    pub fn store(
        &mut self,
        frame: &RawFrame,
        now_ms: u64,
    ) -> Result<(Vec<u8>, Vec<u8>), FrameError> {
        let header = &frame.header;
        // Both frames are made before the entry is stored: a broadcast that cannot carry its
        // offset (a frame at the size limit, which the offset's bytes push over it) is not in the
        // log, so no client ever recovers a packet the cluster did not deliver with that offset.
        let offset = self.log.next_offset();
        let frames = Self::with_offset(frame, offset)?;
        let stored = self.log.append(
            header.nsp.clone(),
            header.rooms.clone(),
            header.except.clone(),
            Arc::from(frame.payload()),
            now_ms,
        );
        debug_assert_eq!(stored, offset);
        Ok(frames)
    }

    /// A broadcast given `offset` (by this log, or by a Redis stream's id): the frame to relay,
    /// with it, and the sender's acknowledgement.
    pub fn with_offset(frame: &RawFrame, offset: u64) -> Result<(Vec<u8>, Vec<u8>), FrameError> {
        let header = &frame.header;
        let relayed = Header {
            store: false,
            offset: Some(offset),
            ..header.clone()
        };
        let ack = Header {
            offset: Some(offset),
            ..hub_header(MessageType::OffsetAssigned, &header.nsp, None)
        };
        Ok((
            encode_frame(&relayed, frame.payload())?,
            encode_frame(&ack, &[])?,
        ))
    }

    /// What the hub does with a broadcast it could not store: delivered without an offset, and
    /// its sender told so (an OFFSET_ASSIGNED without one), so that the sender's pairing of
    /// acknowledgements with its stored broadcasts, first in first out, stays in step.
    pub fn unstored(frame: &RawFrame) -> (Option<Vec<u8>>, Vec<u8>) {
        let header = &frame.header;
        let relayed = Header {
            store: false,
            ..header.clone()
        };
        let ack = hub_header(MessageType::OffsetAssigned, &header.nsp, None);
        (
            encode_frame(&relayed, frame.payload()).ok(),
            encode_frame(&ack, &[]).expect("an acknowledgement without an offset always encodes"),
        )
    }

    /// Stores a session; returns a debug line when a bound made sessions go (counted).
    pub fn persist(&mut self, frame: &RawFrame, now_ms: u64) -> Result<Option<String>, String> {
        let request: PersistRequest =
            rmp_serde::from_slice(frame.payload()).map_err(|e| format!("bad session: {e}"))?;
        self.log.retain_for(request.ttl);
        let session = Session {
            sid: request.sid,
            pid: request.pid,
            rooms: request.rooms,
            data: request.data.into_vec(),
            expires_at_ms: now_ms.saturating_add(request.ttl),
        };
        let sid = session.sid.clone();
        // Bounds: `max_sessions` and `max_session_bytes`; the sessions closest to expiry make
        // room, a session alone over the byte bound is refused. Either is counted and logged.
        let outcome = self
            .sessions
            .persist(frame.header.nsp.clone(), session, now_ms);
        let dropped = outcome.evicted + usize::from(outcome.refused);
        self.sessions_dropped += dropped as u64;
        Ok(if outcome.refused {
            Some(format!(
                "session {sid} not kept: larger than recovery.maxSessionBytes"
            ))
        } else if outcome.evicted > 0 {
            Some(format!(
                "{} sessions closest to expiry dropped for session {sid}: recovery.maxSessions or maxSessionBytes reached",
                outcome.evicted
            ))
        } else {
            None
        })
    }

    /// Answers one page of a restore; the last page forgets the session (it is restored once).
    /// Every request with a request id gets an answer: one that cannot be read, a negative one
    /// (and a debug line), so that its socket gets a new session at once.
    pub fn restore(&mut self, frame: &RawFrame, now_ms: u64) -> Result<Reply, String> {
        let header = &frame.header;
        if header.request_id.is_none() {
            return Err("a restore without a request id".into());
        }
        let mut note = None;
        let response = match rmp_serde::from_slice::<RestoreRequest>(frame.payload()) {
            Err(error) => {
                note = Some(format!("refuse a restore that cannot be read: {error}"));
                RestoreResponse {
                    reason: Some("bad request"),
                    ..RestoreResponse::default()
                }
            }
            Ok(request) => match self.page(&header.nsp, &request, now_ms) {
                Ok(response) => response,
                Err(error) => {
                    self.sessions.remove(&header.nsp, &request.pid);
                    RestoreResponse {
                        reason: Some(match error {
                            RestoreError::UnknownSession => "unknown session",
                            RestoreError::Expired => "session expired",
                            RestoreError::OffsetGone => "offset no longer in the log",
                        }),
                        ..RestoreResponse::default()
                    }
                }
            },
        };
        restore_reply(header, response, note)
    }

    fn page(
        &mut self,
        nsp: &str,
        request: &RestoreRequest,
        now_ms: u64,
    ) -> Result<RestoreResponse, RestoreError> {
        self.log.prune(now_ms);
        let session = self.sessions.get(nsp, &request.pid, now_ms)?;
        let page = self.log.page(nsp, &session.rooms, request.after)?;
        // The session itself (sid, rooms, `socket.data`) travels once, with the last page, which
        // is the one the worker applies: not repeated on every page.
        let last = page.more.is_none();
        let response = RestoreResponse {
            ok: true,
            sid: last.then(|| session.sid.clone()),
            rooms: last.then(|| session.rooms.clone()),
            data: last.then(|| ByteBuf::from(session.data.clone())),
            packets: page
                .entries
                .iter()
                .map(|e| (e.offset, ByteBuf::from(e.payload.to_vec())))
                .collect(),
            more: page.more,
            reason: None,
        };
        if page.more.is_none() {
            self.sessions.remove(nsp, &request.pid);
        }
        Ok(response)
    }

    /// Whether a stored session of `nsp` is in one of `rooms`.
    pub fn sessions_hold_any(&self, nsp: &str, rooms: &[String]) -> bool {
        self.sessions.holds_any(nsp, rooms)
    }

    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    pub fn log_bytes(&self) -> usize {
        self.log.bytes()
    }

    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    pub fn session_bytes(&self) -> usize {
        self.sessions.bytes()
    }

    pub fn sessions_dropped(&self) -> u64 {
        self.sessions_dropped
    }
}

fn hub_header(kind: MessageType, nsp: &str, requester: Option<&str>) -> Header {
    Header {
        requester_uid: requester.map(str::to_string),
        ..Header::new(kind, nsp, HUB_UID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameDecoder;

    fn decode(bytes: &[u8]) -> RawFrame {
        let mut decoder = FrameDecoder::new(usize::MAX);
        decoder.push(bytes);
        decoder.next_raw_frame().unwrap().unwrap()
    }

    fn request(kind: MessageType, rooms: &[&str], payload: &[u8]) -> RawFrame {
        let mut header = Header::new(kind, "/", "uid-1");
        header.request_id = Some("req-1".into());
        header.rooms = rooms.iter().map(|r| r.to_string()).collect();
        header.store = kind == MessageType::Broadcast;
        decode(&encode_frame(&header, payload).unwrap())
    }

    #[derive(Serialize)]
    struct Persist<'a, T> {
        sid: &'a str,
        pid: &'a str,
        rooms: Vec<&'a str>,
        #[serde(with = "serde_bytes")]
        data: &'a [u8],
        ttl: T,
    }

    #[derive(Serialize)]
    struct Restore<'a, T> {
        pid: &'a str,
        after: T,
    }

    #[derive(Deserialize, Debug)]
    struct Restored {
        ok: bool,
        reason: Option<String>,
        packets: Vec<(u64, ByteBuf)>,
        data: Option<ByteBuf>,
        rooms: Option<Vec<String>>,
        more: Option<u64>,
    }

    /// `socket.data` (up to `maxSessionBytes`) travels once, not with every page of a restore.
    #[test]
    fn a_restore_sends_the_session_once_with_its_last_page() {
        let mut recovery = Recovery::new(RecoveryLimits {
            page_packets: 2,
            ..RecoveryLimits::default()
        });
        let broadcast = request(MessageType::Broadcast, &[], b"p");
        recovery.store(&broadcast, 0).unwrap(); // offset 1: the client's
        let persist = Persist {
            sid: "s",
            pid: "p",
            rooms: vec!["s"],
            data: &[7; 1000],
            ttl: 60_000,
        };
        let persist = rmp_serde::to_vec_named(&persist).unwrap();
        recovery
            .persist(&request(MessageType::PersistSession, &[], &persist), 0)
            .unwrap();
        for _ in 0..5 {
            recovery.store(&broadcast, 0).unwrap();
        }
        let mut after = 1;
        let mut pages = vec![];
        loop {
            let page = restored(
                &mut recovery,
                &rmp_serde::to_vec_named(&Restore { pid: "p", after }).unwrap(),
            );
            assert!(page.ok, "{page:?}");
            let more = page.more;
            pages.push(page);
            match more {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(pages.len(), 3);
        let packets: usize = pages.iter().map(|p| p.packets.len()).sum();
        assert_eq!(packets, 5);
        let with_data: Vec<bool> = pages.iter().map(|p| p.data.is_some()).collect();
        assert_eq!(with_data, vec![false, false, true]);
        let last = pages.last().unwrap();
        assert_eq!(
            last.data.as_ref().map(|d| d.to_vec()),
            Some(vec![7u8; 1000])
        );
        assert_eq!(last.rooms.as_deref(), Some(&["s".to_string()][..]));
    }

    fn restored(recovery: &mut Recovery, payload: &[u8]) -> Restored {
        let reply = recovery
            .restore(&request(MessageType::RestoreSession, &[], payload), 0)
            .expect("every restore is answered");
        let reply = decode(&reply.bytes);
        assert_eq!(reply.header.kind, MessageType::RestoreSessionResponse);
        assert_eq!(reply.header.request_id.as_deref(), Some("req-1"));
        rmp_serde::from_slice(reply.payload()).unwrap()
    }

    /// msgpackr packs JS numbers from 2^32 up as float64: such offsets and durations are read.
    #[test]
    fn offsets_and_durations_past_32_bits_arrive_as_float64_and_are_read() {
        let first = (1u64 << 32) + 4;
        let mut recovery = Recovery::starting_at(RecoveryLimits::default(), first);
        let broadcast = request(MessageType::Broadcast, &[], b"p");
        let (_, ack) = recovery.store(&broadcast, 0).unwrap();
        assert_eq!(decode(&ack).header.offset, Some(first));
        let persist = Persist {
            sid: "s",
            pid: "p",
            rooms: vec!["s"],
            data: b"",
            ttl: (1u64 << 32) as f64 + 1.0, // 49.7 days and a millisecond
        };
        let persist = rmp_serde::to_vec_named(&persist).unwrap();
        recovery
            .persist(&request(MessageType::PersistSession, &[], &persist), 0)
            .unwrap();
        recovery.store(&broadcast, 0).unwrap(); // 2^32 + 5: missed
        let after = Restore {
            pid: "p",
            after: first as f64,
        };
        let page = restored(&mut recovery, &rmp_serde::to_vec_named(&after).unwrap());
        assert!(page.ok, "{page:?}");
        let offsets: Vec<u64> = page.packets.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, vec![(1u64 << 32) + 5]);
    }

    /// A restore request that cannot be read is answered at once, negatively.
    #[test]
    fn a_malformed_restore_gets_a_negative_answer() {
        let mut recovery = Recovery::new(RecoveryLimits::default());
        let bad: Vec<Vec<u8>> = vec![
            rmp_serde::to_vec_named(&Restore {
                pid: "p",
                after: -1,
            })
            .unwrap(),
            rmp_serde::to_vec_named(&Restore {
                pid: "p",
                after: 1.5,
            })
            .unwrap(),
            rmp_serde::to_vec_named(&Restore {
                pid: "p",
                after: 1e20,
            })
            .unwrap(),
            rmp_serde::to_vec_named(&Restore {
                pid: "p",
                after: f64::NAN,
            })
            .unwrap(),
            rmp_serde::to_vec_named(&Restore {
                pid: "p",
                after: "12",
            })
            .unwrap(),
            rmp_serde::to_vec_named(&(7, 1)).unwrap(),
            vec![0xc1], // never used in MessagePack
            vec![],
        ];
        for payload in bad {
            let page = restored(&mut recovery, &payload);
            assert!(!page.ok);
            assert_eq!(page.reason.as_deref(), Some("bad request"), "{payload:?}");
        }
    }
}
