//! Targets over `sio-cluster-core`: the frame decoder, the header codec, IPC message validation
//! and the hub's routing state (switchboard and room views).
//!
//! Included by crates/core/tests/fuzz_corpus.rs with `#[path]`: it may use only what that test
//! crate has (sio_cluster_core, its dependencies serde_json and rmp_serde, and `crate::input`).

use std::collections::HashSet;
use std::io::Cursor;

use serde_json::Value;
use sio_cluster_core::{
    decode_message, encode_frame, encode_message, validate, FrameDecoder, FrameError, Header, Kind,
    MessageType, Recipients, RoomViews, Switchboard, Via, View, MAX_FRAME_LEN,
};

use crate::input::Input;

// ---------------------------------------------------------------------------------------------
// (a) frame decoder

/// Bytes of one length field of a frame.
const LEN_FIELD: usize = 4;

/// Arbitrary bytes pushed into a `FrameDecoder` in arbitrary chunks, frames taken out by any of
/// its three methods. Input: `[limit][method bits][n][n chunk sizes][stream...]`.
///
/// Checks: every frame is exactly the next bytes of the stream (its length prefix, its payload at
/// the end); it re-encodes with `encode_frame` to a frame that decodes to the same header and
/// payload; after an error the decoder stays poisoned with the same error and keeps nothing.
pub fn frame(data: &[u8]) {
    let mut input = Input::new(data);
    let limit = input.pick(&[MAX_FRAME_LEN, usize::MAX, 0, 7, 8, 16, 64, 4096]);
    let methods = input.byte();
    let chunk_count = input.below(8) + 1;
    let chunks: Vec<usize> = (0..chunk_count).map(|_| input.byte() as usize).collect();
    let stream = input.rest();

    let mut decoder = FrameDecoder::new(limit);
    let mut pushed = 0; // bytes of `stream` pushed so far
    let mut consumed = 0; // bytes of `stream` returned as frames
    let mut call = 0u32;
    let mut chunk = 0;
    loop {
        if pushed < stream.len() {
            let size = chunks[chunk % chunks.len()];
            chunk += 1;
            let end = (pushed + size).min(stream.len());
            decoder.push(&stream[pushed..end]);
            // An empty chunk is pushed as such; then one byte, so the loop moves on.
            pushed = if size == 0 {
                (pushed + 1).min(stream.len())
            } else {
                end
            };
            if size == 0 {
                decoder.push(&stream[end..pushed]);
            }
            assert_eq!(decoder.buffered(), pushed - consumed);
        }
        loop {
            let method = (methods >> (call % 4 * 2)) & 3;
            call += 1;
            let next = match method {
                0 => decoder
                    .next_frame()
                    .map(|f| f.map(|f| (f.header, f.payload, None))),
                1 => decoder
                    .next_raw_frame()
                    .map(|f| f.map(|f| (f.header.clone(), f.payload().to_vec(), Some(f.bytes)))),
                _ => decoder
                    .next_header_and_payload()
                    .map(|f| f.map(|(header, payload)| (header, payload.to_vec(), None))),
            };
            match next {
                Ok(Some((header, payload, raw))) => {
                    let start = consumed;
                    consumed = pushed - decoder.buffered();
                    let bytes = &stream[start..consumed];
                    check_frame_bytes(bytes, &header, &payload, limit);
                    if let Some(raw) = raw {
                        assert_eq!(raw, bytes, "a raw frame is the bytes that arrived");
                    }
                    round_trip(&header, &payload);
                }
                Ok(None) => {
                    assert_eq!(decoder.buffered(), pushed - consumed);
                    break;
                }
                Err(error) => {
                    assert_poisoned(&mut decoder, &error, &stream[pushed..]);
                    return;
                }
            }
        }
        if pushed >= stream.len() {
            return;
        }
    }
}

/// `bytes` is one whole frame: its prefix gives its length, its payload ends it, its header
/// passes the rules of a routed header, and it is within the decoder's limit.
fn check_frame_bytes(bytes: &[u8], header: &Header, payload: &[u8], limit: usize) {
    assert!(bytes.len() >= 2 * LEN_FIELD);
    let len = u32::from_be_bytes(bytes[..LEN_FIELD].try_into().unwrap()) as usize;
    assert_eq!(len + LEN_FIELD, bytes.len());
    assert!(len <= limit);
    let header_len = u32::from_be_bytes(bytes[LEN_FIELD..2 * LEN_FIELD].try_into().unwrap());
    assert_eq!(
        2 * LEN_FIELD + header_len as usize + payload.len(),
        bytes.len()
    );
    assert_eq!(&bytes[bytes.len() - payload.len()..], payload);
    assert!(header.check().is_ok(), "a decoded header passes check()");
}

/// What we decode we encode, and it decodes to the same header and payload.
fn round_trip(header: &Header, payload: &[u8]) {
    let encoded = encode_frame(header, payload).expect("a decoded frame re-encodes");
    let mut decoder = FrameDecoder::new(MAX_FRAME_LEN);
    decoder.push(&encoded);
    let frame = decoder
        .next_frame()
        .expect("a re-encoded frame decodes")
        .expect("a re-encoded frame is complete");
    assert_eq!(&frame.header, header);
    assert_eq!(frame.payload, payload);
    assert_eq!(decoder.buffered(), 0);
    assert_eq!(decoder.next_frame(), Ok(None));
}

fn assert_poisoned(decoder: &mut FrameDecoder, error: &FrameError, more: &[u8]) {
    assert_eq!(decoder.buffered(), 0, "a poisoned decoder keeps nothing");
    decoder.push(more);
    assert_eq!(decoder.buffered(), 0);
    assert_eq!(decoder.next_frame().as_ref().err(), Some(error));
    assert_eq!(decoder.next_raw_frame().as_ref().err(), Some(error));
    assert_eq!(
        decoder.next_header_and_payload().as_ref().err(),
        Some(error)
    );
    let _ = error.to_string();
}

// ---------------------------------------------------------------------------------------------
// (b) header codec

/// A frame header (MessagePack) from arbitrary bytes, decoded as the frame decoder does
/// (`from_read`) and from a slice, then `check()`ed; what passes re-encodes to an equal header.
pub fn header(data: &[u8]) {
    let mut reader = Cursor::new(data);
    let from_read = rmp_serde::from_read::<_, Header>(&mut reader);
    let from_slice = rmp_serde::from_slice::<Header>(data);
    if let Ok(header) = &from_read {
        // The frame decoder takes a header only if it fills its bytes exactly.
        if reader.position() == data.len() as u64 {
            assert_eq!(from_slice.as_ref().ok(), Some(header));
        }
    }
    for header in [from_read.ok(), from_slice.ok()].into_iter().flatten() {
        let _ = format!("{header:?}");
        match header.check() {
            Ok(()) => {
                let bytes = rmp_serde::to_vec_named(&header).expect("a header encodes");
                let back: Header =
                    rmp_serde::from_slice(&bytes).expect("an encoded header decodes");
                assert_eq!(back, header);
                round_trip(&header, data);
            }
            Err(invalid) => {
                assert!(
                    encode_frame(&header, &[]).is_err(),
                    "encode refuses what check refuses"
                );
                let _ = invalid.to_string();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (c) IPC message validation

/// `validate` over the input as JSON (`serde_json::Value`, the core's own `View`), and over a
/// JavaScript-like value built from the input (with `undefined`, holes, binary, functions,
/// NaN, infinities and -0 that JSON cannot carry). Checks: no panic, and a header `validate`
/// returns passes `check()` and encodes.
pub fn validate_message(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        validated(validate(&&value));
    }
    let mut input = Input::new(data);
    let mut budget = 256;
    let value = JsValue::build(&mut input, 0, &mut budget);
    validated(validate(&&value));
}

fn validated(result: Result<Header, sio_cluster_core::Invalid>) {
    match result {
        Ok(header) => {
            assert!(
                header.check().is_ok(),
                "validate returns routable headers: {header:?}"
            );
            round_trip(&header, b"");
        }
        Err(invalid) => {
            let _ = invalid.to_string();
        }
    }
}

/// A JavaScript value as the napi binding sees it.
#[derive(Debug, Clone)]
pub enum JsValue {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    /// Elements (`Undefined` is a hole) and how many holes follow them (a sparse tail).
    Array(Vec<JsValue>, u32),
    Object(Vec<(String, JsValue)>),
    Binary,
    Other,
}

const KEYS: &[&str] = &[
    "source",
    "uid",
    "nsp",
    "type",
    "data",
    "requesterUid",
    "packet",
    "opts",
    "rooms",
    "except",
    "flags",
    "requestId",
    "close",
    "sockets",
    "id",
    "handshake",
    "clientCount",
    "0",
    "",
];

const STRINGS: &[&str] = &[
    "_sio_adapter",
    "/",
    "a1",
    "r",
    "room",
    "",
    "event",
    "__proto__",
];

const NUMBERS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    2.0,
    3.0,
    4.0,
    5.0,
    6.0,
    7.0,
    8.0,
    9.0,
    10.0,
    11.0,
    12.0,
    13.0,
    14.0,
    101.0,
    0.5,
    -1.0,
    1e21,
    1e-7,
    123456789012345680000.0,
    9007199254740993.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::MAX,
    f64::MIN_POSITIVE,
    5e-324,
    1.7976931348623157e308,
];

impl JsValue {
    fn build(input: &mut Input, depth: usize, budget: &mut usize) -> JsValue {
        if *budget == 0 || input.is_empty() {
            return JsValue::Undefined;
        }
        *budget -= 1;
        let tag = input.byte();
        let nested = depth < 6;
        match tag % 12 {
            0 => JsValue::Undefined,
            1 => JsValue::Null,
            2 => JsValue::Bool(tag & 0x10 != 0),
            3 => JsValue::Number(input.pick(NUMBERS)),
            4 => JsValue::Number(f64::from_bits(input.u64())),
            5 | 6 => JsValue::String(input.string(STRINGS)),
            7 | 8 if nested => {
                let len = input.below(8);
                let fields = (0..len)
                    .map(|_| (input.string(KEYS), JsValue::build(input, depth + 1, budget)))
                    .collect();
                JsValue::Object(fields)
            }
            9 | 10 if nested => {
                let len = input.below(8);
                let items = (0..len)
                    .map(|_| JsValue::build(input, depth + 1, budget))
                    .collect();
                let holes = if tag & 0x80 != 0 { input.u32() } else { 0 };
                JsValue::Array(items, holes)
            }
            9 => JsValue::Binary,
            _ => JsValue::Other,
        }
    }
}

impl View for &JsValue {
    fn kind(&self) -> Kind {
        match self {
            JsValue::Undefined | JsValue::Other => Kind::Other,
            JsValue::Null => Kind::Null,
            JsValue::Bool(_) => Kind::Bool,
            JsValue::Number(_) => Kind::Number,
            JsValue::String(_) => Kind::String,
            JsValue::Array(..) => Kind::Array,
            JsValue::Object(_) => Kind::Object,
            JsValue::Binary => Kind::Binary,
        }
    }

    fn field(&self, key: &str) -> Option<Self> {
        match self {
            // The last of duplicate keys wins, as in a JS object literal.
            JsValue::Object(fields) => fields
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .filter(|v| !matches!(v, JsValue::Undefined)),
            _ => None,
        }
    }

    fn string(&self) -> Option<String> {
        match self {
            JsValue::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            JsValue::Number(n) => Some(*n),
            _ => None,
        }
    }

    fn boolean(&self) -> Option<bool> {
        match self {
            JsValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn length(&self) -> Option<u32> {
        match self {
            JsValue::Array(items, holes) => Some(
                (items.len() as u32)
                    .saturating_add(*holes)
                    .min(u32::MAX - 1),
            ),
            _ => None,
        }
    }

    fn element(&self, index: u32) -> Option<Self> {
        match self {
            JsValue::Array(items, _) => items
                .get(index as usize)
                .filter(|v| !matches!(v, JsValue::Undefined)),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (f) routing state: Switchboard and RoomViews

const WORKERS: &[u32] = &[1, 2, 3, 4];
const NSPS: &[&str] = &["/", "/chat", ""];
const UIDS: &[&str] = &["a", "b", "c", "d", "e"];
const ROOMS: &[&str] = &["r1", "r2", "r3", "sid", ""];
/// Every type a header can carry.
const KINDS: &[u8] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 101, 102, 103, 104, 105,
];

fn rooms(input: &mut Input) -> Vec<String> {
    let n = input.below(5);
    (0..n).map(|_| input.string(ROOMS)).collect()
}

fn small_option(input: &mut Input) -> Option<u64> {
    match input.byte() {
        0..=63 => None,
        b @ 64..=239 => Some(u64::from(b - 64)),
        _ => Some(input.u64()),
    }
}

/// A header with fields drawn from small alphabets, so that uids, rooms and namespaces collide.
pub fn arbitrary_header(input: &mut Input) -> Header {
    let kind = MessageType::from_code(input.pick(KINDS)).expect("a known code");
    let flags = input.byte();
    let opt = |input: &mut Input, bit: u8, common: &[&str]| {
        (flags & bit != 0).then(|| input.string(common))
    };
    let nsp = input.string(NSPS);
    let uid = input.string(UIDS);
    Header {
        request_id: opt(input, 1, &["q1", "q2", ""]),
        requester_uid: opt(input, 2, UIDS),
        rooms: if flags & 4 != 0 { rooms(input) } else { vec![] },
        except: if flags & 8 != 0 { rooms(input) } else { vec![] },
        store: flags & 16 != 0,
        offset: if flags & 32 != 0 {
            small_option(input)
        } else {
            None
        },
        joined: if flags & 64 != 0 {
            rooms(input)
        } else {
            vec![]
        },
        left: if flags & 128 != 0 {
            rooms(input)
        } else {
            vec![]
        },
        applied: small_option(input),
        reset: input.bool(),
        ..Header::new(kind, nsp, uid)
    }
}

/// A sequence of operations on a `Switchboard` (routing by room on or off) and on a `RoomViews`
/// of its own, as the hub makes them from what workers send. Headers the hub would refuse
/// (`check()` fails) are not routed, as the hub never sees them.
///
/// Checks: no panic; recipients are distinct, reachable by the path they are listed under, and
/// never the sender of a message to all; hub-made answers encode; a room just pinned or reported
/// in a reset is reached.
pub fn switchboard(data: &[u8]) {
    let mut input = Input::new(data);
    let mut board = Switchboard::with_route_by_room(input.bool());
    let mut views = RoomViews::new();
    let mut steps = 0;
    let mut folded_once = false;
    while !input.is_empty() && steps < 256 {
        steps += 1;
        let worker = input.pick(WORKERS);
        match input.below(16) {
            0 => board.add_worker(worker),
            1 => board.switch_to_link(worker),
            2 => board.link_opened(worker),
            3 => {
                board.link_closed(worker);
                assert!(!board.via(worker).is_some_and(|p| p != Via::Gone));
            }
            4 => {
                board.remove_worker(worker);
                assert_eq!(board.via(worker), None);
            }
            5..=7 => {
                let via = if input.bool() { Via::Link } else { Via::Ipc };
                let header = arbitrary_header(&mut input);
                if header.check().is_err() {
                    continue;
                }
                if let Ok(recipients) = board.route(worker, via, &header) {
                    check_recipients(&board, &recipients, worker, &header);
                    for answer in board.answers(&header, &recipients.skipped) {
                        encode_frame(&answer.header, &answer.payload)
                            .expect("a hub-made answer encodes");
                    }
                }
            }
            8 => {
                let header = Header {
                    kind: MessageType::RoomsChanged,
                    ..arbitrary_header(&mut input)
                };
                if header.check().is_ok() {
                    board.rooms_changed(worker, &header);
                }
            }
            9 => {
                let nsp = input.string(NSPS);
                let rooms = rooms(&mut input);
                let pin = small_option(&mut input).unwrap_or(0);
                board.pin(worker, &nsp, &rooms, pin);
            }
            10 => {
                let others = board.others(worker);
                assert!(!others.links.contains(&worker) && !others.ipc.contains(&worker));
            }
            11 => {
                let header = arbitrary_header(&mut input);
                views.apply(worker, &header);
                if header.reset {
                    for room in &header.joined {
                        assert!(views.reaches(worker, &header.nsp, std::slice::from_ref(room)));
                    }
                }
            }
            12 => {
                let nsp = input.string(NSPS);
                // Now and then more pins than a worker may hold before they fold.
                // (Once per input: 10 000 pins cost a millisecond.)
                let rooms = if input.byte() == 0xff && !folded_once {
                    folded_once = true;
                    (0..=10_000 + input.below(4))
                        .map(|i| format!("p{i}"))
                        .collect()
                } else {
                    rooms(&mut input)
                };
                let pin = small_option(&mut input).unwrap_or(0);
                views.pin(worker, &nsp, &rooms, pin);
                for room in &rooms {
                    assert!(views.reaches(worker, &nsp, std::slice::from_ref(room)));
                }
            }
            13 => match input.below(4) {
                0 => views.adapter_closed(worker, &input.string(NSPS)),
                1 => views.switched(worker),
                2 => views.new_link(worker),
                _ => views.remove(worker),
            },
            14 => {
                let nsp = input.string(NSPS);
                let rooms = rooms(&mut input);
                let known = views.is_known(worker, &nsp);
                let reaches = views.reaches(worker, &nsp, &rooms);
                assert!(known || reaches, "an unknown view is reached");
                let _ = views.rooms_held(worker);
                let _ = board.rooms().reaches(worker, &nsp, &rooms);
            }
            _ => {
                let _ = board.via(worker);
            }
        }
    }
}

fn check_recipients(board: &Switchboard, recipients: &Recipients, from: u32, header: &Header) {
    let mut seen = HashSet::new();
    for worker in recipients
        .links
        .iter()
        .chain(&recipients.ipc)
        .chain(&recipients.skipped)
    {
        assert!(
            seen.insert(*worker),
            "worker {worker} listed twice: {recipients:?}"
        );
    }
    for worker in &recipients.links {
        assert_eq!(board.via(*worker), Some(Via::Link));
    }
    for worker in &recipients.ipc {
        assert_eq!(board.via(*worker), Some(Via::Ipc));
    }
    if !header.kind.is_response() {
        assert!(
            !seen.contains(&from),
            "a message to all skips its sender: {recipients:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (e) messages from Redis

/// A message from another machine, as Redis delivers it (JSON or MessagePack, read by the lazy
/// view), on a namespace channel or a response channel. Input: `[channel][message...]`.
///
/// Checks: no panic; what decodes passes `check()` and frames; its payload is one whole
/// MessagePack value; written back for Redis (`encode_message`) it decodes to the same header.
pub fn redis_message(data: &[u8]) {
    let mut input = Input::new(data);
    let requester = input.pick(&[None, Some("r1"), Some("")]);
    let message = input.rest();
    let Ok((header, payload)) = decode_message(message, requester) else {
        return;
    };
    assert!(header.check().is_ok(), "{header:?}");
    assert!(encode_frame(&header, &payload).is_ok());
    if !payload.is_empty() {
        assert_eq!(
            sio_cluster_core::msgpack_view::skip(&payload),
            Some(payload.len())
        );
    }
    let again = decode_message(
        &encode_message(&header, &payload),
        header.requester_uid.as_deref(),
    );
    assert_eq!(again.map(|(h, _)| h), Ok(header));
}
