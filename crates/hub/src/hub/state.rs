//! What the hub's tasks share: the state every routing decision reads and changes, under one lock,
//! and what is counted or set outside it.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

use sio_cluster_core::{
    FrameDecoder, OutQueue, RawFrame, Recovery, Switchboard, WorkerId, PRIMARY, REMOTE,
};
use tokio::sync::{oneshot, Notify};

use super::remote_state::RemoteState;
use super::HubOptions;
use crate::backlog::Backlog;
use crate::event::{EventSink, HubEvent};
use crate::redis_bridge::RedisBridge;
use crate::stats::HubStats;

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// The caller's sink behind the bound of the IPC bridge ([`Backlog`]).
    pub(super) sink: EventSink,
    pub(super) backlog: Arc<Backlog>,
    pub(super) options: HubOptions,
    pub(super) counters: Counters,
    pub(super) next_link_id: AtomicU64,
    pub(super) started: Instant,
    pub(super) redis: OnceLock<RedisBridge>,
    /// For the tasks it spawns (a server count waits for Redis).
    pub(super) me: Weak<Shared>,
    /// The gauges last read under the state lock, for a `stats()` that finds it held.
    pub(super) last_gauges: Mutex<HubStats>,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) frames_in: AtomicU64,
    pub(super) frames_out: AtomicU64,
    pub(super) bytes_in: AtomicU64,
    pub(super) bytes_out: AtomicU64,
    pub(super) rejected_links: AtomicU64,
    pub(super) overflows: AtomicU64,
    pub(super) bad_frames: AtomicU64,
    pub(super) skipped: AtomicU64,
    pub(super) answered: AtomicU64,
    pub(super) unstored: AtomicU64,
}

pub(super) struct State {
    pub(super) board: Switchboard,
    pub(super) recovery: Recovery,
    /// The pid of each cluster worker, as the primary registered it (a standalone hub: of each
    /// linked process, as the socket told).
    pub(super) pids: HashMap<WorkerId, u32>,
    pub(super) links: HashMap<WorkerId, LinkSlot>,
    /// Frames read from the links during this turn of the hub's runtime, not routed yet (see
    /// [`Shared::route_inbox`]).
    pub(super) inbox: Vec<(WorkerId, RawFrame)>,
    /// The Redis half's own state (with a Redis bridge).
    pub(super) remote: Option<RemoteState>,
    /// A standalone hub names its workers: the last name given.
    pub(super) last_named: WorkerId,
}

impl State {
    /// A name for a worker of a standalone hub: one no live worker has, never the primary's or
    /// the other machines'.
    pub(super) fn name_worker(&mut self) -> WorkerId {
        loop {
            self.last_named = self.last_named.wrapping_add(1);
            let worker = self.last_named;
            if worker != PRIMARY && worker != REMOTE && !self.pids.contains_key(&worker) {
                return worker;
            }
        }
    }
}

/// The hub's end of one worker's link.
pub(super) struct LinkSlot {
    pub(super) id: u64,
    pub(super) queue: OutQueue<Arc<[u8]>>,
    /// Frames queued on this link so far: the sequence number of the last one (the first frame
    /// after the handshake is 1). The worker counts the frames it applies the same way and
    /// reports the count in ROOMS_CHANGED, which tells which joins it had applied.
    pub(super) queued: u64,
    pub(super) wake_writer: Arc<Notify>,
    pub(super) shutdown: Arc<Notify>,
    /// Releases the frames the worker sent before it switched; taken by `switch`.
    pub(super) release: Option<oneshot::Sender<()>>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves routing state that is still consistent enough
        // to keep relaying; refusing every later message would be worse.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn log(&self, message: String) {
        (self.sink)(HubEvent::Log { message });
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// The frame in `bytes` (one the hub framed itself).
pub(super) fn decode_one(bytes: &[u8]) -> Option<RawFrame> {
    let mut decoder = FrameDecoder::new(usize::MAX);
    decoder.push(bytes);
    decoder.next_raw_frame().ok().flatten()
}
