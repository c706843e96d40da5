//! The Redis channels a hub subscribes for its machine: each namespace that has an adapter here,
//! each local adapter's response channel, and (dynamic modes) the channel of every room some local
//! worker holds: the union of the workers' room views.
//!
//! Adding is immediate (a new adapter must hear the responses to its first request; a joined
//! room, its first broadcast). Removing waits for [`Subscriptions::reconcile`], and leaves a
//! room's channel only once every linked worker's view of the namespace is known: a view is
//! briefly unknown after a worker re-links, and unsubscribing then would lose its rooms' messages.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::redis_wire::Channels;
use crate::switchboard::Switchboard;

#[derive(Debug)]
pub struct Subscriptions {
    channels: Channels,
    /// Every channel subscribed, and what it is: names cannot be parsed back (namespaces, rooms
    /// and uids may hold the `#` that separates them).
    current: HashMap<String, Channel>,
    /// The local adapters whose channels are subscribed.
    adapters: HashSet<String>,
}

/// What a subscribed channel carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// Everything of a namespace.
    Namespace,
    /// The responses to local adapter `uid`.
    Responses { uid: String },
    /// Single-room broadcasts of a room of `nsp`.
    Room { nsp: String },
}

/// Channels to subscribe and to leave, in the order to send them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub subscribe: Vec<String>,
    pub unsubscribe: Vec<String>,
}

impl Subscriptions {
    pub fn new(channels: Channels) -> Subscriptions {
        Subscriptions {
            channels,
            current: HashMap::new(),
            adapters: HashSet::new(),
        }
    }

    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// What `channel` carries, if it is subscribed.
    pub fn get(&self, channel: &str) -> Option<&Channel> {
        self.current.get(channel)
    }

    /// Every channel subscribed now (to subscribe again after a reconnection).
    pub fn all(&self) -> Vec<String> {
        let mut all: Vec<String> = self.current.keys().cloned().collect();
        all.sort_unstable();
        all
    }

    pub fn contains(&self, channel: &str) -> bool {
        self.current.contains_key(channel)
    }

    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    /// An adapter of this machine was heard from: its namespace's and its response channels, if
    /// new. Cheap when known (no allocation): called for every message a worker sends.
    pub fn note_adapter(&mut self, uid: &str, nsp: &str) -> Vec<String> {
        if self.adapters.contains(uid) {
            return Vec::new();
        }
        self.adapters.insert(uid.to_string());
        let responses = Channel::Responses {
            uid: uid.to_string(),
        };
        [
            (self.channels.namespace(nsp), Channel::Namespace),
            (self.channels.responses(nsp, uid), responses),
        ]
        .into_iter()
        .filter_map(|(name, channel)| self.add(name, channel))
        .collect()
    }

    /// Rooms of `nsp` a local worker now has (reported, or joined through the hub).
    pub fn note_rooms(&mut self, nsp: &str, rooms: &[String]) -> Vec<String> {
        let mode = self.channels.mode();
        rooms
            .iter()
            .filter(|room| mode.subscribes_room(room))
            .filter_map(|room| {
                let channel = Channel::Room {
                    nsp: nsp.to_string(),
                };
                self.add(self.channels.room(nsp, room), channel)
            })
            .collect()
    }

    /// Adds `name` unless subscribed already: its name if new.
    fn add(&mut self, name: String, channel: Channel) -> Option<String> {
        if self.current.contains_key(&name) {
            return None;
        }
        self.current.insert(name.clone(), channel);
        Some(name)
    }

    /// Additions and removals: call now and then.
    pub fn reconcile(&mut self, board: &Switchboard) -> Changes {
        let wanted = self.wanted(board);
        let mut subscribe = Vec::new();
        for (name, channel) in &wanted {
            if let Some(name) = self.add(name.clone(), channel.clone()) {
                subscribe.push(name);
            }
        }
        let mut unsubscribe: Vec<String> = self
            .current
            .iter()
            .filter(|(name, channel)| !wanted.contains_key(*name) && may_leave(board, channel))
            .map(|(name, _)| name.clone())
            .collect();
        unsubscribe.sort_unstable();
        for name in &unsubscribe {
            self.current.remove(name);
        }
        self.adapters = board
            .local_adapters()
            .map(|(uid, _)| uid.to_string())
            .collect();
        Changes {
            subscribe,
            unsubscribe,
        }
    }

    fn wanted(&self, board: &Switchboard) -> BTreeMap<String, Channel> {
        let mut wanted = BTreeMap::new();
        for (uid, nsp) in board.local_adapters() {
            wanted.insert(self.channels.namespace(nsp), Channel::Namespace);
            let responses = Channel::Responses {
                uid: uid.to_string(),
            };
            wanted.insert(self.channels.responses(nsp, uid), responses);
        }
        let mode = self.channels.mode();
        for (nsp, room) in board.rooms().all_rooms() {
            if mode.subscribes_room(room) {
                let channel = Channel::Room {
                    nsp: nsp.to_string(),
                };
                wanted.insert(self.channels.room(nsp, room), channel);
            }
        }
        wanted
    }
}

/// A room's channel is left only once every linked worker's view of its namespace is known.
fn may_leave(board: &Switchboard, channel: &Channel) -> bool {
    match channel {
        Channel::Room { nsp } => board.views_settled(nsp),
        Channel::Namespace | Channel::Responses { .. } => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Header;
    use crate::message::MessageType;
    use crate::redis_wire::SubscriptionMode;
    use crate::switchboard::Path;

    #[test]
    fn channels_are_known_by_what_they_carry_even_with_hashes_in_names() {
        let mut subs = Subscriptions::new(Channels::new("p", SubscriptionMode::Dynamic));
        let added = subs.note_adapter("u#1", "/a#b");
        assert_eq!(
            added,
            vec!["p#/a#b#".to_string(), "p#/a#b#u#1#".to_string()]
        );
        assert_eq!(subs.get("p#/a#b#"), Some(&Channel::Namespace));
        assert_eq!(
            subs.get("p#/a#b#u#1#"),
            Some(&Channel::Responses { uid: "u#1".into() })
        );
        assert!(
            subs.note_adapter("u#1", "/a#b").is_empty(),
            "known: nothing new"
        );
        assert_eq!(
            subs.note_rooms("/a#b", &["r".into()]),
            vec!["p#/a#b#r#".to_string()]
        );
        assert_eq!(
            subs.get("p#/a#b#r#"),
            Some(&Channel::Room { nsp: "/a#b".into() })
        );
    }

    #[test]
    fn reconcile_keeps_what_the_board_needs_and_leaves_the_rest() {
        let mut board = Switchboard::new();
        board.add_worker(1);
        let heartbeat = Header::new(MessageType::Heartbeat, "/", "w1");
        board.route(1, Path::Ipc, &heartbeat).unwrap();
        let mut subs = Subscriptions::new(Channels::new("p", SubscriptionMode::Dynamic));
        subs.note_rooms("/", &["gone".into()]);
        let changes = subs.reconcile(&board);
        assert_eq!(
            changes.subscribe,
            vec!["p#/#".to_string(), "p#/#w1#".to_string()]
        );
        assert_eq!(changes.unsubscribe, vec!["p#/#gone#".to_string()]);
        assert_eq!(subs.all(), vec!["p#/#".to_string(), "p#/#w1#".to_string()]);
    }
}
