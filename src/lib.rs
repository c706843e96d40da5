//! Node-API binding of the native socket.io cluster adapter.
//!
//! Deliberately thin: it adapts live JavaScript values to the core's `View` trait, turns the
//! core's and the hub's decisions and events into plain JS values, and runs the hub's I/O on a
//! runtime of its own. Every rule lives in `sio-cluster-core` and every socket in
//! `sio-cluster-hub`, where `cargo test` covers them without Node.
//!
//! Every export is `catch_unwind`: a panic becomes a JS exception, never an abort of the process.

// napi-rs registers exports only outside `cfg(test)`, so a test build sees them as unused.
#![cfg_attr(test, allow(dead_code))]

#[cfg(unix)]
mod error;
mod frame_batch;
#[cfg(unix)]
mod hub;
mod js_view;
#[cfg(unix)]
mod link;
mod messages;
mod options;
mod protocol;
#[cfg(unix)]
mod runtime;
mod stream_offsets;
#[cfg(unix)]
mod wire;
