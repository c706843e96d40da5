//! Targets over what a hub reads from a link besides routing headers: the handshake, and the
//! connection state recovery requests (PERSIST_SESSION, RESTORE_SESSION) with the packet log and
//! session store behind them.
//!
//! Included by crates/core/tests/fuzz_corpus.rs with `#[path]`: it may use only what that test
//! crate has (sio_cluster_core, serde, serde_bytes, rmp_serde, and `crate::input`).

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sio_cluster_core::{
    check_hello, encode_frame, hello, FrameDecoder, Header, MessageType, RawFrame, Recovery,
    RecoveryLimits, Secret, HELLO_LEN, MAX_FRAME_LEN,
};

use crate::input::Input;

// ---------------------------------------------------------------------------------------------
// (d) handshake

const SECRET_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const MAGIC: &[u8] = b"SIOHUB1\n";

/// `check_hello` over arbitrary bytes with a fixed secret: accepted exactly when the bytes start
/// with the magic and the secret, and then the worker id is the next four bytes; a hello made by
/// `hello()` for the id in the input's first four bytes is accepted with that id.
pub fn handshake(data: &[u8]) {
    let secret = Secret::from_hex(SECRET_HEX).expect("a valid secret");
    // The hub reads exactly HELLO_LEN bytes first (a shorter input never completes a hello).
    let result = data
        .get(..HELLO_LEN)
        .map(|bytes| check_hello(bytes.try_into().expect("HELLO_LEN bytes"), &secret));
    let expected = data.len() >= 44
        && &data[..8] == MAGIC
        && data[8..40].iter().enumerate().all(|(i, b)| *b == i as u8);
    assert_eq!(HELLO_LEN, 44);
    match result {
        Some(Ok(worker)) => {
            assert!(expected, "accepted a bad hello");
            assert_eq!(worker, u32::from_be_bytes(data[40..44].try_into().unwrap()));
        }
        Some(Err(reason)) => assert!(!expected, "refused a good hello: {reason}"),
        None => assert!(!expected, "a good hello left incomplete"),
    }
    let mut id = [0; 4];
    id[..data.len().min(4)].copy_from_slice(&data[..data.len().min(4)]);
    let id = u32::from_be_bytes(id);
    let good = hello(&secret, id);
    let good: [u8; HELLO_LEN] = good.try_into().expect("a hello is HELLO_LEN bytes");
    assert_eq!(check_hello(&good, &secret), Ok(id));
}

// ---------------------------------------------------------------------------------------------
// (e) connection state recovery

/// PERSIST_SESSION's payload, as the worker's JS packs it (see crates/core/src/recovery/requests.rs).
#[derive(Serialize)]
struct Persist<'a> {
    sid: &'a str,
    pid: &'a str,
    rooms: Vec<String>,
    data: ByteBuf,
    ttl: u64,
}

#[derive(Serialize)]
struct Restore<'a> {
    pid: &'a str,
    after: u64,
}

/// RESTORE_SESSION_RESPONSE's payload, as the worker's JS reads it.
#[derive(Deserialize, Debug)]
struct RestoreResponse {
    ok: bool,
    reason: Option<String>,
    sid: Option<String>,
    rooms: Option<Vec<String>>,
    data: Option<ByteBuf>,
    packets: Vec<(u64, ByteBuf)>,
    more: Option<u64>,
}

const NSPS: &[&str] = &["/", "/chat"];
const PIDS: &[&str] = &["p1", "p2", "p3", ""];
const ROOMS: &[&str] = &["r1", "r2", "sid-1", ""];

fn rooms(input: &mut Input) -> Vec<String> {
    let n = input.below(4);
    (0..n).map(|_| input.string(ROOMS)).collect()
}

/// A frame of `kind` from a worker, read back by a `FrameDecoder` as the hub reads it.
fn link_frame(header: Header, payload: &[u8]) -> RawFrame {
    let bytes = encode_frame(&header, payload).expect("the target builds valid headers");
    decode_one(&bytes).expect("an encoded frame decodes")
}

fn decode_one(bytes: &[u8]) -> Option<RawFrame> {
    let mut decoder = FrameDecoder::new(MAX_FRAME_LEN);
    decoder.push(bytes);
    let frame = decoder.next_raw_frame().ok().flatten()?;
    assert_eq!(decoder.buffered(), 0);
    Some(frame)
}

/// A sequence of stored broadcasts, PERSIST_SESSIONs and RESTORE_SESSIONs (payloads either
/// arbitrary bytes or well-formed requests with arbitrary fields) and clock moves, handled as the
/// hub handles them, over small log and page bounds.
///
/// Checks: no panic; a stored broadcast's relayed frame and acknowledgement decode and carry its
/// offset, offsets increase by one; a restore reply is a RESTORE_SESSION_RESPONSE to its sender
/// with the request id, whose payload decodes; an ok page carries packets after the requested
/// offset in order, and its `more` is past that offset (paging always advances); the log stays
/// within its bounds.
pub fn recovery(data: &[u8]) {
    let mut input = Input::new(data);
    let limits = RecoveryLimits {
        max_packets: input.below(16) + 1,
        // Retained bytes count ~120 bytes of overhead per entry: room for a few entries.
        max_bytes: (input.below(255) + 1) * 8,
        max_sessions: input.below(4) + 1,
        max_session_bytes: 64 * 1024,
        page_packets: input.below(8) + 1,
        page_bytes: input.below(64) + 1,
    };
    let mut recovery = Recovery::new(limits);
    let mut now: u64 = 0;
    let mut last_offset = 0;
    let mut steps = 0;
    while !input.is_empty() && steps < 256 {
        steps += 1;
        let nsp = input.string(NSPS);
        match input.below(8) {
            0 | 1 => {
                let header = Header {
                    rooms: rooms(&mut input),
                    except: rooms(&mut input),
                    store: true,
                    request_id: input.bool().then(|| "q".to_string()),
                    ..Header::new(MessageType::Broadcast, nsp, "w1")
                };
                let payload = input.slice();
                let frame = link_frame(header.clone(), payload);
                let (relayed, ack) = recovery.store(&frame, now).expect("a broadcast stores");
                let relayed = decode_one(&relayed).expect("the relayed frame decodes");
                let ack = decode_one(&ack).expect("the acknowledgement decodes");
                let offset = relayed
                    .header
                    .offset
                    .expect("the relayed frame has its offset");
                assert_eq!(offset, last_offset + 1);
                last_offset = offset;
                assert!(!relayed.header.store);
                assert_eq!(relayed.payload(), payload);
                assert_eq!(
                    relayed.header,
                    Header {
                        store: false,
                        offset: Some(offset),
                        ..header.clone()
                    }
                );
                assert_eq!(ack.header.kind, MessageType::OffsetAssigned);
                assert_eq!(ack.header.offset, Some(offset));
                assert_eq!(ack.header.nsp, header.nsp);
            }
            2 | 3 => {
                let payload = if input.bool() {
                    input.slice().to_vec()
                } else {
                    let ttl = match input.byte() {
                        255 => input.u64(),
                        b => u64::from(b) * 100,
                    };
                    rmp_serde::to_vec_named(&Persist {
                        sid: &input.string(&["s1", "s2"]),
                        pid: &input.string(PIDS),
                        rooms: rooms(&mut input),
                        data: ByteBuf::from(input.slice()),
                        ttl,
                    })
                    .unwrap()
                };
                let frame = link_frame(
                    Header::new(MessageType::PersistSession, nsp, "w1"),
                    &payload,
                );
                let _ = recovery.persist(&frame, now);
            }
            4 | 5 => {
                let payload = if input.bool() {
                    input.slice().to_vec()
                } else {
                    let after = match input.byte() {
                        255 => input.u64(),
                        b => u64::from(b),
                    };
                    let pid = input.string(PIDS);
                    rmp_serde::to_vec_named(&Restore { pid: &pid, after }).unwrap()
                };
                let after = rmp_serde::from_slice::<RestoreAfter>(&payload)
                    .ok()
                    .map(|r| r.after);
                let request = Header {
                    request_id: Some("q7".into()),
                    ..Header::new(MessageType::RestoreSession, nsp, "w2")
                };
                let frame = link_frame(request.clone(), &payload);
                if let Ok(reply) = recovery.restore(&frame, now) {
                    check_restore_reply(&reply.bytes, reply.joins, &request, after);
                }
            }
            6 => now = now.saturating_add(u64::from(input.u16()) * 10),
            _ => now = now.saturating_add(input.u64() >> input.below(64)),
        }
        assert!(recovery.log_len() <= limits.max_packets);
        assert!(recovery.log_bytes() <= limits.max_bytes);
        assert!(recovery.sessions() <= limits.max_sessions);
    }
}

#[derive(Deserialize)]
struct RestoreAfter {
    after: u64,
}

fn check_restore_reply(
    reply: &[u8],
    joins: Option<(String, Vec<String>)>,
    request: &Header,
    after: Option<u64>,
) {
    let reply = decode_one(reply).expect("a restore reply decodes");
    assert_eq!(reply.header.kind, MessageType::RestoreSessionResponse);
    assert_eq!(
        reply.header.requester_uid.as_deref(),
        Some(request.uid.as_str())
    );
    assert_eq!(reply.header.request_id, request.request_id);
    assert_eq!(reply.header.nsp, request.nsp);
    let response: RestoreResponse =
        rmp_serde::from_slice(reply.payload()).expect("a restore response decodes");
    if !response.ok {
        assert!(response.reason.is_some() && response.sid.is_none() && response.packets.is_empty());
        assert!(joins.is_none());
        return;
    }
    // The session (sid, rooms, data) comes once, with the last page.
    let last = response.more.is_none();
    assert_eq!(response.sid.is_some() && response.data.is_some(), last);
    assert_eq!(joins.map(|(_, rooms)| rooms), response.rooms);
    let after = after.expect("an ok restore had a readable `after`");
    let mut previous = after;
    for (offset, _) in &response.packets {
        assert!(*offset > previous, "packets follow the offset, in order");
        previous = *offset;
    }
    if let Some(more) = response.more {
        assert!(more > after, "paging advances: more {more} after {after}");
        assert!(more >= previous);
    }
}
