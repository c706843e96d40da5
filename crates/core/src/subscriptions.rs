//! The Redis channels a hub subscribes for its machine: each namespace that has an adapter here,
//! each local adapter's response channel, and (dynamic modes) the channel of every room some local
//! worker holds: the union of the workers' room views.
//!
//! Adding is immediate (a new adapter must hear the responses to its first request; a joined
//! room, its first broadcast). Removing waits for [`Subscriptions::reconcile`], and leaves a
//! room's channel only once every linked worker's view of the namespace is known: a view is
//! briefly unknown after a worker re-links, and unsubscribing then would lose its rooms' messages.

use std::collections::{BTreeSet, HashSet};

use crate::redis_wire::Channels;
use crate::switchboard::Switchboard;

#[derive(Debug)]
pub struct Subscriptions {
    channels: Channels,
    current: HashSet<String>,
    /// The response channels among `current` (they route differently).
    responses: HashSet<String>,
    /// The local adapters whose channels are subscribed.
    adapters: HashSet<String>,
}

/// Channels to subscribe and to leave, in the order to send them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub subscribe: Vec<String>,
    pub unsubscribe: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.subscribe.is_empty() && self.unsubscribe.is_empty()
    }
}

impl Subscriptions {
    pub fn new(channels: Channels) -> Subscriptions {
        Subscriptions {
            channels,
            current: HashSet::new(),
            responses: HashSet::new(),
            adapters: HashSet::new(),
        }
    }

    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    pub fn is_response_channel(&self, channel: &str) -> bool {
        self.responses.contains(channel)
    }

    /// Every channel subscribed now (to subscribe again after a reconnection).
    pub fn all(&self) -> Vec<String> {
        let mut all: Vec<String> = self.current.iter().cloned().collect();
        all.sort_unstable();
        all
    }

    pub fn contains(&self, channel: &str) -> bool {
        self.current.contains(channel)
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
        let response = self.channels.responses(nsp, uid);
        self.responses.insert(response.clone());
        [self.channels.namespace(nsp), response]
            .into_iter()
            .filter(|channel| self.current.insert(channel.clone()))
            .collect()
    }

    /// Rooms of `nsp` a local worker now has (reported, or joined through the hub).
    pub fn note_rooms(&mut self, nsp: &str, rooms: &[String]) -> Vec<String> {
        let mode = self.channels.mode();
        rooms
            .iter()
            .filter(|room| mode.subscribes_room(room))
            .map(|room| self.channels.room(nsp, room))
            .filter(|channel| self.current.insert(channel.clone()))
            .collect()
    }

    /// Additions and removals: call now and then.
    pub fn reconcile(&mut self, board: &Switchboard) -> Changes {
        let (wanted, responses) = self.wanted(board);
        let mut subscribe: Vec<String> = wanted
            .iter()
            .filter(|channel| !self.current.contains(*channel))
            .cloned()
            .collect();
        subscribe.sort_unstable();
        self.current.extend(subscribe.iter().cloned());
        let mut unsubscribe: Vec<String> = self
            .current
            .iter()
            .filter(|channel| !wanted.contains(*channel) && self.may_leave(board, channel))
            .cloned()
            .collect();
        unsubscribe.sort_unstable();
        for channel in &unsubscribe {
            self.current.remove(channel);
        }
        self.responses = responses;
        self.adapters = board
            .local_adapters()
            .map(|(uid, _)| uid.to_string())
            .collect();
        Changes {
            subscribe,
            unsubscribe,
        }
    }

    /// A room's channel is left only once every linked worker's view of its namespace is known.
    fn may_leave(&self, board: &Switchboard, channel: &str) -> bool {
        if self.responses.contains(channel) {
            return true;
        }
        match self.channels.classify(channel, |_| false) {
            Some(crate::redis_wire::Inbound::Namespace { nsp }) => board.views_settled(&nsp),
            _ => true,
        }
    }

    fn wanted(&self, board: &Switchboard) -> (BTreeSet<String>, HashSet<String>) {
        let mut wanted = BTreeSet::new();
        let mut responses = HashSet::new();
        for (uid, nsp) in board.local_adapters() {
            wanted.insert(self.channels.namespace(nsp));
            let response = self.channels.responses(nsp, uid);
            responses.insert(response.clone());
            wanted.insert(response);
        }
        let mode = self.channels.mode();
        for (nsp, room) in board.rooms().all_rooms() {
            if mode.subscribes_room(room) {
                wanted.insert(self.channels.room(nsp, room));
            }
        }
        (wanted, responses)
    }
}
