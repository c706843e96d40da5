//! The standalone hub's socket: at a path the operator names, for processes that no primary
//! registers (PM2 instances, systemd services, containers sharing a directory on one host), with
//! the secret in a file beside it instead of handed over IPC.
//!
//! Who may link, checked three times over:
//! - the socket's directory: the hub's user only (0700), or also the one group the operator names
//!   (0750, that group); an existing directory must belong to the hub's user and be writable by
//!   nobody else, or another user could put a socket of its own in its place;
//! - the peer's credentials (`SO_PEERCRED`): the hub's user, or the named group;
//! - the secret, in `<socket>.secret` (0600, or 0640 with the group): a process that can read it
//!   is one the operator let in.
//!
//! What this keeps out: other users of the machine (and their processes), and a process of the
//! right user that was not given the file. What it does not: anything running as the hub's user
//! (or in its group) that reads the file, and root.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sio_cluster_core::Secret;

/// Where a standalone hub listens, and which group besides its own user may link.
#[derive(Debug, Clone)]
pub struct StandaloneOptions {
    /// The socket's path; its directory is made if missing.
    pub socket: PathBuf,
    /// A group (gid) whose processes may link too.
    pub group: Option<u32>,
}

/// The file that holds the secret of the hub listening on `socket`.
pub fn secret_file(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".secret");
    PathBuf::from(name)
}

/// The socket of a standalone hub, and its secret file; both removed when dropped.
#[derive(Debug)]
pub(crate) struct StandaloneSocket {
    socket: PathBuf,
    secret: PathBuf,
    group: Option<u32>,
}

impl StandaloneSocket {
    /// Makes the directory (or checks the one there), and clears the path of a socket left by a
    /// hub that is gone. Refuses if a hub still listens there.
    pub(crate) fn prepare(options: &StandaloneOptions) -> io::Result<StandaloneSocket> {
        let user = hub_user();
        let dir = match options.socket.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        ensure_private_dir(&dir, user, options.group)?;
        clear_stale_socket(&options.socket)?;
        Ok(StandaloneSocket {
            socket: options.socket.clone(),
            secret: secret_file(&options.socket),
            group: options.group,
        })
    }

    pub(crate) fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The socket: the hub's user, and the group if one is named.
    pub(crate) fn restrict_socket(&self) -> io::Result<()> {
        let mode = if self.group.is_some() { 0o660 } else { 0o600 };
        set_group(&self.socket, self.group)?;
        fs::set_permissions(&self.socket, fs::Permissions::from_mode(mode))
    }

    /// Writes the secret (hex) where workers read it: a new file, readable by the hub's user (and
    /// the group), moved into place whole, so that no reader ever sees half of it.
    pub(crate) fn write_secret(&self, secret: &Secret) -> io::Result<()> {
        let mode = if self.group.is_some() { 0o640 } else { 0o600 };
        let mut partial = self.secret.as_os_str().to_owned();
        partial.push(format!(".{}", std::process::id()));
        let partial = PathBuf::from(partial);
        let _ = fs::remove_file(&partial);
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&partial)
            .and_then(|mut file| io::Write::write_all(&mut file, secret.to_hex().as_bytes()))
            .and_then(|()| set_group(&partial, self.group))
            .and_then(|()| fs::rename(&partial, &self.secret));
        if written.is_err() {
            let _ = fs::remove_file(&partial);
        }
        written
    }
}

/// The gid of a group given by name or number (`--group`).
pub fn group_id(group: &str) -> io::Result<u32> {
    if let Ok(gid) = group.parse() {
        return Ok(gid);
    }
    let name = std::ffi::CString::new(group)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a group name without NUL"))?;
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::group = std::ptr::null_mut();
    // Safety: every pointer is valid for the call, the buffer's length is passed with it.
    let error = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if error != 0 {
        return Err(io::Error::from_raw_os_error(error));
    }
    if found.is_null() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no group named {group}"),
        ));
    }
    Ok(entry.gr_gid)
}

/// Whether a peer with these credentials may link to a standalone hub.
pub(crate) fn admits(options: &StandaloneOptions, uid: u32, gid: u32) -> bool {
    uid == hub_user() || options.group == Some(gid)
}

fn hub_user() -> u32 {
    // Safety: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

impl Drop for StandaloneSocket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.socket);
        let _ = fs::remove_file(&self.secret);
    }
}

fn ensure_private_dir(dir: &Path, user: u32, group: Option<u32>) -> io::Result<()> {
    let mode = if group.is_some() { 0o750 } else { 0o700 };
    match fs::symlink_metadata(dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(dir)?;
            set_group(dir, group)?;
            // The umask may have taken bits the mode asked for: set it exactly.
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        }
        Err(error) => Err(error),
        Ok(meta) if !meta.is_dir() => Err(refused(dir, "is not a directory")),
        Ok(meta) if meta.uid() != user => Err(refused(
            dir,
            &format!(
                "belongs to uid {}, not to this hub's user ({user})",
                meta.uid()
            ),
        )),
        Ok(meta) if meta.mode() & 0o022 != 0 => Err(refused(
            dir,
            "may be written by other users (it must be 0700, or 0750 for a group)",
        )),
        Ok(_) => Ok(()),
    }
}

fn clear_stale_socket(socket: &Path) -> io::Result<()> {
    let Ok(meta) = fs::symlink_metadata(socket) else {
        return Ok(());
    };
    use std::os::unix::fs::FileTypeExt;
    if !meta.file_type().is_socket() {
        return Err(refused(socket, "exists and is not a socket"));
    }
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("a hub already listens on {}", socket.display()),
        ));
    }
    fs::remove_file(socket)
}

fn set_group(path: &Path, group: Option<u32>) -> io::Result<()> {
    match group {
        Some(gid) => std::os::unix::fs::chown(path, None, Some(gid)),
        None => Ok(()),
    }
}

fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{} {why}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let name = crate::socket_dir::random_name().unwrap();
        std::env::temp_dir().join(format!("sio-standalone-test-{name}"))
    }

    #[test]
    fn a_missing_directory_is_made_private_and_everything_goes_on_drop() {
        let dir = scratch().join("run");
        let socket = dir.join("hub.sock");
        let place = StandaloneSocket::prepare(&StandaloneOptions {
            socket: socket.clone(),
            group: None,
        })
        .unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        place.restrict_socket().unwrap();
        place.write_secret(&Secret::from_bytes([7; 32])).unwrap();
        let secret = secret_file(&socket);
        assert_eq!(fs::metadata(&secret).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&secret).unwrap(), "07".repeat(32));
        assert_eq!(fs::metadata(&socket).unwrap().mode() & 0o777, 0o600);
        drop(place);
        assert!(!socket.exists() && !secret.exists());
        fs::remove_dir(&dir).unwrap();
        fs::remove_dir(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_live_hub_is_not_displaced_and_a_dead_ones_socket_is_cleared() {
        let dir = scratch();
        fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        let socket = dir.join("hub.sock");
        let options = StandaloneOptions {
            socket: socket.clone(),
            group: None,
        };
        let live = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let error = StandaloneSocket::prepare(&options).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        drop(live); // the socket file stays, nobody listens: a hub that died
        assert!(socket.exists());
        let place = StandaloneSocket::prepare(&options).unwrap();
        assert!(!socket.exists());
        drop(place);
        fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn a_directory_others_may_write_is_refused() {
        let dir = scratch();
        fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let error = StandaloneSocket::prepare(&StandaloneOptions {
            socket: dir.join("hub.sock"),
            group: None,
        })
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
        fs::write(dir.join("file"), b"").unwrap();
        let error = StandaloneSocket::prepare(&StandaloneOptions {
            socket: dir.join("file").join("hub.sock"),
            group: None,
        })
        .unwrap_err();
        assert!(error.to_string().contains("not a directory"), "{error}");
        fs::remove_file(dir.join("file")).unwrap();
        fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn groups_by_name_or_number() {
        assert_eq!(group_id("0").unwrap(), 0);
        assert_eq!(group_id("root").unwrap(), 0);
        assert_eq!(
            group_id("no-such-group-here").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn the_hubs_user_or_the_named_group_is_admitted() {
        let user = hub_user();
        let other = user.wrapping_add(1000);
        let options = StandaloneOptions {
            socket: PathBuf::new(),
            group: Some(50),
        };
        assert!(admits(&options, user, other));
        assert!(admits(&options, other, 50));
        assert!(!admits(&options, other, other));
        let options = StandaloneOptions {
            group: None,
            ..options
        };
        assert!(!admits(&options, other, 50));
    }
}
