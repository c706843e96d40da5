//! Where the primary sends a message, as `setupPrimary` of `@socket.io/cluster-adapter` decides:
//! a response to the worker owning its requester, anything else to every worker but the sender.
//! Ownership is learnt from traffic: each adapter (one per worker and namespace) has a uid, and
//! the worker a uid was last heard from owns it.

use std::collections::{BTreeSet, HashMap};

use crate::error::RouteError;
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
    Drop(RouteError),
}

/// The most bytes of adapters (uids and namespaces, counted as [`adapter_cost`] says) one worker
/// may hold in the table: a real worker has one adapter per namespace (one per socket.io server
/// of the process), so this is thousands of namespaces. It bounds the table, and the
/// ADAPTER_CLOSE frames announcing a closed worker's adapters to the others (each smaller than
/// its adapter's cost), which must fit in their queues.
pub const MAX_ADAPTER_BYTES: usize = 1 << 20;

/// The most adapters one worker may hold in one namespace (one per socket.io server of the
/// process): the hub answers a request in the name of each adapter of a worker it skips, so this
/// bounds the answers one request costs.
pub const MAX_ADAPTERS_PER_NAMESPACE: usize = 64;

/// What an adapter costs in the table: its uid, its namespace, and the entries of both maps.
pub fn adapter_cost(uid: &str, nsp: &str) -> usize {
    const ENTRY_OVERHEAD: usize = 128;
    uid.len() + 2 * nsp.len() + ENTRY_OVERHEAD
}

#[derive(Debug)]
pub struct Router {
    /// Adapter uid -> (owning worker, the adapter's namespace).
    owners: HashMap<String, (WorkerId, String)>,
    /// The same, by worker: what [`Router::adapters`] and [`Router::remove_worker`] read, so that
    /// they cost what the worker holds, not what all workers hold.
    held: HashMap<WorkerId, Held>,
    max_bytes: usize,
    bytes: usize,
    refused: u64,
}

#[derive(Debug, Default)]
struct Held {
    nsps: HashMap<String, BTreeSet<String>>,
    bytes: usize,
}

impl Default for Router {
    fn default() -> Self {
        Self::with_max_bytes(MAX_ADAPTER_BYTES)
    }
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// A router whose workers may each hold `max_bytes` of adapters (at least one adapter).
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Router {
            owners: HashMap::new(),
            held: HashMap::new(),
            max_bytes,
            bytes: 0,
            refused: 0,
        }
    }

    /// Each worker may hold `max_bytes` of adapters from now on (at least one adapter).
    pub fn set_max_bytes(&mut self, max_bytes: usize) {
        self.max_bytes = max_bytes;
    }

    pub fn route(&mut self, from: WorkerId, header: &Header) -> Route {
        if let Err(reason) = self.record(from, header) {
            return Route::Drop(reason);
        }
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
            self.forget(&header.uid);
        }
        Route::AllExcept(from)
    }

    /// Forgets the adapters of a worker that exited, returning `(uid, nsp)` sorted by uid so the
    /// caller can tell the survivors (the reference's primary leaves them to time out).
    pub fn remove_worker(&mut self, worker: WorkerId) -> Vec<(String, String)> {
        let Some(held) = self.held.remove(&worker) else {
            return Vec::new();
        };
        self.bytes -= held.bytes;
        let mut removed = Vec::new();
        for (nsp, uids) in held.nsps {
            for uid in uids {
                self.owners.remove(&uid);
                removed.push((uid, nsp.clone()));
            }
        }
        removed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        removed
    }

    pub fn owner(&self, uid: &str) -> Option<WorkerId> {
        self.owners.get(uid).map(|(owner, _)| *owner)
    }

    /// The uids of `worker`'s adapters in `nsp` (one per socket.io server of the process, at most
    /// [`MAX_ADAPTERS_PER_NAMESPACE`]), sorted.
    pub fn adapters(&self, worker: WorkerId, nsp: &str) -> Vec<&str> {
        self.held
            .get(&worker)
            .and_then(|held| held.nsps.get(nsp))
            .map_or_else(Vec::new, |uids| uids.iter().map(String::as_str).collect())
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

    /// What the table holds, as [`adapter_cost`] counts it.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Messages refused because their sender already held as many adapters as it may.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Learns that `header.uid` is `from`'s adapter of `header.nsp` (also from frames the hub does
    /// not route, such as a worker's ROOMS_CHANGED). A uid heard from another worker moves there
    /// (e.g. a worker restarted with a reused uid). A new adapter of a worker that holds
    /// [`MAX_ADAPTER_BYTES`] of them already, or [`MAX_ADAPTERS_PER_NAMESPACE`] in its namespace,
    /// is refused (counted): the caller drops its message.
    pub fn record(&mut self, from: WorkerId, header: &Header) -> Result<(), RouteError> {
        match self.owners.get(&header.uid) {
            // The common case: nothing changes, nothing is allocated.
            Some((owner, nsp)) if *owner == from && *nsp == header.nsp => return Ok(()),
            Some(_) => self.forget(&header.uid),
            None => {}
        }
        let cost = adapter_cost(&header.uid, &header.nsp);
        let (bytes, in_nsp) = self.held.get(&from).map_or((0, 0), |held| {
            (
                held.bytes,
                held.nsps.get(&header.nsp).map_or(0, BTreeSet::len),
            )
        });
        // The rule: a worker's adapters are bounded (bytes, and per namespace); past it, a new
        // one is refused and its message dropped.
        if (bytes > 0 && bytes + cost > self.max_bytes) || in_nsp >= MAX_ADAPTERS_PER_NAMESPACE {
            self.refused += 1;
            return Err(RouteError::AdapterRefused {
                worker: from,
                nsp: header.nsp.clone(),
                uid: header.uid.clone(),
                in_nsp,
                bytes,
                max_in_nsp: MAX_ADAPTERS_PER_NAMESPACE,
                max_bytes: self.max_bytes,
            });
        }
        self.owners
            .insert(header.uid.clone(), (from, header.nsp.clone()));
        let held = self.held.entry(from).or_default();
        held.bytes += cost;
        self.bytes += cost;
        match held.nsps.get_mut(&header.nsp) {
            Some(uids) => uids.insert(header.uid.clone()),
            None => held
                .nsps
                .entry(header.nsp.clone())
                .or_default()
                .insert(header.uid.clone()),
        };
        Ok(())
    }

    /// Forgets one adapter.
    fn forget(&mut self, uid: &str) {
        let Some((owner, nsp)) = self.owners.remove(uid) else {
            return;
        };
        let cost = adapter_cost(uid, &nsp);
        self.bytes -= cost;
        if let Some(held) = self.held.get_mut(&owner) {
            held.bytes -= cost;
            if let Some(uids) = held.nsps.get_mut(&nsp) {
                uids.remove(uid);
                if uids.is_empty() {
                    held.nsps.remove(&nsp);
                }
            }
            if held.nsps.is_empty() {
                self.held.remove(&owner);
            }
        }
    }

    fn to_requester(&self, header: &Header) -> Route {
        let Some(requester) = &header.requester_uid else {
            return Route::Drop(RouteError::NoRequester(header.kind));
        };
        match self.owner(requester) {
            Some(worker) => Route::ToWorker(worker),
            None => Route::Drop(RouteError::UnknownRequester(requester.clone())),
        }
    }
}
