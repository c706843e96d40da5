//! What the hub keeps for the other machines, beside the state every routing decision reads.

use std::collections::BTreeMap;

use sio_cluster_core::{Channels, Echoes, PlainServers, Subscriptions};

use super::streams::StreamsState;
use crate::redis_bridge::StreamsOptions;

/// What the hub keeps for the other machines (with a Redis bridge only).
pub(super) struct RemoteState {
    /// The Redis channels this machine subscribes.
    pub(super) subscriptions: Subscriptions,
    /// The primary's Emitter's messages awaited back from Redis.
    pub(super) echoes: Echoes,
    /// Mixed fleets: the extra subscribers of each namespace channel last asked of the bridge.
    pub(super) counted: BTreeMap<String, usize>,
    /// Servers of other machines that never send heartbeats.
    pub(super) plain: PlainServers,
    /// Streams mode's own state.
    pub(super) streams: Option<StreamsState>,
}

impl RemoteState {
    pub(super) fn new(channels: Channels, streams: Option<&StreamsOptions>) -> Self {
        RemoteState {
            subscriptions: Subscriptions::new(channels),
            echoes: Echoes::default(),
            counted: BTreeMap::new(),
            plain: PlainServers::default(),
            streams: streams.map(StreamsState::new),
        }
    }
}
