//! How `hubStats()` reads the hub's counters and gauges ([`HubStats`]) without waiting for a long
//! hold of the state lock.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::state::{Shared, State};
use super::Hub;
use crate::stats::HubStats;

impl Hub {
    /// The hub's counters and gauges. Never waits for a long operation of the hub (a message of
    /// 500,000 rooms holds the state lock for a good part of a second, and the primary's
    /// JavaScript thread calls this): if the state lock stays held, the gauges read under it
    /// (links, queues, log, sessions, tables, channels) are those of the last reading, and the
    /// counters kept outside it are current.
    pub fn stats(&self) -> HubStats {
        // Routing holds the lock for microseconds: a reading is nearly always fresh.
        let deadline = Instant::now() + Duration::from_millis(2);
        loop {
            match self.shared.state.try_lock() {
                Ok(state) => return self.read_stats(&state),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                    return self.read_stats(&poisoned.into_inner())
                }
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(std::sync::TryLockError::WouldBlock) => break,
            }
        }
        let last = self
            .shared
            .last_gauges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        self.with_counters(last)
    }

    /// `gauges` with the counters kept outside the state lock, read now.
    fn with_counters(&self, gauges: HubStats) -> HubStats {
        let c = &self.shared.counters;
        HubStats {
            frames_in: c.frames_in.load(Ordering::Relaxed) as f64,
            frames_out: c.frames_out.load(Ordering::Relaxed) as f64,
            bytes_in: c.bytes_in.load(Ordering::Relaxed) as f64,
            bytes_out: c.bytes_out.load(Ordering::Relaxed) as f64,
            rejected_links: c.rejected_links.load(Ordering::Relaxed) as f64,
            overflows: c.overflows.load(Ordering::Relaxed) as f64,
            bad_frames: c.bad_frames.load(Ordering::Relaxed) as f64,
            skipped: c.skipped.load(Ordering::Relaxed) as f64,
            answered: c.answered.load(Ordering::Relaxed) as f64,
            unstored: c.unstored.load(Ordering::Relaxed) as f64,
            bridge_bytes: self.shared.backlog.bytes() as f64,
            bridge_dropped: self.shared.backlog.dropped() as f64,
            ..self.shared.with_redis_counters(gauges)
        }
    }

    /// The gauges read under the state lock (kept as the last reading), with the counters.
    fn read_stats(&self, state: &State) -> HubStats {
        let (uids, uid_bytes, uids_refused) = state.board.adapter_stats();
        let gauges = HubStats {
            links: state.links.len() as f64,
            queued_bytes: state.links.values().map(|s| s.queue.bytes() as f64).sum(),
            log_packets: state.recovery.log_len() as f64,
            log_bytes: state.recovery.log_bytes() as f64,
            sessions: state.recovery.sessions() as f64,
            session_bytes: state.recovery.session_bytes() as f64,
            sessions_dropped: state.recovery.sessions_dropped() as f64,
            uids: uids as f64,
            uid_bytes: uid_bytes as f64,
            uids_refused: uids_refused as f64,
            room_bytes: state.board.rooms().bytes() as f64,
            room_overflows: state.board.rooms().overflows() as f64,
            redis_channels: Shared::redis_channels(state),
            ..HubStats::default()
        };
        *self
            .shared
            .last_gauges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = gauges.clone();
        self.with_counters(gauges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::HubOptions;
    use std::sync::Arc;

    #[test]
    fn stats_never_wait_for_a_long_hold_of_the_state_lock() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let hub = Hub::start(runtime.handle(), HubOptions::default(), Arc::new(|_| {})).unwrap();
        let first = hub.stats();
        hub.shared
            .counters
            .frames_in
            .fetch_add(7, Ordering::Relaxed);
        // As a message of 500,000 rooms would, for a good part of a second.
        let held = hub.shared.lock();
        let started = Instant::now();
        let stats = hub.stats();
        assert!(started.elapsed() < Duration::from_secs(1), "stats() waited");
        assert_eq!(
            stats.frames_in,
            first.frames_in + 7.0,
            "counters are current"
        );
        assert_eq!(stats.links, first.links, "gauges are the last reading");
        drop(held);
    }
}
