//! Fuzz targets of everything that parses bytes or values sent by another process. Each target
//! is a function of `&[u8]` that panics only on a bug; `src/bin/*.rs` runs it under AFL++
//! (`cargo afl`), and the corpus replay test of crates/core includes the same files
//! (`#[path]`) to run every corpus file through it in `cargo test`.

pub mod core_targets;
pub mod input;
pub mod link_targets;
