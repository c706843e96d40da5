//! The hub's errors: why a message the primary hands it reaches nobody. The binding turns them
//! into JavaScript errors or debug lines in one place (src/error.rs).

use std::fmt;

use sio_cluster_core::{FrameError, Invalid, MessageType, RouteError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubError {
    /// Routing found nobody to send it to (see [`RouteError`]).
    Route(RouteError),
    /// A header the primary made breaks the rules of its type.
    Invalid(Invalid),
    /// Only a BROADCAST takes a place in the packet log.
    NotStorable(MessageType),
    /// It cannot be framed (larger than a frame may be).
    Frame(FrameError),
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::Route(error) => error.fmt(f),
            HubError::Invalid(invalid) => f.write_str(&invalid.reason),
            HubError::NotStorable(kind) => {
                write!(f, "only a BROADCAST is stored, not a {}", kind.name())
            }
            HubError::Frame(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for HubError {}

impl From<RouteError> for HubError {
    fn from(error: RouteError) -> Self {
        HubError::Route(error)
    }
}

impl From<FrameError> for HubError {
    fn from(error: FrameError) -> Self {
        HubError::Frame(error)
    }
}
