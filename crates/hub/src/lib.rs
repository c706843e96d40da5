//! The I/O half of the native socket.io cluster adapter, on tokio, around the sans-IO
//! `sio-cluster-core`:
//!
//! - [`Hub`], in the primary: a Unix socket server that relays frames between workers without
//!   decoding their payloads, and hands frames for workers still on IPC to the primary's JS
//!   (`hub.rs`: its API; `hub/connection.rs`: the socket's tasks; `hub/fanout.rs`: routing under
//!   the lock; `hub/remote.rs`: the Redis half; `hub/stats.rs`: `hubStats()`).
//! - [`redis_bridge`]: the machine's one Redis client, for the hub.
//!
//! Workers link from JavaScript on their own event loop (lib/hub-link.js, with the binding's
//! `LinkCodec` for the bytes), since a thread hop per message cost them more than the message;
//! the hub's tests link with a tokio client of their own (tests/support/link.rs).
//!
//! Nothing here knows about Node: events go out through plain callbacks, which the napi binding
//! turns into threadsafe functions.

mod backlog;
mod error;
mod event;
mod handshake;
mod hub;
pub mod redis_bridge;
mod socket_dir;
pub mod standalone;
mod stats;

pub use backlog::Backlog;
pub use error::HubError;
pub use event::{EventSink, HubEvent};
pub use handshake::random_secret;
pub use hub::{Hub, HubOptions};
pub use standalone::StandaloneOptions;
pub use stats::HubStats;
