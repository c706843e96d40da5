//! The core's errors, in a module of their own: validation, header checks and routing all return
//! them, and none of those modules needs another to name what went wrong.

use std::fmt;

use crate::message::MessageType;

/// A message that breaks the rules of its type (see [`crate::validate()`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub reason: String,
}

impl Invalid {
    pub fn new(reason: impl Into<String>) -> Self {
        Invalid {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid adapter message: {}", self.reason)
    }
}

impl std::error::Error for Invalid {}

/// Why a message reaches nobody: the router's and the switchboard's reasons to drop it. (Workers
/// are named by their `WorkerId`, a `u32`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// A response without the uid of the adapter that asked.
    NoRequester(MessageType),
    /// A response to an adapter no worker was heard from.
    UnknownRequester(String),
    /// A response to an adapter of a worker that exited or lost its link.
    RequesterGone(u32),
    /// The sender's new adapter would take it past its bound of adapters (see
    /// [`crate::Router::record`]).
    AdapterRefused {
        worker: u32,
        nsp: String,
        uid: String,
        in_nsp: usize,
        bytes: usize,
        max_in_nsp: usize,
        max_bytes: usize,
    },
    /// The primary (the Emitter) sends only messages that expect no answer: nobody would get it.
    NotFromPrimary(MessageType),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NoRequester(kind) => write!(f, "{} without requesterUid", kind.name()),
            RouteError::UnknownRequester(uid) => write!(f, "unknown requester {uid}"),
            RouteError::RequesterGone(worker) => write!(f, "requester's worker {worker} is gone"),
            RouteError::AdapterRefused {
                worker,
                nsp,
                uid,
                in_nsp,
                bytes,
                max_in_nsp,
                max_bytes,
            } => write!(
                f,
                "worker {worker} already holds {in_nsp} adapters in {nsp:?} and {bytes} bytes of \
                 adapters (at most {max_in_nsp} and {max_bytes}): new adapter {uid} refused"
            ),
            RouteError::NotFromPrimary(kind) => write!(
                f,
                "the primary cannot send this {}: only messages that expect no answer",
                kind.name()
            ),
        }
    }
}

impl std::error::Error for RouteError {}

/// Why a session cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreError {
    UnknownSession,
    Expired,
    /// The offset is not one this log gave, or what follows it was dropped from the log.
    OffsetGone,
}
