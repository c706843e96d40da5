//! What the hub tells the primary's JavaScript: a type of its own, shared by the hub and the
//! bound on what waits for that thread ([`crate::Backlog`]).

use std::sync::Arc;

use sio_cluster_core::{RawFrame, WorkerId};

/// What the hub tells the primary's JavaScript.
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// A frame for workers reached over IPC, in the order the hub routed it.
    Deliver {
        to: Vec<WorkerId>,
        frame: Arc<RawFrame>,
    },
    /// Everything routed to `worker` over IPC has been handed out: tell it over IPC.
    Flushed { worker: WorkerId },
    /// Something worth a debug line.
    Log { message: String },
}

pub type EventSink = Arc<dyn Fn(HubEvent) + Send + Sync>;
