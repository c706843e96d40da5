//! Where the primary sends a message, as `setupPrimary` of `@socket.io/cluster-adapter` decides:
//! a response to the worker owning its requester, anything else to every worker but the sender.
//! Ownership is learnt from traffic: each adapter (one per worker and namespace) has a uid, and
//! the worker a uid was last heard from owns it.

use std::collections::HashMap;

use crate::header::Header;
use crate::message::MessageType;

/// A worker's id, as `cluster.worker.id`.
pub type WorkerId = u32;

/// Stands for the primary where a sender's id is expected, for messages it makes itself (the
/// Emitter's): `node:cluster` numbers its workers from 1, so no worker has this id, and nothing
/// addressed to it reaches anyone.
pub const PRIMARY: WorkerId = 0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ToWorker(WorkerId),
    AllExcept(WorkerId),
    Drop(String),
}

#[derive(Debug, Default)]
pub struct Router {
    /// Adapter uid -> (owning worker, the adapter's namespace).
    owners: HashMap<String, (WorkerId, String)>,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(&mut self, from: WorkerId, header: &Header) -> Route {
        self.record(from, header);
        self.route_unrecorded(from, header)
    }

    /// As [`Router::route`], learning nothing from the sender (the servers of other machines:
    /// they come and go without a word, and nothing here is addressed to them by uid).
    pub fn route_unrecorded(&mut self, from: WorkerId, header: &Header) -> Route {
        if header.kind.is_response() {
            return self.to_requester(header);
        }
        if header.kind == MessageType::AdapterClose {
            // The adapter is gone: the reference's servers forget it too.
            self.owners.remove(&header.uid);
        }
        Route::AllExcept(from)
    }

    /// Forgets the adapters of a worker that exited, returning `(uid, nsp)` sorted by uid so the
    /// caller can tell the survivors (the reference's primary leaves them to time out).
    pub fn remove_worker(&mut self, worker: WorkerId) -> Vec<(String, String)> {
        let mut removed = Vec::new();
        self.owners.retain(|uid, (owner, nsp)| {
            let keep = *owner != worker;
            if !keep {
                removed.push((uid.clone(), std::mem::take(nsp)));
            }
            keep
        });
        removed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        removed
    }

    pub fn owner(&self, uid: &str) -> Option<WorkerId> {
        self.owners.get(uid).map(|(owner, _)| *owner)
    }

    /// The uids of `worker`'s adapters in `nsp` (one, unless it reused a namespace), sorted.
    pub fn adapters(&self, worker: WorkerId, nsp: &str) -> Vec<&str> {
        let mut uids: Vec<&str> = self
            .owners
            .iter()
            .filter(|(_, (owner, owned_nsp))| *owner == worker && owned_nsp == nsp)
            .map(|(uid, _)| uid.as_str())
            .collect();
        uids.sort_unstable();
        uids
    }

    /// `(uid, nsp)` of the adapters whose owner passes `keep`.
    pub fn adapters_where(
        &self,
        keep: impl Fn(WorkerId) -> bool,
    ) -> impl Iterator<Item = (&str, &str)> {
        self.owners
            .iter()
            .filter(move |(_, (owner, _))| keep(*owner))
            .map(|(uid, (_, nsp))| (uid.as_str(), nsp.as_str()))
    }

    pub fn known_uids(&self) -> usize {
        self.owners.len()
    }

    /// Learns that `header.uid` is `from`'s adapter of `header.nsp` (also from frames the hub does
    /// not route, such as a worker's ROOMS_CHANGED). A uid heard from another worker moves there
    /// (e.g. a worker restarted with a reused uid).
    pub fn record(&mut self, from: WorkerId, header: &Header) {
        match self.owners.get_mut(&header.uid) {
            // The common case: nothing changes, nothing is allocated.
            Some((owner, nsp)) if *owner == from && *nsp == header.nsp => {}
            Some(entry) => *entry = (from, header.nsp.clone()),
            None => {
                self.owners
                    .insert(header.uid.clone(), (from, header.nsp.clone()));
            }
        }
    }

    fn to_requester(&self, header: &Header) -> Route {
        let Some(requester) = &header.requester_uid else {
            return Route::Drop(format!("{} without requesterUid", header.kind.name()));
        };
        match self.owner(requester) {
            Some(worker) => Route::ToWorker(worker),
            None => Route::Drop(format!("unknown requester {requester}")),
        }
    }
}
