//! The wire of `@socket.io/redis-streams-adapter` 0.3.x (dist/adapter.js), which a hub speaks on
//! Redis in `mode: "streams"`: stream names, which messages go on the stream and which over
//! pub/sub, the fields of a stream entry, stream ids as offsets, and the session value.
//!
//! Entries. The adapter `XADD`s every message but the "ephemeral" ones (a broadcast with
//! acknowledgements, SERVER_SIDE_EMIT, FETCH_SOCKETS: PUBLISH on `<prefix>#<nsp>#`; responses:
//! PUBLISH on `<prefix>#<nsp>#<uid>#`) with the fields `uid`, `nsp`, `type` (decimal string) and
//! `data`: `JSON.stringify(data)`, or, when the type may hold binary and does (and
//! `onlyPlaintext` is off), base64 of the MessagePack of `data`. A reader tells them apart by the
//! first character (`{` is JSON). Pub/sub payloads are the MessagePack of the whole message, as
//! in the sharded protocol ([`crate::redis_wire`]).
//!
//! Offsets. A client's offset is the stream id of the last entry it got (`<ms>-<seq>`). Between
//! the hub and its workers an offset is a position, a JS-safe integer: `ms * 2^10 + seq`
//! ([`StreamId::position`]), exact for every id whose `ms` is below 2^43 (year 2248) and whose
//! `seq` is below 1024 (more than 1,024 entries in one millisecond, or a clock set back while
//! entries keep coming). An entry whose id has no position is delivered without an offset, and a
//! restore that would have to include one fails (a new session, never a partial history).
//!
//! Everything here reads bytes that came from Redis: lengths are checked against the bytes
//! there, nothing is allocated from a declared length, and work is proportional to the input.

use std::fmt;
use std::io::Write;

use crate::error::Invalid;
use crate::frame::MAX_FRAME_LEN;
use crate::header::Header;
use crate::message::MessageType;
use crate::msgpack_view::{skip, MsgpackView};
use crate::redis_wire::{decode_message, rewrite_ext};
use crate::view::{Kind, View};

/// Bits of a position that hold the id's sequence number.
pub const SEQ_BITS: u32 = 10;
const MAX_SEQ: u64 = (1 << SEQ_BITS) - 1;
/// The largest integer a JS number holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A stream entry id, `<ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// The adapter's own check (`/^[0-9]+-[0-9]+$/`), with both parts fitting in 64 bits.
    pub fn parse(text: &str) -> Option<StreamId> {
        let (ms, seq) = text.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(StreamId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    pub fn parse_bytes(bytes: &[u8]) -> Option<StreamId> {
        StreamId::parse(std::str::from_utf8(bytes).ok()?)
    }

    /// The position a worker carries for this id, if it has one (see the module's "Offsets").
    pub fn position(self) -> Option<u64> {
        if self.seq > MAX_SEQ {
            return None;
        }
        let position = self.ms.checked_mul(1 << SEQ_BITS)? | self.seq;
        (position <= MAX_SAFE_INTEGER).then_some(position)
    }

    pub fn from_position(position: u64) -> Option<StreamId> {
        (position <= MAX_SAFE_INTEGER).then_some(StreamId {
            ms: position >> SEQ_BITS,
            seq: position & MAX_SEQ,
        })
    }

    /// The smallest id after this one (an exclusive start for `XRANGE`, as the adapter's
    /// `nextOffset`).
    pub fn next(self) -> StreamId {
        match self.seq.checked_add(1) {
            Some(seq) => StreamId { ms: self.ms, seq },
            None => StreamId {
                ms: self.ms.saturating_add(1),
                seq: 0,
            },
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The stream of a namespace: `streamName`, or with `streamCount` > 1 `streamName-i` where `i` is
/// the adapter's `hashCode(nsp) % streamCount` (a 32-bit Java-style hash over UTF-16 units; JS's
/// `%` keeps the sign, so a negative hash names e.g. `socket.io--1`, as the adapter does).
pub fn stream_name(base: &str, count: u32, nsp: &str) -> String {
    if count <= 1 {
        return base.to_string();
    }
    let hash = nsp.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    // `count` fits an i32 (options are checked); the remainder keeps the hash's sign.
    let index = hash % (count.min(i32::MAX as u32) as i32);
    format!("{base}-{index}")
}

/// Whether the adapter sends this message over pub/sub rather than the stream (`isEphemeral`;
/// responses always go over pub/sub). Heartbeats and ADAPTER_CLOSE, which plain streams servers
/// never send and ignore, go over pub/sub too: on the stream they would only take room from the
/// packets clients recover.
pub fn is_ephemeral(header: &Header) -> bool {
    match header.kind {
        MessageType::Broadcast => header.request_id.is_some(),
        MessageType::ServerSideEmit
        | MessageType::FetchSockets
        | MessageType::InitialHeartbeat
        | MessageType::Heartbeat
        | MessageType::AdapterClose => true,
        kind => kind.is_response(),
    }
}

/// The fields of the stream entry for `header` and `payload` (the MessagePack of `data`, or
/// empty), as the adapter's `encode` writes them.
pub fn encode_entry(
    header: &Header,
    payload: &[u8],
    only_plaintext: bool,
) -> Vec<(&'static str, Vec<u8>)> {
    let mut fields = vec![
        ("uid", header.uid.as_bytes().to_vec()),
        ("nsp", header.nsp.as_bytes().to_vec()),
        ("type", header.kind.code().to_string().into_bytes()),
    ];
    if !payload.is_empty() {
        fields.push(("data", encode_data(payload, only_plaintext)));
    }
    fields
}

/// `data` as the adapter writes it: JSON when it holds no binary (or `onlyPlaintext`, where
/// Buffers become `{"type":"Buffer","data":[...]}` as `JSON.stringify` writes them), else base64
/// of MessagePack. What JSON cannot say as JS would (msgpackr's extensions: Dates, typed arrays,
/// Sets; NaN; keys that are not strings) goes as MessagePack, which every reader decodes.
pub fn encode_data(payload: &[u8], only_plaintext: bool) -> Vec<u8> {
    if let Some(json) = to_json(payload, only_plaintext) {
        return json;
    }
    let mut packed = Vec::with_capacity(payload.len());
    if rewrite_ext(payload, &mut packed, true).is_none() {
        packed.clear();
        packed.extend_from_slice(payload);
    }
    base64_encode(&packed).into_bytes()
}

/// Reads a stream entry (its field/value pairs, as Redis returns them) into the header the hub
/// routes on and the MessagePack of `data`. The adapter's reader takes the last value of a field
/// given twice and skips entries without `nsp`; so does this.
pub fn decode_entry<'a>(
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<(Header, Vec<u8>), Invalid> {
    let (mut uid, mut nsp, mut kind, mut data) = (None, None, None, None);
    let mut total = 0usize;
    for (name, value) in fields {
        total = total.saturating_add(name.len() + value.len());
        if total > MAX_FRAME_LEN {
            return Err(Invalid::new("entry larger than a frame"));
        }
        match name {
            b"uid" => uid = Some(value),
            b"nsp" => nsp = Some(value),
            b"type" => kind = Some(value),
            b"data" => data = Some(value),
            _ => {}
        }
    }
    let text = |v: Option<&'a [u8]>, name: &str| -> Result<&'a str, Invalid> {
        let v = v.ok_or_else(|| Invalid::new(format!("entry without {name}")))?;
        std::str::from_utf8(v).map_err(|_| Invalid::new(format!("{name} is not UTF-8")))
    };
    let uid = text(uid, "uid")?;
    let nsp = text(nsp, "nsp")?;
    if nsp.is_empty() {
        return Err(Invalid::new("entry without nsp"));
    }
    let kind: u8 = text(kind, "type")?
        .parse()
        .map_err(|_| Invalid::new("type is not a small decimal number"))?;
    let data = match data.filter(|d| !d.is_empty()) {
        None => None,
        Some(json) if json[0] == b'{' => Some(json_to_msgpack(json)?),
        Some(encoded) => {
            let packed = base64_decode(encoded)
                .ok_or_else(|| Invalid::new("data is neither JSON nor base64"))?;
            if skip(&packed) != Some(packed.len()) {
                return Err(Invalid::new("data is not one MessagePack value"));
            }
            Some(packed)
        }
    };
    let mut message =
        Vec::with_capacity(uid.len() + nsp.len() + data.as_ref().map_or(0, Vec::len) + 32);
    let _ = rmp::encode::write_map_len(&mut message, 3 + u32::from(data.is_some()));
    let _ = rmp::encode::write_str(&mut message, "uid");
    let _ = rmp::encode::write_str(&mut message, uid);
    let _ = rmp::encode::write_str(&mut message, "nsp");
    let _ = rmp::encode::write_str(&mut message, nsp);
    let _ = rmp::encode::write_str(&mut message, "type");
    let _ = rmp::encode::write_uint(&mut message, u64::from(kind));
    if let Some(data) = &data {
        let _ = rmp::encode::write_str(&mut message, "data");
        message.extend_from_slice(data);
    }
    decode_message(&message, None)
}

fn json_to_msgpack(json: &[u8]) -> Result<Vec<u8>, Invalid> {
    let mut packed = Vec::with_capacity(json.len());
    // serde_json stops at 128 levels of nesting: deep input cannot exhaust the stack.
    let mut reader = serde_json::Deserializer::from_slice(json);
    serde_transcode::transcode(&mut reader, &mut rmp_serde::Serializer::new(&mut packed))
        .map_err(|e| Invalid::new(format!("data is not JSON: {e}")))?;
    reader
        .end()
        .map_err(|e| Invalid::new(format!("data is not JSON: {e}")))?;
    Ok(packed)
}

/// A session as the adapter stores it: `SET <sessionKeyPrefix><pid>` to base64 of the
/// MessagePack of `{ sid, pid, rooms, data }` (`data` is `socket.data`).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSession {
    pub sid: String,
    pub pid: String,
    pub rooms: Vec<String>,
    /// The MessagePack of `socket.data`.
    pub data: Vec<u8>,
}

impl StreamSession {
    /// The value to SET. `data` (msgpackr's, from a worker) is rewritten for other readers:
    /// typed arrays as binary, `undefined` as nil.
    pub fn encode(&self) -> String {
        let mut out = Vec::with_capacity(self.data.len() + self.sid.len() + self.pid.len() + 64);
        let _ = rmp::encode::write_map_len(&mut out, 4);
        let _ = rmp::encode::write_str(&mut out, "sid");
        let _ = rmp::encode::write_str(&mut out, &self.sid);
        let _ = rmp::encode::write_str(&mut out, "pid");
        let _ = rmp::encode::write_str(&mut out, &self.pid);
        let _ = rmp::encode::write_str(&mut out, "rooms");
        let _ = rmp::encode::write_array_len(&mut out, self.rooms.len() as u32);
        for room in &self.rooms {
            let _ = rmp::encode::write_str(&mut out, room);
        }
        let _ = rmp::encode::write_str(&mut out, "data");
        let start = out.len();
        if self.data.is_empty() || rewrite_ext(&self.data, &mut out, true).is_none() {
            out.truncate(start);
            if self.data.is_empty() {
                out.push(0xc0);
            } else {
                out.extend_from_slice(&self.data);
            }
        }
        base64_encode(&out)
    }

    /// Reads a stored session (what GET returned).
    pub fn decode(value: &[u8]) -> Result<StreamSession, Invalid> {
        let packed = base64_decode(value).ok_or_else(|| Invalid::new("session is not base64"))?;
        if skip(&packed) != Some(packed.len()) {
            return Err(Invalid::new("session is not one MessagePack value"));
        }
        let view = MsgpackView::new(&packed);
        if view.kind() != Kind::Object {
            return Err(Invalid::new("session is not a map"));
        }
        let string = |name: &str| {
            view.field(name)
                .and_then(|v| v.string())
                .ok_or_else(|| Invalid::new(format!("session without a string {name}")))
        };
        let sid = string("sid")?;
        let pid = string("pid")?;
        let mut rooms = Vec::new();
        if let Some(list) = view.field("rooms") {
            if list.kind() != Kind::Array {
                return Err(Invalid::new("session rooms is not an array"));
            }
            for room in list.iter() {
                let room = room.ok_or_else(|| Invalid::new("malformed session rooms"))?;
                // socket.io's rooms are strings; a number is spelled as JS spells it.
                match room.kind() {
                    Kind::String => rooms.push(room.string().unwrap_or_default()),
                    Kind::Number => rooms.push(crate::js_number::to_js_string(
                        room.number().unwrap_or_default(),
                    )),
                    _ => return Err(Invalid::new("a session room is not a string")),
                }
            }
        }
        let data = match view.field("data") {
            Some(data) => data
                .encoded()
                .ok_or_else(|| Invalid::new("malformed session data"))?
                .to_vec(),
            None => vec![0xc0],
        };
        Ok(StreamSession {
            sid,
            pid,
            rooms,
            data,
        })
    }
}

/// socket.io-adapter's `shouldIncludePacket`: a packet reaches a session if it was addressed to
/// everyone or to one of its rooms, and to none of the session's rooms was it excepted.
pub fn should_include(session_rooms: &[String], rooms: &[String], except: &[String]) -> bool {
    let included = rooms.is_empty() || session_rooms.iter().any(|r| rooms.contains(r));
    included && !session_rooms.iter().any(|r| except.contains(r))
}

// ---- MessagePack to JSON ----------------------------------------------------------------------

/// msgpackr's `undefined`: fixext 1 of type 0.
fn is_undefined(bytes: &[u8]) -> bool {
    bytes.len() >= 3 && bytes[0] == 0xd4 && bytes[1] == 0
}

struct Level {
    /// Values left in this container (a map counts keys and values).
    left: usize,
    map: bool,
    /// Whether something was written in it (a comma goes before the next).
    wrote: bool,
    /// Where the pending key's text starts (a map entry whose value is `undefined` is dropped,
    /// as `JSON.stringify` drops it).
    key_start: usize,
}

/// `payload` as `JSON.stringify` writes it, or None where JSON cannot say it (see
/// [`encode_data`]). Iterative: nesting costs heap, not stack.
fn to_json(payload: &[u8], buffers: bool) -> Option<Vec<u8>> {
    if skip(payload) != Some(payload.len()) || is_undefined(payload) {
        return None;
    }
    let mut out = Vec::with_capacity(payload.len() + payload.len() / 4 + 8);
    let mut levels: Vec<Level> = Vec::new();
    let mut at = 0usize;
    loop {
        // Close what is complete.
        while let Some(level) = levels.last() {
            if level.left > 0 {
                break;
            }
            out.push(if level.map { b'}' } else { b']' });
            levels.pop();
        }
        let Some(level) = levels.last_mut() else {
            if at == payload.len() && !out.is_empty() {
                return Some(out);
            }
            if !out.is_empty() {
                return None;
            }
            // the root value
            at = write_value(payload, at, &mut out, &mut levels, buffers)?;
            continue;
        };
        let is_key = level.map && level.left % 2 == 0;
        level.left -= 1;
        let value = &payload[at..];
        if is_key {
            if !matches!(value[0], 0xa0..=0xbf | 0xd9..=0xdb) {
                return None; // JSON keys are strings
            }
            level.key_start = out.len();
            if level.wrote {
                out.push(b',');
            }
            level.wrote = true;
            at = write_value(payload, at, &mut out, &mut levels, buffers)?;
            out.push(b':');
            continue;
        }
        if is_undefined(value) {
            if level.map {
                out.truncate(level.key_start);
                // The entry is gone: whether a comma is needed before the next is as before it.
                level.wrote = level.key_start > 0 && !matches!(out.last(), Some(b'{'));
                at += 3;
            } else {
                if level.wrote {
                    out.push(b',');
                }
                level.wrote = true;
                out.extend_from_slice(b"null");
                at += 3;
            }
            continue;
        }
        if !level.map {
            if level.wrote {
                out.push(b',');
            }
            level.wrote = true;
        }
        at = write_value(payload, at, &mut out, &mut levels, buffers)?;
    }
}

/// Writes the value at `at` (opening a container pushes a level); returns where the next starts.
fn write_value(
    payload: &[u8],
    at: usize,
    out: &mut Vec<u8>,
    levels: &mut Vec<Level>,
    buffers: bool,
) -> Option<usize> {
    let marker = *payload.get(at)?;
    // A container's length is not skipped over here (that would walk it once per level):
    // only a scalar's, which costs its own bytes. The whole payload was checked by `skip`.
    let len = if matches!(marker, 0x80..=0x9f | 0xdc..=0xdf) {
        5.min(payload.len() - at)
    } else {
        skip(&payload[at..])?
    };
    let bytes = &payload[at..at + len];
    let mut open = |map: bool, count: usize, head: usize| {
        out.push(if map { b'{' } else { b'[' });
        levels.push(Level {
            left: if map { count * 2 } else { count },
            map,
            wrote: false,
            key_start: 0,
        });
        at + head
    };
    let be = |from: usize, n: usize| {
        bytes[from..from + n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    Some(match marker {
        0x80..=0x8f => open(true, usize::from(marker & 0x0f), 1),
        0xde => open(true, be(1, 2), 3),
        0xdf => open(true, be(1, 4), 5),
        0x90..=0x9f => open(false, usize::from(marker & 0x0f), 1),
        0xdc => open(false, be(1, 2), 3),
        0xdd => open(false, be(1, 4), 5),
        0xc0 => {
            out.extend_from_slice(b"null");
            at + len
        }
        0xc2 => {
            out.extend_from_slice(b"false");
            at + len
        }
        0xc3 => {
            out.extend_from_slice(b"true");
            at + len
        }
        0xa0..=0xbf | 0xd9..=0xdb => {
            let text = rmp::decode::read_str_from_slice(bytes).ok()?.0;
            serde_json::to_writer(&mut *out, text).ok()?;
            at + len
        }
        0xca | 0xcb => {
            let value = rmp::decode::read_f64(&mut &bytes[..])
                .or_else(|_| rmp::decode::read_f32(&mut &bytes[..]).map(f64::from))
                .ok()?;
            if !value.is_finite() {
                return None; // JSON.stringify writes null: the value would change
            }
            serde_json::to_writer(&mut *out, &value).ok()?;
            at + len
        }
        0x00..=0x7f | 0xe0..=0xff | 0xcc..=0xd3 => {
            let value: rmpv::Value = rmpv::decode::read_value(&mut &bytes[..]).ok()?;
            if let Some(n) = value.as_i64() {
                let _ = write!(out, "{n}");
            } else {
                let _ = write!(out, "{}", value.as_u64()?);
            }
            at + len
        }
        0xc4..=0xc6 if buffers => {
            let head = match marker {
                0xc4 => 2,
                0xc5 => 3,
                _ => 5,
            };
            out.extend_from_slice(br#"{"type":"Buffer","data":["#);
            for (i, b) in bytes[head..].iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = write!(out, "{b}");
            }
            out.extend_from_slice(b"]}");
            at + len
        }
        _ => return None, // binary (outside onlyPlaintext) or an extension
    })
}

// ---- base64 (the standard alphabet, with padding, as Buffer#toString("base64")) ---------------

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base64 with or without padding (Node's `Buffer.from(s, "base64")` writes padding);
/// None on any other character.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pack(value: &serde_json::Value) -> Vec<u8> {
        rmp_serde::to_vec_named(value).unwrap()
    }

    #[test]
    fn ids_and_positions() {
        let id = StreamId::parse("1733400000000-5").unwrap();
        assert_eq!(id.to_string(), "1733400000000-5");
        let position = id.position().unwrap();
        assert_eq!(StreamId::from_position(position), Some(id));
        assert!(position <= MAX_SAFE_INTEGER);
        assert_eq!(StreamId::parse("1-2").unwrap().next().to_string(), "1-3");
        assert_eq!(StreamId::parse("1-1024").unwrap().position(), None);
        assert_eq!(
            StreamId::parse(&format!("{}-0", 1u64 << 43))
                .unwrap()
                .position(),
            None
        );
        for bad in [
            "",
            "1",
            "-1",
            "1-",
            "a-1",
            "1-1-1",
            "99999999999999999999999-0",
            " 1-1",
        ] {
            assert_eq!(StreamId::parse(bad), None, "{bad}");
        }
        assert_eq!(StreamId::from_position(1 << 53), None);
    }

    #[test]
    fn stream_names_follow_hash_code() {
        assert_eq!(stream_name("socket.io", 1, "/chat"), "socket.io");
        // Values printed by the adapter's own util.hashCode (node_modules).
        assert_eq!(stream_name("s", 4, "/"), "s-3");
        assert_eq!(stream_name("s", 3, "/chat"), "s-1");
        assert_eq!(stream_name("s", 4, "/négatif-ñ-namespace-xx"), "s-2");
        // A negative hash keeps its sign, as JS's % does.
        assert_eq!(stream_name("s", 4, "/abcdefgh"), "s--1");
    }

    #[test]
    fn ephemeral_as_the_adapter() {
        let h = |kind| Header::new(kind, "/", "u");
        assert!(!is_ephemeral(&h(MessageType::Broadcast)));
        let with_ack = Header {
            request_id: Some("1".into()),
            ..h(MessageType::Broadcast)
        };
        assert!(is_ephemeral(&with_ack));
        assert!(is_ephemeral(&h(MessageType::ServerSideEmit)));
        assert!(is_ephemeral(&h(MessageType::FetchSockets)));
        assert!(is_ephemeral(&h(MessageType::FetchSocketsResponse)));
        assert!(!is_ephemeral(&h(MessageType::SocketsJoin)));
        assert!(!is_ephemeral(&h(MessageType::DisconnectSockets)));
    }

    fn field<'a>(fields: &'a [(&'static str, Vec<u8>)], name: &str) -> &'a [u8] {
        &fields.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn entries_are_json_without_binary_and_round_trip() {
        let data = json!({"packet": {"type": 2, "data": ["ev", 1, 2.5, "é\"", null, true], "nsp": "/"},
                          "opts": {"rooms": ["r"], "except": [], "flags": {}}});
        let header = Header {
            rooms: vec!["r".into()],
            ..Header::new(MessageType::Broadcast, "/", "abc")
        };
        let fields = encode_entry(&header, &pack(&data), false);
        assert_eq!(field(&fields, "type"), b"3");
        let text = std::str::from_utf8(field(&fields, "data")).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(parsed, data);
        let pairs: Vec<(&[u8], &[u8])> = fields
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_slice()))
            .collect();
        let (decoded, payload) = decode_entry(pairs).unwrap();
        assert_eq!(decoded.uid, "abc");
        assert_eq!(decoded.rooms, vec!["r".to_string()]);
        assert!(decoded.store);
        let back: serde_json::Value = rmp_serde::from_slice(&payload).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn undefined_is_dropped_from_maps_and_null_in_arrays() {
        // {a: undefined, b: 1, c: [undefined]} as msgpackr writes it
        let payload = [
            0x83, 0xa1, b'a', 0xd4, 0, 0, 0xa1, b'b', 1, 0xa1, b'c', 0x91, 0xd4, 0, 0,
        ];
        assert_eq!(to_json(&payload, false).unwrap(), br#"{"b":1,"c":[null]}"#);
        let only = [0x82, 0xa1, b'a', 0xd4, 0, 0, 0xa1, b'b', 0xd4, 0, 0];
        assert_eq!(to_json(&only, false).unwrap(), b"{}");
        let last = [0x82, 0xa1, b'a', 1, 0xa1, b'b', 0xd4, 0, 0];
        assert_eq!(to_json(&last, false).unwrap(), br#"{"a":1}"#);
    }

    #[test]
    fn binary_goes_as_base64_msgpack_or_buffer_json() {
        let mut payload = vec![0x92, 0xa1, b'x'];
        payload.extend_from_slice(&[0xc4, 2, 7, 8]);
        let data = encode_data(&payload, false);
        let packed = base64_decode(&data).unwrap();
        assert_eq!(packed, payload);
        assert_eq!(
            encode_data(&payload, true),
            br#"["x",{"type":"Buffer","data":[7,8]}]"#.to_vec()
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        let ok = |fields: Vec<(&'static [u8], &'static [u8])>| decode_entry(fields).is_ok();
        assert!(ok(vec![
            (b"uid", b"u"),
            (b"nsp", b"/"),
            (b"type", b"4"),
            (
                b"data",
                br#"{"opts":{"rooms":[],"except":[]},"rooms":["a"]}"#
            )
        ]));
        assert!(!ok(vec![(b"uid", b"u"), (b"nsp", b""), (b"type", b"3")]));
        assert!(!ok(vec![(b"uid", b"u"), (b"nsp", b"/"), (b"type", b"x")]));
        assert!(!ok(vec![
            (b"uid", b"u"),
            (b"nsp", b"/"),
            (b"type", b"3"),
            (b"data", b"{not json")
        ]));
        assert!(!ok(vec![
            (b"uid", b"u"),
            (b"nsp", b"/"),
            (b"type", b"3"),
            (b"data", b"!!!!")
        ]));
        // base64 of a truncated map
        assert!(!ok(vec![
            (b"uid", b"u"),
            (b"nsp", b"/"),
            (b"type", b"3"),
            (b"data", b"gw==")
        ]));
        // deep JSON stops at serde_json's limit instead of the stack
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let deep: &'static [u8] = Box::leak(deep.into_bytes().into_boxed_slice());
        assert!(!ok(vec![
            (b"uid", b"u"),
            (b"nsp", b"/"),
            (b"type", b"3"),
            (b"data", deep)
        ]));
    }

    #[test]
    fn deep_msgpack_to_json_uses_no_stack() {
        let mut payload = vec![0x91; 200_000];
        payload.push(0xc0);
        let json = to_json(&payload, false).unwrap();
        assert_eq!(json.len(), 200_000 * 2 + 4);
    }

    #[test]
    fn sessions_round_trip_and_match_the_adapter() {
        let session = StreamSession {
            sid: "s1".into(),
            pid: "p1".into(),
            rooms: vec!["s1".into(), "room".into()],
            data: pack(&json!({"user": 7})),
        };
        let encoded = session.encode();
        assert_eq!(StreamSession::decode(encoded.as_bytes()).unwrap(), session);
        // As @msgpack/msgpack writes { sid: "a", pid: "b", rooms: ["a"], data: {} }:
        let js = base64_encode(&pack(
            &json!({"sid": "a", "pid": "b", "rooms": ["a"], "data": {}}),
        ));
        let read = StreamSession::decode(js.as_bytes()).unwrap();
        assert_eq!(read.rooms, vec!["a".to_string()]);
        assert_eq!(read.data, vec![0x80]);
        assert!(StreamSession::decode(b"%%%").is_err());
        assert!(StreamSession::decode(base64_encode(&[0x93, 1, 2, 3]).as_bytes()).is_err());
    }

    #[test]
    fn base64_matches_node() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(&[0xff, 0xfe]), "//4=");
        for s in [&b""[..], b"f", b"fo", b"foo", b"foob", &[0, 255, 128]] {
            assert_eq!(base64_decode(base64_encode(s).as_bytes()).unwrap(), s);
        }
    }

    #[test]
    fn should_include_as_socket_io() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(should_include(&s(&["a"]), &[], &[]));
        assert!(should_include(&s(&["a", "b"]), &s(&["b"]), &[]));
        assert!(!should_include(&s(&["a"]), &s(&["b"]), &[]));
        assert!(!should_include(&s(&["a", "b"]), &[], &s(&["b"])));
    }
}
