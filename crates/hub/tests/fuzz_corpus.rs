//! Replays the committed fuzz corpus (fuzz/corpus/<target>/) of the targets over this crate
//! through the very functions the AFL++ binaries run (fuzz/src/hub_targets.rs, included here),
//! so every input the fuzzer kept, and every crash it ever found, stays a test without AFL.

#![allow(dead_code)]

#[path = "../../../fuzz/src/input.rs"]
mod input;

#[path = "../../../fuzz/src/hub_targets.rs"]
mod hub_targets;

use std::fs;
use std::path::PathBuf;

fn replay(name: &str, target: fn(&[u8])) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    for path in &files {
        let bytes = fs::read(path).unwrap();
        eprintln!("replaying {}", path.display());
        target(&bytes);
    }
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files.len()
}

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
