//! Streams mode (`redis: { mode: "streams" }`): the hub speaks
//! `@socket.io/redis-streams-adapter` 0.3.x's protocol for its machine (the wire:
//! `sio_cluster_core::streams_wire`).
//!
//! - Out: what other machines need goes on the namespace's stream (`XADD ... MAXLEN ~`), or, for
//!   the adapter's ephemeral messages and responses, over pub/sub (as the sharded mode publishes).
//! - In: entries the bridge's reader reads are routed to the local workers as another machine's
//!   messages (by room); this machine's own are skipped (they were routed here when sent). A
//!   broadcast read from the stream carries its entry's id as its offset.
//! - Recovery: the stream is the packet log and Redis keeps the sessions. A broadcast a worker
//!   asks to store is `XADD`ed first and routed here once Redis gave its id (the offset); frames
//!   the links bring meanwhile wait behind it, so local workers see them in the order they were
//!   sent. PERSIST_SESSION is a `SET ... PX`; RESTORE_SESSION reads the session (`GETDEL`), checks
//!   the offset is still in the stream, then reads pages after it (`streams_restore`), a bounded
//!   number of restores at a time, off the state lock.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use redis::Value;
use sio_cluster_core::recovery::{
    answer_restore, read_persist_request, read_restore_request, RestoredSession,
};
use sio_cluster_core::streams_restore::{Entry, StreamRestore};
use sio_cluster_core::streams_wire::{
    decode_entry, encode_entry, stream_name, StreamId, StreamSession,
};
use sio_cluster_core::{
    encode_frame, Echoes, FrameError, Header, MessageType, RawFrame, Recovery, Via, WorkerId,
    EMITTER_UID, PRIMARY, REMOTE,
};
use tokio::sync::Semaphore;

use super::fanout::{Ipc, Outgoing};
use super::state::{decode_one, Shared, State};
use crate::error::HubError;
use crate::redis_bridge::streams_entry;
use crate::redis_bridge::{RawEntry, StreamsOptions};

/// Streams mode's part of the hub's state (under the state lock).
pub(super) struct StreamsState {
    /// Frames from the links waiting, in order, behind a stored broadcast whose XADD has not
    /// answered yet: what the links bring in one Redis round trip (the bridge drops XADDs at
    /// once while Redis is away, which releases them), at most [`MAX_HELD_BYTES`].
    held: VecDeque<Held>,
    /// The bytes of the frames in `held`.
    held_bytes: usize,
    next_token: u64,
    /// The primary's Emitter's entries, awaited back from the stream (to skip them).
    echoes: Echoes,
    /// Restores waiting or running.
    restores: usize,
    /// Restores running at once.
    running: Arc<Semaphore>,
    /// Per stream, how far its entries were routed to this machine's workers (what a restore
    /// answered now must include, and nothing after: see `read_restore`).
    routed: HashMap<String, Routed>,
}

/// How far a stream's entries were routed here, by each of the two ways they come.
#[derive(Default, Clone, Copy)]
struct Routed {
    /// Other machines' entries, in stream order (the reader): every one up to this id (those
    /// before the reader's start included: they never will be).
    read: Option<StreamId>,
    /// This machine's stored broadcasts, in stream order (XADD's answers): every one up to this
    /// id. (Its other messages are routed here when sent, before they are on the stream.)
    added: Option<StreamId>,
}

enum Held {
    Stored {
        token: u64,
        from: WorkerId,
        frame: RawFrame,
        /// None until the XADD answered; then its id, if it had one.
        id: Option<Option<String>>,
    },
    Frame {
        from: WorkerId,
        frame: RawFrame,
    },
}

/// Bytes of frames held behind stored broadcasts waiting for Redis. Past it (Redis answering
/// slower than the links bring frames), frames that are not stored broadcasts are routed at once,
/// ahead of the stored ones still waiting (said in a debug line), and a stored broadcast is
/// delivered without an offset: local traffic never waits on Redis without bound. In time, a
/// hold lasts at most the bridge's response timeout (5 s, `runner.rs`), after which the XADD
/// counts as failed and what waited behind it goes on.
const MAX_HELD_BYTES: usize = 16 * 1024 * 1024;

impl StreamsState {
    pub(super) fn new(options: &StreamsOptions) -> Self {
        StreamsState {
            held: VecDeque::new(),
            held_bytes: 0,
            next_token: 1,
            echoes: Echoes::default(),
            restores: 0,
            running: Arc::new(Semaphore::new(options.max_restores.max(1))),
            routed: HashMap::new(),
        }
    }
}

/// The key of an Emitter's entry for [`Echoes`]: its fields as written.
fn echo_key<'a>(fields: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut key = Vec::new();
    for (name, value) in fields {
        key.extend_from_slice(&(name.len() as u32).to_be_bytes());
        key.extend_from_slice(name);
        key.extend_from_slice(&(value.len() as u32).to_be_bytes());
        key.extend_from_slice(value);
    }
    key
}

impl Shared {
    pub(super) fn streams_options(&self) -> Option<&StreamsOptions> {
        self.options.redis.as_ref()?.streams.as_ref()
    }

    /// A message for the other machines, on its namespace's stream (not an ephemeral one: those
    /// are published as in the sharded mode, `Shared::publish`).
    pub(super) fn add_to_stream(&self, state: &mut State, header: &Header, payload: &[u8]) {
        let (Some(bridge), Some(remote), Some(options)) =
            (self.redis.get(), &mut state.remote, self.streams_options())
        else {
            return;
        };
        let fields = encode_entry(header, payload, options.only_plaintext);
        if header.uid == EMITTER_UID {
            if let Some(streams) = remote.streams.as_mut() {
                streams.echoes.expect(&echo_key(
                    fields.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())),
                ));
            }
        }
        let stream = stream_name(&options.stream_name, options.stream_count, &header.nsp);
        bridge.xadd(stream, fields, None);
    }

    /// A frame from a link, in streams mode.
    pub(super) fn route_link_frame_streams(
        &self,
        state: &mut State,
        from: WorkerId,
        frame: RawFrame,
    ) {
        let kind = frame.header.kind;
        match kind {
            MessageType::Broadcast if frame.header.store => {
                self.store_on_stream(state, from, frame)
            }
            MessageType::PersistSession => self.persist_on_redis(from, &frame),
            MessageType::RestoreSession => self.restore_from_redis(state, from, frame),
            _ if kind.is_hub_only() => self.log(format!(
                "drop {} from worker {from}: only the hub sends it",
                kind.name()
            )),
            _ => {
                let held = state
                    .remote
                    .as_mut()
                    .and_then(|r| r.streams.as_mut())
                    .filter(|s| !s.held.is_empty());
                match held {
                    Some(streams) if streams.held_bytes + frame.bytes.len() <= MAX_HELD_BYTES => {
                        streams.held_bytes += frame.bytes.len();
                        streams.held.push_back(Held::Frame { from, frame });
                    }
                    Some(_) => {
                        self.log(format!(
                            "worker {from}: {} routed ahead of stored broadcasts still waiting for Redis ({MAX_HELD_BYTES} bytes held)",
                            kind.name()
                        ));
                        self.route(state, from, frame);
                    }
                    None => self.route(state, from, frame),
                }
            }
        }
    }

    /// The primary's Emitter's broadcast to store: as a worker's (`from` PRIMARY).
    pub(super) fn inject_stored_on_stream(
        &self,
        state: &mut State,
        header: &Header,
        payload: &[u8],
    ) -> Result<Vec<WorkerId>, HubError> {
        let unreadable = || FrameError::BadHeader("cannot re-read a frame made here".into());
        let frame = decode_one(&encode_frame(header, payload)?).ok_or_else(unreadable)?;
        self.store_on_stream(state, PRIMARY, frame);
        Ok(Vec::new())
    }

    /// A broadcast to store: XADD it; it is routed here once Redis gave its id.
    fn store_on_stream(&self, state: &mut State, from: WorkerId, frame: RawFrame) {
        let (Some(bridge), Some(options)) = (self.redis.get(), self.streams_options()) else {
            return;
        };
        let Some(streams) = state.remote.as_mut().and_then(|r| r.streams.as_mut()) else {
            return;
        };
        if streams.held_bytes + frame.bytes.len() > MAX_HELD_BYTES {
            self.counters.unstored.fetch_add(1, Ordering::Relaxed);
            self.log(format!(
                "worker {from}: a broadcast is delivered without an offset: {MAX_HELD_BYTES} bytes wait for Redis already"
            ));
            return self.deliver_stored(state, from, frame, None);
        }
        let token = streams.next_token;
        streams.next_token += 1;
        streams.held_bytes += frame.bytes.len();
        let fields = encode_entry(&frame.header, frame.payload(), options.only_plaintext);
        if frame.header.uid == EMITTER_UID {
            streams.echoes.expect(&echo_key(
                fields.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())),
            ));
        }
        let stream = stream_name(
            &options.stream_name,
            options.stream_count,
            &frame.header.nsp,
        );
        streams.held.push_back(Held::Stored {
            token,
            from,
            frame,
            id: None,
        });
        if !bridge.xadd(stream, fields, Some(token)) {
            // Redis away: delivered here without an offset, at once.
            self.added(state, token, None);
        }
    }

    /// The XADD of `token` answered (called by the bridge, in order).
    pub(super) fn added(&self, state: &mut State, token: u64, id: Option<String>) {
        let Some(streams) = state.remote.as_mut().and_then(|r| r.streams.as_mut()) else {
            return;
        };
        for held in streams.held.iter_mut() {
            if let Held::Stored {
                token: t, id: slot, ..
            } = held
            {
                if *t == token {
                    *slot = Some(id);
                    break;
                }
            }
        }
        self.release_held(state);
    }

    /// Routes what is at the front of the held frames and ready.
    fn release_held(&self, state: &mut State) {
        loop {
            let Some(streams) = state.remote.as_mut().and_then(|r| r.streams.as_mut()) else {
                return;
            };
            let ready = match streams.held.front() {
                Some(Held::Stored { id: None, .. }) | None => return,
                Some(_) => streams.held.pop_front(),
            };
            if let Some(Held::Frame { frame, .. } | Held::Stored { frame, .. }) = &ready {
                streams.held_bytes -= frame.bytes.len();
            }
            match ready {
                Some(Held::Frame { from, frame }) => self.route(state, from, frame),
                Some(Held::Stored {
                    from,
                    frame,
                    id: Some(id),
                    ..
                }) => self.deliver_stored(state, from, frame, id),
                _ => return,
            }
        }
    }

    /// A stored broadcast, with the id Redis gave it (or none): to the local workers, then its
    /// offset to its sender (which delivers to its own sockets then).
    fn deliver_stored(
        &self,
        state: &mut State,
        from: WorkerId,
        frame: RawFrame,
        id: Option<String>,
    ) {
        let parsed = id.as_deref().and_then(StreamId::parse);
        if let (Some(id), Some(options)) = (parsed, self.streams_options()) {
            let stream = stream_name(
                &options.stream_name,
                options.stream_count,
                &frame.header.nsp,
            );
            if let Some(streams) = state.remote.as_mut().and_then(|r| r.streams.as_mut()) {
                let routed = streams.routed.entry(stream).or_default();
                routed.added = routed.added.max(Some(id));
            }
        }
        let position = parsed.and_then(StreamId::position);
        let made = match position {
            Some(position) => Recovery::with_offset(&frame, position).ok(),
            None => None,
        };
        let (relayed, ack) = match made {
            Some((relayed, ack)) => (Some(relayed), ack),
            None => {
                self.counters.unstored.fetch_add(1, Ordering::Relaxed);
                Recovery::unstored(&frame)
            }
        };
        if let Some(relayed) = relayed.as_deref().and_then(decode_one) {
            let routed = if from == PRIMARY {
                state.board.route_from_primary(&relayed.header)
            } else {
                state.board.route(from, Via::Link, &relayed.header)
            };
            match routed {
                Ok(mut recipients) => {
                    recipients.remote = false; // on the stream already
                    let kind = relayed.header.kind;
                    if let Err(error) = self.fan_out(
                        state,
                        from,
                        Outgoing::Framed(relayed),
                        recipients,
                        Ipc::ByEvent,
                    ) {
                        self.log(format!("drop {} from worker {from}: {error}", kind.name()));
                    }
                }
                Err(reason) => self.log(format!("drop BROADCAST from worker {from}: {reason}")),
            }
        }
        if from != PRIMARY {
            self.queue_for_links(state, &[from], &ack.into());
        }
    }

    /// The reader starts after `id`: entries up to it never reach the workers (a restore takes
    /// them whole).
    pub(super) fn read_from(&self, stream: &str, id: &str) {
        let mut state = self.lock();
        if let Some(streams) = state.remote.as_mut().and_then(|r| r.streams.as_mut()) {
            let routed = streams.routed.entry(stream.to_string()).or_default();
            routed.read = routed.read.max(StreamId::parse(id));
        }
    }

    /// Entries the reader read: other machines' messages, routed here.
    pub(super) fn route_entries(&self, stream: &str, entries: Vec<RawEntry>) {
        let last = entries.last().and_then(|e| StreamId::parse_bytes(&e.id));
        // Which are this machine's own (routed when sent): under the lock, briefly.
        let mut foreign = Vec::with_capacity(entries.len());
        {
            let mut state = self.lock();
            let State { board, remote, .. } = &mut *state;
            let Some(streams) = remote.as_mut().and_then(|r| r.streams.as_mut()) else {
                return;
            };
            for entry in entries {
                let fields = || {
                    entry
                        .fields
                        .iter()
                        .map(|(n, v)| (n.as_slice(), v.as_slice()))
                };
                let uid = fields().rfind(|(n, _)| *n == b"uid").map(|(_, v)| v);
                let own = uid
                    .and_then(|uid| std::str::from_utf8(uid).ok())
                    .is_some_and(|uid| board.is_local_adapter(uid));
                if own
                    || (uid == Some(EMITTER_UID.as_bytes())
                        && streams.echoes.take(&echo_key(fields())))
                {
                    self.count_echo();
                    continue;
                }
                foreign.push(entry);
            }
        }
        // Decoded off the lock.
        let mut decoded = Vec::with_capacity(foreign.len());
        for entry in foreign {
            let fields = entry
                .fields
                .iter()
                .map(|(n, v)| (n.as_slice(), v.as_slice()));
            match decode_entry(fields) {
                Ok((mut header, payload)) => {
                    if header.store {
                        header.store = false;
                        header.offset =
                            StreamId::parse_bytes(&entry.id).and_then(StreamId::position);
                    }
                    decoded.push((header, payload));
                }
                Err(invalid) => self.bad_remote(format!("{invalid} (entry of {stream})")),
            }
        }
        let mut state = self.lock();
        for (header, payload) in decoded {
            self.notice_plain_server(&mut state, &header);
            let recipients = match state.board.route(REMOTE, Via::Remote, &header) {
                Ok(recipients) => recipients,
                Err(reason) => {
                    self.log(format!(
                        "drop {} from Redis ({}): {reason}",
                        header.kind.name(),
                        header.uid
                    ));
                    continue;
                }
            };
            let message = Outgoing::Parts {
                header: &header,
                payload: &payload,
            };
            if let Err(error) = self.fan_out(&mut state, REMOTE, message, recipients, Ipc::ByEvent)
            {
                self.bad_remote(format!("cannot frame a {}: {error}", header.kind.name()));
            }
        }
        // Under the same lock as their routing: a restore reads both together.
        if let Some(streams) = state.remote.as_mut().and_then(|r| r.streams.as_mut()) {
            let routed = streams.routed.entry(stream.to_string()).or_default();
            routed.read = routed.read.max(last);
        }
    }

    /// PERSIST_SESSION: `SET <sessionKeyPrefix><pid> <session> PX <maxDisconnectionDuration>`.
    fn persist_on_redis(&self, from: WorkerId, frame: &RawFrame) {
        let (Some(bridge), Some(options)) = (self.redis.get(), self.streams_options()) else {
            return;
        };
        let request = match read_persist_request(frame.payload()) {
            Ok(request) => request,
            Err(reason) => {
                return self.log(format!("drop PERSIST_SESSION from worker {from}: {reason}"))
            }
        };
        let session = StreamSession {
            sid: request.sid,
            pid: request.pid,
            rooms: request.rooms,
            data: request.data,
        };
        let key = format!("{}{}", options.session_key_prefix, session.pid);
        if !bridge.set(key, session.encode(), request.ttl) {
            self.log(format!(
                "worker {from}: session {} not persisted: Redis away or too much waiting",
                session.sid
            ));
        }
    }

    /// RESTORE_SESSION: answered from Redis by a task, a bounded number at a time.
    fn restore_from_redis(&self, state: &mut State, from: WorkerId, frame: RawFrame) {
        let header = frame.header.clone();
        if header.request_id.is_none() {
            return self.log(format!(
                "drop RESTORE_SESSION from worker {from}: no request id"
            ));
        }
        let Some(options) = self.streams_options() else {
            return;
        };
        let request = read_restore_request(frame.payload());
        let Some(streams) = state.remote.as_mut().and_then(|r| r.streams.as_mut()) else {
            return;
        };
        let (pid, after) = match request {
            Ok(request) => request,
            Err(reason) => {
                return self.answer_restore_now(
                    state,
                    from,
                    &header,
                    Err("bad request"),
                    Some(reason),
                )
            }
        };
        if streams.restores >= options.max_waiting_restores {
            return self.answer_restore_now(
                state,
                from,
                &header,
                Err("too many restores waiting"),
                None,
            );
        }
        streams.restores += 1;
        let running = streams.running.clone();
        let Some(shared) = self.me.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            let outcome = match running.acquire_owned().await {
                Ok(_permit) => shared.read_restore(from, &header, &pid, after).await,
                Err(_) => Err("closing"),
            };
            // Answered (and counted out) by `read_restore` when it restored the session.
            if let Err(reason) = outcome {
                let mut state = shared.lock();
                if let Some(streams) = state.remote.as_mut().and_then(|r| r.streams.as_mut()) {
                    streams.restores -= 1;
                }
                let note = format!("cannot restore session {pid}: {reason}");
                shared.answer_restore_now(&mut state, from, &header, Err(reason), Some(note));
            }
        });
    }

    fn answer_restore_now(
        &self,
        state: &mut State,
        from: WorkerId,
        request: &Header,
        outcome: Result<RestoredSession, &'static str>,
        note: Option<String>,
    ) {
        match answer_restore(request, outcome) {
            Ok(mut reply) => {
                reply.note = note;
                self.answer_worker(state, from, reply);
            }
            Err(error) => self.log(format!("cannot answer a restore: {error}")),
        }
    }

    /// The adapter's `restoreSession`, bounded: GETDEL the session, check the offset is still
    /// in the stream, then read pages after it. Answered here, under the state lock, with the
    /// packets that were routed to this machine's workers before the answer and none after: those
    /// reach the restored socket live, so each reaches it once. (A stream's entries are routed here
    /// two ways, each in stream order: other machines' by the reader, this machine's stored
    /// broadcasts when XADD answers; `Routed` says how far each got.)
    async fn read_restore(
        &self,
        from: WorkerId,
        request: &Header,
        pid: &str,
        after: u64,
    ) -> Result<(), &'static str> {
        let (Some(bridge), Some(options)) = (self.redis.get(), self.streams_options()) else {
            return Err("no Redis");
        };
        let nsp = request.nsp.as_str();
        let after = StreamId::from_position(after).ok_or("offset out of range")?;
        let stream = stream_name(&options.stream_name, options.stream_count, nsp);
        let mut getdel = redis::cmd("GETDEL");
        getdel.arg(format!("{}{}", options.session_key_prefix, pid));
        let mut exists = redis::cmd("XRANGE");
        exists
            .arg(&stream)
            .arg(after.to_string())
            .arg(after.to_string());
        let (session, offset) =
            futures_util::future::join(bridge.query(getdel), bridge.query(exists)).await;
        let session = match session {
            Some(Value::BulkString(value)) => {
                StreamSession::decode(&value).map_err(|_| "session unreadable")?
            }
            Some(_) => return Err("session or offset not found"),
            None => return Err("Redis did not answer"),
        };
        match offset {
            Some(Value::Array(entries)) if !entries.is_empty() => {}
            Some(_) => return Err("session or offset not found"),
            None => return Err("Redis did not answer"),
        }
        let mut restore = StreamRestore::new(nsp, session, after, options.restore);
        // Reads that found nothing new although entries were routed past them (trimmed?).
        let mut fruitless = 0;
        loop {
            let before = restore.last_read();
            if Self::read_page(bridge, &stream, &mut restore).await? {
                continue; // to the end of the stream first
            }
            if restore.last_read() == before {
                fruitless += 1;
            }
            let mut state = self.lock();
            let routed = state
                .remote
                .as_ref()
                .and_then(|r| r.streams.as_ref())
                .and_then(|s| s.routed.get(&stream).copied())
                .unwrap_or_default();
            let latest = routed.read.max(routed.added);
            // Entries routed here since that read are to be read too (unless reads keep finding
            // nothing new: they were trimmed meanwhile).
            if latest.is_some_and(|l| l > restore.last_read()) && fruitless < 3 {
                continue;
            }
            let board = &state.board;
            let restored = restore.finish(|id, uid, stored| {
                // Before the reader started, nothing it will read is here yet.
                let by_reader = routed.read.is_none_or(|r| id <= r);
                let by_xadd = routed.added.is_some_and(|a| id <= a);
                if uid == EMITTER_UID {
                    // Any machine's Emitter: ours came by XADD, others' by the reader.
                    by_reader || by_xadd
                } else if board.is_local_adapter(uid) {
                    // This machine's: a stored broadcast once XADD answered; any other when sent.
                    !stored || by_xadd
                } else {
                    by_reader
                }
            });
            if let Some(streams) = state.remote.as_mut().and_then(|r| r.streams.as_mut()) {
                streams.restores -= 1;
            }
            self.answer_restore_now(&mut state, from, request, Ok(restored), None);
            return Ok(());
        }
    }

    /// Reads the page after what `restore` read; whether it was full (more may follow).
    async fn read_page(
        bridge: &crate::redis_bridge::RedisBridge,
        stream: &str,
        restore: &mut StreamRestore,
    ) -> Result<bool, &'static str> {
        let mut page = redis::cmd("XRANGE");
        page.arg(stream)
            .arg(restore.next_start())
            .arg("+")
            .arg("COUNT")
            .arg(restore.page_entries());
        let Some(Value::Array(values)) = bridge.query(page).await else {
            return Err("Redis did not answer");
        };
        let raw: Vec<RawEntry> = values
            .into_iter()
            .map(streams_entry)
            .collect::<Option<_>>()
            .ok_or("a stream entry cannot be read")?;
        let entries = raw
            .iter()
            .map(|e| Entry {
                id: &e.id,
                fields: e
                    .fields
                    .iter()
                    .map(|(n, v)| (n.as_slice(), v.as_slice()))
                    .collect(),
            })
            .collect();
        restore.feed(entries).map_err(|failure| failure.reason())
    }
}
