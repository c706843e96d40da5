//! The bytes of hub events waiting for the primary's JavaScript thread (the IPC bridge).
//!
//! The hub hands frames for workers still on IPC (the reference's workers, ours before they link)
//! to the primary's JS, which sends them over IPC. When that thread is busy, what the hub hands it
//! waits in a queue the hub does not own (napi's threadsafe function queue has no bound): one
//! worker flooding a worker on IPC while the primary's event loop was blocked for 6 s took the
//! primary from 51 to 1,830 MB. So every event is counted here from the moment the hub emits it
//! until the JS thread takes it ([`Backlog::taken`]).
//!
//! The bound: the bytes waiting are at most `maxQueueBytes`, once for the whole bridge (not per
//! IPC worker): one JS thread serves every worker on IPC, so when it stalls it stalls for all of
//! them, and a bound per worker would multiply the memory by the number of workers. Reaching it:
//! a frame for workers on IPC (or a debug line) is dropped and counted (`bridgeDropped` in
//! `hubStats()`), with one debug line when dropping starts and one when the JS thread has caught
//! up. A worker on IPC then misses messages as a linked worker whose queue overflows would (and
//! requests to it end at their timeout). The marker a worker waits for to complete its switch to
//! its link ([`HubEvent::Flushed`]) is counted but never dropped: there is at most one per link.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::event::HubEvent;

/// What an event costs besides the bytes it carries (its box in the queue, its fields).
const EVENT_OVERHEAD: usize = 64;
/// What each string of a decoded header costs besides its bytes (which the frame's bytes count).
const STRING_OVERHEAD: usize = 32;

#[derive(Debug)]
pub struct Backlog {
    max_bytes: usize,
    bytes: AtomicUsize,
    dropped: AtomicU64,
    /// Dropping since the last time the JS thread caught up.
    overflowing: AtomicBool,
}

impl Backlog {
    pub fn new(max_bytes: usize) -> Backlog {
        Backlog {
            max_bytes,
            bytes: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            overflowing: AtomicBool::new(false),
        }
    }

    /// The bytes `event` holds until the JS thread takes it.
    pub fn cost(event: &HubEvent) -> usize {
        EVENT_OVERHEAD
            + match event {
                HubEvent::Deliver { to, frame } => {
                    let header = &frame.header;
                    let strings = header.rooms.len()
                        + header.except.len()
                        + header.joined.len()
                        + header.left.len()
                        + 4;
                    frame.bytes.len() + to.len() * 4 + strings * STRING_OVERHEAD
                }
                HubEvent::Flushed { .. } => 0,
                HubEvent::Log { message } => message.len(),
            }
    }

    /// Counts `event` in, or says to drop it (counted) because the bridge is full. Returns the
    /// line to log first, when dropping starts or stops.
    pub fn admit(&self, event: &HubEvent) -> (bool, Option<String>) {
        let cost = Self::cost(event);
        let waiting = self.bytes.load(Ordering::Relaxed);
        let mut line = None;
        if self.overflowing.load(Ordering::Relaxed)
            && waiting <= self.max_bytes / 2
            && self.overflowing.swap(false, Ordering::Relaxed)
        {
            line = Some(format!(
                "the primary's JS caught up with the IPC bridge ({} messages for workers on IPC dropped so far)",
                self.dropped.load(Ordering::Relaxed)
            ));
        }
        let never_dropped = matches!(event, HubEvent::Flushed { .. });
        // The rule: the bytes waiting for the primary's JS stay within maxQueueBytes.
        if !never_dropped && waiting.saturating_add(cost) > self.max_bytes {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if !self.overflowing.swap(true, Ordering::Relaxed) {
                line = Some(format!(
                    "the IPC bridge is full ({waiting} bytes waiting for the primary's JS, maxQueueBytes {}): dropping messages for workers on IPC until it catches up",
                    self.max_bytes
                ));
            }
            return (false, line);
        }
        self.bytes.fetch_add(cost, Ordering::Relaxed);
        (true, line)
    }

    /// Counts in a line about the bridge itself, which is never dropped (see [`Backlog::admit`]).
    pub fn admit_always(&self, event: &HubEvent) {
        self.bytes.fetch_add(Self::cost(event), Ordering::Relaxed);
    }

    /// The JS thread took `event` (or it was discarded): its bytes are free.
    pub fn taken(&self, event: &HubEvent) {
        self.release(Self::cost(event));
    }

    /// Frees `cost` bytes, as [`Backlog::cost`] counted them.
    pub fn release(&self, cost: usize) {
        let _ = self
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bytes| {
                Some(bytes.saturating_sub(cost))
            });
    }

    /// Bytes waiting for the JS thread now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Events dropped because the bridge was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
