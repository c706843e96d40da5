//! One tokio runtime per process for the hub's socket I/O (in the primary), on a thread of its own
//! so that it never competes with Node's event loop, and never keeps the process alive.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};

use crate::error::BindingError;

static RUNTIME: OnceLock<Handle> = OnceLock::new();

pub fn handle() -> napi::Result<&'static Handle> {
    if let Some(handle) = RUNTIME.get() {
        return Ok(handle);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sio-cluster-io".into())
        .spawn(
            move || match Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => {
                    let _ = tx.send(Ok(runtime.handle().clone()));
                    runtime.block_on(std::future::pending::<()>());
                }
                Err(error) => {
                    let _ = tx.send(Err(error.to_string()));
                }
            },
        )
        .map_err(|e| BindingError::Runtime(format!("cannot start the I/O thread: {e}")))?;
    let handle = rx
        .recv()
        .map_err(|e| BindingError::Runtime(e.to_string()))?
        .map_err(|e| BindingError::Runtime(format!("cannot start the I/O runtime: {e}")))?;
    Ok(RUNTIME.get_or_init(|| handle))
}
