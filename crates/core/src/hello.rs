//! The first bytes of a link: the worker names itself (its `cluster.worker.id`) and proves it was
//! handed the secret over its IPC channel; the hub also checks that the peer's pid is that
//! worker's (it has the socket), then answers with one byte once the worker is accepted.
//!
//! `MAGIC (8) | secret (SECRET_LEN) | worker id (u32, big-endian)`

use std::fmt;

/// Identifies the protocol and its version, so a stray client fails fast and clearly.
const MAGIC: &[u8; 8] = b"SIOHUB1\n";
pub const SECRET_LEN: usize = 32;
/// The length of a hello: a hub reads exactly this many bytes before anything else.
pub const HELLO_LEN: usize = MAGIC.len() + SECRET_LEN + 4;
/// The byte the hub answers a hello with once it accepted the worker.
pub const ACCEPTED: u8 = 1;
/// To a standalone hub (which names its workers itself), the worker id that says "this link only
/// sends" (an Emitter in any process): it receives nothing but the hub's answers to it.
pub const SENDS_ONLY: u32 = u32::MAX;

/// The secret a primary hands its workers over IPC. Made from random bytes by the hub (the core
/// has no source of randomness).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; SECRET_LEN]);

impl Secret {
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Secret {
        Secret(bytes)
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(hex: &str) -> Option<Secret> {
        if hex.len() != 2 * SECRET_LEN || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0; SECRET_LEN];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Secret(bytes))
    }

    /// Compares in constant time, so timing says nothing about how much of a guess was right.
    fn matches(&self, other: &[u8]) -> bool {
        other.len() == SECRET_LEN
            && self
                .0
                .iter()
                .zip(other)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Why a hub refuses a hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloError {
    BadMagic,
    WrongSecret,
}

impl fmt::Display for HelloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HelloError::BadMagic => "not a hub client (bad magic)",
            HelloError::WrongSecret => "wrong secret",
        })
    }
}

impl std::error::Error for HelloError {}

/// The first bytes a worker sends on its link.
pub fn hello(secret: &Secret, worker: u32) -> Vec<u8> {
    let mut hello = Vec::with_capacity(HELLO_LEN);
    hello.extend_from_slice(MAGIC);
    hello.extend_from_slice(&secret.0);
    hello.extend_from_slice(&worker.to_be_bytes());
    hello
}

/// Reads a worker's hello and returns the worker id it claims.
pub fn check_hello(hello: &[u8; HELLO_LEN], secret: &Secret) -> Result<u32, HelloError> {
    let (magic, rest) = hello.split_at(MAGIC.len());
    let (offered, worker) = rest.split_at(SECRET_LEN);
    if magic != MAGIC {
        return Err(HelloError::BadMagic);
    }
    if !secret.matches(offered) {
        return Err(HelloError::WrongSecret);
    }
    let mut id = [0u8; 4];
    id.copy_from_slice(worker);
    Ok(u32::from_be_bytes(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(seed: u8) -> Secret {
        Secret::from_bytes(std::array::from_fn(|i| seed.wrapping_add(i as u8)))
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let secret = secret(3);
        assert_eq!(Secret::from_hex(&secret.to_hex()), Some(secret.clone()));
        assert_eq!(Secret::from_hex("zz"), None);
        assert_eq!(Secret::from_hex(&"g".repeat(64)), None);
        assert_eq!(Secret::from_hex(&"é".repeat(32)), None);
    }

    #[test]
    fn hello_is_checked() {
        let secret = secret(1);
        let mut bytes: [u8; HELLO_LEN] = hello(&secret, 7).try_into().unwrap();
        assert_eq!(check_hello(&bytes, &secret), Ok(7));
        assert_eq!(
            check_hello(&bytes, &self::secret(2)),
            Err(HelloError::WrongSecret)
        );
        bytes[0] = b'X';
        assert_eq!(check_hello(&bytes, &secret), Err(HelloError::BadMagic));
    }
}
