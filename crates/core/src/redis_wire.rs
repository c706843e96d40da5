//! The wire of `@socket.io/redis-adapter` 8.3's sharded adapter, which a hub speaks on Redis for
//! its whole machine: channel names, the channel a message is published on, and the conversion
//! between a hub frame (header + MessagePack payload of `data`) and a Redis message (the whole
//! `ClusterMessage`, JSON or MessagePack).
//!
//! Encoding. redis-adapter writes JSON unless the message holds binary, and reads either (a first
//! byte `{` means JSON). The hub always writes MessagePack: its payload is already MessagePack, so
//! the message is a map written around it without decoding it, and it is smaller than JSON.

use crate::error::Invalid;
use crate::frame::MAX_FRAME_LEN;
use crate::header::Header;
use crate::message::MessageType;
use crate::msgpack_view::{skip, MsgpackView};
use crate::recovery::stored_by_workers;
use crate::validate::validate;
use crate::view::{Kind, View};

/// Which broadcasts go to a channel of their own room, as redis-adapter's `subscriptionMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionMode {
    /// Everything on the namespace's channel.
    Static,
    /// A broadcast to exactly one room (not a socket id) on that room's channel (the default).
    Dynamic,
    /// As `Dynamic`, socket ids included.
    DynamicPrivate,
}

impl SubscriptionMode {
    /// Every mode with its name in redis-adapter's `subscriptionMode` option.
    pub const NAMED: [(&'static str, SubscriptionMode); 3] = [
        ("static", SubscriptionMode::Static),
        ("dynamic", SubscriptionMode::Dynamic),
        ("dynamic-private", SubscriptionMode::DynamicPrivate),
    ];

    pub fn parse(name: &str) -> Option<SubscriptionMode> {
        Self::NAMED
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(_, mode)| mode)
    }

    /// Whether a server subscribes the channel of `room` when it has it. redis-adapter's
    /// `dynamic` skips its own sockets' ids; publishers skip every string of 20 UTF-16 units
    /// (`looksLikeASocketId`), so subscribing by that same test loses nothing.
    pub fn subscribes_room(self, room: &str) -> bool {
        match self {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !looks_like_a_socket_id(room),
            SubscriptionMode::DynamicPrivate => true,
        }
    }
}

fn looks_like_a_socket_id(room: &str) -> bool {
    room.encode_utf16().count() == 20
}

/// Channel names under one prefix (`socket.io` by default).
#[derive(Debug, Clone)]
pub struct Channels {
    prefix: String,
    mode: SubscriptionMode,
}

impl Channels {
    pub fn new(prefix: impl Into<String>, mode: SubscriptionMode) -> Channels {
        Channels {
            prefix: prefix.into(),
            mode,
        }
    }

    pub fn mode(&self) -> SubscriptionMode {
        self.mode
    }

    /// `<prefix>#<nsp>#`: every message of the namespace.
    pub fn namespace(&self, nsp: &str) -> String {
        format!("{}#{}#", self.prefix, nsp)
    }

    /// `<prefix>#<nsp>#<uid>#`: the responses to adapter `uid`.
    pub fn responses(&self, nsp: &str, uid: &str) -> String {
        format!("{}#{}#{}#", self.prefix, nsp, uid)
    }

    /// `<prefix>#<nsp>#<room>#`: single-room broadcasts, in the dynamic modes.
    pub fn room(&self, nsp: &str, room: &str) -> String {
        self.responses(nsp, room)
    }

    /// The channel redis-adapter's `computeChannel` / `doPublishResponse` would publish on.
    pub fn publish_channel(&self, header: &Header) -> Option<String> {
        if header.kind.is_response() {
            let requester = header.requester_uid.as_deref()?;
            return Some(self.responses(&header.nsp, requester));
        }
        // A broadcast with acks cannot use a room's channel: the requester counts answers from
        // every server of the namespace.
        let single_room = header.kind == MessageType::Broadcast
            && header.request_id.is_none()
            && header.rooms.len() == 1
            && self.mode.subscribes_room(&header.rooms[0]);
        Some(if single_room {
            self.room(&header.nsp, &header.rooms[0])
        } else {
            self.namespace(&header.nsp)
        })
    }
}

/// msgpackr's extension for typed arrays (`t`, then the array type, then its bytes).
const TYPED_ARRAY_EXT: i8 = 0x74;

/// A Redis message for `header` and its payload (the MessagePack of `data`, or empty).
/// `requesterUid` and the hub's own fields are left out: the channel addresses a response.
/// Typed arrays become plain binary (their bytes), which every reader decodes (notepack.io, as
/// plain redis-adapter servers use, does not know msgpackr's extension): what socket.io sends a
/// client of them is those bytes either way.
pub fn encode_message(header: &Header, payload: &[u8]) -> Vec<u8> {
    let fields = 3 + u32::from(!payload.is_empty());
    let mut out = Vec::with_capacity(payload.len() + header.uid.len() + header.nsp.len() + 32);
    // Writing to a Vec cannot fail.
    let _ = rmp::encode::write_map_len(&mut out, fields);
    let _ = rmp::encode::write_str(&mut out, "uid");
    let _ = rmp::encode::write_str(&mut out, &header.uid);
    let _ = rmp::encode::write_str(&mut out, "nsp");
    let _ = rmp::encode::write_str(&mut out, &header.nsp);
    let _ = rmp::encode::write_str(&mut out, "type");
    let _ = rmp::encode::write_uint(&mut out, u64::from(header.kind.code()));
    if !payload.is_empty() {
        let _ = rmp::encode::write_str(&mut out, "data");
        let start = out.len();
        if !(may_hold_typed_arrays(payload) && typed_arrays_as_binary(payload, &mut out)) {
            out.truncate(start);
            out.extend_from_slice(payload);
        }
    }
    out
}

/// Whether an extension header of type `t` appears in `payload` (false positives only cost a
/// decode): the common case, no typed array, costs one scan and no allocation.
fn may_hold_typed_arrays(payload: &[u8]) -> bool {
    let t = Some(TYPED_ARRAY_EXT as u8);
    (0..payload.len()).any(|i| {
        let at = |k: usize| payload.get(i + k).copied();
        match payload[i] {
            0xd4..=0xd8 => at(1) == t, // fixext 1..16
            0xc7 => at(2) == t,        // ext 8
            0xc8 => at(3) == t,        // ext 16
            0xc9 => at(5) == t,        // ext 32
            _ => false,
        }
    })
}

/// Rewrites `payload` in one pass, copying it through and turning each typed-array extension
/// record into plain binary of its bytes. The rule: the work is proportional to the bytes the
/// payload holds (each step consumes at least one byte, whatever length a header declares, and no
/// value tree is built), and the memory is the output's: written at the end of `out`. False if it
/// is not one MessagePack value (what was written is then to be dropped).
fn typed_arrays_as_binary(payload: &[u8], out: &mut Vec<u8>) -> bool {
    rewrite_ext(payload, out, false).is_some()
}

/// The rewrite of [`typed_arrays_as_binary`]; with `undefined_as_nil`, msgpackr's `undefined`
/// (fixext 1 of type 0) becomes nil too, for readers that do not know it
/// (`@msgpack/msgpack`, which the streams adapter uses, would give an object: truthy).
pub(crate) fn rewrite_ext(payload: &[u8], out: &mut Vec<u8>, undefined_as_nil: bool) -> Option<()> {
    let mut at = 0usize;
    // Values still to read: a container adds its items (declared counts are only counted, never
    // allocated, and a count the bytes do not hold fails when the bytes run out).
    let mut values: u64 = 1;
    while values > 0 {
        values -= 1;
        let marker = *payload.get(at)?;
        let be = |from: usize, n: usize| -> Option<usize> {
            let bytes = payload.get(at + from..at + from + n)?;
            Some(
                bytes
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
            )
        };
        // (header length, data length, items added) of the value at `at`.
        let (head, data, items): (usize, usize, u64) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (1, 0, 0),
            0x80..=0x8f => (1, 0, 2 * u64::from(marker & 0x0f)),
            0x90..=0x9f => (1, 0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => (1, usize::from(marker & 0x1f), 0),
            0xc4 | 0xd9 => (2, be(1, 1)?, 0),
            0xc5 | 0xda => (3, be(1, 2)?, 0),
            0xc6 | 0xdb => (5, be(1, 4)?, 0),
            0xca => (1, 4, 0),
            0xcb => (1, 8, 0),
            0xcc | 0xd0 => (1, 1, 0),
            0xcd | 0xd1 => (1, 2, 0),
            0xce | 0xd2 => (1, 4, 0),
            0xcf | 0xd3 => (1, 8, 0),
            0xdc => (3, 0, be(1, 2)? as u64),
            0xdd => (5, 0, be(1, 4)? as u64),
            0xde => (3, 0, 2 * be(1, 2)? as u64),
            0xdf => (5, 0, 2 * be(1, 4)? as u64),
            // Extensions: the type byte is part of the header.
            0xd4..=0xd8 => (2, 1 << (marker - 0xd4), 0),
            0xc7 => (3, be(1, 1)?, 0),
            0xc8 => (4, be(1, 2)?, 0),
            0xc9 => (6, be(1, 4)?, 0),
            0xc1 => return None,
        };
        let end = at.checked_add(head)?.checked_add(data)?;
        let record = payload.get(at..end)?;
        let is_ext = matches!(marker, 0xd4..=0xd8 | 0xc7..=0xc9);
        if undefined_as_nil && marker == 0xd4 && record[1] == 0 {
            out.push(0xc0);
        } else if is_ext && record[head - 1] == TYPED_ARRAY_EXT as u8 && data > 0 {
            // msgpackr's typed array: its type code, then its bytes.
            let bytes = &record[head + 1..];
            rmp::encode::write_bin_len(out, bytes.len() as u32).ok()?;
            out.extend_from_slice(bytes);
        } else {
            out.extend_from_slice(record);
        }
        values = values.checked_add(items)?;
        at = end;
    }
    (at == payload.len()).then_some(())
}

/// Reads a Redis message: its routing header (validated as any message from another process)
/// and the MessagePack of its `data`. `requester` is the adapter whose response channel it came
/// on, if any: redis-adapter's responses name their requester by channel only.
pub fn decode_message(bytes: &[u8], requester: Option<&str>) -> Result<(Header, Vec<u8>), Invalid> {
    // Bound: a message from Redis is at most a frame (MAX_FRAME_LEN, as a worker's): a larger one
    // could not be framed for a worker anyway, so it is refused before any decoding (the hub drops
    // it with a count, `redisBad`, and a debug line).
    if bytes.len() > MAX_FRAME_LEN {
        return Err(Invalid::new(format!(
            "{} bytes, more than the frame limit ({MAX_FRAME_LEN} bytes)",
            bytes.len()
        )));
    }
    if bytes.first() == Some(&b'{') {
        return decode_json(bytes, requester);
    }
    decode_msgpack(bytes, requester)
}

fn decode_msgpack(bytes: &[u8], requester: Option<&str>) -> Result<(Header, Vec<u8>), Invalid> {
    // MessagePack is read where it lies: validation visits the fields it checks, and the bytes
    // of `data` become the payload as they came.
    if skip(bytes) != Some(bytes.len()) {
        return Err(Invalid::new(
            "not MessagePack (cut short, malformed, or trailing bytes)",
        ));
    }
    let message = RedisMessage::Root {
        message: MsgpackView::new(bytes),
        requester,
    };
    if message.kind() != Kind::Object {
        return Err(Invalid::new("message must be a map"));
    }
    let mut header = validate(&message)?;
    header.store = stored_by_workers(&message);
    let payload = match MsgpackView::new(bytes).field("data") {
        Some(data) => data
            .encoded()
            .ok_or_else(|| Invalid::new("malformed data"))?
            .to_vec(),
        None => Vec::new(),
    };
    Ok((header, payload))
}

/// The rule: a JSON message costs its bytes. It is transcoded to MessagePack in one pass, with no
/// value tree (a `serde_json::Value` costs up to ~16 times the text), then read as MessagePack
/// messages are: its `requesterUid` is the channel's, never its own. serde_json's nesting limit
/// (128) bounds the copies of nested containers whose length MessagePack needs first.
fn decode_json(bytes: &[u8], requester: Option<&str>) -> Result<(Header, Vec<u8>), Invalid> {
    let mut packed = Vec::with_capacity(bytes.len());
    let mut json = serde_json::Deserializer::from_slice(bytes);
    serde_transcode::transcode(&mut json, &mut rmp_serde::Serializer::new(&mut packed))
        .map_err(|e| Invalid::new(format!("not JSON: {e}")))?;
    json.end()
        .map_err(|e| Invalid::new(format!("not JSON: {e}")))?;
    if packed
        .first()
        .is_none_or(|&marker| !matches!(marker, 0x80..=0x8f | 0xde | 0xdf))
    {
        return Err(Invalid::new("message must be a map"));
    }
    decode_msgpack(&packed, requester)
}

/// A MessagePack message from Redis seen as the message the hub validates: its `requesterUid` is
/// the adapter whose response channel it came on (redis-adapter names it by channel only), never
/// what the message itself says.
#[derive(Clone, Copy)]
enum RedisMessage<'a> {
    Root {
        message: MsgpackView<'a>,
        requester: Option<&'a str>,
    },
    Inner(MsgpackView<'a>),
    Requester(&'a str),
}

impl<'a> RedisMessage<'a> {
    fn view(&self) -> Option<MsgpackView<'a>> {
        match *self {
            RedisMessage::Root { message, .. } => Some(message),
            RedisMessage::Inner(view) => Some(view),
            RedisMessage::Requester(_) => None,
        }
    }
}

impl<'a> View for RedisMessage<'a> {
    fn kind(&self) -> Kind {
        self.view().map_or(Kind::String, |view| view.kind())
    }

    fn field(&self, key: &str) -> Option<Self> {
        match *self {
            RedisMessage::Root { requester, .. } if key == "requesterUid" => {
                requester.map(RedisMessage::Requester)
            }
            _ => self.view()?.field(key).map(RedisMessage::Inner),
        }
    }

    fn string(&self) -> Option<String> {
        match *self {
            RedisMessage::Requester(uid) => Some(uid.to_owned()),
            _ => self.view()?.string(),
        }
    }

    fn number(&self) -> Option<f64> {
        self.view()?.number()
    }

    fn boolean(&self) -> Option<bool> {
        self.view()?.boolean()
    }

    fn length(&self) -> Option<u32> {
        self.view()?.length()
    }

    fn element(&self, index: u32) -> Option<Self> {
        self.view()?.element(index).map(RedisMessage::Inner)
    }

    fn elements(&self) -> impl Iterator<Item = Option<Self>> + '_ {
        self.view()
            .into_iter()
            .flat_map(MsgpackView::iter)
            .map(|element| element.map(RedisMessage::Inner))
    }
}

/// The sender of a message as this hub writes it (a map whose first entry is `uid`), without
/// decoding the rest: how the hub recognises its own messages coming back, cheaply.
pub fn peek_uid(bytes: &[u8]) -> Option<&str> {
    let mut reader = bytes;
    rmp::decode::read_map_len(&mut reader).ok()?;
    let mut key = [0u8; 3];
    if rmp::decode::read_str(&mut reader, &mut key).ok()? != "uid" {
        return None;
    }
    let (uid, _) = rmp::decode::read_str_from_slice(reader).ok()?;
    Some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmpv::Value;

    fn channels(mode: SubscriptionMode) -> Channels {
        Channels::new("socket.io", mode)
    }

    fn broadcast(rooms: &[&str], request_id: Option<&str>) -> Header {
        Header {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            request_id: request_id.map(Into::into),
            ..Header::new(MessageType::Broadcast, "/chat", "abc")
        }
    }

    #[test]
    fn channels_follow_redis_adapter() {
        let dynamic = channels(SubscriptionMode::Dynamic);
        assert_eq!(dynamic.namespace("/"), "socket.io#/#");
        assert_eq!(dynamic.responses("/", "u1"), "socket.io#/#u1#");
        let publish = |c: &Channels, h: &Header| c.publish_channel(h).unwrap();
        assert_eq!(
            publish(&dynamic, &broadcast(&["r"], None)),
            "socket.io#/chat#r#"
        );
        assert_eq!(
            publish(&dynamic, &broadcast(&["r", "s"], None)),
            "socket.io#/chat#"
        );
        assert_eq!(
            publish(&dynamic, &broadcast(&["r"], Some("1"))),
            "socket.io#/chat#"
        );
        let socket_id = "abcdefghij0123456789";
        assert_eq!(
            publish(&dynamic, &broadcast(&[socket_id], None)),
            "socket.io#/chat#"
        );
        let private = channels(SubscriptionMode::DynamicPrivate);
        assert_eq!(
            publish(&private, &broadcast(&[socket_id], None)),
            format!("socket.io#/chat#{socket_id}#")
        );
        let fixed = channels(SubscriptionMode::Static);
        assert_eq!(
            publish(&fixed, &broadcast(&["r"], None)),
            "socket.io#/chat#"
        );
        let response = Header {
            request_id: Some("1".into()),
            requester_uid: Some("req".into()),
            ..Header::new(MessageType::FetchSocketsResponse, "/chat", "abc")
        };
        assert_eq!(publish(&dynamic, &response), "socket.io#/chat#req#");
    }

    #[test]
    fn encode_then_decode() {
        let header = broadcast(&["r"], None);
        let payload = {
            let mut out = Vec::new();
            let data = Value::Map(vec![
                (
                    "opts".into(),
                    Value::Map(vec![
                        ("rooms".into(), Value::Array(vec!["r".into()])),
                        ("except".into(), Value::Array(vec![])),
                    ]),
                ),
                (
                    "packet".into(),
                    Value::Map(vec![
                        ("type".into(), Value::from(2)),
                        (
                            "data".into(),
                            Value::Array(vec![Value::Binary(vec![1, 2, 3])]),
                        ),
                    ]),
                ),
            ]);
            rmpv::encode::write_value(&mut out, &data).unwrap();
            out
        };
        let bytes = encode_message(&header, &payload);
        let (back, back_payload) = decode_message(&bytes, None).unwrap();
        assert_eq!(back.kind, MessageType::Broadcast);
        assert_eq!(back.rooms, vec!["r".to_string()]);
        assert_eq!(back.uid, "abc");
        assert_eq!(back_payload, payload);
    }

    #[test]
    fn json_messages_and_responses() {
        let json = br#"{"uid":"x","nsp":"/","type":8,"data":{"requestId":"7","sockets":[]}}"#;
        assert!(
            decode_message(json, None).is_err(),
            "a response needs its requester"
        );
        let (header, payload) = decode_message(json, Some("me")).unwrap();
        assert_eq!(header.requester_uid.as_deref(), Some("me"));
        assert_eq!(header.request_id.as_deref(), Some("7"));
        let data = rmpv::decode::read_value(&mut payload.as_slice()).unwrap();
        assert_eq!(data.as_map().unwrap().len(), 2);
    }

    #[test]
    fn typed_arrays_are_rewritten_in_place_of_their_records_only() {
        // {"a": [fixext 4 typed array, ext 16 typed array, ext 8 of another type], "b": -1.5}
        let mut ext16 = vec![0xc8, 0x01, 0x01, 0x74, 0x02];
        ext16.extend(std::iter::repeat_n(7u8, 256));
        let mut payload = vec![0x82, 0xa1, b'a', 0x93, 0xd6, 0x74, 0x01, 1, 2, 3];
        payload.extend_from_slice(&ext16);
        payload.extend_from_slice(&[0xc7, 0x01, 0x05, 0xff, 0xa1, b'b']);
        payload.extend_from_slice(&[0xcb, 0xbf, 0xf8, 0, 0, 0, 0, 0, 0]);
        let mut out = Vec::new();
        assert!(typed_arrays_as_binary(&payload, &mut out));
        let value = rmpv::decode::read_value(&mut out.as_slice()).unwrap();
        let items = value.as_map().unwrap()[0].1.as_array().unwrap().clone();
        assert_eq!(items[0], Value::Binary(vec![1, 2, 3]));
        assert_eq!(items[1], Value::Binary(vec![7; 256]));
        assert_eq!(items[2], Value::Ext(5, vec![0xff]));
        assert_eq!(value.as_map().unwrap()[1].1, Value::from(-1.5));
    }

    #[test]
    fn declared_counts_cost_nothing_the_bytes_do_not_hold() {
        // An array and a map declaring 2^32-1 items, a string declaring 4 GiB: a few bytes each.
        for payload in [
            vec![0xdd, 0xff, 0xff, 0xff, 0xff, 0xd4, 0x74, 0x01],
            vec![0xdf, 0xff, 0xff, 0xff, 0xff, 0xd4, 0x74, 0x01],
            vec![0x91, 0xdb, 0xff, 0xff, 0xff, 0xff, 0xd4, 0x74],
        ] {
            let mut out = Vec::new();
            assert!(!typed_arrays_as_binary(&payload, &mut out));
            assert!(out.len() <= payload.len());
            // encode_message falls back to the payload as it came.
            let message = encode_message(&Header::new(MessageType::Broadcast, "/", "u"), &payload);
            assert!(message.ends_with(&payload));
        }
    }

    #[test]
    fn messages_larger_than_a_frame_are_refused_before_decoding() {
        let json = br#"{"uid":"x","nsp":"/","type":3,"data":{"opts":{"rooms":[],"except":[]},"packet":{"type":2,"data":[""#;
        let mut big = json.to_vec();
        big.resize(MAX_FRAME_LEN + 1 - 5, b'a');
        big.extend_from_slice(br#""]}}}"#);
        assert_eq!(big.len(), MAX_FRAME_LEN + 1);
        let refused = decode_message(&big, None).unwrap_err();
        assert!(refused.reason.contains("frame limit"), "{}", refused.reason);
        // One byte less is a message like any other.
        big.remove(json.len());
        assert!(decode_message(&big, None).is_ok());
    }

    #[test]
    fn typed_arrays_cross_as_binary() {
        // msgpackr's pack(["ev", new Uint8Array([9, 8])]) with moreTypes.
        let payload = [0x92, 0xa2, b'e', b'v', 0xc7, 0x03, 0x74, 0x01, 9, 8];
        assert!(may_hold_typed_arrays(&payload));
        let message = encode_message(&Header::new(MessageType::Broadcast, "/", "u"), &payload);
        let data = MsgpackView::new(&message).field("data").unwrap();
        let bytes = data.element(1).unwrap().encoded().unwrap();
        assert_eq!(bytes, [0xc4, 0x02, 9, 8]); // bin 8 of [9, 8]
        assert!(!may_hold_typed_arrays(&[
            0x92, 0xa2, b'e', b'v', 0xc4, 0x01, 0x74
        ]));
    }

    #[test]
    fn peek_the_sender_of_our_own_messages() {
        let message = encode_message(&Header::new(MessageType::Heartbeat, "/", "abc"), &[]);
        assert_eq!(peek_uid(&message), Some("abc"));
        assert_eq!(peek_uid(br#"{"uid":"abc"}"#), None);
        assert_eq!(peek_uid(&[0x81, 0xa3, b'n', b's', b'p', 0xa1, b'/']), None);
        assert_eq!(peek_uid(&[]), None);
    }

    #[test]
    fn garbage_is_an_error() {
        for bytes in [&b""[..], b"{", b"\xc1", b"\x93\x01\x02\x03", b"\xa3abc\x00"] {
            assert!(decode_message(bytes, None).is_err(), "{bytes:?}");
        }
    }
}
