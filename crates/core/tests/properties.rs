//! Nothing that arrives from another process may panic us, and what we encode we decode.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use sio_cluster_core::msgpack_view::skip;
use sio_cluster_core::{
    decode_message, encode_frame, validate, FrameDecoder, Header, MessageType, MAX_FRAME_LEN,
};

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|n| json!(n)), // NaN and infinities become null
        (0u8..16).prop_map(Value::from),     // plausible message types and counts
        "[a-zA-Z_/]{0,8}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Keys validation looks for, so random objects reach deep rules, plus noise.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
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
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,4}",
    ]
}

/// A message envelope of a known type with a random `data`, to exercise every type's rules.
fn message() -> impl Strategy<Value = Value> {
    (1u8..=13, json_value(), prop::option::of(json_value())).prop_map(|(kind, data, requester)| {
        let mut message = Map::new();
        message.insert("uid".into(), json!("a"));
        message.insert("nsp".into(), json!("/"));
        message.insert("type".into(), json!(kind));
        message.insert("data".into(), data);
        if let Some(requester) = requester {
            message.insert("requesterUid".into(), requester);
        }
        Value::Object(message)
    })
}

fn header() -> impl Strategy<Value = Header> {
    let text = || ".{0,12}";
    (
        1u8..=13,
        text(),
        ".{1,12}",
        prop::option::of(text()),
        prop::option::of(text()),
        prop::collection::vec(text(), 0..4),
        prop::collection::vec(text(), 0..4),
    )
        .prop_map(
            |(code, nsp, uid, request_id, requester_uid, rooms, except)| {
                let kind = MessageType::from_code(code).expect("1..=13");
                Header {
                    kind,
                    nsp,
                    uid,
                    // Fill what the header rules require, so every generated header is valid.
                    request_id: request_id.or_else(|| kind.is_response().then(String::new)),
                    requester_uid: requester_uid.or_else(|| kind.is_response().then(String::new)),
                    rooms,
                    except,
                    store: false,
                    offset: None,
                    joined: vec![],
                    left: vec![],
                    applied: None,
                    reset: false,
                }
            },
        )
        .prop_map(|mut header| {
            if header.kind == MessageType::FetchSockets && header.request_id.is_none() {
                header.request_id = Some("r".into());
            }
            header
        })
}

/// Splits `bytes` at the given cut points.
fn chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        out.push(bytes[start..cut].to_vec());
        start = cut;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validate_never_panics_on_arbitrary_values(value in json_value()) {
        let _ = validate(&&value);
    }

    #[test]
    fn validated_headers_pass_the_frame_rules(message in message()) {
        if let Ok(header) = validate(&&message) {
            prop_assert!(header.check().is_ok());
            prop_assert!(encode_frame(&header, b"").is_ok());
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        max in prop_oneof![Just(MAX_FRAME_LEN), 0usize..64],
    ) {
        let mut decoder = FrameDecoder::new(max);
        for chunk in chunks(&bytes, &cuts) {
            decoder.push(&chunk);
            while let Ok(Some(_)) = decoder.next_frame() {}
        }
    }

    #[test]
    fn garbage_after_valid_frames_never_panics(
        header in header(),
        garbage in prop::collection::vec(any::<u8>(), 0..64),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut bytes = encode_frame(&header, b"ok").unwrap();
        bytes.extend(garbage);
        let mut decoder = FrameDecoder::new(MAX_FRAME_LEN);
        let mut frames = 0;
        for chunk in chunks(&bytes, &cuts) {
            decoder.push(&chunk);
            while let Ok(Some(_)) = decoder.next_frame() {
                frames += 1;
            }
        }
        prop_assert!(frames >= 1);
    }

    #[test]
    fn encode_decode_round_trip(
        frames in prop::collection::vec((header(), prop::collection::vec(any::<u8>(), 0..64)), 1..4),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut bytes = Vec::new();
        for (header, payload) in &frames {
            bytes.extend(encode_frame(header, payload).unwrap());
        }
        let mut decoder = FrameDecoder::new(MAX_FRAME_LEN);
        let mut decoded = Vec::new();
        for chunk in chunks(&bytes, &cuts) {
            decoder.push(&chunk);
            while let Some(frame) = decoder.next_frame().unwrap() {
                decoded.push((frame.header, frame.payload));
            }
        }
        prop_assert_eq!(decoded, frames);
        prop_assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn redis_messages_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        requester in prop::option::of("[a-z]{1,4}"),
    ) {
        let _ = decode_message(&bytes, requester.as_deref());
    }

    /// The lazy MessagePack view and the JSON path see the same message alike.
    #[test]
    fn redis_messages_read_alike_as_json_and_msgpack(
        message in message(),
        requester in prop::option::of("[a-z]{1,4}"),
    ) {
        let json = serde_json::to_vec(&message).unwrap();
        let msgpack = rmp_serde::to_vec_named(&message).unwrap();
        let from_json = decode_message(&json, requester.as_deref());
        let from_msgpack = decode_message(&msgpack, requester.as_deref());
        match (from_json, from_msgpack) {
            (Ok((a, _)), Ok((b, _))) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "json {:?} but msgpack {:?}", a, b),
        }
    }

    #[test]
    fn skip_agrees_with_a_full_decoder(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        // rmpv reads the reserved marker 0xc1 as nil; the spec (and msgpackr, notepack.io) refuse
        // it, and so does `skip`.
        prop_assume!(!bytes.contains(&0xc1));
        let mut reader = bytes.as_slice();
        if rmpv::decode::read_value(&mut reader).is_ok() {
            prop_assert_eq!(skip(&bytes), Some(bytes.len() - reader.len()));
        }
    }
}
