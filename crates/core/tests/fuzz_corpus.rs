//! Replays the committed fuzz corpus (fuzz/corpus/<target>/) of the targets over this crate
//! through the very functions the AFL++ binaries run (fuzz/src/core_targets.rs and link_targets.rs, included here),
//! so every input the fuzzer kept, and every crash it ever found, stays a test without AFL.

#![allow(dead_code)]

#[path = "../../../fuzz/src/input.rs"]
mod input;

#[path = "../../../fuzz/src/core_targets.rs"]
mod core_targets;

#[path = "../../../fuzz/src/link_targets.rs"]
mod link_targets;

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

use replay::replay;

#[test]
fn frame_corpus() {
    replay("frame", core_targets::frame);
}

#[test]
fn header_corpus() {
    replay("header", core_targets::header);
}

#[test]
fn validate_corpus() {
    replay("validate", core_targets::validate_message);
}

#[test]
fn redis_message_corpus() {
    replay("redis_message", core_targets::redis_message);
}

#[test]
fn switchboard_corpus() {
    replay("switchboard", core_targets::switchboard);
}

/// Inputs no corpus file may be without: the empty input and a few degenerate ones.
#[test]
fn degenerate_inputs() {
    for bytes in [&[][..], &[0], &[0xff; 64], &[0; 64]] {
        core_targets::frame(bytes);
        core_targets::header(bytes);
        core_targets::validate_message(bytes);
        core_targets::switchboard(bytes);
    }
}

#[test]
fn handshake_corpus() {
    replay("handshake", link_targets::handshake);
}

#[test]
fn recovery_corpus() {
    replay("recovery", link_targets::recovery);
}

#[test]
fn degenerate_link_inputs() {
    for bytes in [&[][..], &[0], &[0xff; 64], &[0; 64]] {
        link_targets::handshake(bytes);
        link_targets::recovery(bytes);
    }
}
