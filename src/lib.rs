//! Node-API binding of `sio-cluster-core`.
//!
//! Deliberately thin: it adapts live JavaScript values to the core's `View` trait and turns the
//! core's decisions into plain JS objects. Every rule (what a valid message is, where a message
//! goes) lives in the core, where `cargo test` covers it without Node.
//!
//! Every export is `catch_unwind`: a panic becomes a JS exception, never an abort of the process.

use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::{JsValue, Unknown, ValueType};
use napi_derive::napi;
use sio_cluster_core::{validate, Kind, Route, Router, View};

/// A lazy view of a JavaScript value: only the fields validation asks for are read, so the cost
/// of validating a message does not grow with its payload.
struct JsView<'env>(Unknown<'env>);

impl<'env> JsView<'env> {
    fn value_type(&self) -> ValueType {
        self.0.get_type().unwrap_or(ValueType::Unknown)
    }

    fn object(&self) -> Option<Object<'env>> {
        if self.value_type() != ValueType::Object {
            return None;
        }
        // Safety: the value was just checked to be an object.
        unsafe { self.0.cast::<Object<'env>>() }.ok()
    }

    fn defined(value: Unknown<'env>) -> Option<Self> {
        match value.get_type() {
            Ok(ValueType::Undefined) | Err(_) => None,
            Ok(_) => Some(JsView(value)),
        }
    }
}

impl View for JsView<'_> {
    fn kind(&self) -> Kind {
        match self.value_type() {
            ValueType::Null => Kind::Null,
            ValueType::Boolean => Kind::Bool,
            ValueType::Number => Kind::Number,
            ValueType::String => Kind::String,
            ValueType::Object => {
                if self.0.is_array().unwrap_or(false) {
                    Kind::Array
                } else if self.0.is_buffer().unwrap_or(false)
                    || self.0.is_typedarray().unwrap_or(false)
                    || self.0.is_arraybuffer().unwrap_or(false)
                {
                    Kind::Binary
                } else {
                    Kind::Object
                }
            }
            _ => Kind::Other,
        }
    }

    fn field(&self, key: &str) -> Option<Self> {
        let object = self.object()?;
        let value = object.get_named_property_unchecked::<Unknown>(key).ok()?;
        Self::defined(value)
    }

    fn string(&self) -> Option<String> {
        if self.value_type() != ValueType::String {
            return None;
        }
        // Safety: checked to be a string.
        unsafe { self.0.cast::<String>() }.ok()
    }

    fn number(&self) -> Option<f64> {
        if self.value_type() != ValueType::Number {
            return None;
        }
        // Safety: checked to be a number.
        unsafe { self.0.cast::<f64>() }.ok()
    }

    fn boolean(&self) -> Option<bool> {
        if self.value_type() != ValueType::Boolean {
            return None;
        }
        // Safety: checked to be a boolean.
        unsafe { self.0.cast::<bool>() }.ok()
    }

    fn length(&self) -> Option<u32> {
        if !self.0.is_array().unwrap_or(false) {
            return None;
        }
        self.object()?.get_array_length_unchecked().ok()
    }

    fn element(&self, index: u32) -> Option<Self> {
        let value = self.object()?.get_element::<Unknown>(index).ok()?;
        Self::defined(value)
    }
}

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
    match validate(&JsView(message)) {
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

/// Where the primary must send one message.
#[napi(object)]
pub struct RouteDecision {
    /// "one" (to `workerId` only), "others" (every worker but the sender) or "drop".
    pub action: String,
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
        let header = match validate(&JsView(message)) {
            Ok(header) => header,
            Err(invalid) => return drop_because(invalid.reason),
        };
        match self.router.route(from, &header) {
            Route::ToWorker(worker) => RouteDecision {
                action: "one".into(),
                worker_id: Some(worker),
                reason: None,
            },
            Route::AllExcept(_) => RouteDecision {
                action: "others".into(),
                worker_id: None,
                reason: None,
            },
            Route::Drop(reason) => drop_because(reason),
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

    /// How many adapter uids the primary currently knows.
    #[napi(getter)]
    pub fn known_uids(&self) -> u32 {
        self.router.known_uids() as u32
    }
}

impl Default for PrimaryRouter {
    fn default() -> Self {
        Self::new()
    }
}

fn drop_because(reason: String) -> RouteDecision {
    RouteDecision {
        action: "drop".into(),
        worker_id: None,
        reason: Some(reason),
    }
}
