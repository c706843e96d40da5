//! Connection state recovery in the hub: the cluster-wide packet log and the sessions of
//! disconnected sockets. Sans-IO: time is passed in (milliseconds), payloads are opaque bytes.
//!
//! Design. Every broadcast a worker asks to store goes through the hub, which gives it the next
//! position of one log shared by the whole cluster, before anything delivers it: the sender
//! delivers to its own sockets only once the hub has answered with the offset, and the hub queues
//! that answer on the sender's link after every frame it routed earlier. So the order in which a
//! client receives stored packets is the log's order, whatever worker emitted them, and the offset
//! it last saw names one position: what it missed is exactly what follows, filtered by its rooms
//! as socket.io-adapter's `SessionAwareAdapter` filters (`shouldIncludePacket`).
//!
//! Bounds. The log keeps at most `max_packets` entries and `max_bytes` of retained bytes (payload,
//! namespace, room and except lists, per-entry overhead: [`LogEntry::retained_bytes`]), and nothing
//! older than the longest `maxDisconnectionDuration` it was told about; sessions likewise. When
//! what follows an offset is no longer all there, a restore fails (the client gets a new
//! session) rather than delivering a partial history. A restore is read one page at a time.

//!
//! The pieces: [`PacketLog`] (log.rs), [`SessionStore`] (sessions.rs), and [`Recovery`]
//! (requests.rs), which reads the workers' requests and writes the hub's answers around them.

mod log;
mod requests;
mod sessions;

pub use crate::error::RestoreError;
pub use log::{LogEntry, PacketLog, Page};
pub use requests::{
    answer_restore, read_persist_request, read_restore_request, Joins, PersistedRequest, Recovery,
    Reply, RestoredSession,
};
pub use sessions::{Persisted, Session, SessionStore};

use crate::view::View;

/// socket.io's default `maxDisconnectionDuration`: packets are kept that long at least, until a
/// session says its server allows longer (sessions carry their server's duration).
pub const DEFAULT_RETENTION_MS: u64 = 2 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryLimits {
    pub max_packets: usize,
    pub max_bytes: usize,
    pub max_sessions: usize,
    /// Bytes retained by sessions (`socket.data`, ids, rooms, overhead).
    pub max_session_bytes: usize,
    /// Packets per page of a restore.
    pub page_packets: usize,
    /// Payload bytes per page of a restore (at least one packet per page).
    pub page_bytes: usize,
}

impl Default for RecoveryLimits {
    fn default() -> Self {
        RecoveryLimits {
            max_packets: 100_000,
            max_bytes: 64 * 1024 * 1024,
            max_sessions: 100_000,
            max_session_bytes: 64 * 1024 * 1024,
            page_packets: 1000,
            page_bytes: 1024 * 1024,
        }
    }
}

/// What a `String` held in a list costs: its 24 bytes in the list, and its heap block as glibc's
/// malloc gives it (the length rounded up to 16, plus 16 of the allocator's own; measured with
/// the scale suite: a stored broadcast to 100,000 rooms of 10-character names retained about
/// 58 bytes a room, where the length plus 24 counted 34).
pub(crate) fn string_cost(text: &str) -> usize {
    std::mem::size_of::<String>() + text.len().next_multiple_of(16) + 16
}

/// Whether a worker with connection state recovery on gives this message's packet an offset
/// (socket.io-adapter's `addOffsetIfNecessary`: a BROADCAST without acknowledgements of an EVENT
/// packet without an id, `flags.volatile` absent). A broadcast the hub did not get from a worker
/// (the primary's Emitter's, another machine's) is stored in the log when it is one of these: a
/// worker that stores appends whatever offset arrives, even none, and a client that recovers must
/// get it; once a worker uses recovery (`Recovery::in_use`), it is stored.
pub fn stored_by_workers<V: View>(message: &V) -> bool {
    let Some(data) = message.field("data") else {
        return false;
    };
    let Some(packet) = data.field("packet") else {
        return false;
    };
    message.field("type").and_then(|t| t.number()) == Some(3.0)
        && data.field("requestId").is_none()
        && packet.field("type").and_then(|t| t.number()) == Some(2.0)
        && packet.field("id").is_none()
        && data
            .field("opts")
            .and_then(|opts| opts.field("flags"))
            .and_then(|flags| flags.field("volatile"))
            .is_none()
}

#[cfg(test)]
pub(crate) fn test_limits() -> RecoveryLimits {
    RecoveryLimits {
        max_packets: 5,
        max_bytes: 100_000,
        max_sessions: 2,
        max_session_bytes: 1024 * 1024,
        page_packets: 2,
        page_bytes: 1000,
    }
}
