//! The message types of socket.io-adapter's `ClusterAdapterWithHeartbeat` (2.5.x), with the codes
//! they carry on the wire in the `type` field.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Value of the `source` field that marks an IPC message as the adapter's: other users of the
/// IPC channel (e.g. `@socket.io/sticky`) send their own messages over it.
pub const MESSAGE_SOURCE: &str = "_sio_adapter";

/// The uid of messages that no server sends (socket.io-adapter's `EMITTER_UID`): servers do not
/// count it as a server. The primary's Emitter sends with it.
pub const EMITTER_UID: &str = "emitter";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    InitialHeartbeat = 1,
    Heartbeat = 2,
    Broadcast = 3,
    SocketsJoin = 4,
    SocketsLeave = 5,
    DisconnectSockets = 6,
    FetchSockets = 7,
    FetchSocketsResponse = 8,
    ServerSideEmit = 9,
    ServerSideEmitResponse = 10,
    BroadcastClientCount = 11,
    BroadcastAck = 12,
    AdapterClose = 13,
    // Between a worker and our hub only (never on IPC, never relayed): connection state recovery.
    /// A worker stores a disconnected socket's session.
    PersistSession = 101,
    /// A worker asks for a session and the packets it missed (one page at a time).
    RestoreSession = 102,
    /// The hub's answer to `RestoreSession`.
    RestoreSessionResponse = 103,
    /// The hub tells a worker the offset it gave the worker's last stored broadcast.
    OffsetAssigned = 104,
    /// A worker tells the hub which rooms of a namespace it now has (`joined`) and no longer has
    /// (`left`), in order with its other frames, so the hub routes by room.
    RoomsChanged = 105,
    /// Several machines with plain redis-adapter servers among them: a worker asks how many
    /// servers its namespace has, counted as they count them (subscribers of its Redis channel).
    ServerCount = 106,
    /// The hub's answer to `ServerCount`.
    ServerCountResponse = 107,
}

impl MessageType {
    /// Every type, in code order.
    pub const ALL: [MessageType; 13] = [
        MessageType::InitialHeartbeat,
        MessageType::Heartbeat,
        MessageType::Broadcast,
        MessageType::SocketsJoin,
        MessageType::SocketsLeave,
        MessageType::DisconnectSockets,
        MessageType::FetchSockets,
        MessageType::FetchSocketsResponse,
        MessageType::ServerSideEmit,
        MessageType::ServerSideEmitResponse,
        MessageType::BroadcastClientCount,
        MessageType::BroadcastAck,
        MessageType::AdapterClose,
    ];

    pub fn from_code(code: u8) -> Option<MessageType> {
        match code {
            101 => Some(MessageType::PersistSession),
            102 => Some(MessageType::RestoreSession),
            103 => Some(MessageType::RestoreSessionResponse),
            104 => Some(MessageType::OffsetAssigned),
            105 => Some(MessageType::RoomsChanged),
            106 => Some(MessageType::ServerCount),
            107 => Some(MessageType::ServerCountResponse),
            // The reference's codes are 1-based and dense, so they index `ALL` directly.
            _ => Self::ALL.get(usize::from(code).checked_sub(1)?).copied(),
        }
    }

    /// A message between one worker and the hub, never relayed to other workers.
    pub fn is_hub_only(self) -> bool {
        self.code() > 100
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// A response goes back to the one adapter named by its `requesterUid`.
    pub fn is_response(self) -> bool {
        matches!(
            self,
            MessageType::FetchSocketsResponse
                | MessageType::ServerSideEmitResponse
                | MessageType::BroadcastClientCount
                | MessageType::BroadcastAck
        )
    }

    /// The name socket.io-adapter's `MessageType` enum gives it.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::InitialHeartbeat => "INITIAL_HEARTBEAT",
            MessageType::Heartbeat => "HEARTBEAT",
            MessageType::Broadcast => "BROADCAST",
            MessageType::SocketsJoin => "SOCKETS_JOIN",
            MessageType::SocketsLeave => "SOCKETS_LEAVE",
            MessageType::DisconnectSockets => "DISCONNECT_SOCKETS",
            MessageType::FetchSockets => "FETCH_SOCKETS",
            MessageType::FetchSocketsResponse => "FETCH_SOCKETS_RESPONSE",
            MessageType::ServerSideEmit => "SERVER_SIDE_EMIT",
            MessageType::ServerSideEmitResponse => "SERVER_SIDE_EMIT_RESPONSE",
            MessageType::BroadcastClientCount => "BROADCAST_CLIENT_COUNT",
            MessageType::BroadcastAck => "BROADCAST_ACK",
            MessageType::AdapterClose => "ADAPTER_CLOSE",
            MessageType::PersistSession => "PERSIST_SESSION",
            MessageType::RestoreSession => "RESTORE_SESSION",
            MessageType::RestoreSessionResponse => "RESTORE_SESSION_RESPONSE",
            MessageType::OffsetAssigned => "OFFSET_ASSIGNED",
            MessageType::RoomsChanged => "ROOMS_CHANGED",
            MessageType::ServerCount => "SERVER_COUNT",
            MessageType::ServerCountResponse => "SERVER_COUNT_RESPONSE",
        }
    }
}

// Serialized as its bare code so the frame header stays small and language-neutral.
impl Serialize for MessageType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for MessageType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = u8::deserialize(deserializer)?;
        MessageType::from_code(code)
            .ok_or_else(|| de::Error::custom(format!("unknown message type {code}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for kind in MessageType::ALL {
            assert_eq!(MessageType::from_code(kind.code()), Some(kind));
        }
        assert_eq!(MessageType::from_code(0), None);
        assert_eq!(MessageType::from_code(14), None);
        assert_eq!(MessageType::from_code(255), None);
    }

    #[test]
    fn responses_and_names() {
        let responses: Vec<u8> = MessageType::ALL
            .iter()
            .filter(|kind| kind.is_response())
            .map(|kind| kind.code())
            .collect();
        assert_eq!(responses, [8, 10, 11, 12]);
        assert_eq!(MessageType::Broadcast.name(), "BROADCAST");
        assert_eq!(MessageType::AdapterClose.name(), "ADAPTER_CLOSE");
    }

    #[test]
    fn serde_uses_the_code() {
        let bytes = rmp_serde::to_vec(&MessageType::FetchSockets).unwrap();
        assert_eq!(bytes, [7]);
        let back: MessageType = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, MessageType::FetchSockets);
        assert!(rmp_serde::from_slice::<MessageType>(&[42]).is_err());
        assert!(rmp_serde::from_slice::<MessageType>(&[0xcd, 0x01, 0x00]).is_err());
    }
}
