//! The first bytes of a link: the worker names itself (its `cluster.worker.id`) and proves it was
//! handed the secret over its IPC channel; the hub also checks that the peer's pid is that
//! worker's, then answers with one byte once the worker is accepted.

use std::fmt;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Identifies the protocol and its version, so a stray client fails fast and clearly.
const MAGIC: &[u8; 8] = b"SIOHUB1\n";
pub const SECRET_LEN: usize = 32;
/// The byte the hub answers a hello with once it accepted the worker.
pub const ACCEPTED: u8 = 1;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; SECRET_LEN]);

impl Secret {
    pub fn random() -> std::io::Result<Secret> {
        let mut bytes = [0; SECRET_LEN];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Secret(bytes))
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
    fn matches(&self, other: &[u8; SECRET_LEN]) -> bool {
        self.0
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

const HELLO_LEN: usize = MAGIC.len() + SECRET_LEN + 4;

/// The first bytes a worker sends on its link.
pub fn hello(secret: &Secret, worker: u32) -> Vec<u8> {
    let mut hello = Vec::with_capacity(HELLO_LEN);
    hello.extend_from_slice(MAGIC);
    hello.extend_from_slice(&secret.0);
    hello.extend_from_slice(&worker.to_be_bytes());
    hello
}

pub(crate) async fn send_hello<W: AsyncWriteExt + Unpin>(
    stream: &mut W,
    secret: &Secret,
    worker: u32,
) -> std::io::Result<()> {
    stream.write_all(&hello(secret, worker)).await
}

/// Reads a worker's hello and returns the worker id it claims; `Err` says why it is refused.
/// (`pub` for the fuzz target in `fuzz/`; only the hub calls it.)
pub async fn check_hello<R: AsyncReadExt + Unpin>(
    stream: &mut R,
    secret: &Secret,
) -> Result<u32, String> {
    let mut hello = [0u8; HELLO_LEN];
    stream
        .read_exact(&mut hello)
        .await
        .map_err(|e| format!("no complete hello: {e}"))?;
    let (magic, rest) = hello.split_at(MAGIC.len());
    let (offered, worker) = rest.split_at(SECRET_LEN);
    if magic != MAGIC {
        return Err("not a hub client (bad magic)".into());
    }
    let offered: &[u8; SECRET_LEN] = offered.try_into().map_err(|_| "short secret")?;
    if !secret.matches(offered) {
        return Err("wrong secret".into());
    }
    let worker: [u8; 4] = worker.try_into().map_err(|_| "short worker id")?;
    Ok(u32::from_be_bytes(worker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects() {
        let secret = Secret::random().unwrap();
        assert_eq!(Secret::from_hex(&secret.to_hex()), Some(secret.clone()));
        assert_eq!(Secret::from_hex("zz"), None);
        assert_eq!(Secret::from_hex(&"g".repeat(64)), None);
        assert_eq!(Secret::from_hex(&"é".repeat(32)), None);
        assert_ne!(Secret::random().unwrap(), secret);
    }

    #[tokio::test]
    async fn hello_is_checked() {
        let secret = Secret::random().unwrap();
        let mut hello = Vec::new();
        send_hello(&mut hello, &secret, 7).await.unwrap();
        assert_eq!(check_hello(&mut hello.as_slice(), &secret).await, Ok(7));
        let other = Secret::random().unwrap();
        assert_eq!(
            check_hello(&mut hello.as_slice(), &other).await,
            Err("wrong secret".into())
        );
        hello[0] = b'X';
        assert!(check_hello(&mut hello.as_slice(), &secret).await.is_err());
        assert!(check_hello(&mut &hello[..10], &secret).await.is_err());
    }
}
