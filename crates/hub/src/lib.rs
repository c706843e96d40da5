//! The I/O half of the native socket.io cluster adapter, on tokio, around the sans-IO
//! `sio-cluster-core`:
//!
//! - [`Hub`], in the primary: a Unix socket server that relays frames between workers without
//!   decoding their payloads, and hands frames for workers still on IPC to the primary's JS.
//! - [`Link`]: a client end on tokio, delivering received frames in batches. The hub's own tests
//!   drive it; workers link from JavaScript on their own event loop instead (lib/hub-link.js,
//!   with the binding's `LinkCodec` for the bytes), since a thread hop per message cost them more
//!   than the message.
//!
//! Neither knows about Node: events go out through plain callbacks, which the napi binding
//! turns into threadsafe functions.

mod backlog;
mod event;
mod handshake;
mod hub;
mod link;
mod recovery;
pub mod redis_bridge;
mod socket_dir;

pub use backlog::Backlog;
pub use handshake::{hello, Secret, ACCEPTED, SECRET_LEN};
// Entry points of the fuzz targets in `fuzz/` and their corpus replay test; not the hub's API.
pub use event::{EventSink, HubEvent};
#[doc(hidden)]
pub use handshake::check_hello;
pub use hub::{Hub, HubOptions, HubStats};
pub use link::{Link, LinkEvent};
#[doc(hidden)]
pub use recovery::RecoveryHarness;
