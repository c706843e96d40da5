//! Plain `@socket.io/redis-adapter` servers among the other machines' servers. Ours send
//! heartbeats (socket.io-adapter's `ClusterAdapterWithHeartbeat`); plain redis-adapter servers
//! never do. Without `mixedFleet`, requests between such a server and this machine count servers
//! differently (see README), which is worth a debug line, once per server. Time is passed in.

use std::collections::{HashMap, HashSet};

use crate::header::Header;
use crate::message::MessageType;
use crate::message::EMITTER_UID;

/// Servers remembered at most in each set: heartbeating ones are heard again within a heartbeat
/// interval when a set is cleared, so clearing costs at most a late report.
const MAX_REMEMBERED: usize = 10_000;
/// Longer than any sensible heartbeat interval (socket.io-adapter's default is 5 s): a server of
/// ours whose first heartbeat was missed (sent before this hub subscribed) sends the next one
/// within it.
pub const SILENCE_MS: u64 = 30_000;

#[derive(Debug, Default)]
pub struct PlainServers {
    heartbeating: HashSet<String>,
    reported: HashSet<String>,
    /// Servers heard from without a heartbeat yet: when first heard.
    silent: HashMap<String, u64>,
}

impl PlainServers {
    /// A message from another machine's server, at `now_ms`. Returns the debug line to log when
    /// this reveals a plain redis-adapter server for the first time.
    pub fn heard(&mut self, header: &Header, now_ms: u64) -> Option<String> {
        if matches!(
            header.kind,
            MessageType::InitialHeartbeat | MessageType::Heartbeat
        ) {
            if self.heartbeating.len() >= MAX_REMEMBERED {
                self.heartbeating.clear();
            }
            self.heartbeating.insert(header.uid.clone());
            self.silent.remove(&header.uid);
            return None;
        }
        if header.uid == EMITTER_UID
            || self.heartbeating.contains(&header.uid)
            || self.reported.contains(&header.uid)
            || self.reported.len() >= MAX_REMEMBERED
        {
            return None;
        }
        if self.silent.len() >= MAX_REMEMBERED {
            self.silent.clear();
        }
        let first_heard = *self.silent.entry(header.uid.clone()).or_insert(now_ms);
        if now_ms.saturating_sub(first_heard) < SILENCE_MS {
            return None;
        }
        self.silent.remove(&header.uid);
        self.reported.insert(header.uid.clone());
        Some(format!(
            "server {} ({}) has sent no heartbeat in {} s: a plain @socket.io/redis-adapter \
             or redis-streams-adapter server? Requests between it and this machine are exact only with redis.mixedFleet",
            header.uid,
            header.nsp,
            SILENCE_MS / 1000
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(uid: &str, kind: MessageType) -> Header {
        Header::new(kind, "/", uid)
    }

    #[test]
    fn a_server_silent_for_the_silence_is_reported_once() {
        let mut servers = PlainServers::default();
        let emit = from("plain", MessageType::ServerSideEmit);
        assert_eq!(servers.heard(&emit, 1_000), None);
        assert_eq!(servers.heard(&emit, 1_000 + SILENCE_MS - 1), None);
        let line = servers.heard(&emit, 1_000 + SILENCE_MS).expect("reported");
        assert!(line.contains("server plain (/)"), "{line}");
        assert_eq!(servers.heard(&emit, 10 * SILENCE_MS), None, "once");
    }

    #[test]
    fn a_heartbeat_clears_a_server_and_the_emitter_is_never_reported() {
        let mut servers = PlainServers::default();
        servers.heard(&from("ours", MessageType::Broadcast), 0);
        servers.heard(&from("ours", MessageType::Heartbeat), 10);
        assert_eq!(
            servers.heard(&from("ours", MessageType::Broadcast), SILENCE_MS * 2),
            None
        );
        servers.heard(&from(EMITTER_UID, MessageType::Broadcast), 0);
        assert_eq!(
            servers.heard(&from(EMITTER_UID, MessageType::Broadcast), SILENCE_MS * 2),
            None
        );
    }
}
