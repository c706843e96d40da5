//! Sans-IO protocol core of the native socket.io cluster adapter: the message model of
//! socket.io-adapter's `ClusterAdapterWithHeartbeat`, validation of what other processes send,
//! routing decisions of the primary, and the frames of the hub link. No I/O, no threads, no
//! clocks: callers feed values and bytes in and act on what comes out.

pub mod answers;
pub mod echoes;
pub mod error;
pub mod frame;
pub mod header;
pub mod hello;
pub mod message;
pub mod msgpack_view;
pub mod plain_servers;
pub mod queue;
pub mod recovery;
pub mod redis_wire;
pub mod rooms;
pub mod routing;
pub mod streams_restore;
pub mod streams_wire;
pub mod subscriptions;
pub mod switchboard;
pub mod validate;
pub mod view;

mod fields;
mod js_number;

pub use echoes::Echoes;
pub use error::{Invalid, RouteError};
pub use frame::{
    encode_frame, encode_frame_into, Frame, FrameDecoder, FrameError, RawFrame, MAX_FRAME_LEN,
};
pub use header::Header;
pub use hello::{
    check_hello, hello, HelloError, Secret, ACCEPTED, HELLO_LEN, SECRET_LEN, SENDS_ONLY,
};
pub use message::{MessageType, EMITTER_UID, MESSAGE_SOURCE};
pub use plain_servers::PlainServers;
pub use queue::{OutQueue, Overflow};
pub use recovery::{
    stored_by_workers, Joins, LogEntry, PacketLog, Page, Recovery, RecoveryLimits, Reply,
    RestoreError, Session, SessionStore,
};
pub use redis_wire::{decode_message, encode_message, peek_uid, Channels, SubscriptionMode};
pub use rooms::{room_cost, Pin, RoomViews, IPC_PIN, MAX_ROOM_BYTES};
pub use routing::{
    adapter_cost, Route, Router, WorkerId, MAX_ADAPTERS_PER_NAMESPACE, MAX_ADAPTER_BYTES, PRIMARY,
};
pub use subscriptions::{Changes, Channel, Subscriptions, ROOMS_PER_RECONCILE};
pub use switchboard::{Recipients, Switchboard, Via, REMOTE};
pub use validate::validate;
pub use view::{Kind, View};
