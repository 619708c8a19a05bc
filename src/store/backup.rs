//! A consistent copy of the embedded database while it is in use: SQLite's `VACUUM INTO` writes a
//! compact, self-contained file from one read transaction (senders and the web server go on). The
//! copy holds everything the database holds (password hashes, sessions, unsubscribe tokens, the salt
//! behind the VERP key), so it is created private (0600) and never over an existing path.

use std::path::{Path, PathBuf};

use super::{Backend, Store};

/// Why no backup was written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{} already exists: a backup is never written over anything; give a new file name",
        .0.display()
    )]
    Exists(PathBuf),
    #[error("cannot create the backup file {}: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    /// PostgreSQL's own tools do this better than a copy through this program could.
    #[error(
        "the database is PostgreSQL: back it up with its own tool, for example\n  pg_dump --format=custom --file={} '{url}'\nand restore with pg_restore (deploy/README.md, \"Backups\", says how)",
        .path.display()
    )]
    UsePgDump { path: PathBuf, url: String },
    #[error("the backup failed: {0} (the partial file {1} was removed)")]
    Database(sqlx::Error, String),
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub path: PathBuf,
    pub bytes: u64,
}

impl Store {
    /// Writes a consistent copy of the SQLite database to `path` (a new file, mode 0600). On
    /// PostgreSQL nothing is written and the error says which `pg_dump` command to run; `url` is the
    /// database URL to show in it, its password already hidden.
    pub async fn backup_to(&self, path: &Path, url: &str) -> Result<Backup, BackupError> {
        let pool = match &self.backend {
            Backend::Sqlite(pool) => pool,
            Backend::Postgres(_) => {
                return Err(BackupError::UsePgDump {
                    path: path.to_path_buf(),
                    url: url.to_string(),
                });
            }
        };
        // Created here, empty and private, so that SQLite writes into a file only we can read;
        // `create_new` refuses an existing path, a symbolic link included.
        let created = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
        };
        match created {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(BackupError::Exists(path.to_path_buf()));
            }
            Err(source) => {
                return Err(BackupError::Create {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        let written = sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().into_owned())
            .execute(pool)
            .await;
        if let Err(e) = written {
            let _ = std::fs::remove_file(path);
            return Err(BackupError::Database(e, path.display().to_string()));
        }
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Ok(Backup {
            path: path.to_path_buf(),
            bytes,
        })
    }
}
