//! The hub's socket lives in a fresh directory only the primary's user can enter (0700), and the
//! socket itself is 0600: other users of the machine cannot even reach it.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(crate) struct SocketDir {
    dir: PathBuf,
    socket: PathBuf,
}

impl SocketDir {
    pub(crate) fn create(parent: &Path) -> std::io::Result<SocketDir> {
        let mut suffix = [0u8; 6];
        getrandom::fill(&mut suffix).map_err(|e| std::io::Error::other(e.to_string()))?;
        let name: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        let dir = parent.join(format!("sio-hub-{}-{name}", std::process::id()));
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let socket = dir.join("hub.sock");
        Ok(SocketDir { dir, socket })
    }

    pub(crate) fn socket_path(&self) -> &Path {
        &self.socket
    }

    pub(crate) fn restrict_socket(&self) -> std::io::Result<()> {
        fs::set_permissions(&self.socket, fs::Permissions::from_mode(0o600))
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.socket);
        let _ = fs::remove_dir(&self.dir);
    }
}
