//! What the hub routes on: the fields of an adapter message it needs, extracted once by
//! [`validate()`](crate::validate()) and carried in front of the opaque payload of every frame.

use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::message::MessageType;

/// Serialized with one-letter keys (MessagePack map) to keep frames small; absent optional
/// fields and empty lists are left out. Unknown keys are ignored when decoding, so a newer
/// sender may add fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    #[serde(rename = "t")]
    pub kind: MessageType,
    #[serde(rename = "n")]
    pub nsp: String,
    #[serde(rename = "u")]
    pub uid: String,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(rename = "q", default, skip_serializing_if = "Option::is_none")]
    pub requester_uid: Option<String>,
    /// `data.opts.rooms`, numbers spelled as JS `String(n)` does; empty for types without opts.
    #[serde(rename = "R", default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
    /// `data.opts.except`, same rules as `rooms`.
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    /// A worker asks the hub to store this broadcast for connection state recovery. On a
    /// ROOMS_CHANGED snapshot (`reset`): the adapter uses connection state recovery.
    #[serde(rename = "s", default, skip_serializing_if = "std::ops::Not::not")]
    pub store: bool,
    /// The position the hub gave a stored broadcast in the cluster-wide packet log.
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// SOCKETS_JOIN: the rooms the matching sockets join (`data.rooms`). ROOMS_CHANGED: the rooms
    /// of the namespace the worker now has.
    #[serde(rename = "j", default, skip_serializing_if = "Vec::is_empty")]
    pub joined: Vec<String>,
    /// ROOMS_CHANGED: the rooms of the namespace the worker no longer has.
    #[serde(rename = "d", default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<String>,
    /// ROOMS_CHANGED: how many frames of this link the worker had applied when it sent this one;
    /// absent until it has fully switched to its link (see the hub's room view).
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<u64>,
    /// ROOMS_CHANGED: `joined` is the worker's whole room set of the namespace, replacing what
    /// the hub knew.
    #[serde(rename = "z", default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
}

impl Header {
    /// A header with nothing but its type, namespace and sender; the other fields are set by
    /// struct update where needed.
    pub fn new(kind: MessageType, nsp: impl Into<String>, uid: impl Into<String>) -> Header {
        Header {
            kind,
            nsp: nsp.into(),
            uid: uid.into(),
            request_id: None,
            requester_uid: None,
            rooms: vec![],
            except: vec![],
            store: false,
            offset: None,
            joined: vec![],
            left: vec![],
            applied: None,
            reset: false,
        }
    }

    /// The rules a header must satisfy to be routed, whether it comes from [`validate`] or from
    /// a frame sent by another process: a sender uid, and what requests and responses need to
    /// find their way back.
    ///
    /// [`validate`]: crate::validate()
    pub fn check(&self) -> Result<(), Invalid> {
        if self.uid.is_empty() {
            return Err(Invalid::new("header field `uid` must not be empty"));
        }
        if needs_request_id(self.kind) && self.request_id.is_none() {
            return Err(Invalid::new(format!(
                "header of a {} must carry a request id",
                self.kind.name()
            )));
        }
        if self.kind.is_response() && self.requester_uid.is_none() {
            return Err(Invalid::new(format!(
                "header of a {} must carry a requester uid",
                self.kind.name()
            )));
        }
        Ok(())
    }
}

/// Types whose `data.requestId` is mandatory (for BROADCAST and SERVER_SIDE_EMIT it is optional:
/// its presence asks for acknowledgements).
pub(crate) fn needs_request_id(kind: MessageType) -> bool {
    matches!(
        kind,
        MessageType::FetchSockets
            | MessageType::RestoreSession
            | MessageType::RestoreSessionResponse
            | MessageType::ServerCount
            | MessageType::ServerCountResponse
    ) || kind.is_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: MessageType) -> Header {
        Header::new(kind, "/", "a1")
    }

    #[test]
    fn short_keys_and_omitted_defaults() {
        let bytes = rmp_serde::to_vec_named(&header(MessageType::Heartbeat)).unwrap();
        // fixmap of 3: "t" 2, "n" "/", "u" "a1"
        assert_eq!(
            bytes,
            [0x83, 0xa1, b't', 0x02, 0xa1, b'n', 0xa1, b'/', 0xa1, b'u', 0xa2, b'a', b'1']
        );
        let back: Header = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, header(MessageType::Heartbeat));
    }

    #[test]
    fn check_rules() {
        assert!(header(MessageType::Broadcast).check().is_ok());
        let mut empty_uid = header(MessageType::Heartbeat);
        empty_uid.uid.clear();
        assert!(empty_uid.check().unwrap_err().reason.contains("uid"));

        let mut fetch = header(MessageType::FetchSockets);
        assert!(fetch.check().unwrap_err().reason.contains("request id"));
        fetch.request_id = Some("r".into());
        assert!(fetch.check().is_ok());

        let mut response = header(MessageType::BroadcastAck);
        response.request_id = Some("r".into());
        assert!(response.check().unwrap_err().reason.contains("requester"));
        response.requester_uid = Some("b".into());
        assert!(response.check().is_ok());
    }
}
