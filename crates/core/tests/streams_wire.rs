//! What arrives from Redis in streams mode, arbitrary: never a panic, and what is accepted is
//! consistent (an entry the hub writes reads back as it was written).

use proptest::prelude::*;
use sio_cluster_core::streams_restore::{Entry, RestoreBounds, StreamRestore};
use sio_cluster_core::streams_wire::{
    base64_decode, base64_encode, decode_entry, encode_data, encode_entry, StreamId, StreamSession,
};
use sio_cluster_core::{Header, MessageType};

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        (-1e12f64..1e12).prop_map(|n| serde_json::json!(n)),
        ".{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_fields_never_panic(fields in prop::collection::vec((prop_oneof![Just(b"uid".to_vec()), Just(b"nsp".to_vec()), Just(b"type".to_vec()), Just(b"data".to_vec()), any::<Vec<u8>>()], any::<Vec<u8>>()), 0..6)) {
        let _ = decode_entry(fields.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
    }

    #[test]
    fn arbitrary_sessions_and_base64_never_panic(bytes in any::<Vec<u8>>()) {
        let _ = StreamSession::decode(&bytes);
        let _ = base64_decode(&bytes);
        let _ = StreamSession::decode(base64_encode(&bytes).as_bytes());
        let _ = encode_data(&bytes, false);
        let _ = encode_data(&bytes, true);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Some(id) = StreamId::parse(text) {
                prop_assert_eq!(id.to_string().parse::<String>().ok().and_then(|s| StreamId::parse(&s)), Some(id));
            }
        }
    }

    #[test]
    fn entries_read_back_as_written(data in json_value(), plain in any::<bool>()) {
        let header = Header::new(MessageType::ServerSideEmit, "/", "u");
        let payload = rmp_serde::to_vec_named(&serde_json::json!({ "packet": ["event", data] })).unwrap();
        let fields = encode_entry(&header, &payload, plain);
        let (read, back) = decode_entry(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_slice()))).unwrap();
        prop_assert_eq!(read.kind, MessageType::ServerSideEmit);
        let a: serde_json::Value = rmp_serde::from_slice(&payload).unwrap();
        let b: serde_json::Value = rmp_serde::from_slice(&back).unwrap();
        // JSON turns integral floats into integers, as JS does: compare as numbers.
        prop_assert_eq!(normalize(a), normalize(b));
    }

    #[test]
    fn restores_of_arbitrary_pages_never_panic(ids in prop::collection::vec(any::<Vec<u8>>(), 0..5), fields in prop::collection::vec((any::<Vec<u8>>(), any::<Vec<u8>>()), 0..4)) {
        let session = StreamSession { sid: "s".into(), pid: "p".into(), rooms: vec!["s".into()], data: vec![0x80] };
        let mut restore = StreamRestore::new("/", session, StreamId { ms: 1, seq: 0 }, RestoreBounds::default());
        let page = ids.iter().map(|id| Entry { id, fields: fields.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).collect() }).collect();
        let _ = restore.feed(page);
    }
}

fn normalize(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Number(n) => serde_json::json!(n.as_f64()),
        serde_json::Value::Array(items) => items.into_iter().map(normalize).collect(),
        serde_json::Value::Object(map) => map.into_iter().map(|(k, v)| (k, normalize(v))).collect(),
        other => other,
    }
}
