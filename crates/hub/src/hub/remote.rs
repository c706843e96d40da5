//! The Redis half of the hub: what crosses to the other machines and what comes back. Other
//! machines are one pseudo-worker, [`REMOTE`], in the switchboard: what every worker gets is
//! published, what arrives from Redis is routed as a worker's message (by room too), and the
//! hub's answers for skipped workers go back through Redis like any response.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use sio_cluster_core::{
    decode_message, encode_message, peek_uid, Channel, Header, MessageType, Recipients, Via,
    WorkerId, REMOTE,
};

use super::fanout::{Ipc, Outgoing};
use super::state::{Shared, State};
use crate::redis_bridge::RedisHandler;
use crate::stats::HubStats;

impl Shared {
    /// Publishes a message for the other machines (dropped, and counted, while Redis is away).
    pub(super) fn publish(&self, state: &mut State, header: &Header, payload: &[u8]) {
        // Streams mode: all but the adapter's ephemeral messages go on the stream; those go over
        // pub/sub as here.
        if self.streams_options().is_some() && !sio_cluster_core::streams_wire::is_ephemeral(header)
        {
            return self.add_to_stream(state, header, payload);
        }
        let (Some(bridge), Some(remote)) = (self.redis.get(), &mut state.remote) else {
            return;
        };
        let Some(channel) = remote.subscriptions.channels().publish_channel(header) else {
            return;
        };
        let message = encode_message(header, payload);
        if header.uid == sio_cluster_core::EMITTER_UID && remote.subscriptions.contains(&channel) {
            remote.echoes.expect(&message);
        }
        bridge.publish(channel, message);
    }

    /// A local adapter sent something: make sure its channels are subscribed before anything
    /// it sends is published (the bridge runs commands in order).
    pub(super) fn note_adapter(&self, state: &mut State, header: &Header) {
        let (Some(bridge), Some(remote)) = (self.redis.get(), &mut state.remote) else {
            return;
        };
        if header.uid == sio_cluster_core::EMITTER_UID {
            return; // an Emitter over a link: no server, nothing to answer it
        }
        let new = remote.subscriptions.note_adapter(&header.uid, &header.nsp);
        if !new.is_empty() {
            bridge.subscribe(new);
            self.recount(state);
        }
    }

    /// Mixed fleets: one subscriber of a namespace's channel per local adapter (the hub's own
    /// connection is the first), as plain redis-adapter servers count servers.
    pub(super) fn recount(&self, state: &mut State) {
        let State { board, remote, .. } = state;
        let (Some(bridge), Some(remote)) = (self.redis.get(), remote) else {
            return;
        };
        if !self
            .options
            .redis
            .as_ref()
            .is_some_and(|r| r.count_each_worker)
        {
            return;
        }
        let mut adapters: BTreeMap<String, usize> = BTreeMap::new();
        for (_, nsp) in board.local_adapters() {
            *adapters
                .entry(remote.subscriptions.channels().namespace(nsp))
                .or_default() += 1;
        }
        let extra: BTreeMap<String, usize> = adapters
            .into_iter()
            .map(|(channel, n)| (channel, n - 1))
            .filter(|&(_, n)| n > 0)
            .collect();
        if extra != remote.counted {
            remote.counted = extra.clone();
            bridge.count(extra);
        }
    }

    /// A worker asks how many servers its namespace has, counted as plain redis-adapter servers
    /// count them; answered once Redis has (ok: false without a count to give).
    pub(super) fn count_servers(&self, state: &mut State, from: WorkerId, header: Header) {
        let counts = self
            .options
            .redis
            .as_ref()
            .is_some_and(|r| r.count_each_worker);
        let channel = state
            .remote
            .as_ref()
            .filter(|_| counts)
            .map(|r| r.subscriptions.channels().namespace(&header.nsp));
        let (Some(channel), Some(shared)) = (channel, self.me.upgrade()) else {
            return self.answer_count(state, from, &header, None);
        };
        tokio::spawn(async move {
            let count = match shared.redis.get() {
                Some(bridge) => bridge.server_count(channel).await,
                None => None,
            };
            let mut state = shared.lock();
            shared.answer_count(&mut state, from, &header, count);
        });
    }

    pub(super) fn answer_count(
        &self,
        state: &mut State,
        to: WorkerId,
        request: &Header,
        count: Option<u64>,
    ) {
        #[derive(serde::Serialize)]
        struct Answer {
            ok: bool,
            count: Option<u64>,
        }
        let answer = Answer {
            ok: count.is_some(),
            count,
        };
        let header = Header {
            request_id: request.request_id.clone(),
            ..Header::new(MessageType::ServerCountResponse, &request.nsp, &request.uid)
        };
        match rmp_serde::to_vec_named(&answer) {
            // The requester asked over its link (a hub-only frame): the answer goes there.
            Ok(payload) => self.send_made(state, &header, &payload, Recipients::one(to, Via::Link)),
            Err(error) => self.log(format!("cannot answer a server count: {error}")),
        }
    }

    pub(super) fn note_rooms(&self, state: &mut State, nsp: &str, rooms: &[String]) {
        let (Some(bridge), Some(remote)) = (self.redis.get(), &mut state.remote) else {
            return;
        };
        if !rooms.is_empty() {
            bridge.subscribe(remote.subscriptions.note_rooms(nsp, rooms));
        }
    }

    /// A message from another machine: routed to this machine's workers as if from a worker
    /// ([`REMOTE`]), so routing by room and the answers for skipped workers apply as usual.
    pub(super) fn route_remote(&self, channel: &str, message: &[u8]) {
        // Under the lock only to place it and to recognise our own messages (half of what a hub
        // reads); decoded without it, so that the links are not held up meanwhile.
        let requester = {
            let mut state = self.lock();
            let State { board, remote, .. } = &mut *state;
            let Some(remote) = remote else {
                return;
            };
            let requester = match remote.subscriptions.get(channel) {
                Some(Channel::Responses { uid }) => Some(uid.clone()),
                Some(Channel::Namespace | Channel::Room { .. }) => None,
                // Left since it was sent (its adapter closed, its room emptied): nobody here
                // would receive it.
                None => return self.log(format!("drop a message on {channel}: not subscribed")),
            };
            if peek_uid(message).is_some_and(|uid| board.is_local_adapter(uid))
                || remote.echoes.take(message)
            {
                return self.count_echo();
            }
            requester
        };
        let (header, payload) = match decode_message(message, requester.as_deref()) {
            Ok(decoded) => decoded,
            Err(invalid) => return self.bad_remote(format!("{invalid} (on {channel})")),
        };
        let mut state = self.lock();
        if state.board.is_local_adapter(&header.uid) {
            // Our own, in a form the quick check above does not read (it reads what hubs write).
            return self.count_echo();
        }
        self.notice_plain_server(&mut state, &header);
        let recipients = match state.board.route(REMOTE, Via::Remote, &header) {
            Ok(recipients) => recipients,
            Err(reason) => {
                return self.log(format!(
                    "drop {} from Redis ({}): {reason}",
                    header.kind.name(),
                    header.uid
                ))
            }
        };
        // A broadcast from another machine takes a place in this machine's log only if it may
        // concern someone here: a worker it reaches now (routing by room skipped the others:
        // they hold none of its rooms), or a disconnected client whose stored session is in one
        // of its rooms (a broadcast to everyone concerns every session). Others would push local
        // history out of the log for nobody. And only once a worker here used recovery
        // (`Recovery::in_use`).
        let concerns_here = !recipients.links.is_empty()
            || !recipients.ipc.is_empty()
            || header.rooms.is_empty()
            || state.recovery.sessions_hold_any(&header.nsp, &header.rooms);
        // Streams mode: only ephemeral messages come over pub/sub, and the stream is the log.
        let concerns_here = concerns_here && self.streams_options().is_none();
        let message = if header.store && concerns_here && state.recovery.in_use() {
            match self.store_made(&mut state, &header, &payload) {
                Ok(frame) => Outgoing::Framed(frame),
                Err(reason) => {
                    return self.log(format!("cannot store a broadcast from Redis: {reason}"))
                }
            }
        } else {
            Outgoing::Parts {
                header: &header,
                payload: &payload,
            }
        };
        if let Err(error) = self.fan_out(&mut state, REMOTE, message, recipients, Ipc::ByEvent) {
            self.bad_remote(format!("cannot frame a {}: {error}", header.kind.name()));
        }
    }

    /// A server of another machine that never sends heartbeats is a plain server (either adapter's):
    /// without `mixedFleet`, requests between it and this machine count servers differently (see
    /// README). Said once per server, in a debug line.
    pub(super) fn notice_plain_server(&self, state: &mut State, header: &Header) {
        let mixed = self
            .options
            .redis
            .as_ref()
            .is_some_and(|r| r.count_each_worker);
        let now = self.now_ms();
        let Some(remote) = state.remote.as_mut().filter(|_| !mixed) else {
            return;
        };
        if let Some(line) = remote.plain.heard(header, now) {
            self.log(line);
        }
    }

    pub(super) fn count_echo(&self) {
        if let Some(bridge) = self.redis.get() {
            bridge.counters.echoes.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn bad_remote(&self, reason: String) {
        if let Some(bridge) = self.redis.get() {
            bridge.counters.bad_messages.fetch_add(1, Ordering::Relaxed);
        }
        self.log(format!("drop a message from Redis: {reason}"));
    }

    /// The hub closes: its adapters are gone for the other machines at once (not after their
    /// heartbeat timeout).
    pub(super) fn leave_redis(&self) {
        let Some(bridge) = self.redis.get() else {
            return;
        };
        let mut state = self.lock();
        let adapters: Vec<(String, String)> = state
            .board
            .local_adapters()
            .map(|(uid, nsp)| (uid.to_string(), nsp.to_string()))
            .collect();
        for (uid, nsp) in adapters {
            let header = Header::new(MessageType::AdapterClose, nsp, uid);
            self.publish(&mut state, &header, &[]);
        }
        drop(state);
        bridge.flush(Duration::from_millis(500));
    }

    /// The Redis channels subscribed (a gauge read under the state lock).
    pub(super) fn redis_channels(state: &State) -> f64 {
        state
            .remote
            .as_ref()
            .map_or(0.0, |r| r.subscriptions.len() as f64)
    }

    /// `stats` with the Redis bridge's counters, kept outside the state lock.
    pub(super) fn with_redis_counters(&self, stats: HubStats) -> HubStats {
        let Some(bridge) = self.redis.get() else {
            return stats;
        };
        let c = &bridge.counters;
        HubStats {
            redis_connected: bridge.is_connected(),
            redis_published: c.published.load(Ordering::Relaxed) as f64,
            redis_received: c.received.load(Ordering::Relaxed) as f64,
            redis_dropped: c.dropped.load(Ordering::Relaxed) as f64,
            redis_bad: c.bad_messages.load(Ordering::Relaxed) as f64,
            redis_echoes: c.echoes.load(Ordering::Relaxed) as f64,
            ..stats
        }
    }
}

pub(super) struct RemoteHandler {
    pub(super) shared: Weak<Shared>,
}

impl RedisHandler for RemoteHandler {
    fn on_message(&self, channel: &str, message: &[u8]) {
        if let Some(shared) = self.shared.upgrade() {
            shared.route_remote(channel, message);
        }
    }

    fn channels(&self) -> Vec<String> {
        self.shared.upgrade().map_or_else(Vec::new, |shared| {
            shared
                .lock()
                .remote
                .as_ref()
                .map_or_else(Vec::new, |r| r.subscriptions.all())
        })
    }

    fn wants(&self, channel: &str) -> bool {
        self.shared.upgrade().is_some_and(|shared| {
            shared
                .lock()
                .remote
                .as_ref()
                .is_some_and(|r| r.subscriptions.contains(channel))
        })
    }

    fn log(&self, message: String) {
        if let Some(shared) = self.shared.upgrade() {
            shared.log(message);
        }
    }

    fn on_added(&self, token: u64, id: Option<String>) {
        if let Some(shared) = self.shared.upgrade() {
            let mut state = shared.lock();
            shared.added(&mut state, token, id);
        }
    }

    fn on_read_from(&self, stream: &str, id: &str) {
        if let Some(shared) = self.shared.upgrade() {
            shared.read_from(stream, id);
        }
    }

    fn on_entries(&self, stream: &str, entries: Vec<crate::redis_bridge::RawEntry>) {
        if let Some(shared) = self.shared.upgrade() {
            shared.route_entries(stream, entries);
        }
    }
}

/// Leaves the channels nothing here needs any more (adapters closed, rooms emptied), and
/// subscribes what an adapter or room known only from the board needs. Under the lock, so it
/// costs only what changed since the last turn (see [`Subscriptions::reconcile`]), never a walk of
/// every room: `hubStats()` and the links wait for this lock.
pub(super) async fn reconcile_loop(shared: Weak<Shared>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    let mut more = false;
    loop {
        if more {
            // Rooms are left to look at: after letting the links' frames through, at once.
            tokio::task::yield_now().await;
        } else {
            every.tick().await;
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut state = shared.lock();
        let State { board, remote, .. } = &mut *state;
        let (Some(bridge), Some(remote)) = (shared.redis.get(), remote.as_mut()) else {
            return;
        };
        let changes = remote.subscriptions.reconcile(board);
        more = changes.more;
        bridge.subscribe(changes.subscribe);
        bridge.unsubscribe(changes.unsubscribe);
        shared.recount(&mut state);
    }
}
