//! The Redis channels a hub subscribes for its machine: each namespace that has an adapter here,
//! each local adapter's response channel, and (dynamic modes) the channel of every room some local
//! worker holds: the union of the workers' room views.
//!
//! Adding is immediate (a new adapter must hear the responses to its first request; a joined
//! room, its first broadcast). Removing waits for [`Subscriptions::reconcile`], and leaves a
//! room's channel only once every linked worker's view of the namespace is known: a view is
//! briefly unknown after a worker re-links, and unsubscribing then would lose its rooms' messages.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::redis_wire::Channels;
use crate::switchboard::Switchboard;

/// Incremental: the rule is that a reconcile costs what changed since the last one (rooms that
/// came or went, noted rooms, and the local adapters), never a walk of every room subscribed: a
/// machine may hold hundreds of thousands of rooms, and the reconcile runs under the hub's lock.
/// Bound: `current` holds one entry per channel subscribed; `fresh`, `pending` and `leaving` at
/// most one per room noted or subscribed since (a room may be pending twice).
///
/// And a reconcile looks at no more than [`ROOMS_PER_RECONCILE`] rooms: a message of 500,000
/// rooms changes that many at once, and looking at them all in one hold of the hub's lock stalled
/// every other message of the machine for a good part of a second. The rest waits in `pending`
/// for the next call, which the hub makes at once, after letting other work run.
#[derive(Debug)]
pub struct Subscriptions {
    channels: Channels,
    /// Every channel subscribed, and what it is: names cannot be parsed back (namespaces, rooms
    /// and uids may hold the `#` that separates them).
    current: HashMap<String, Channel>,
    /// The namespace and response channels subscribed (a few per local adapter).
    fixed: HashSet<String>,
    /// The local adapters whose channels are subscribed.
    adapters: HashSet<String>,
    /// Rooms (by namespace) to look at in the next reconcile: noted here since the last one.
    fresh: HashMap<String, HashSet<String>>,
    /// Rooms (by namespace) changed or noted, not looked at yet (over the budget of a reconcile).
    pending: VecDeque<(String, Vec<String>)>,
    /// Rooms (by namespace) subscribed that no view held at the last reconcile: left once every
    /// view of their namespace is known.
    leaving: HashMap<String, HashSet<String>>,
    /// Rooms looked at by the last reconcile (what it cost).
    visited: usize,
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

/// The most rooms one [`Subscriptions::reconcile`] looks at (a few milliseconds of the hub's lock).
pub const ROOMS_PER_RECONCILE: usize = 10_000;

/// Channels to subscribe and to leave, in the order to send them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub subscribe: Vec<String>,
    pub unsubscribe: Vec<String>,
    /// Rooms are left to look at: reconcile again soon.
    pub more: bool,
}

impl Subscriptions {
    pub fn new(channels: Channels) -> Subscriptions {
        Subscriptions {
            channels,
            current: HashMap::new(),
            fixed: HashSet::new(),
            adapters: HashSet::new(),
            fresh: HashMap::new(),
            pending: VecDeque::new(),
            leaving: HashMap::new(),
            visited: 0,
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

    /// How many rooms the last [`Subscriptions::reconcile`] looked at.
    pub fn last_visited(&self) -> usize {
        self.visited
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
        .filter_map(|(name, channel)| self.add_fixed(name, channel))
        .collect()
    }

    /// Rooms of `nsp` a local worker now has (reported, or joined through the hub). Each new one
    /// is looked at again by the next reconcile (left then if no view holds it).
    pub fn note_rooms(&mut self, nsp: &str, rooms: &[String]) -> Vec<String> {
        let mode = self.channels.mode();
        let mut added = Vec::new();
        for room in rooms.iter().filter(|room| mode.subscribes_room(room)) {
            let channel = Channel::Room {
                nsp: nsp.to_string(),
            };
            if let Some(name) = self.add(self.channels.room(nsp, room), channel) {
                added.push(name);
                self.fresh
                    .entry(nsp.to_string())
                    .or_default()
                    .insert(room.clone());
            }
        }
        added
    }

    /// Adds `name` unless subscribed already: its name if new.
    fn add(&mut self, name: String, channel: Channel) -> Option<String> {
        if self.current.contains_key(&name) {
            return None;
        }
        self.current.insert(name.clone(), channel);
        Some(name)
    }

    fn add_fixed(&mut self, name: String, channel: Channel) -> Option<String> {
        let added = self.add(name, channel)?;
        self.fixed.insert(added.clone());
        Some(added)
    }

    /// Additions and removals: call now and then. Costs the local adapters plus the rooms that
    /// came or went since the last call (and, once their namespace's views are all known, the
    /// rooms waiting to be left), not the rooms held.
    pub fn reconcile(&mut self, board: &mut Switchboard) -> Changes {
        let mut subscribe = Vec::new();
        let mut unsubscribe = Vec::new();
        // Namespaces and responses: what the local adapters need.
        let mut wanted = BTreeMap::new();
        for (uid, nsp) in board.local_adapters() {
            wanted.insert(self.channels.namespace(nsp), Channel::Namespace);
            let responses = Channel::Responses {
                uid: uid.to_string(),
            };
            wanted.insert(self.channels.responses(nsp, uid), responses);
        }
        let gone: Vec<String> = self
            .fixed
            .iter()
            .filter(|name| !wanted.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            self.fixed.remove(&name);
            self.current.remove(&name);
            unsubscribe.push(name);
        }
        for (name, channel) in wanted {
            if let Some(name) = self.add_fixed(name, channel) {
                subscribe.push(name);
            }
        }
        self.adapters = board
            .local_adapters()
            .map(|(uid, _)| uid.to_string())
            .collect();

        // Rooms: only those that changed, at most ROOMS_PER_RECONCILE of them.
        for (nsp, rooms) in board.take_room_changes() {
            self.pending.push_back((nsp, rooms.into_iter().collect()));
        }
        for (nsp, rooms) in std::mem::take(&mut self.fresh) {
            self.pending.push_back((nsp, rooms.into_iter().collect()));
        }
        let mode = self.channels.mode();
        self.visited = 0;
        while self.visited < ROOMS_PER_RECONCILE {
            let Some((nsp, mut rooms)) = self.pending.pop_front() else {
                break;
            };
            let budget = ROOMS_PER_RECONCILE - self.visited;
            if rooms.len() > budget {
                let rest = rooms.split_off(budget);
                self.pending.push_front((nsp.clone(), rest));
            }
            for room in rooms {
                self.visited += 1;
                if !mode.subscribes_room(&room) {
                    continue;
                }
                let name = self.channels.room(&nsp, &room);
                if board.rooms().holds(&nsp, &room) {
                    let channel = Channel::Room { nsp: nsp.clone() };
                    if let Some(name) = self.add(name, channel) {
                        subscribe.push(name);
                    }
                } else if self.current.contains_key(&name) {
                    self.leaving.entry(nsp.clone()).or_default().insert(room);
                }
            }
        }
        let settled: Vec<String> = self
            .leaving
            .keys()
            .filter(|nsp| board.views_settled(nsp))
            .cloned()
            .collect();
        for nsp in settled {
            let Some(rooms) = self.leaving.get_mut(&nsp) else {
                continue;
            };
            let budget = ROOMS_PER_RECONCILE.saturating_sub(self.visited);
            let taken: Vec<String> = rooms.iter().take(budget).cloned().collect();
            for room in &taken {
                rooms.remove(room);
            }
            if rooms.is_empty() {
                self.leaving.remove(&nsp);
            }
            for room in taken {
                self.visited += 1;
                if board.rooms().holds(&nsp, &room) {
                    continue;
                }
                let name = self.channels.room(&nsp, &room);
                if self.current.remove(&name).is_some() {
                    unsubscribe.push(name);
                }
            }
        }
        let more =
            !self.pending.is_empty() || self.leaving.keys().any(|nsp| board.views_settled(nsp));
        unsubscribe.sort_unstable();
        Changes {
            subscribe,
            unsubscribe,
            more,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Header;
    use crate::message::MessageType;
    use crate::redis_wire::SubscriptionMode;
    use crate::switchboard::Via;

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
        board.add_remote();
        board.add_worker(1);
        let heartbeat = Header::new(MessageType::Heartbeat, "/", "w1");
        board.route(1, Via::Ipc, &heartbeat).unwrap();
        let mut subs = Subscriptions::new(Channels::new("p", SubscriptionMode::Dynamic));
        subs.note_rooms("/", &["gone".into()]);
        let changes = subs.reconcile(&mut board);
        assert_eq!(
            changes.subscribe,
            vec!["p#/#".to_string(), "p#/#w1#".to_string()]
        );
        assert_eq!(changes.unsubscribe, vec!["p#/#gone#".to_string()]);
        assert_eq!(subs.all(), vec!["p#/#".to_string(), "p#/#w1#".to_string()]);
    }

    /// A worker on its link whose rooms of "/" the board knows.
    fn board_with_rooms(rooms: &[String]) -> Switchboard {
        let mut board = Switchboard::new();
        board.add_remote();
        board.add_worker(1);
        board.switch_to_link(1);
        board.rooms_changed(
            1,
            &Header {
                joined: rooms.to_vec(),
                applied: Some(0),
                reset: true,
                ..Header::new(MessageType::RoomsChanged, "/", "w1")
            },
        );
        board
    }

    #[test]
    fn a_reconcile_costs_what_changed_not_every_room_held() {
        let rooms: Vec<String> = (0..200_000).map(|i| format!("room-{i}")).collect();
        let mut board = board_with_rooms(&rooms);
        let mut subs = Subscriptions::new(Channels::new("p", SubscriptionMode::Dynamic));
        // The rooms, the namespace and the adapter's responses, a slice of rooms at a time.
        let mut subscribed = 0;
        let mut calls = 0;
        loop {
            let changes = subs.reconcile(&mut board);
            subscribed += changes.subscribe.len();
            calls += 1;
            assert!(subs.last_visited() <= ROOMS_PER_RECONCILE);
            if !changes.more {
                break;
            }
        }
        assert_eq!(subscribed, 200_002);
        assert_eq!(calls, 200_000 / ROOMS_PER_RECONCILE);

        // Nothing changed: nothing looked at.
        assert_eq!(subs.reconcile(&mut board), Changes::default());
        assert_eq!(subs.last_visited(), 0);

        // One room left, one joined: two rooms looked at (and the one left looked at again once
        // the views are settled, which they are).
        let changed = Header {
            joined: vec!["new".into()],
            left: vec!["room-7".into()],
            applied: Some(0),
            ..Header::new(MessageType::RoomsChanged, "/", "w1")
        };
        board.rooms_changed(1, &changed);
        let changes = subs.reconcile(&mut board);
        assert_eq!(changes.subscribe, vec!["p#/#new#".to_string()]);
        assert_eq!(changes.unsubscribe, vec!["p#/#room-7#".to_string()]);
        assert!(subs.last_visited() <= 3, "{}", subs.last_visited());
        assert_eq!(subs.len(), 200_002);
    }

    #[test]
    fn a_room_is_left_only_once_the_views_of_its_namespace_are_known() {
        let mut board = board_with_rooms(&["a".into(), "b".into()]);
        let mut subs = Subscriptions::new(Channels::new("p", SubscriptionMode::Dynamic));
        subs.reconcile(&mut board);
        let w1 = Header::new(MessageType::Heartbeat, "/", "w1");
        board.route(1, Via::Link, &w1).unwrap();
        board.rooms_changed(
            1,
            &Header {
                left: vec!["a".into()],
                applied: Some(0),
                ..Header::new(MessageType::RoomsChanged, "/", "w1")
            },
        );
        // A new link: its view is unknown until its next reset.
        board.link_opened(1);
        let changes = subs.reconcile(&mut board);
        assert!(changes.unsubscribe.is_empty(), "{changes:?}");
        assert!(subs.contains("p#/#a#") && subs.contains("p#/#b#"));
        // Its reset: "b" only (the unknown view had dropped it, the reset brings it back).
        board.rooms_changed(
            1,
            &Header {
                joined: vec!["b".into()],
                applied: Some(0),
                reset: true,
                ..Header::new(MessageType::RoomsChanged, "/", "w1")
            },
        );
        let changes = subs.reconcile(&mut board);
        assert_eq!(changes.unsubscribe, vec!["p#/#a#".to_string()]);
        assert!(subs.contains("p#/#b#"));
    }
}
