//! Replays the committed fuzz corpus (fuzz/corpus/<target>/) of the targets over this crate
//! through the very functions the AFL++ binaries run (fuzz/src/hub_targets.rs, included here),
//! so every input the fuzzer kept, and every crash it ever found, stays a test without AFL.

#![allow(dead_code)]

#[path = "../../../fuzz/src/input.rs"]
mod input;

#[path = "../../../fuzz/src/hub_targets.rs"]
mod hub_targets;

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

use replay::replay;

#[test]
fn handshake_corpus() {
    replay("handshake", hub_targets::handshake);
}

#[test]
fn recovery_corpus() {
    replay("recovery", hub_targets::recovery);
}

#[test]
fn degenerate_inputs() {
    for bytes in [&[][..], &[0], &[0xff; 64], &[0; 64]] {
        hub_targets::handshake(bytes);
        hub_targets::recovery(bytes);
    }
}
