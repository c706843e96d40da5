//! The hub's counters and gauges, as `hubStats()` returns them: the one list of their names. The
//! binding (the root crate, with this crate's `napi` feature) hands this struct to JavaScript as
//! it is, and its TypeScript type (native.d.ts, re-exported by index.d.ts) is generated from it,
//! these comments included. Numbers are JavaScript numbers: exact up to 2^53.

/// The hub's counters, in the primary after `setupPrimary()`.
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HubStats {
    /// Workers linked to the hub now.
    pub links: f64,
    /// Frames read from the workers' links, and frames written to them.
    pub frames_in: f64,
    pub frames_out: f64,
    /// Bytes read from the links, and written to them.
    pub bytes_in: f64,
    pub bytes_out: f64,
    /// Bytes queued for the links now (at most `maxQueueBytes` per worker).
    pub queued_bytes: f64,
    /// Connections refused (wrong secret, unknown pid, no hello in time).
    pub rejected_links: f64,
    /// Links closed because their worker did not keep up (its queue passed `maxQueueBytes`).
    pub overflows: f64,
    /// Links closed on a malformed frame.
    pub bad_frames: f64,
    /// Packets and bytes in the recovery log (at most `recovery.maxPackets`, `recovery.maxBytes`).
    pub log_packets: f64,
    pub log_bytes: f64,
    /// Sessions of disconnected sockets held for recovery.
    pub sessions: f64,
    /// Bytes the sessions retain, at most `recovery.maxSessionBytes`.
    pub session_bytes: f64,
    /// Sessions evicted or refused at `recovery.maxSessions` or `recovery.maxSessionBytes`.
    pub sessions_dropped: f64,
    /// Deliveries to a worker avoided because it holds none of a message's rooms.
    pub skipped: f64,
    /// Answers the hub sent in the name of skipped workers.
    pub answered: f64,
    /// Broadcasts a worker asked to store that were delivered without an offset (their frame could
    /// not carry one within the 64 MiB frame limit).
    pub unstored: f64,
    /// Redis: connected now.
    pub redis_connected: bool,
    /// Redis: messages published, and received.
    pub redis_published: f64,
    pub redis_received: f64,
    /// Redis: cross-machine messages lost while Redis was away.
    pub redis_dropped: f64,
    /// Redis: malformed messages received (dropped).
    pub redis_bad: f64,
    /// Redis: this machine's own messages heard back (ignored).
    pub redis_echoes: f64,
    /// Redis: channels subscribed.
    pub redis_channels: f64,
    /// Bytes waiting for the primary's JavaScript to send them to workers on IPC (at most
    /// `maxQueueBytes`).
    pub bridge_bytes: f64,
    /// Messages for workers on IPC dropped because they would have exceeded that bound.
    pub bridge_dropped: f64,
    /// Adapters (one per worker and namespace) the hub knows, and their bytes in its table.
    pub uids: f64,
    pub uid_bytes: f64,
    /// Messages dropped because their sender already held as many adapters as a worker may.
    pub uids_refused: f64,
    /// Bytes of the workers' room views (routing by room), at most 64 MiB per worker.
    pub room_bytes: f64,
    /// Times a worker's room views reached that bound (it then gets every message to rooms).
    pub room_overflows: f64,
}
