//! Writes the hand-made seeds of each target to `corpus-seeds/<target>/` (the committed corpus
//! in `corpus/` is these plus what AFL found, minimized with `cargo afl cmin`).
//! Run: `cargo run --example make_seeds` in fuzz/.

use std::fs;

use sio_cluster_core::{encode_frame, hello, Header, MessageType, Secret};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = format!("corpus-seeds/{target}");
    fs::create_dir_all(&dir).unwrap();
    fs::write(format!("{dir}/{name}"), bytes).unwrap();
}

fn headers() -> Vec<Header> {
    let names = |rooms: &[&str]| rooms.iter().map(|r| r.to_string()).collect::<Vec<_>>();
    vec![
        Header::new(MessageType::Heartbeat, "/", "a1"),
        Header {
            rooms: names(&["r1", "r2"]),
            except: names(&["x"]),
            request_id: Some("q1".into()),
            store: true,
            ..Header::new(MessageType::Broadcast, "/chat", "a1")
        },
        Header {
            request_id: Some("q2".into()),
            requester_uid: Some("b2".into()),
            ..Header::new(MessageType::FetchSocketsResponse, "/", "a1")
        },
        Header {
            joined: names(&["r1"]),
            left: names(&["r2"]),
            applied: Some(7),
            reset: true,
            offset: Some(3),
            ..Header::new(MessageType::RoomsChanged, "/", "a1")
        },
    ]
}

fn main() {
    // (a) frame: [limit][methods][chunk count - 1][chunk sizes][stream]
    let mut stream = Vec::new();
    for (i, header) in headers().iter().enumerate() {
        stream.extend(encode_frame(header, &vec![i as u8; i * 3]).unwrap());
    }
    for (name, prefix) in [
        ("whole", vec![0u8, 0x00, 0, 255]),
        ("raw-bytewise", vec![0, 0x55, 0, 1]),
        ("borrowed-chunks", vec![0, 0xaa, 2, 3, 0, 17]),
        ("mixed-small-limit", vec![6, 0x1b, 1, 5, 9]),
    ] {
        write("frame", name, &[&prefix[..], &stream].concat());
    }
    write(
        "frame",
        "truncated",
        &[&[0u8, 0, 0, 255][..], &stream[..stream.len() - 2]].concat(),
    );
    write(
        "frame",
        "too-large",
        &[0, 0, 0, 255, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
    );
    write(
        "frame",
        "bad-header-len",
        &[0, 0, 0, 255, 0, 0, 0, 5, 0, 0, 0, 9, 1],
    );

    // (b) header: MessagePack headers, valid and not
    for (i, header) in headers().iter().enumerate() {
        write(
            "header",
            &format!("header-{i}"),
            &rmp_serde::to_vec_named(header).unwrap(),
        );
    }
    let mut no_uid = Header::new(MessageType::Heartbeat, "/", "x");
    no_uid.uid.clear();
    write(
        "header",
        "empty-uid",
        &rmp_serde::to_vec_named(&no_uid).unwrap(),
    );
    write(
        "header",
        "unknown-type",
        &[
            0x83, 0xa1, b't', 0x0e, 0xa1, b'n', 0xa1, b'/', 0xa1, b'u', 0xa1, b'a',
        ],
    );

    // (c) validate: the reference's messages, one per type
    let messages = [
        r#"{"source":"_sio_adapter","uid":"a1","nsp":"/","type":1}"#,
        r#"{"source":"_sio_adapter","uid":"a1","nsp":"/","type":2}"#,
        r#"{"source":"_sio_adapter","uid":"a1","nsp":"/","type":3,"data":{"packet":{"type":2,"data":["ev",1],"nsp":"/"},"opts":{"rooms":["r1",42],"except":[],"flags":{}},"requestId":"q1"}}"#,
        r#"{"source":"_sio_adapter","uid":"a1","nsp":"/","type":4,"data":{"opts":{"rooms":[],"except":["x"]},"rooms":["r2"]}}"#,
        r#"{"source":"_sio_adapter","uid":"a1","nsp":"/","type":5,"data":{"opts":{"rooms":["r1"],"except":[]},"rooms":["r2"]}}"#,
        r#"{"source":"_sio_adapter","uid":"a1","nsp":"/","type":6,"data":{"opts":{"rooms":[],"except":[]},"close":true}}"#,
        r#"{"source":"_sio_adapter","uid":"a1","nsp":"/","type":7,"data":{"opts":{"rooms":["r1"],"except":[]},"requestId":"q2"}}"#,
        r#"{"source":"_sio_adapter","uid":"b2","nsp":"/","type":8,"requesterUid":"a1","data":{"requestId":"q2","sockets":[{"id":"s1","handshake":{},"rooms":["s1"],"data":null}]}}"#,
        r#"{"source":"_sio_adapter","uid":"a1","nsp":"/","type":9,"data":{"packet":["hello",1],"requestId":"q3"}}"#,
        r#"{"source":"_sio_adapter","uid":"b2","nsp":"/","type":10,"requesterUid":"a1","data":{"requestId":"q3","packet":["ok"]}}"#,
        r#"{"source":"_sio_adapter","uid":"b2","nsp":"/","type":11,"requesterUid":"a1","data":{"requestId":"q1","clientCount":3}}"#,
        r#"{"source":"_sio_adapter","uid":"b2","nsp":"/","type":12,"requesterUid":"a1","data":{"requestId":"q1","packet":[1]}}"#,
        r#"{"source":"_sio_adapter","uid":"a1","nsp":"/","type":13}"#,
    ];
    for (i, message) in messages.iter().enumerate() {
        write(
            "validate",
            &format!("type-{}.json", i + 1),
            message.as_bytes(),
        );
    }
    // The same messages as the JS-like value builder spells them, and once more with every array
    // declaring 2^32 - 1 elements (a sparse tail of holes, as V8's advanced IPC carries them: a
    // few bytes on the wire), one array at a time: validation must cost what they hold.
    for (i, message) in messages.iter().enumerate() {
        let value: serde_json::Value = serde_json::from_str(message).unwrap();
        write(
            "validate",
            &format!("built-type-{}", i + 1),
            &js_program(&value, None),
        );
        for array in 0..count_arrays(&value) {
            write(
                "validate",
                &format!("built-type-{}-sparse-{array}", i + 1),
                &js_program(&value, Some(array)),
            );
        }
    }

    // The JS-like value builder: {uid: "a1", nsp: "/", type: 2} spelled in its tags.
    write(
        "validate",
        "built-heartbeat",
        &[7, 3, 1, 5, 2, 2, 5, 1, 3, 3, 7],
    );

    // (d) handshake
    let secret =
        Secret::from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
            .unwrap();
    write("handshake", "good", &hello(&secret, 7));
    write(
        "handshake",
        "good-trailing",
        &[hello(&secret, 1), vec![9, 9]].concat(),
    );
    let mut wrong = hello(&secret, 2);
    wrong[20] ^= 1;
    write("handshake", "wrong-secret", &wrong);
    write("handshake", "short", &hello(&secret, 3)[..20]);
    write(
        "handshake",
        "bad-magic",
        &[b"SIOHUB2\n".as_slice(), &hello(&secret, 3)[8..]].concat(),
    );

    // (e) recovery: [5 limit bytes] then steps [nsp][op]...
    let limits = [15u8, 254, 3, 7, 63];
    let store = |room: u8, payload: &[u8]| {
        [&[0u8, 0, 1, room, 0, 0, payload.len() as u8][..], payload].concat()
    };
    let persist = [0u8, 2, 0, 50, 0, 0, 1, 0, 2, 9, 9];
    let restore = |after: u8| vec![0u8, 4, 0, after, 0];
    let advance = [0u8, 6, 0, 100];
    let session = [
        &limits[..],
        &store(0, &[1, 2, 3]),
        &persist,
        &store(1, &[4; 40]),
        &store(0, &[5; 70]),
        &restore(1),
        &advance,
        &restore(2),
    ]
    .concat();
    write("recovery", "session", &session);
    write(
        "recovery",
        "raw-requests",
        &[
            &limits[..],
            &[0, 2, 1, 3, 0x91, 0xa1, b'x'],
            &[0, 4, 1, 2, 0x80, 0x00],
        ]
        .concat(),
    );
    write(
        "recovery",
        "expired",
        &[
            &limits[..],
            &persist,
            &[0, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0],
            &restore(0)[..],
        ]
        .concat(),
    );

    // (f) switchboard: [route by room] then steps [worker][op]...
    let mut program = vec![1u8];
    for worker in 0..4u8 {
        program.extend([worker, 0]);
    }
    program.extend([0, 1, 1, 1]); // workers 1 and 2 on their links
                                  // ROOMS_CHANGED from 1: joined [r1], applied 3, reset
    program.extend([0, 8, 17, 64, 0, 0, 1, 0, 67, 1]);
    // BROADCAST with acks to [r2] from 3 over IPC, FETCH_SOCKETS to [r1] from 3
    program.extend([2, 5, 0, 2, 5, 0, 2, 0, 1, 1, 0, 0]);
    program.extend([2, 6, 0, 6, 5, 0, 2, 0, 1, 0, 0, 0]);
    // FETCH_SOCKETS_RESPONSE from 2 to requester c
    program.extend([1, 7, 1, 7, 3, 0, 1, 0, 2, 0, 0]);
    program.extend([0, 9, 0, 2, 0, 1, 70]); // pin [r1, r2] at 6 for 1
    program.extend([0, 11, 17, 64, 0, 0, 1, 2, 64, 1]); // views: reset
    program.extend([0, 12, 0, 0, 2, 0, 1, 70]); // views: pins (0xff in place of the count byte folds them)
    program.extend([0, 14, 0, 1, 0, 0, 10, 0, 3, 0, 4]);
    write("switchboard", "program", &program);
    write(
        "switchboard",
        "no-room-routing",
        &[&[0u8][..], &program[1..]].concat(),
    );
}

/// `value` spelled in the tags `JsValue::build` (fuzz/src/core_targets.rs) reads; the array
/// numbered `sparse` (in depth-first order) gets a tail of 2^32 - 1 holes.
fn js_program(value: &serde_json::Value, sparse: Option<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut arrays = 0;
    spell(value, sparse, &mut arrays, &mut out);
    out
}

fn spell(value: &serde_json::Value, sparse: Option<usize>, arrays: &mut usize, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Null => out.push(1),
        Value::Bool(b) => out.push(if *b { 2 | 0x10 } else { 2 }),
        Value::Number(n) => {
            // Tag 4: the number's bits, exactly.
            out.push(4);
            out.extend(n.as_f64().unwrap().to_bits().to_be_bytes());
        }
        Value::String(text) => {
            out.push(5);
            spell_string(text, out);
        }
        Value::Array(items) => {
            let index = *arrays;
            *arrays += 1;
            let holes = sparse == Some(index);
            // 9 and 129 are both arrays (tag % 12 == 9); 0x80 asks for a tail of holes.
            out.push(if holes { 129 } else { 9 });
            out.push(items.len().min(7) as u8);
            for item in items.iter().take(7) {
                spell(item, sparse, arrays, out);
            }
            if holes {
                out.extend(u32::MAX.to_be_bytes());
            }
        }
        Value::Object(fields) => {
            out.push(7);
            out.push(fields.len().min(7) as u8);
            for (key, item) in fields.iter().take(7) {
                spell_string(key, out);
                spell(item, sparse, arrays, out);
            }
        }
    }
}

/// A string as `Input::string` reads it: 0xf0 | length, then its bytes (at most 15).
fn spell_string(text: &str, out: &mut Vec<u8>) {
    let bytes = &text.as_bytes()[..text.len().min(15)];
    out.push(0xf0 | bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn count_arrays(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(count_arrays).sum::<usize>(),
        serde_json::Value::Object(fields) => fields.values().map(count_arrays).sum(),
        _ => 0,
    }
}
