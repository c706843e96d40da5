//! The hub's side of connection state recovery: the packet log and the session store of
//! `sio-cluster-core`, fed by link frames. See `sio_cluster_core::recovery` for the design.
//!
//! Payloads of the hub-only frames are MessagePack written by the worker's JS (msgpackr):
//! - PERSIST_SESSION: `{ sid, pid, rooms, data: bin, ttl }` (`data` is `socket.data`, packed);
//! - RESTORE_SESSION: `{ pid, after }` (`after`: the offset the client gave, then each page's
//!   `more`);
//! - RESTORE_SESSION_RESPONSE: `{ ok, reason?, sid?, rooms?, data?, packets: [[offset, bin]], more? }`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sio_cluster_core::{
    encode_frame, FrameError, Header, MessageType, PacketLog, RawFrame, RecoveryLimits,
    RestoreError, Session, SessionStore,
};

/// What the hub sends back to the worker whose frame it handled.
pub(crate) struct Reply {
    pub(crate) bytes: Vec<u8>,
    /// The namespace and rooms the worker's sockets join when it applies the reply (a restored
    /// session's), which the hub's room view must hold from then on.
    pub(crate) joins: Option<Joins>,
}

/// A namespace and rooms joined in it.
pub type Joins = (String, Vec<String>);

impl Reply {
    pub(crate) fn new(bytes: Vec<u8>) -> Reply {
        Reply { bytes, joins: None }
    }
}

pub(crate) struct Recovery {
    log: PacketLog,
    sessions: SessionStore,
}

#[derive(Deserialize)]
struct PersistRequest {
    sid: String,
    pid: String,
    rooms: Vec<String>,
    data: ByteBuf,
    ttl: u64,
}

#[derive(Deserialize)]
struct RestoreRequest {
    pid: String,
    after: u64,
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

/// The sender of hub-made frames (their header needs a non-empty uid).
const HUB_UID: &str = "hub";

impl Recovery {
    pub(crate) fn new(limits: RecoveryLimits) -> Self {
        Recovery {
            log: PacketLog::new(limits),
            sessions: SessionStore::new(limits),
        }
    }

    /// Gives a broadcast its place in the log; returns the frame to relay (its header now carries
    /// the offset) and the acknowledgement for the sender.
    pub(crate) fn store(
        &mut self,
        frame: &RawFrame,
        now_ms: u64,
    ) -> Result<(Vec<u8>, Vec<u8>), FrameError> {
        let header = &frame.header;
        let offset = self.log.append(
            header.nsp.clone(),
            header.rooms.clone(),
            header.except.clone(),
            Arc::from(frame.payload()),
            now_ms,
        );
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

    pub(crate) fn persist(&mut self, frame: &RawFrame, now_ms: u64) -> Result<(), String> {
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
        self.sessions
            .persist(frame.header.nsp.clone(), session, now_ms);
        Ok(())
    }

    /// Answers one page of a restore; the last page forgets the session (it is restored once).
    pub(crate) fn restore(&mut self, frame: &RawFrame, now_ms: u64) -> Result<Reply, String> {
        let header = &frame.header;
        let request: RestoreRequest =
            rmp_serde::from_slice(frame.payload()).map_err(|e| format!("bad restore: {e}"))?;
        let response = match self.page(&header.nsp, &request, now_ms) {
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
        };
        let payload = rmp_serde::to_vec_named(&response).map_err(|e| e.to_string())?;
        // Each ok page carries the rooms, and the worker joins them with the first one it applies.
        let joins = response.rooms.map(|rooms| (header.nsp.clone(), rooms));
        let reply = Header {
            request_id: header.request_id.clone(),
            ..hub_header(
                MessageType::RestoreSessionResponse,
                &header.nsp,
                Some(&header.uid),
            )
        };
        let bytes = encode_frame(&reply, &payload).map_err(|e| e.to_string())?;
        Ok(Reply { bytes, joins })
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
        let response = RestoreResponse {
            ok: true,
            sid: Some(session.sid.clone()),
            rooms: Some(session.rooms.clone()),
            data: Some(ByteBuf::from(session.data.clone())),
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
    pub(crate) fn sessions_hold_any(&self, nsp: &str, rooms: &[String]) -> bool {
        self.sessions.holds_any(nsp, rooms)
    }

    pub(crate) fn log_len(&self) -> usize {
        self.log.len()
    }

    pub(crate) fn log_bytes(&self) -> usize {
        self.log.bytes()
    }

    pub(crate) fn sessions(&self) -> usize {
        self.sessions.len()
    }
}

/// The hub's recovery handling with nothing around it, for the fuzz targets and their corpus
/// replay test (`fuzz/`): the same calls `Hub` makes for a stored broadcast, a PERSIST_SESSION
/// and a RESTORE_SESSION read from a link. Not part of the hub's API.
#[doc(hidden)]
pub struct RecoveryHarness(Recovery);

#[doc(hidden)]
impl RecoveryHarness {
    pub fn new(limits: RecoveryLimits) -> Self {
        RecoveryHarness(Recovery::new(limits))
    }

    /// A broadcast to store: the frame to relay and the sender's acknowledgement.
    pub fn store(
        &mut self,
        frame: &RawFrame,
        now_ms: u64,
    ) -> Result<(Vec<u8>, Vec<u8>), FrameError> {
        self.0.store(frame, now_ms)
    }

    pub fn persist(&mut self, frame: &RawFrame, now_ms: u64) -> Result<(), String> {
        self.0.persist(frame, now_ms)
    }

    /// The reply frame and the rooms its sender joins when applying it.
    pub fn restore(
        &mut self,
        frame: &RawFrame,
        now_ms: u64,
    ) -> Result<(Vec<u8>, Option<Joins>), String> {
        self.0
            .restore(frame, now_ms)
            .map(|reply| (reply.bytes, reply.joins))
    }

    /// Packets in the log, their payload bytes, sessions held.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.0.log_len(), self.0.log_bytes(), self.0.sessions())
    }
}

fn hub_header(kind: MessageType, nsp: &str, requester: Option<&str>) -> Header {
    Header {
        requester_uid: requester.map(str::to_string),
        ..Header::new(kind, nsp, HUB_UID)
    }
}
