//! The database, as typed calls per use case: subscribers with their tokens, status history and
//! erased addresses (`subscribers`, `import`), campaigns (`campaigns`) and their delivery queue
//! (`queue`), bounces (`bounces`), administrators and their sessions (`admins`), backups; and the
//! installation's secret salt, from which the forget hashes and the VERP key derive. It decides
//! nothing: what a bounce or an import means is settled above it.
//!
//! Two backends, one behaviour: SQLite (the embedded default, WAL mode) and PostgreSQL, chosen by the
//! URL. Both run the same SQL (`$1`-style parameters work on both); migrations live in
//! `migrations/<backend>/` and run on connect. Times are UNIX seconds.
//!
//! **Tokens.** Each subscriber has one unsubscribe token for as long as they stay on the list,
//! through unsubscribe and re-unsubscribe. When an unsubscribed, bounced or complained address comes
//! back (double opt-in again, or `import --resubscribe`), the token is **rotated**: links in mail
//! sent before they left can no longer act on the new subscription.

use std::str::FromStr;

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use thiserror::Error;

use crate::domain::{EmailAddress, SubscriberName, SubscriberStatus, UnsubscribeToken, unix_now};

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The URL names no backend we know.
    #[error("database URL `{0}` is not supported: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The issue was edited after its campaign started sending.
    #[error(
        "issue {number} has changed since sending began (content hash {started} then, {now} now). \
         Sending the new text would give some subscribers one version and some another: revert the \
         file, or give the corrected issue a new number"
    )]
    ContentChanged {
        number: i64,
        started: String,
        now: String,
    },
    /// No campaign for that issue.
    #[error("issue {0} has no campaign; `newsletter campaigns` lists them")]
    NoCampaign(i64),
    /// A control command that does not apply to the campaign in its present state.
    #[error("issue {number} is {state}: {hint}")]
    WrongState {
        number: i64,
        state: crate::domain::CampaignState,
        hint: String,
    },
    /// Stored data is not what this version expects.
    #[error("unexpected data in the database: {0}")]
    Corrupt(String),
    /// The SQLite file could not be created private.
    #[error(
        "cannot create the database file {path}: {source}; check that its folder exists and is \
         writable, or give another sqlite:// path"
    )]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl StoreError {
    /// True when the database is unreachable (worth retrying later), not a logic error.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            )
        )
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// An address as stored. It parsed when it was written, but the rules may have tightened since (a
/// quoted local part accepted by an older version): such a delivery fails, alone, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredAddress {
    Valid(EmailAddress),
    Invalid {
        raw: String,
        error: crate::domain::ParseError,
    },
}

impl StoredAddress {
    pub(crate) fn read(raw: String) -> StoredAddress {
        match EmailAddress::parse(&raw) {
            Ok(e) => StoredAddress::Valid(e),
            Err(error) => StoredAddress::Invalid { raw, error },
        }
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        match self {
            StoredAddress::Valid(e) => e.as_str(),
            StoredAddress::Invalid { raw, .. } => raw,
        }
    }
}

impl std::fmt::Display for StoredAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for StoredAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for StoredAddress {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database handle. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// SQLite allows one writer at a time; writers that collide sleep in SQLite's busy handler
    /// (up to 100 ms a step). Queueing them here instead keeps write latency flat.
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The installation's forget salt, read (or created) once.
    salt: std::sync::Arc<tokio::sync::OnceCell<String>>,
}

/// Runs the same code against whichever pool is connected.
macro_rules! with_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match &$self.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Hex SHA-256 of an address key under the installation's salt: what `forgotten` stores.
fn salted_hash(salt: &str, key: &str) -> String {
    crate::domain::hex(&Sha256::digest(format!("{salt}\n{key}").as_bytes()))
}

fn email_key(email: &EmailAddress) -> String {
    email.as_str().to_lowercase()
}

/// Makes the SQLite file at `path` private before SQLite opens it: created 0600 when `create` and
/// missing (SQLite gives its -wal, -shm and -journal files the database file's mode), and an
/// existing file (or one of those) that others may read is narrowed to 0600, with a warning. The
/// database holds password hashes, session tokens, unsubscribe tokens and the salt the VERP key
/// derives from.
fn private_sqlite_file(path: &std::path::Path, create: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.to_string_lossy();
    if shown.is_empty() || shown.starts_with("file:") {
        // An SQLite URI filename (`file:…`) is SQLite's to interpret.
        return Ok(());
    }
    if create && std::fs::symlink_metadata(path).is_err() {
        match crate::files::create_private_new(path) {
            Ok(_) => return Ok(()),
            // Created by another process meanwhile: narrowed below like any existing file.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(StoreError::File {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = std::path::PathBuf::from(name);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if !meta.is_file() || mode & 0o077 == 0 {
            continue;
        }
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => tracing::warn!(
                file = %file.display(),
                "the database file was readable by others (mode {mode:o}); narrowed it to 0600"
            ),
            Err(e) => tracing::warn!(
                file = %file.display(),
                error = %e,
                "the database file is readable by others (mode {mode:o}) and could not be narrowed: \
                 run chmod 600 on it"
            ),
        }
    }
    Ok(())
}

/// How far a database's schema is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    /// Migrations applied to the database.
    pub applied: usize,
    /// Migrations this version has.
    pub known: usize,
}

/// How slow a statement is before sqlx notes it, and at which level.
const SLOW_STATEMENT: std::time::Duration = std::time::Duration::from_secs(1);
const SLOW_STATEMENT_LEVEL: log::LevelFilter = log::LevelFilter::Debug;

impl Store {
    /// Connects (creating a SQLite file if needed) and runs migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        Store::open(url, true, true).await
    }

    /// Connects to a database that must already exist: a SQLite file that is missing is an error,
    /// not a new empty database (for commands that only read, like `bounces inspect`).
    pub async fn connect_existing(url: &str) -> Result<Store> {
        Store::open(url, false, true).await
    }

    /// Looks at an existing database without changing it: how many of this version's migrations it
    /// has applied, and how many this version has (for `doctor`).
    pub async fn schema(url: &str) -> Result<Schema> {
        let store = Store::open(url, false, false).await?;
        let (known, table) = match store.backend {
            Backend::Sqlite(_) => (
                sqlx::migrate!("./migrations/sqlite").iter().count(),
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            ),
            Backend::Postgres(_) => (
                sqlx::migrate!("./migrations/postgres").iter().count(),
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations'",
            ),
        };
        let exists: i64 = with_pool!(store, p => sqlx::query_scalar(table).fetch_one(p).await?);
        let applied: i64 = if exists > 0 {
            with_pool!(store, p => sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(p).await?)
        } else {
            0
        };
        store.close().await;
        Ok(Schema {
            applied: applied as usize,
            known,
        })
    }

    /// Connects; a statement slower than [`SLOW_STATEMENT`] is noted at debug level, not as a
    /// warning: a bulk import's one-statement index build takes seconds by design, and the operator
    /// reading its output has nothing to do about it.
    async fn open(url: &str, create: bool, migrate: bool) -> Result<Store> {
        use sqlx::ConnectOptions;
        let backend = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?;
            let file = opts.get_filename().to_path_buf();
            if !url.contains(":memory:") && !url.contains("mode=memory") {
                tokio::task::spawn_blocking(move || private_sqlite_file(&file, create))
                    .await
                    .map_err(|e| {
                        StoreError::Corrupt(format!("opening the database file: {e}"))
                    })??;
            }
            let opts = opts
                .create_if_missing(create)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(std::time::Duration::from_secs(10))
                .page_size(8192)
                // 2 MB of page cache per connection keeps memory flat however long the list is
                // (`send` to 1,000,000 stays within 1.5x of 10,000); `import` raises it for its
                // own transaction.
                .pragma("cache_size", "-2048")
                .log_slow_statements(SLOW_STATEMENT_LEVEL, SLOW_STATEMENT);
            // No ping before each use: an embedded database cannot go away under a connection,
            // and each ping is one more round trip to the connection's thread (the intake made
            // one per statement).
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .test_before_acquire(false)
                .connect_with(opts)
                .await?;
            if migrate {
                sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            }
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // A server that is down is reported within 10 s (sqlx waits 30 s by default), so an MTA
            // piping a bounce gets its "try again later" promptly.
            let opts = PgConnectOptions::from_str(url)?
                .log_slow_statements(SLOW_STATEMENT_LEVEL, SLOW_STATEMENT);
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(std::time::Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            if migrate {
                sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            }
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        Ok(Store {
            backend,
            write_lock: Default::default(),
            salt: Default::default(),
        })
    }

    /// Held while writing on SQLite; on PostgreSQL, rows are locked by the database and nothing waits here.
    async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite(_) => Some(self.write_lock.lock().await),
            Backend::Postgres(_) => None,
        }
    }

    /// Whether this is the embedded SQLite backend (one machine; workers share its file).
    pub fn is_embedded(&self) -> bool {
        matches!(self.backend, Backend::Sqlite(_))
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }

    /// The salted hash recorded when an address is forgotten. The salt is per installation.
    async fn forget_hash(&self, key: &str) -> Result<String> {
        Ok(salted_hash(&self.salt().await?, key))
    }

    async fn salt(&self) -> Result<String> {
        self.salt
            .get_or_try_init(|| async {
                let fresh = UnsubscribeToken::generate();
                with_pool!(self, p => {
                    sqlx::query("INSERT INTO settings (key, value) VALUES ('forget_salt', $1) ON CONFLICT (key) DO NOTHING")
                        .bind(fresh.expose())
                        .execute(p)
                        .await?;
                    let salt: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'forget_salt'")
                        .fetch_one(p)
                        .await?;
                    Ok(salt)
                })
            })
            .await
            .cloned()
    }

    /// A key for signing VERP addresses, derived from the installation's secret salt: bounces can
    /// then be attributed without trusting anything but our own address.
    pub async fn verp_key(&self) -> Result<Vec<u8>> {
        Ok(Sha256::digest(format!("verp\n{}", self.salt().await?).as_bytes()).to_vec())
    }

    /// One round trip to the database, for health checks: no table is read.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, p => {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }
}

// After `with_pool!` above, which every part uses; `bounces` first, for the `log_bounce!` the queue uses.
#[macro_use]
mod bounces;
mod admins;
mod backup;
mod campaigns;
pub mod csv;
mod events;
mod import;
mod queue;
mod subscribers;
pub use crate::domain::Source;
pub use admins::{Admin, AdminSession, AuditEntry};
pub use backup::{Backup, BackupError};
pub use bounces::{Applied, BounceEntry, BounceFacts, BounceRecord, Decide, SenderBounce, Verdict};
pub use campaigns::{Campaign, CampaignDelivery, CampaignTimes, Control};
pub use events::EVENT_MEMORY_SECS;
pub use import::{IMPORT_BATCH, ImportOptions, ImportRow, ImportSummary};
pub use queue::{
    Delivery, DeliveryCounts, Outcome, ProviderPace, ProviderStatus, Recorded, SyncBounce,
};
pub use subscribers::{AddOutcome, Event, StatusChange, SubscribeOutcome, Subscriber};
