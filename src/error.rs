//! Every way a call from JavaScript into the binding fails, and the one conversion to the Error
//! JavaScript sees (its message is this enum's `Display`). Calls return `napi::Result` and use `?`
//! on a `BindingError`; nothing else builds a `napi::Error`.

use std::fmt;

use sio_cluster_core::{FrameError, Invalid};
use sio_cluster_hub::HubError;

#[derive(Debug)]
pub enum BindingError {
    /// A message from JavaScript breaks the rules of its type.
    Invalid(Invalid),
    /// The hub refused a message (see [`HubError`]).
    Hub(HubError),
    /// The hub's socket could not be set up.
    HubStart(std::io::Error),
    /// A call on a hub after `close()`.
    HubClosed,
    /// `redis.subscriptionMode` is none of redis-adapter's.
    UnknownSubscriptionMode(String),
    /// The I/O thread or its runtime could not start.
    Runtime(String),
    /// The secret the primary handed over IPC is not 64 hex digits.
    MalformedSecret,
    /// A frame type the worker may not send (`LinkCodec.send` / `request`).
    UnknownMessageType(u32),
    NotAHubRequest(u32),
    /// The hub answered the hello with a refusal.
    RefusedByHub,
    /// What the hub sent is not a frame.
    BadFrameFromHub(FrameError),
    /// A frame the worker queues cannot be encoded (larger than a frame may be).
    Encode(FrameError),
    /// `LinkCodec.takeInto` / `takeBatch` got a Buffer of another size than the bytes it takes.
    BufferSize {
        expected: usize,
        actual: usize,
    },
}

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindingError::Invalid(invalid) => invalid.fmt(f),
            BindingError::Hub(error) => error.fmt(f),
            BindingError::HubStart(error) => write!(f, "cannot start the hub: {error}"),
            BindingError::HubClosed => f.write_str("the hub is closed"),
            BindingError::UnknownSubscriptionMode(mode) => {
                write!(f, "unknown subscription mode {mode:?}")
            }
            BindingError::Runtime(reason) => f.write_str(reason),
            BindingError::MalformedSecret => f.write_str("the hub's secret is malformed"),
            BindingError::UnknownMessageType(kind) => write!(f, "unknown message type {kind}"),
            BindingError::NotAHubRequest(kind) => write!(f, "{kind} is not a hub request"),
            BindingError::BufferSize { expected, actual } => {
                write!(f, "a buffer of {expected} bytes is needed, got {actual}")
            }
            BindingError::RefusedByHub => f.write_str("refused by the hub"),
            BindingError::BadFrameFromHub(error) => write!(f, "bad frame from the hub: {error}"),
            BindingError::Encode(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for BindingError {}

impl From<BindingError> for napi::Error {
    fn from(error: BindingError) -> Self {
        napi::Error::from_reason(error.to_string())
    }
}
