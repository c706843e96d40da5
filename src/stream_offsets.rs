//! Offsets in streams mode (`redis: { mode: "streams" }`): a client's offset is a Redis stream
//! id, which the worker carries to and from its hub as a position (the rule is the core's:
//! `streams_wire::StreamId`). lib/hub-link.js calls these where it formats and parses offsets.

use napi_derive::napi;
use sio_cluster_core::streams_wire::StreamId;

/// The stream id a position names (`<ms>-<seq>`), or "" for a position that names none.
#[napi]
pub fn stream_offset(position: f64) -> String {
    let exact = position >= 0.0 && position.fract() == 0.0 && position <= 9_007_199_254_740_991.0;
    exact
        .then(|| StreamId::from_position(position as u64))
        .flatten()
        .map_or_else(String::new, |id| id.to_string())
}

/// The position of a stream id a client gave, or null if it has none (not an id, or one a
/// position cannot carry: the client then gets a new session).
#[napi]
pub fn stream_position(offset: String) -> Option<f64> {
    StreamId::parse(&offset)?.position().map(|p| p as f64)
}
