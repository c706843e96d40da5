//! Routing under the state lock: what a link brings (after connection state recovery's part),
//! and the one way every routed message goes out to its recipients ([`Shared::fan_out`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use sio_cluster_core::{
    encode_frame, FrameError, Header, MessageType, RawFrame, Recipients, Recovery, Reply, Via,
    WorkerId, IPC_PIN, PRIMARY, REMOTE,
};

use super::state::{decode_one, Shared, State};
use crate::error::HubError;
use crate::event::HubEvent;

impl Shared {
    /// A broadcast made here (the Emitter's, or one from another machine) takes its place in the
    /// packet log: the frame to relay, with its offset.
    pub(super) fn store_made(
        &self,
        state: &mut State,
        header: &Header,
        payload: &[u8],
    ) -> Result<RawFrame, HubError> {
        let unreadable = || FrameError::BadHeader("cannot re-read a frame made here".into());
        let frame = decode_one(&encode_frame(header, payload)?).ok_or_else(unreadable)?;
        let (relayed, _ack) = state.recovery.store(&frame, self.now_ms())?;
        Ok(decode_one(&relayed).ok_or_else(unreadable)?)
    }

    /// Hub-only frames (connection state recovery) are answered here, never relayed; a broadcast
    /// to store gets its offset first. Returns the frame to route, if any, and what to send back
    /// to the sender afterwards.
    pub(super) fn recovery_step(
        &self,
        state: &mut State,
        from: WorkerId,
        frame: RawFrame,
    ) -> (Option<RawFrame>, Option<Reply>) {
        let kind = frame.header.kind;
        let recovery = kind.is_hub_only() || (kind == MessageType::Broadcast && frame.header.store);
        if !recovery {
            return (Some(frame), None); // the common case: nothing to do, not even read the clock
        }
        state.recovery.note_in_use();
        let now = self.now_ms();
        let outcome = match kind {
            MessageType::Broadcast if frame.header.store => {
                match state.recovery.store(&frame, now) {
                    Ok((relayed, ack)) => {
                        if let Some(relayed) = decode_one(&relayed) {
                            return (Some(relayed), Some(Reply::new(ack)));
                        }
                    }
                    Err(error) => self.log(format!(
                        "worker {from}: a broadcast is delivered without storing it: {error}"
                    )),
                }
                self.counters.unstored.fetch_add(1, Ordering::Relaxed);
                let (relayed, ack) = Recovery::unstored(&frame);
                return (
                    relayed.as_deref().and_then(decode_one),
                    Some(Reply::new(ack)),
                );
            }
            MessageType::PersistSession => state.recovery.persist(&frame, now).map(|note| {
                if let Some(note) = note {
                    self.log(format!("worker {from}: {note}"));
                }
                None
            }),
            MessageType::RestoreSession => state.recovery.restore(&frame, now).map(|reply| {
                if let Some(note) = &reply.note {
                    self.log(format!("worker {from}: {note}"));
                }
                Some(reply)
            }),
            _ => Err("only the hub sends it".to_string()),
        };
        match outcome {
            Ok(reply) => (None, reply),
            Err(reason) => {
                self.log(format!("drop {} from worker {from}: {reason}", kind.name()));
                (None, None)
            }
        }
    }

    /// Routes one frame read from `from`'s link. Called with the lock held, so that it is ordered
    /// with `switch` (see the module's "Ordering").
    pub(super) fn route_link_frame(&self, state: &mut State, from: WorkerId, frame: RawFrame) {
        self.counters.frames_in.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_in
            .fetch_add(frame.bytes.len() as u64, Ordering::Relaxed);
        self.note_adapter(state, &frame.header);
        if frame.header.kind == MessageType::ServerCount {
            return self.count_servers(state, from, frame.header);
        }
        if frame.header.kind == MessageType::RoomsChanged {
            if frame.header.store {
                // A link's first frames: an adapter there will recover (`Recovery::in_use`).
                state.recovery.note_in_use();
            }
            self.note_rooms(state, &frame.header.nsp, &frame.header.joined);
            return state.board.rooms_changed(from, &frame.header);
        }
        if self.streams_options().is_some() {
            // Streams mode: recovery is Redis's (hub/streams.rs).
            return self.route_link_frame_streams(state, from, frame);
        }
        let (frame, reply) = self.recovery_step(state, from, frame);
        if let Some(frame) = frame {
            self.route(state, from, frame);
        }
        // After routing: the sender delivers a stored broadcast to its own sockets only once it
        // has the offset, so nothing routed before reaches them after it.
        if let Some(reply) = reply {
            self.answer_worker(state, from, reply);
        }
    }

    /// Queues the hub's answer to a recovery request on the worker's link.
    pub(super) fn answer_worker(&self, state: &mut State, from: WorkerId, reply: Reply) {
        let Reply { bytes, joins, note } = reply;
        if let Some(note) = note {
            self.log(format!("worker {from}: {note}"));
        }
        self.queue_for_links(state, &[from], &bytes.into());
        // A restored session's sockets join its rooms when the worker applies the reply.
        if let Some((nsp, rooms)) = joins {
            self.pin_for_links(state, &[from], &nsp, &rooms);
            self.note_rooms(state, &nsp, &rooms);
        }
    }

    /// Routes the frames every link brought during this turn, the rooms that workers report
    /// first. Two frames read in the same turn were both in the hub's sockets before either was
    /// routed, so neither caused the other: a worker's new room is then known before routing a
    /// message that may have been caused by that worker's join (a client told of it, which told
    /// another worker's client) and reached the hub as fast. (A room reported gone first only
    /// spares a worker a message it would drop.)
    pub(super) fn route_inbox(&self, state: &mut State) {
        let frames = std::mem::take(&mut state.inbox);
        let (rooms, others): (Vec<_>, Vec<_>) = frames
            .into_iter()
            .partition(|(_, frame)| frame.header.kind == MessageType::RoomsChanged);
        for (worker, frame) in rooms.into_iter().chain(others) {
            self.route_link_frame(state, worker, frame);
        }
    }

    pub(super) fn route(&self, state: &mut State, from: WorkerId, frame: RawFrame) {
        match state.board.route(from, Via::Link, &frame.header) {
            Ok(recipients) => {
                let kind = frame.header.kind;
                let message = Outgoing::Framed(frame);
                if let Err(error) = self.fan_out(state, from, message, recipients, Ipc::ByEvent) {
                    self.log(format!("drop {} from worker {from}: {error}", kind.name()));
                }
            }
            Err(reason) => self.log(format!(
                "drop {} from worker {from}: {reason}",
                frame.header.kind.name()
            )),
        }
    }

    /// Sends a routed message on its way, the same way whatever its source: published for the
    /// other machines, queued on the recipients' links (one allocation shared by all), then what
    /// routing by room adds ([`Shared::after_routing`]), then handed to the primary's JS for the
    /// recipients on IPC, or, with [`Ipc::ByCaller`], returned to the caller, which sends them the
    /// message over IPC as it came. Answers and pins go with the queued frames; the order between
    /// what IPC workers get and the answers a requester gets does not matter, they are different
    /// workers.
    pub(super) fn fan_out(
        &self,
        state: &mut State,
        from: WorkerId,
        message: Outgoing<'_>,
        recipients: Recipients,
        ipc: Ipc,
    ) -> Result<Vec<WorkerId>, HubError> {
        if recipients.remote {
            self.publish(state, message.header(), message.payload());
        }
        let by_event = ipc == Ipc::ByEvent && !recipients.ipc.is_empty();
        let mut made = None;
        let mut message = message;
        match &mut message {
            Outgoing::Framed(frame) if !recipients.links.is_empty() => {
                let bytes: Arc<[u8]> = if by_event {
                    frame.bytes.as_slice().into()
                } else {
                    std::mem::take(&mut frame.bytes).into()
                };
                self.queue_for_links(state, &recipients.links, &bytes);
            }
            Outgoing::Framed(_) => {}
            Outgoing::Parts { header, payload } if !recipients.links.is_empty() || by_event => {
                let bytes: Arc<[u8]> = encode_frame(header, payload)?.into();
                self.queue_for_links(state, &recipients.links, &bytes);
                if by_event {
                    made = decode_one(&bytes);
                }
            }
            Outgoing::Parts { .. } => {}
        }
        self.after_routing(state, from, message.header(), &recipients);
        if !by_event {
            return Ok(recipients.ipc);
        }
        let frame = match message {
            Outgoing::Framed(frame) => Some(frame),
            Outgoing::Parts { .. } => made,
        };
        if let Some(frame) = frame {
            (self.sink)(HubEvent::Deliver {
                to: recipients.ipc,
                frame: Arc::new(frame),
            });
        }
        Ok(Vec::new())
    }

    /// What routing by room adds once a message is on its way: a join pins its rooms in the
    /// recipients' views, and the hub answers a request for the workers it skipped.
    pub(super) fn after_routing(
        &self,
        state: &mut State,
        from: WorkerId,
        header: &Header,
        recipients: &Recipients,
    ) {
        if header.kind == MessageType::SocketsJoin && !header.joined.is_empty() {
            // A join from another machine that reached no worker here joins nobody here: it
            // subscribes nothing (one message from Redis costs no channels for rooms nobody here
            // has; a worker it reached holds them, pinned below, and reports what it joined).
            let reached = !recipients.links.is_empty() || !recipients.ipc.is_empty();
            if from != REMOTE || reached {
                self.note_rooms(state, &header.nsp, &header.joined);
            }
            self.pin_for_links(state, &recipients.links, &header.nsp, &header.joined);
            // socket.io-adapter publishes a join before it applies it to the sender's own
            // sockets, so the sender's report of the rooms it joined comes after anything it sends
            // right after the join: hold them for it until its next report (which it sends after
            // applying the join), as for a worker on IPC.
            for &worker in recipients.ipc.iter().chain([&from]) {
                state
                    .board
                    .pin(worker, &header.nsp, &header.joined, IPC_PIN);
            }
        }
        if recipients.skipped.is_empty() {
            return;
        }
        self.counters
            .skipped
            .fetch_add(recipients.skipped.len() as u64, Ordering::Relaxed);
        let answers = state.board.answers(header, &recipients.skipped);
        let Some(via) = state.board.via(from).filter(|&via| via != Via::Gone) else {
            return;
        };
        for answer in answers {
            self.counters.answered.fetch_add(1, Ordering::Relaxed);
            let to = Recipients::one(from, via);
            self.send_made(state, &answer.header, &answer.payload, to);
        }
    }

    /// Pins `rooms` of `nsp` for workers whose link just had a frame joining them queued: at
    /// that frame's sequence number.
    fn pin_for_links(&self, state: &mut State, links: &[WorkerId], nsp: &str, rooms: &[String]) {
        for &worker in links {
            // A link closed by this very push (its queue overflowed) has no slot any more.
            if let Some(sequence) = state.links.get(&worker).map(|slot| slot.queued) {
                state.board.pin(worker, nsp, rooms, sequence);
            }
        }
    }

    pub(super) fn queue_for_links(&self, state: &mut State, links: &[WorkerId], frame: &Arc<[u8]>) {
        let mut overflowed = Vec::new();
        for worker in links {
            let Some(slot) = state.links.get_mut(worker) else {
                continue;
            };
            match slot.queue.push(frame.clone()) {
                Ok(()) => {
                    slot.queued += 1;
                    slot.wake_writer.notify_one();
                }
                Err(overflow) => overflowed.push((*worker, slot.id, overflow)),
            }
        }
        for (worker, link_id, overflow) in overflowed {
            self.counters.overflows.fetch_add(1, Ordering::Relaxed);
            self.close_link(
                state,
                worker,
                link_id,
                format!("disconnected, it does not keep up: {overflow}"),
            );
        }
    }

    /// Closes a worker's link (if `link_id` is still its current one): it is gone for the others
    /// at once, and receives nothing until it speaks again.
    pub(super) fn close_link(
        &self,
        state: &mut State,
        worker: WorkerId,
        link_id: u64,
        reason: String,
    ) {
        match state.links.get(&worker) {
            Some(slot) if slot.id == link_id => {}
            _ => return,
        }
        if let Some(slot) = state.links.remove(&worker) {
            slot.shutdown.notify_one();
        }
        self.log(format!("link of worker {worker} closed: {reason}"));
        // A standalone hub's worker has no other way to it: its link gone, it is gone.
        let orphans = if self.options.standalone.is_some() {
            state.pids.remove(&worker);
            state.board.remove_worker(worker)
        } else {
            state.board.link_closed(worker)
        };
        self.announce_closed(state, worker, orphans);
    }

    /// [`Shared::close_link`] from a task that does not hold the lock.
    pub(super) fn close_link_now(&self, worker: WorkerId, link_id: u64, reason: String) {
        let mut state = self.lock();
        self.close_link(&mut state, worker, link_id, reason);
    }

    /// Tells every other worker, in the protocol they already speak, that these adapters closed.
    pub(super) fn announce_closed(
        &self,
        state: &mut State,
        worker: WorkerId,
        orphans: Vec<(String, String)>,
    ) {
        for (uid, nsp) in orphans {
            let header = Header::new(MessageType::AdapterClose, nsp, uid);
            let to = state.board.others(worker);
            self.send_made(state, &header, &[], to);
        }
    }

    /// Sends a message the hub made itself (an answer, an ADAPTER_CLOSE) to `recipients`.
    pub(super) fn send_made(
        &self,
        state: &mut State,
        header: &Header,
        payload: &[u8],
        recipients: Recipients,
    ) {
        let message = Outgoing::Parts { header, payload };
        // Nobody is left out of what the hub makes: nothing to answer for anyone.
        let recipients = Recipients {
            skipped: Vec::new(),
            ..recipients
        };
        if let Err(error) = self.fan_out(state, PRIMARY, message, recipients, Ipc::ByEvent) {
            self.log(format!("cannot send a {}: {error}", header.kind.name()));
        }
    }
}

/// A message on its way out, in the form it reached the hub. (It lives for one call on the stack:
/// boxing the frame would cost an allocation per frame.)
#[allow(clippy::large_enum_variant)]
pub(super) enum Outgoing<'a> {
    /// Framed already: read from a link, or made and stored here.
    Framed(RawFrame),
    /// Its header and payload (from IPC, or made here): framed only if a recipient needs it.
    Parts {
        header: &'a Header,
        payload: &'a [u8],
    },
}

impl Outgoing<'_> {
    fn header(&self) -> &Header {
        match self {
            Outgoing::Framed(frame) => &frame.header,
            Outgoing::Parts { header, .. } => header,
        }
    }

    fn payload(&self) -> &[u8] {
        match self {
            Outgoing::Framed(frame) => frame.payload(),
            Outgoing::Parts { payload, .. } => payload,
        }
    }
}

/// How the recipients on IPC get a message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ipc {
    /// A [`HubEvent::Deliver`] to the primary's JS, with the frame.
    ByEvent,
    /// The caller sends them the message as it came over IPC: `fan_out` returns them.
    ByCaller,
}
