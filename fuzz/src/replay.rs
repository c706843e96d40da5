//! Replays a committed corpus (fuzz/corpus/<target>/) through a target, for the corpus tests of
//! crates/core and crates/hub (included there with `#[path]`; both sit two levels below the root).

use std::fs;
use std::path::PathBuf;

/// Runs `target` over every file of fuzz/corpus/<name>/ and returns how many there were.
pub fn replay(name: &str, target: fn(&[u8])) -> usize {
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
        // A panic names the file, to run it again under the AFL binary or a debugger.
        eprintln!("replaying {}", path.display());
        target(&bytes);
    }
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files.len()
}
