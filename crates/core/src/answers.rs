//! What the hub answers in the name of a worker it did not send a request to, because none of the
//! request's rooms is there.
//!
//! socket.io-adapter's `ClusterAdapterWithHeartbeat` waits for a response from every server it
//! knows: a fetchSockets from each uid, a broadcast with acks for one client count per server.
//! A skipped worker would have answered with nobody (no socket of it is in those rooms), so the
//! hub sends exactly that answer, from each of the worker's adapters in the namespace. The
//! payload is the response's `data` in MessagePack, as the worker's JS decodes it.

use serde::Serialize;

use crate::frame::Frame;
use crate::header::Header;
use crate::message::MessageType;

#[derive(Serialize)]
struct NoSockets<'a> {
    #[serde(rename = "requestId")]
    request_id: &'a str,
    sockets: [(); 0],
}

#[derive(Serialize)]
struct NoClients<'a> {
    #[serde(rename = "requestId")]
    request_id: &'a str,
    #[serde(rename = "clientCount")]
    client_count: u32,
}

/// The answer the adapter `uid` would have sent to `request` holding none of its rooms' members,
/// if the request expects one.
pub fn answer_for_skipped(request: &Header, uid: &str) -> Option<Frame> {
    let request_id = request.request_id.as_deref()?;
    let (kind, payload) = match request.kind {
        MessageType::FetchSockets => (
            MessageType::FetchSocketsResponse,
            rmp_serde::to_vec_named(&NoSockets {
                request_id,
                sockets: [],
            }),
        ),
        // A broadcast carries a request id only when it asks for acknowledgements.
        MessageType::Broadcast => (
            MessageType::BroadcastClientCount,
            rmp_serde::to_vec_named(&NoClients {
                request_id,
                client_count: 0,
            }),
        ),
        _ => return None,
    };
    Some(Frame {
        header: Header {
            request_id: Some(request_id.to_string()),
            requester_uid: Some(request.uid.clone()),
            ..Header::new(kind, request.nsp.clone(), uid)
        },
        // Serializing two plain fields cannot fail.
        payload: payload.ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: MessageType, request_id: Option<&str>) -> Header {
        Header {
            request_id: request_id.map(Into::into),
            rooms: vec!["r".into()],
            ..Header::new(kind, "/chat", "requester")
        }
    }

    #[test]
    fn fetch_sockets_gets_an_empty_list() {
        let answer =
            answer_for_skipped(&request(MessageType::FetchSockets, Some("id1")), "w2").unwrap();
        assert_eq!(answer.header.kind, MessageType::FetchSocketsResponse);
        assert_eq!(answer.header.nsp, "/chat");
        assert_eq!(answer.header.uid, "w2");
        assert_eq!(answer.header.requester_uid.as_deref(), Some("requester"));
        assert_eq!(answer.header.request_id.as_deref(), Some("id1"));
        assert!(answer.header.rooms.is_empty());
        let data: serde_json::Value = rmp_serde::from_slice(&answer.payload).unwrap();
        assert_eq!(data, serde_json::json!({"requestId": "id1", "sockets": []}));
    }

    #[test]
    fn broadcast_with_acks_gets_a_zero_client_count() {
        let answer =
            answer_for_skipped(&request(MessageType::Broadcast, Some("id2")), "w2").unwrap();
        assert_eq!(answer.header.kind, MessageType::BroadcastClientCount);
        let data: serde_json::Value = rmp_serde::from_slice(&answer.payload).unwrap();
        assert_eq!(
            data,
            serde_json::json!({"requestId": "id2", "clientCount": 0})
        );
    }

    #[test]
    fn nothing_for_what_expects_no_answer() {
        assert!(answer_for_skipped(&request(MessageType::Broadcast, None), "w2").is_none());
        for kind in [
            MessageType::SocketsJoin,
            MessageType::SocketsLeave,
            MessageType::DisconnectSockets,
        ] {
            assert!(answer_for_skipped(&request(kind, Some("x")), "w2").is_none());
        }
    }
}
