//! Validation costs what a message holds, never what it declares (issue: one IPC message of about
//! 113 bytes aborted our primary).
//!
//! V8's advanced IPC serialization carries sparse arrays: `a.length = 2**32 - 1` is a few bytes
//! on the wire and arrives as a JS array of that length with no elements. MessagePack headers may
//! declare 4 billion elements too. `Declared` is a view whose arrays all declare `u32::MAX`
//! elements while holding only the ones of the JSON they wrap (the rest are holes, as in V8), and
//! counts the elements validation reads.

use std::cell::Cell;

use serde_json::{json, Value};
use sio_cluster_core::{decode_message, validate, Kind, View, MESSAGE_SOURCE};

#[derive(Clone, Copy)]
struct Declared<'a> {
    value: &'a Value,
    reads: &'a Cell<u64>,
}

impl<'a> View for Declared<'a> {
    fn kind(&self) -> Kind {
        (&self.value).kind()
    }
    fn field(&self, key: &str) -> Option<Self> {
        let value = self.value.as_object()?.get(key)?;
        Some(Declared { value, ..*self })
    }
    fn string(&self) -> Option<String> {
        (&self.value).string()
    }
    fn number(&self) -> Option<f64> {
        (&self.value).number()
    }
    fn boolean(&self) -> Option<bool> {
        (&self.value).boolean()
    }
    fn length(&self) -> Option<u32> {
        self.value.as_array().map(|_| u32::MAX)
    }
    fn element(&self, index: u32) -> Option<Self> {
        self.reads.set(self.reads.get() + 1);
        let value = self.value.as_array()?.get(index as usize)?;
        Some(Declared { value, ..*self })
    }
}

fn message(kind: u8, data: Value) -> Value {
    let mut message = json!({ "source": MESSAGE_SOURCE, "uid": "intruder", "nsp": "/", "type": kind, "data": data });
    if [8, 10, 11, 12].contains(&kind) {
        message["requesterUid"] = json!("requester");
    }
    message
}

/// Every array field validation reads, holding a few elements and declaring 2^32 - 1.
fn sparse_messages() -> Vec<Value> {
    let opts = json!({ "rooms": ["a", "b"], "except": ["c"] });
    vec![
        message(8, json!({ "requestId": "r", "sockets": [] })),
        message(
            8,
            json!({ "requestId": "r", "sockets": [{ "id": "x", "handshake": {}, "rooms": [] }] }),
        ),
        message(
            3,
            json!({ "packet": { "type": 2, "data": ["e"] }, "opts": opts }),
        ),
        message(
            3,
            json!({ "packet": { "type": 2, "data": [] }, "opts": { "rooms": [], "except": [] } }),
        ),
        message(4, json!({ "opts": opts, "rooms": ["r"] })),
        message(5, json!({ "opts": opts, "rooms": [] })),
        message(6, json!({ "opts": opts, "close": true })),
        message(7, json!({ "opts": opts, "requestId": "r" })),
        message(9, json!({ "packet": ["event"] })),
    ]
}

#[test]
fn arrays_that_declare_billions_cost_the_elements_they_hold() {
    for message in sparse_messages() {
        let reads = Cell::new(0);
        let view = Declared {
            value: &message,
            reads: &reads,
        };
        // Before: an abort ("memory allocation of 137438953440 bytes failed") for `sockets`.
        let verdict = validate(&view);
        let held = count_elements(&message);
        assert!(
            reads.get() <= held + 8,
            "{message}: {} element reads for {held} elements held ({verdict:?})",
            reads.get()
        );
        // A hole is never a room, a socket or an event name: a sparse array that validation
        // walks makes the message invalid. (A BROADCAST's `packet.data` and a SERVER_SIDE_EMIT's
        // `packet` are payload, of which only the event name is read: still valid here; the
        // primary's payload codec refuses them before packing, see lib/codec.js.)
        if message["type"] != json!(3) && message["type"] != json!(9) {
            assert!(verdict.is_err(), "{message}: {verdict:?}");
        }
    }
}

fn count_elements(value: &Value) -> u64 {
    match value {
        Value::Array(items) => items.len() as u64 + items.iter().map(count_elements).sum::<u64>(),
        Value::Object(map) => map.values().map(count_elements).sum(),
        _ => 0,
    }
}

/// A MessagePack BROADCAST from another machine to `rooms` rooms.
fn redis_broadcast(rooms: usize) -> Vec<u8> {
    let names: Vec<rmpv::Value> = (0..rooms).map(|i| format!("room-{i}").into()).collect();
    let message = rmpv::Value::Map(vec![
        ("uid".into(), "0123456789abcdef".into()),
        ("nsp".into(), "/".into()),
        ("type".into(), 3.into()),
        (
            "data".into(),
            rmpv::Value::Map(vec![
                (
                    "packet".into(),
                    rmpv::Value::Map(vec![
                        ("type".into(), 2.into()),
                        ("data".into(), rmpv::Value::Array(vec!["e".into()])),
                    ]),
                ),
                (
                    "opts".into(),
                    rmpv::Value::Map(vec![
                        ("rooms".into(), rmpv::Value::Array(names)),
                        ("except".into(), rmpv::Value::Array(vec![])),
                    ]),
                ),
            ]),
        ),
    ]);
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &message).unwrap();
    bytes
}

#[test]
fn a_broadcast_to_many_rooms_is_read_in_one_pass() {
    // Before: each room read skipped every room before it (quadratic): 80,000 rooms took 5.8 s
    // of the hub's thread in release, minutes here in a debug build. One pass: milliseconds.
    let bytes = redis_broadcast(200_000);
    let (header, _) = decode_message(&bytes, None).unwrap();
    assert_eq!(header.rooms.len(), 200_000);
    assert_eq!(header.rooms[199_999], "room-199999");
}

#[test]
fn msgpack_arrays_that_declare_more_than_they_hold_are_invalid() {
    // `rooms` declares 2^32 - 1 elements (array 32) and holds one.
    let mut bytes = redis_broadcast(1);
    let at = bytes
        .windows(6)
        .position(|w| w == b"\xa5rooms")
        .expect("rooms key")
        + 6;
    assert_eq!(bytes[at], 0x91);
    bytes.splice(at..at + 1, [0xdd, 0xff, 0xff, 0xff, 0xff]);
    assert!(decode_message(&bytes, None).is_err());
}
