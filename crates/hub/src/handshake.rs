//! The hub's side of the hello (see `sio_cluster_core::hello`): a random secret, and reading a
//! worker's hello from its socket.

use sio_cluster_core::{check_hello, Secret, HELLO_LEN, SECRET_LEN};
use tokio::io::AsyncReadExt;

/// A secret from the operating system's random source.
pub fn random_secret() -> std::io::Result<Secret> {
    let mut bytes = [0; SECRET_LEN];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(Secret::from_bytes(bytes))
}

/// Reads a worker's hello and returns the worker id it claims; `Err` says why it is refused.
pub(crate) async fn read_hello<R: AsyncReadExt + Unpin>(
    stream: &mut R,
    secret: &Secret,
) -> Result<u32, String> {
    let mut hello = [0u8; HELLO_LEN];
    stream
        .read_exact(&mut hello)
        .await
        .map_err(|e| format!("no complete hello: {e}"))?;
    check_hello(&hello, secret).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sio_cluster_core::hello;

    #[tokio::test]
    async fn a_hello_is_read_from_the_stream() {
        let secret = random_secret().unwrap();
        assert_ne!(random_secret().unwrap(), secret);
        let bytes = hello(&secret, 7);
        assert_eq!(read_hello(&mut bytes.as_slice(), &secret).await, Ok(7));
        assert!(read_hello(&mut &bytes[..10], &secret).await.is_err());
    }
}
