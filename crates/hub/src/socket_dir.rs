//! The hub's socket lives in a fresh directory only the primary's user can enter (0700), and the
//! socket itself is 0600: other users of the machine cannot even reach it.
//!
//! A primary that dies without running its exit handlers (SIGKILL, an abort, a signal the
//! application left to its default action) leaves its directory behind. The next hub started in
//! the same parent removes those of its own user whose primary is gone: the directory names the
//! primary's pid. (A pid already reused by another process keeps its directory until that one
//! ends too.)

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const PREFIX: &str = "sio-hub-";
const SOCKET: &str = "hub.sock";

#[derive(Debug)]
pub(crate) struct SocketDir {
    dir: PathBuf,
    socket: PathBuf,
}

impl SocketDir {
    pub(crate) fn create(parent: &Path) -> std::io::Result<SocketDir> {
        let name = random_name()?;
        let dir = parent.join(format!("{PREFIX}{}-{name}", std::process::id()));
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        // Our own directory tells which user we are: only that user's leftovers are swept.
        let owner = fs::metadata(&dir)?.uid();
        remove_stale(parent, owner);
        let socket = dir.join(SOCKET);
        Ok(SocketDir { dir, socket })
    }

    pub(crate) fn socket_path(&self) -> &Path {
        &self.socket
    }

    pub(crate) fn restrict_socket(&self) -> std::io::Result<()> {
        fs::set_permissions(&self.socket, fs::Permissions::from_mode(0o600))
    }
}

/// Twelve random hex digits, for names nobody else picks.
pub(crate) fn random_name() -> std::io::Result<String> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Removes the socket directories under `parent` that `owner` made and whose primary is gone.
/// Errors are ignored: a leftover is harmless, only untidy.
fn remove_stale(parent: &Path, owner: u32) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(primary_pid) else {
            continue;
        };
        let dir = entry.path();
        let Ok(meta) = fs::symlink_metadata(&dir) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != owner || alive(pid) {
            continue;
        }
        let _ = fs::remove_file(dir.join(SOCKET));
        let _ = fs::remove_dir(&dir);
    }
}

/// The pid in a directory name `sio-hub-<pid>-<hex>`.
fn primary_pid(name: &str) -> Option<i32> {
    let (pid, suffix) = name.strip_prefix(PREFIX)?.split_once('-')?;
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    pid.parse().ok().filter(|pid| *pid > 0)
}

fn alive(pid: i32) -> bool {
    // Safety: kill with signal 0 only checks whether the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.socket);
        let _ = fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sio-hub-test-{}", random_name().unwrap()));
        fs::create_dir(&dir).unwrap();
        dir
    }

    fn leftover(parent: &Path, pid: u32) -> PathBuf {
        let dir = parent.join(format!("{PREFIX}{pid}-0123456789ab"));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join(SOCKET), b"").unwrap();
        dir
    }

    #[test]
    fn a_new_hub_removes_the_directories_of_dead_primaries_only() {
        let parent = scratch();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = leftover(&parent, dead);
        let live = leftover(&parent, std::process::id());
        let unrelated = parent.join(format!("{PREFIX}{dead}-not-hex"));
        fs::create_dir(&unrelated).unwrap();

        let ours = SocketDir::create(&parent).unwrap();
        assert!(!stale.exists(), "the dead primary's directory is removed");
        assert!(live.exists(), "a live primary's directory is kept");
        assert!(unrelated.exists(), "names we did not make are left alone");
        assert!(ours.socket_path().parent().unwrap().exists());

        drop(ours);
        fs::remove_file(live.join(SOCKET)).unwrap();
        fs::remove_dir(&live).unwrap();
        fs::remove_dir(&unrelated).unwrap();
        fs::remove_dir(&parent).unwrap();
    }

    #[test]
    fn directory_names() {
        assert_eq!(primary_pid("sio-hub-1234-a1b2c3d4e5f6"), Some(1234));
        assert_eq!(primary_pid("sio-hub-1234-"), None);
        assert_eq!(primary_pid("sio-hub-x-a1"), None);
        assert_eq!(primary_pid("sio-hub-0-a1"), None);
        assert_eq!(primary_pid("sio-hub-test-a1"), None);
        assert_eq!(primary_pid("other"), None);
    }
}
