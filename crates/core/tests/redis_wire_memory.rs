//! What turning msgpackr's typed arrays into plain binary for Redis costs in memory: the output's
//! size, not a value tree of the payload (issue 15, finding 9: a 16 MiB broadcast peaked at
//! 807 MB); and what reading a JSON message from Redis costs. Measured with a counting allocator,
//! one test at a time (`ALONE`), so nothing else allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use sio_cluster_core::{encode_message, Header, MessageType};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALONE: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::SeqCst);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn typed_arrays_are_converted_in_memory_of_the_output() {
    // [Uint8Array([9, 8]), 1, 1, ... 2,000,000 small numbers]: many small values, the shape that
    // costs a value tree tens of bytes per byte.
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    const N: u32 = 2_000_000;
    let mut payload = vec![0xdd];
    payload.extend_from_slice(&(N + 1).to_be_bytes());
    payload.extend_from_slice(&[0xc7, 0x03, 0x74, 0x01, 9, 8]);
    payload.resize(payload.len() + N as usize, 0x01);
    let header = Header::new(MessageType::Broadcast, "/", "u");

    let before = NOW.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let message = encode_message(&header, &payload);
    let peak = PEAK.load(Ordering::SeqCst) - before;

    // The typed array (ext 8, 6 bytes) became bin 8 of its 2 bytes (4 bytes).
    let at = message.len() - payload.len() + 2;
    assert_eq!(&message[at + 5..at + 9], &[0xc4, 0x02, 9, 8]);
    assert!(
        peak <= payload.len() + 1024,
        "converting {} bytes allocated up to {peak} bytes",
        payload.len()
    );
}

#[test]
fn json_messages_are_read_in_memory_of_their_size() {
    // A broadcast of 500,000 small numbers in JSON (as plain redis-adapter servers send what holds
    // no binary): about 1 MB of text, which a value tree would hold in tens of MB.
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let mut json = br#"{"uid":"x","nsp":"/","type":3,"data":{"opts":{"rooms":["r","s"],"except":[]},"packet":{"type":2,"nsp":"/","data":["ev",["#.to_vec();
    for i in 0..500_000 {
        json.extend_from_slice(if i == 0 { b"1" } else { b",1" });
    }
    json.extend_from_slice(b"]]}}}");

    let before = NOW.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let (header, payload) = sio_cluster_core::decode_message(&json, None).unwrap();
    let peak = PEAK.load(Ordering::SeqCst) - before;

    assert_eq!(header.rooms, vec!["r".to_string(), "s".to_string()]);
    assert!(payload.len() > 500_000);
    assert!(
        peak <= 3 * json.len(),
        "reading {} bytes of JSON allocated up to {peak} bytes",
        json.len()
    );
}
