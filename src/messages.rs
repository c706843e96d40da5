//! Validation of IPC messages and the primary's routing table for workers on IPC.

use napi::Unknown;
use napi_derive::napi;
use sio_cluster_core::{validate, Route, Router};

use crate::js_view::JsView;

/// The largest frame a hub link carries (bytes): a payload that cannot fit is refused before it
/// is encoded.
#[napi]
pub const MAX_FRAME_BYTES: u32 = sio_cluster_core::MAX_FRAME_LEN as u32;

/// The verdict on one message that arrived over IPC.
#[napi(object)]
pub struct Inspection {
    pub valid: bool,
    /// Why the message is dropped, when it is.
    pub reason: Option<String>,
}

/// Validates a cluster-adapter message (whose `source` the caller already checked) against the
/// protocol of `@socket.io/cluster-adapter` 0.3.x.
#[napi(catch_unwind)]
pub fn inspect_message(message: Unknown) -> Inspection {
    match validate(&JsView::new(message)) {
        Ok(_) => Inspection {
            valid: true,
            reason: None,
        },
        Err(invalid) => Inspection {
            valid: false,
            reason: Some(invalid.reason),
        },
    }
}

/// What the primary does with one message (lib/primary.js compares against these values).
#[napi(string_enum = "lowercase")]
pub enum RouteAction {
    /// To `workerId` only.
    One,
    /// To every worker but the sender.
    Others,
    /// To nobody (`reason`).
    Drop,
}

/// Where the primary must send one message.
#[napi(object)]
pub struct RouteDecision {
    pub action: RouteAction,
    pub worker_id: Option<u32>,
    pub reason: Option<String>,
}

/// An adapter (one per namespace per worker) that lived in a worker which is gone.
#[napi(object)]
pub struct OrphanedAdapter {
    pub uid: String,
    pub nsp: String,
}

/// The primary's routing table: which worker owns which adapter uid.
#[napi]
pub struct PrimaryRouter {
    router: Router,
}

#[napi]
impl PrimaryRouter {
    #[napi(constructor)]
    pub fn new() -> Self {
        PrimaryRouter {
            router: Router::new(),
        }
    }

    /// Validates a message sent by worker `from` and decides who receives it.
    #[napi(catch_unwind)]
    pub fn route(&mut self, from: u32, message: Unknown) -> RouteDecision {
        let header = match validate(&JsView::new(message)) {
            Ok(header) => header,
            Err(invalid) => return drop_because(invalid.reason),
        };
        match self.router.route(from, &header) {
            Route::ToWorker(worker) => RouteDecision {
                action: RouteAction::One,
                worker_id: Some(worker),
                reason: None,
            },
            Route::AllExcept(_) => RouteDecision {
                action: RouteAction::Others,
                worker_id: None,
                reason: None,
            },
            Route::Drop(reason) => drop_because(reason.to_string()),
        }
    }

    /// Forgets a worker that exited and returns the adapters it held, so that the survivors can be
    /// told at once instead of waiting for a heartbeat timeout.
    #[napi(catch_unwind)]
    pub fn worker_exited(&mut self, worker: u32) -> Vec<OrphanedAdapter> {
        self.router
            .remove_worker(worker)
            .into_iter()
            .map(|(uid, nsp)| OrphanedAdapter { uid, nsp })
            .collect()
    }
}

impl Default for PrimaryRouter {
    fn default() -> Self {
        Self::new()
    }
}

fn drop_because(reason: String) -> RouteDecision {
    RouteDecision {
        action: RouteAction::Drop,
        worker_id: None,
        reason: Some(reason),
    }
}

/// Panics on purpose, so that a test can check that a panic in Rust reaches JavaScript as an
/// exception instead of aborting the process. Not part of the package's API.
#[napi(catch_unwind, js_name = "__panicForTest")]
pub fn panic_for_test() {
    panic!("deliberate panic for the test");
}
