//! Validation of adapter messages received from other processes, one rule set per type.
//!
//! A reference worker dies on the first malformed message of a known type (a TypeError in its
//! `onMessage`), so nothing unchecked may be relayed. The rules mirror what socket.io-adapter's
//! `ClusterAdapter.onMessage` / `onResponse` dereference, no more: payloads (packet contents,
//! handshakes, socket data, flags) are never walked, which keeps the cost independent of their
//! size. The caller has already checked `source === "_sio_adapter"`.

use crate::error::Invalid;
use crate::fields::{
    mismatch, number, optional, optional_bool, optional_string, required, room_list, string,
};
use crate::header::Header;
use crate::js_number::to_js_string;
use crate::message::MessageType;
use crate::view::{Kind, View};

/// Checks `message` against the rules of its type and extracts its routing header.
pub fn validate<V: View>(message: &V) -> Result<Header, Invalid> {
    if message.kind() != Kind::Object {
        return Err(Invalid::new(format!(
            "message must be an object (got {})",
            message.kind().name()
        )));
    }
    let kind = message_type(message)?;
    let uid = string(message, "uid")?;
    if uid.is_empty() {
        return Err(Invalid::new("field `uid` must not be empty"));
    }
    let nsp = string(message, "nsp")?;
    let requester_uid = if kind.is_response() {
        Some(string(message, "requesterUid")?)
    } else {
        optional_string(message, "requesterUid")?
    };
    let Body {
        request_id,
        rooms,
        except,
        joined,
    } = body(kind, message)?;
    Ok(Header {
        request_id,
        requester_uid,
        rooms,
        except,
        joined,
        ..Header::new(kind, nsp, uid)
    })
}

fn message_type<V: View>(message: &V) -> Result<MessageType, Invalid> {
    let code = number(message, "type")?;
    let known = (code.fract() == 0.0 && (1.0..=13.0).contains(&code))
        .then(|| MessageType::from_code(code as u8))
        .flatten();
    known.ok_or_else(|| Invalid::new(format!("unknown message type {}", to_js_string(code))))
}

/// What a message's `data` contributes to its header.
#[derive(Default)]
struct Body {
    request_id: Option<String>,
    rooms: Vec<String>,
    except: Vec<String>,
    /// SOCKETS_JOIN: the rooms joined, so the hub routes to their new members at once.
    joined: Vec<String>,
}

fn body<V: View>(kind: MessageType, message: &V) -> Result<Body, Invalid> {
    use MessageType::*;
    let data = || required(message, "data", Kind::Object);
    match kind {
        // They carry nothing the reference reads: `data` is ignored.
        InitialHeartbeat | Heartbeat | AdapterClose => Ok(Body::default()),
        // Never valid on IPC (`message_type` only admits the reference's codes).
        PersistSession
        | RestoreSession
        | RestoreSessionResponse
        | OffsetAssigned
        | RoomsChanged
        | ServerCount
        | ServerCountResponse => Err(Invalid::new(format!(
            "{} is not an adapter message",
            kind.name()
        ))),
        Broadcast => broadcast(&data()?),
        SocketsJoin => sockets_rooms(&data()?),
        // The rooms left matter to no route: the worker reports the rooms it no longer has.
        SocketsLeave => sockets_rooms(&data()?).map(|body| Body {
            joined: vec![],
            ..body
        }),
        DisconnectSockets => disconnect_sockets(&data()?),
        FetchSockets => fetch_sockets(&data()?),
        FetchSocketsResponse => fetch_sockets_response(&data()?),
        ServerSideEmit => server_side_emit(&data()?),
        // `data.packet` is the acknowledgement's argument: anything, or nothing.
        ServerSideEmitResponse | BroadcastAck => request_id(&data()?).map(Body::response),
        BroadcastClientCount => broadcast_client_count(&data()?),
    }
}

impl Body {
    fn response(request_id: String) -> Body {
        Body {
            request_id: Some(request_id),
            ..Body::default()
        }
    }
}

fn request_id<V: View>(data: &V) -> Result<String, Invalid> {
    string(data, "data.requestId")
}

/// socket.io-parser's packet types of an event (with and without binary attachments).
const EVENT: f64 = 2.0;
const BINARY_EVENT: f64 = 5.0;

/// `data.opts`: the broadcast options as `encodeOptions` writes them.
fn opts<V: View>(data: &V) -> Result<Body, Invalid> {
    let opts = required(data, "data.opts", Kind::Object)?;
    let rooms = room_list(&opts, "data.opts.rooms")?;
    let except = room_list(&opts, "data.opts.except")?;
    optional(&opts, "data.opts.flags", Kind::Object)?;
    Ok(Body {
        request_id: None,
        rooms,
        except,
        joined: vec![],
    })
}

fn broadcast<V: View>(data: &V) -> Result<Body, Invalid> {
    let packet = required(data, "data.packet", Kind::Object)?;
    let packet_type = number(&packet, "data.packet.type")?;
    // Event packets always carry their arguments, and with connection state recovery the
    // reference pushes the offset onto `packet.data`: a missing array would kill it.
    if packet_type == EVENT || packet_type == BINARY_EVENT {
        required(&packet, "data.packet.data", Kind::Array)?;
    } else {
        optional(&packet, "data.packet.data", Kind::Array)?;
    }
    let body = opts(data)?;
    // Its presence asks every server for a client count and the clients' acknowledgements.
    let request_id = optional_string(data, "data.requestId")?;
    Ok(Body { request_id, ..body })
}

fn sockets_rooms<V: View>(data: &V) -> Result<Body, Invalid> {
    let body = opts(data)?;
    let joined = room_list(data, "data.rooms")?;
    Ok(Body { joined, ..body })
}

fn disconnect_sockets<V: View>(data: &V) -> Result<Body, Invalid> {
    let body = opts(data)?;
    optional_bool(data, "data.close")?;
    Ok(body)
}

fn fetch_sockets<V: View>(data: &V) -> Result<Body, Invalid> {
    let body = opts(data)?;
    let request_id = Some(request_id(data)?);
    Ok(Body { request_id, ..body })
}

fn fetch_sockets_response<V: View>(data: &V) -> Result<Body, Invalid> {
    let request_id = request_id(data)?;
    let sockets = required(data, "data.sockets", Kind::Array)?;
    // Stops at the first bad entry: a sparse array costs the entries it really holds.
    for (index, socket) in sockets.elements().enumerate() {
        socket_entry(socket, index as u32)?;
    }
    Ok(Body::response(request_id))
}

/// One entry of `data.sockets`, as the requester turns it into a `RemoteSocket`. Its handshake
/// and data are payload, checked for shape only.
fn socket_entry<V: View>(socket: Option<V>, index: u32) -> Result<(), Invalid> {
    let path = format!("data.sockets[{index}]");
    let socket = match socket {
        Some(socket) if socket.kind() == Kind::Object => socket,
        other => return Err(mismatch(&path, "an object", other.map(|s| s.kind()))),
    };
    required(&socket, &format!("{path}.id"), Kind::String)?;
    required(&socket, &format!("{path}.handshake"), Kind::Object)?;
    required(&socket, &format!("{path}.rooms"), Kind::Array)?;
    Ok(())
}

fn server_side_emit<V: View>(data: &V) -> Result<Body, Invalid> {
    let packet = required(data, "data.packet", Kind::Array)?;
    // The first element is the event name `Namespace._onServerSideEmit` dispatches on.
    let event = packet.element(0);
    if event.as_ref().map(View::kind) != Some(Kind::String) {
        return Err(mismatch(
            "data.packet[0]",
            "a string (the event name)",
            event.map(|e| e.kind()),
        ));
    }
    let request_id = optional_string(data, "data.requestId")?;
    Ok(Body {
        request_id,
        ..Body::default()
    })
}

fn broadcast_client_count<V: View>(data: &V) -> Result<Body, Invalid> {
    let request_id = request_id(data)?;
    let count = number(data, "data.clientCount")?;
    if !(count >= 0.0 && count.fract() == 0.0) {
        return Err(Invalid::new(format!(
            "field `data.clientCount` must be a non-negative integer (got {})",
            to_js_string(count)
        )));
    }
    Ok(Body::response(request_id))
}
