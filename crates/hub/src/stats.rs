//! The hub's counters and gauges, as `hubStats()` returns them: the one list of their names (the
//! binding hands this struct to JavaScript as it is).

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubStats {
    pub links: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub queued_bytes: u64,
    pub rejected_links: u64,
    pub overflows: u64,
    pub bad_frames: u64,
    pub log_packets: u64,
    pub log_bytes: u64,
    pub sessions: u64,
    /// Bytes the sessions retain (counted against `recovery.max_session_bytes`).
    pub session_bytes: u64,
    /// Sessions evicted or refused at `recovery.max_sessions` or `max_session_bytes`.
    pub sessions_dropped: u64,
    /// Deliveries to a worker avoided because it holds none of a message's rooms.
    pub skipped: u64,
    /// Answers the hub sent in the name of skipped workers.
    pub answered: u64,
    /// Broadcasts a worker asked to store that were delivered without an offset (one whose frame
    /// could not carry its offset within the frame limit).
    pub unstored: u64,
    /// Redis: connected now, messages published and received, publishes dropped (Redis away),
    /// received messages that were not valid, our own messages heard back, channels subscribed.
    pub redis_connected: bool,
    pub redis_published: u64,
    pub redis_received: u64,
    pub redis_dropped: u64,
    pub redis_bad: u64,
    pub redis_echoes: u64,
    pub redis_channels: u64,
    /// Bytes of events waiting for the primary's JS (the IPC bridge), and events dropped because
    /// they would have exceeded `max_queue_bytes` there (see [`Backlog`]).
    pub bridge_bytes: u64,
    pub bridge_dropped: u64,
    /// The adapters (uids) the hub knows, their bytes in its table, and messages dropped because
    /// their sender already held as many adapters as a worker may
    /// ([`sio_cluster_core::MAX_ADAPTER_BYTES`], at most a quarter of `max_queue_bytes`).
    pub uids: u64,
    pub uid_bytes: u64,
    pub uids_refused: u64,
    /// The bytes of the workers' room views ([`sio_cluster_core::MAX_ROOM_BYTES`] per worker), and
    /// the times a worker's views reached that bound and were folded (it then gets every message
    /// addressed to rooms).
    pub room_bytes: u64,
    pub room_overflows: u64,
}
