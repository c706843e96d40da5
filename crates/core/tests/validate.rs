//! `validate` against the shapes socket.io-adapter 2.5 actually sends (see `publish` and
//! `publishResponse` call sites in `cluster-adapter.js`), and against every way to break them.

use serde_json::{json, Value};
use sio_cluster_core::{validate, Header, MessageType, MESSAGE_SOURCE};

fn envelope(kind: u8, data: Option<Value>) -> Value {
    let mut message =
        json!({ "source": MESSAGE_SOURCE, "uid": "8e0c1f3a5b7d9e2f", "nsp": "/", "type": kind });
    if let Some(data) = data {
        message["data"] = data;
    }
    message
}

fn response(kind: u8, data: Value) -> Value {
    let mut message = envelope(kind, Some(data));
    message["requesterUid"] = json!("0a1b2c3d4e5f6071");
    message
}

fn opts() -> Value {
    json!({ "rooms": ["room1", 42], "except": ["sid-9"], "flags": { "volatile": true } })
}

/// One valid message of every type, as the reference sends it.
fn examples() -> Vec<(&'static str, Value)> {
    vec![
        ("initial heartbeat", envelope(1, None)),
        ("heartbeat", envelope(2, None)),
        (
            "broadcast",
            envelope(
                3,
                Some(json!({
                    "packet": { "type": 2, "data": ["hello", "world"], "nsp": "/" },
                    "opts": opts(),
                })),
            ),
        ),
        (
            "broadcast with ack",
            envelope(
                3,
                Some(json!({
                    "packet": { "type": 2, "data": ["question"], "nsp": "/" },
                    "requestId": "f00dcafe01234567",
                    "opts": { "rooms": [], "except": [], "flags": { "timeout": 5000 } },
                })),
            ),
        ),
        (
            "sockets join",
            envelope(4, Some(json!({ "opts": opts(), "rooms": ["room2", 7] }))),
        ),
        (
            "sockets leave",
            envelope(5, Some(json!({ "opts": opts(), "rooms": ["room2"] }))),
        ),
        (
            "disconnect sockets",
            envelope(6, Some(json!({ "opts": opts(), "close": true }))),
        ),
        (
            "fetch sockets",
            envelope(7, Some(json!({ "opts": opts(), "requestId": "r-1" }))),
        ),
        (
            "fetch sockets response",
            response(
                8,
                json!({
                    "requestId": "r-1",
                    "sockets": [{
                        "id": "sid-1",
                        "handshake": {
                            "headers": { "host": "localhost:3000" },
                            "time": "Tue Nov 25 2025 16:00:00 GMT+0000",
                            "address": "::1", "xdomain": false, "secure": false,
                            "issued": 1764086400000u64, "url": "/socket.io/?EIO=4&transport=websocket",
                            "query": { "EIO": "4", "transport": "websocket" }, "auth": {},
                        },
                        "rooms": ["sid-1", "room1"],
                        "data": { "user": "ada" },
                    }],
                }),
            ),
        ),
        (
            "server side emit",
            envelope(9, Some(json!({ "packet": ["ping", 1, { "a": 2 }] }))),
        ),
        (
            "server side emit with ack",
            envelope(9, Some(json!({ "requestId": "r-2", "packet": ["ping"] }))),
        ),
        (
            "server side emit response",
            response(10, json!({ "requestId": "r-2", "packet": "pong" })),
        ),
        (
            "broadcast client count",
            response(
                11,
                json!({ "requestId": "f00dcafe01234567", "clientCount": 3 }),
            ),
        ),
        (
            "broadcast ack",
            response(
                12,
                json!({ "requestId": "f00dcafe01234567", "packet": ["answer"] }),
            ),
        ),
        ("adapter close", envelope(13, None)),
    ]
}

/// `message` with the value at the JSON pointer replaced, or removed when `value` is `None`.
fn mutate(message: &Value, pointer: &str, value: Option<Value>) -> Value {
    let mut message = message.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    let parent = message.pointer_mut(parent).expect("parent exists");
    match (parent, value) {
        (Value::Object(map), Some(value)) => {
            map.insert(key.to_owned(), value);
        }
        (Value::Object(map), None) => {
            map.remove(key);
        }
        (Value::Array(items), Some(value)) => items[key.parse::<usize>().unwrap()] = value,
        (Value::Array(items), None) => {
            items.remove(key.parse::<usize>().unwrap());
        }
        _ => panic!("bad pointer {pointer}"),
    }
    message
}

fn reason(message: &Value) -> String {
    validate(&message).expect_err("must be invalid").reason
}

fn example(name: &str) -> Value {
    examples()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, m)| m)
        .expect("example")
}

#[test]
fn every_reference_example_is_valid_and_passes_the_header_rules() {
    for (name, message) in examples() {
        let header = validate(&&message).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(header.kind.code() as u64, message["type"].as_u64().unwrap());
        header.check().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn header_fields_are_extracted() {
    let header = validate(&&example("broadcast")).unwrap();
    assert_eq!(
        header,
        Header {
            kind: MessageType::Broadcast,
            nsp: "/".into(),
            uid: "8e0c1f3a5b7d9e2f".into(),
            request_id: None,
            requester_uid: None,
            rooms: vec!["room1".into(), "42".into()],
            except: vec!["sid-9".into()],
            store: false,
            offset: None,
            joined: vec![],
            left: vec![],
            applied: None,
            reset: false,
        }
    );
    let header = validate(&&example("broadcast with ack")).unwrap();
    assert_eq!(header.request_id.as_deref(), Some("f00dcafe01234567"));
    let header = validate(&&example("fetch sockets response")).unwrap();
    assert_eq!(header.request_id.as_deref(), Some("r-1"));
    assert_eq!(header.requester_uid.as_deref(), Some("0a1b2c3d4e5f6071"));
    assert!(header.rooms.is_empty());
    let header = validate(&&example("sockets join")).unwrap();
    assert_eq!(header.rooms, ["room1", "42"]);
}

#[test]
fn rooms_given_as_numbers_are_spelled_as_javascript_does() {
    let message = mutate(
        &example("broadcast"),
        "/data/opts/rooms",
        Some(json!([0, -3, 1.5, 1e21, 123456789012u64])),
    );
    let header = validate(&&message).unwrap();
    assert_eq!(header.rooms, ["0", "-3", "1.5", "1e+21", "123456789012"]);
}

#[test]
fn event_packets_must_carry_their_data_other_packets_need_not() {
    for packet_type in [2, 5] {
        let event = mutate(
            &example("broadcast"),
            "/data/packet/type",
            Some(json!(packet_type)),
        );
        let without_data = mutate(&event, "/data/packet/data", None);
        let reason = validate(&&without_data).unwrap_err().reason;
        assert!(reason.contains("`data.packet.data`"), "{reason}");
    }
    let other = mutate(&example("broadcast"), "/data/packet/type", Some(json!(1)));
    assert!(validate(&&mutate(&other, "/data/packet/data", None)).is_ok());
}

#[test]
fn optional_fields_may_be_absent() {
    let cases = [
        ("broadcast", "/data/opts/flags"), // JSON serialization drops undefined flags
        ("disconnect sockets", "/data/close"),
        ("server side emit response", "/data/packet"), // ack called without argument
        ("broadcast ack", "/data/packet"),
        ("fetch sockets response", "/data/sockets/0/data"),
    ];
    for (name, pointer) in cases {
        let message = mutate(&example(name), pointer, None);
        validate(&&message).unwrap_or_else(|e| panic!("{name} without {pointer}: {e}"));
    }
    // Heartbeats ignore `data` whatever it is.
    let message = mutate(&example("heartbeat"), "/data", Some(json!("junk")));
    assert!(validate(&&message).is_ok());
}

#[test]
fn each_missing_or_mistyped_field_is_named() {
    // (example, JSON pointer, replacement (None = removed), field the reason must name)
    let cases: Vec<(&str, &str, Option<Value>, &str)> = vec![
        ("heartbeat", "/uid", None, "`uid`"),
        ("heartbeat", "/uid", Some(json!("")), "`uid`"),
        ("heartbeat", "/uid", Some(json!(12)), "`uid`"),
        ("heartbeat", "/nsp", None, "`nsp`"),
        ("heartbeat", "/nsp", Some(json!(null)), "`nsp`"),
        ("heartbeat", "/type", None, "`type`"),
        ("heartbeat", "/type", Some(json!("2")), "`type`"),
        (
            "heartbeat",
            "/requesterUid",
            Some(json!(5)),
            "`requesterUid`",
        ),
        ("broadcast", "/data", None, "`data`"),
        ("broadcast", "/data", Some(json!([])), "`data`"),
        ("broadcast", "/data/packet", None, "`data.packet`"),
        (
            "broadcast",
            "/data/packet",
            Some(json!("x")),
            "`data.packet`",
        ),
        ("broadcast", "/data/packet/type", None, "`data.packet.type`"),
        (
            "broadcast",
            "/data/packet/type",
            Some(json!("2")),
            "`data.packet.type`",
        ),
        (
            "broadcast",
            "/data/packet/data",
            Some(json!({})),
            "`data.packet.data`",
        ),
        (
            "broadcast",
            "/data/packet/data",
            Some(json!(null)),
            "`data.packet.data`",
        ),
        ("broadcast", "/data/opts", None, "`data.opts`"),
        ("broadcast", "/data/opts", Some(json!(1)), "`data.opts`"),
        ("broadcast", "/data/opts/rooms", None, "`data.opts.rooms`"),
        (
            "broadcast",
            "/data/opts/rooms",
            Some(json!({})),
            "`data.opts.rooms`",
        ),
        (
            "broadcast",
            "/data/opts/rooms/0",
            Some(json!(null)),
            "`data.opts.rooms[0]`",
        ),
        (
            "broadcast",
            "/data/opts/rooms/1",
            Some(json!(["a"])),
            "`data.opts.rooms[1]`",
        ),
        ("broadcast", "/data/opts/except", None, "`data.opts.except`"),
        (
            "broadcast",
            "/data/opts/except/0",
            Some(json!(true)),
            "`data.opts.except[0]`",
        ),
        (
            "broadcast",
            "/data/opts/flags",
            Some(json!("local")),
            "`data.opts.flags`",
        ),
        (
            "broadcast",
            "/data/requestId",
            Some(json!(7)),
            "`data.requestId`",
        ),
        (
            "broadcast",
            "/data/requestId",
            Some(json!(null)),
            "`data.requestId`",
        ),
        ("sockets join", "/data/opts", None, "`data.opts`"),
        ("sockets join", "/data/rooms", None, "`data.rooms`"),
        (
            "sockets join",
            "/data/rooms",
            Some(json!("room2")),
            "`data.rooms`",
        ),
        (
            "sockets leave",
            "/data/rooms/0",
            Some(json!({})),
            "`data.rooms[0]`",
        ),
        (
            "sockets leave",
            "/data/opts/except",
            Some(json!(null)),
            "`data.opts.except`",
        ),
        (
            "disconnect sockets",
            "/data/close",
            Some(json!("yes")),
            "`data.close`",
        ),
        (
            "disconnect sockets",
            "/data/opts/rooms",
            None,
            "`data.opts.rooms`",
        ),
        ("fetch sockets", "/data/requestId", None, "`data.requestId`"),
        ("fetch sockets", "/data/opts", None, "`data.opts`"),
        (
            "fetch sockets response",
            "/requesterUid",
            None,
            "`requesterUid`",
        ),
        (
            "fetch sockets response",
            "/data/requestId",
            None,
            "`data.requestId`",
        ),
        (
            "fetch sockets response",
            "/data/sockets",
            None,
            "`data.sockets`",
        ),
        (
            "fetch sockets response",
            "/data/sockets",
            Some(json!({})),
            "`data.sockets`",
        ),
        (
            "fetch sockets response",
            "/data/sockets/0",
            Some(json!("sid")),
            "`data.sockets[0]`",
        ),
        (
            "fetch sockets response",
            "/data/sockets/0/id",
            None,
            "`data.sockets[0].id`",
        ),
        (
            "fetch sockets response",
            "/data/sockets/0/id",
            Some(json!(1)),
            "`data.sockets[0].id`",
        ),
        (
            "fetch sockets response",
            "/data/sockets/0/handshake",
            None,
            "`data.sockets[0].handshake`",
        ),
        (
            "fetch sockets response",
            "/data/sockets/0/rooms",
            None,
            "`data.sockets[0].rooms`",
        ),
        (
            "fetch sockets response",
            "/data/sockets/0/rooms",
            Some(json!("r")),
            "`data.sockets[0].rooms`",
        ),
        ("server side emit", "/data", None, "`data`"),
        ("server side emit", "/data/packet", None, "`data.packet`"),
        (
            "server side emit",
            "/data/packet",
            Some(json!([])),
            "`data.packet[0]`",
        ),
        (
            "server side emit",
            "/data/packet",
            Some(json!({})),
            "`data.packet`",
        ),
        (
            "server side emit",
            "/data/packet/0",
            Some(json!(1)),
            "`data.packet[0]`",
        ),
        (
            "server side emit with ack",
            "/data/requestId",
            Some(json!([])),
            "`data.requestId`",
        ),
        (
            "server side emit response",
            "/requesterUid",
            None,
            "`requesterUid`",
        ),
        (
            "server side emit response",
            "/requesterUid",
            Some(json!(0)),
            "`requesterUid`",
        ),
        (
            "server side emit response",
            "/data/requestId",
            None,
            "`data.requestId`",
        ),
        ("server side emit response", "/data", None, "`data`"),
        (
            "broadcast client count",
            "/requesterUid",
            None,
            "`requesterUid`",
        ),
        (
            "broadcast client count",
            "/data/requestId",
            None,
            "`data.requestId`",
        ),
        (
            "broadcast client count",
            "/data/clientCount",
            None,
            "`data.clientCount`",
        ),
        (
            "broadcast client count",
            "/data/clientCount",
            Some(json!(-1)),
            "`data.clientCount`",
        ),
        (
            "broadcast client count",
            "/data/clientCount",
            Some(json!(1.5)),
            "`data.clientCount`",
        ),
        (
            "broadcast client count",
            "/data/clientCount",
            Some(json!("3")),
            "`data.clientCount`",
        ),
        ("broadcast ack", "/requesterUid", None, "`requesterUid`"),
        (
            "broadcast ack",
            "/data/requestId",
            Some(json!(1)),
            "`data.requestId`",
        ),
    ];
    for (name, pointer, value, field) in cases {
        let message = mutate(&example(name), pointer, value.clone());
        let reason = reason(&message);
        assert!(
            reason.contains(field),
            "{name} with {pointer} = {value:?}: reason {reason:?} does not name {field}"
        );
    }
}

#[test]
fn reason_texts() {
    let message = mutate(&example("fetch sockets"), "/data/requestId", Some(json!(1)));
    assert_eq!(
        reason(&message),
        "field `data.requestId` must be a string (got number)"
    );
    let message = mutate(&example("fetch sockets"), "/data/requestId", None);
    assert_eq!(
        reason(&message),
        "field `data.requestId` must be a string (missing)"
    );
    let error = validate(&&json!(null)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid adapter message: message must be an object (got null)"
    );
}

#[test]
fn unknown_types_are_rejected() {
    for (kind, text) in [
        (json!(42), "unknown message type 42"),
        (json!(0), "unknown message type 0"),
        (json!(-1), "unknown message type -1"),
        (json!(3.5), "unknown message type 3.5"),
        (json!(14), "unknown message type 14"),
        (json!(1e300), "unknown message type 1e+300"),
    ] {
        let message = mutate(&example("heartbeat"), "/type", Some(kind));
        assert_eq!(reason(&message), text);
    }
    let message = mutate(&example("heartbeat"), "/type", Some(json!(null)));
    assert_eq!(reason(&message), "field `type` must be a number (got null)");
}

#[test]
fn garbage_is_rejected_cleanly() {
    for garbage in [
        json!("_sio_adapter"),
        json!(3),
        json!(null),
        json!(true),
        json!([]),
        json!([{ "uid": "a", "nsp": "/", "type": 2 }]),
        json!({}),
    ] {
        let error = validate(&&garbage).unwrap_err();
        assert!(!error.reason.is_empty(), "{garbage}");
    }
}
