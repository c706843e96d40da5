//! The primary's Emitter's own messages, heard back from Redis. A machine subscribes the channels
//! it publishes on, so Redis sends each message back to it. A worker's message is recognised by its
//! uid (a local adapter's); the Emitter's uid ("emitter") is every machine's, so its messages are
//! recognised by their bytes instead: each one published on a channel this machine subscribes is
//! expected back once.

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Messages awaited back at most (one lost by Redis leaves its entry until it is pushed out).
pub const MAX_ECHOES: usize = 1024;

#[derive(Debug, Default)]
pub struct Echoes {
    /// Hashes of the messages awaited back, oldest first.
    awaited: VecDeque<u64>,
}

impl Echoes {
    /// `message` was published on a channel this machine subscribes: Redis will send it back.
    pub fn expect(&mut self, message: &[u8]) {
        self.awaited.push_back(hash_of(message));
        if self.awaited.len() > MAX_ECHOES {
            self.awaited.pop_front();
        }
    }

    /// Whether `message` is one awaited back (then no longer awaited). Byte for byte: identical
    /// bytes from another machine's Emitter would be the same message anyway.
    pub fn take(&mut self, message: &[u8]) -> bool {
        if self.awaited.is_empty() {
            return false; // the common case: nothing is hashed
        }
        let hash = hash_of(message);
        match self.awaited.iter().position(|&echo| echo == hash) {
            Some(at) => {
                self.awaited.remove(at);
                true
            }
            None => false,
        }
    }
}

fn hash_of(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_message_published_is_taken_back_once() {
        let mut echoes = Echoes::default();
        echoes.expect(b"one");
        echoes.expect(b"one");
        assert!(!echoes.take(b"two"));
        assert!(echoes.take(b"one"));
        assert!(echoes.take(b"one"));
        assert!(!echoes.take(b"one"));
    }

    #[test]
    fn at_most_max_echoes_are_awaited() {
        let mut echoes = Echoes::default();
        for i in 0..=MAX_ECHOES as u32 {
            echoes.expect(&i.to_be_bytes());
        }
        assert!(
            !echoes.take(&0u32.to_be_bytes()),
            "the oldest was pushed out"
        );
        assert!(echoes.take(&1u32.to_be_bytes()));
    }
}
