//! Files on paths: bounded reads of what others put there, and private creation of what we write.
//!
//! Anything the server or the intake opens from a folder it does not own (a draft, a quarantined
//! message, a Maildir entry) goes through [`read_bounded`]: the last path component is never
//! followed through a symlink (`O_NOFOLLOW`), only a regular file is read (a FIFO, a device or a
//! directory is refused before a single byte is read), and reading stops one byte past the limit.
//! It blocks, so async code calls [`read_bounded_async`], which runs it on tokio's blocking pool.
//!
//! What we create (the SQLite database, the quarantine, the outbox) holds tokens, addresses and
//! mail: [`create_private`] and [`create_private_dir`] make it 0600 / 0700 whatever the umask.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: no such file")]
    NotFound { path: PathBuf },
    #[error("{path} is a symbolic link; links are not followed here: give the file itself")]
    Symlink { path: PathBuf },
    #[error("{path} is {kind}, not a regular file: only regular files are read here")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path} is larger than the limit of {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl ReadError {
    /// True when trying again later could succeed (an I/O error), false when the file itself is
    /// the problem (missing, a link, not a regular file, too large).
    pub fn is_transient(&self) -> bool {
        matches!(self, ReadError::Io { .. })
    }
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading without following a final symlink and without blocking on a FIFO,
/// and returns it only when it is a regular file.
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => ReadError::Symlink {
                path: path.to_path_buf(),
            },
            _ if e.kind() == io::ErrorKind::NotFound => ReadError::NotFound {
                path: path.to_path_buf(),
            },
            _ => ReadError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
    let meta = file.metadata().map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        });
    }
    Ok(file)
}

/// Reads a regular file of at most `limit` bytes (see the module's rules).
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path)?;
    let too_large = || ReadError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(len.min(limit) as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads at most the first `limit` bytes of a regular file, without an error when it is longer.
pub fn read_prefix(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}

/// [`read_bounded`] on tokio's blocking pool, so a slow disk never holds an executor thread.
pub async fn read_bounded_async(path: PathBuf, limit: u64) -> Result<Vec<u8>, ReadError> {
    let shown = path.clone();
    tokio::task::spawn_blocking(move || read_bounded(&path, limit))
        .await
        .unwrap_or_else(|e| {
            Err(ReadError::Io {
                path: shown,
                source: io::Error::other(e.to_string()),
            })
        })
}

/// Creates (or truncates) `path` as a file only its owner may read or write, whatever the umask.
/// A symlink in its place is refused rather than written through.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    // The mode above applies only when the file is new; an existing file is narrowed too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Creates `path` as a new private file and fails if anything already exists there.
pub fn create_private_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Writes `bytes` to a new private file at `path` through a temporary name in the same folder, so
/// a reader never sees half a file.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = create_private(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` and its missing parents; the folders it creates are 0700, whatever the umask.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file_within_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(read_bounded(&p, 5).unwrap(), b"hello");
        assert!(matches!(
            read_bounded(&p, 4),
            Err(ReadError::TooLarge { limit: 4, .. })
        ));
        assert_eq!(read_prefix(&p, 2).unwrap(), b"he");
    }

    #[test]
    fn refuses_links_fifos_devices_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        std::fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            read_bounded(&link, 100),
            Err(ReadError::Symlink { .. })
        ));
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a path we own, with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            read_bounded(&fifo, 100),
            Err(ReadError::NotRegular { kind: "a FIFO", .. })
        ));
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 100),
            Err(ReadError::NotRegular { .. })
        ));
        assert!(matches!(
            read_bounded(dir.path(), 100),
            Err(ReadError::NotRegular { .. })
        ));
        assert!(matches!(
            read_bounded(&dir.path().join("missing"), 100),
            Err(ReadError::NotFound { .. })
        ));
    }

    #[test]
    fn creates_private_files_and_folders_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_private_dir(&sub).unwrap();
        let mode = std::fs::metadata(&sub).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let f = sub.join("f");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_private(&f).unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        write_private_atomic(&sub.join("g"), b"data").unwrap();
        let mode = std::fs::metadata(sub.join("g"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(sub.join("g")).unwrap(), b"data");
    }
}
