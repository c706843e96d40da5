//! The protocol's names and codes that JavaScript shares with the core. Each is defined once, in
//! `sio-cluster-core` (message.rs), and exported from here, so the two sides cannot drift apart.
//! The codes 1-13 are socket.io-adapter's `MessageType`, which JavaScript takes from socket.io-
//! adapter itself; only the codes of the hub's own frames (101-107) are exported.

use napi_derive::napi;
use sio_cluster_core::MessageType;

/// The `source` of an adapter message on a worker's IPC channel.
#[napi]
pub const MESSAGE_SOURCE: &str = sio_cluster_core::MESSAGE_SOURCE;

/// The uid of messages that no server sends (the primary's Emitter).
#[napi]
pub const EMITTER_UID: &str = sio_cluster_core::EMITTER_UID;

/// To a standalone hub, the worker id of a link that only sends (an Emitter in any process).
#[napi]
pub const SENDS_ONLY: u32 = sio_cluster_core::SENDS_ONLY;

/// A worker stores a disconnected socket's session (no answer).
#[napi]
pub const PERSIST_SESSION: u32 = MessageType::PersistSession as u32;
/// A worker asks for a session and the packets it missed.
#[napi]
pub const RESTORE_SESSION: u32 = MessageType::RestoreSession as u32;
/// The hub's answer to `RESTORE_SESSION`.
#[napi]
pub const RESTORE_SESSION_RESPONSE: u32 = MessageType::RestoreSessionResponse as u32;
/// The offset the hub gave the worker's last stored broadcast.
#[napi]
pub const OFFSET_ASSIGNED: u32 = MessageType::OffsetAssigned as u32;
/// A worker asks for its namespace's server count, as plain redis-adapter servers count it.
#[napi]
pub const SERVER_COUNT: u32 = MessageType::ServerCount as u32;
/// The hub's answer to `SERVER_COUNT`.
#[napi]
pub const SERVER_COUNT_RESPONSE: u32 = MessageType::ServerCountResponse as u32;
