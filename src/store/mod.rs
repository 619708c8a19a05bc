//! The database: subscribers, their tokens and status history, and erased addresses.
//!
//! Two backends, one behaviour: SQLite (the embedded default, WAL mode) and PostgreSQL, chosen by the
//! URL. Both run the same SQL (`$1`-style parameters work on both); migrations live in
//! `migrations/<backend>/` and run on connect. Times are UNIX seconds.
//!
//! **Tokens.** Each subscriber has one unsubscribe token for as long as they stay on the list,
//! through unsubscribe and re-unsubscribe. When an unsubscribed, bounced or complained address comes
//! back (double opt-in again, or `import --resubscribe`), the token is **rotated**: links in mail
//! sent before they left can no longer act on the new subscription.

use std::collections::HashSet;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgPool, PgPoolOptions};
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
    /// Stored data is not what this version expects.
    #[error("unexpected data in the database: {0}")]
    Corrupt(String),
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

/// Who or what changed a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Cli,
    Web,
    Api,
    Bounce,
    Import,
    /// An unsubscribe by mail, to the per-recipient `List-Unsubscribe` mailto address.
    Mail,
    /// An administrator in the web console.
    Admin,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Cli => "cli",
            Source::Web => "web",
            Source::Api => "api",
            Source::Bounce => "bounce",
            Source::Import => "import",
            Source::Mail => "mail",
            Source::Admin => "admin",
        }
    }
}

/// A subscriber as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub status: SubscriberStatus,
    #[serde(skip)]
    pub token: UnsubscribeToken,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One entry of a subscriber's history.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Event {
    pub at: i64,
    pub source: String,
    pub old_status: Option<String>,
    pub new_status: String,
    pub detail: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    email: String,
    name: Option<String>,
    status: String,
    token: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<Row> for Subscriber {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self> {
        Ok(Subscriber {
            id: r.id,
            status: SubscriberStatus::parse(&r.status).map_err(|e| StoreError::Corrupt(e.0))?,
            token: UnsubscribeToken::parse(&r.token).map_err(|_| {
                StoreError::Corrupt(format!("subscriber {} has a malformed token", r.id))
            })?,
            email: r.email,
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// What a sign-up request leads to. The web answers the same in every case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// Send a confirmation mail with this token.
    Confirm(UnsubscribeToken),
    /// Already receiving the newsletter: nothing to send.
    AlreadyActive,
    /// A complained address: never mailed again.
    Refused,
}

/// One status change for [`Store::change_status_many`].
#[derive(Debug, Clone)]
pub struct StatusChange {
    /// The subscriber as loaded: the change applies only if the row still has this status.
    pub current: Subscriber,
    pub status: SubscriberStatus,
    pub source: Source,
    /// Why, for the history.
    pub detail: String,
}

/// What `add` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new subscriber.
    Added(i64),
    /// Already on the list with this status; nothing changed.
    Exists(SubscriberStatus),
    /// The address was erased on request; it is not re-added silently.
    Forgotten,
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

const SUBSCRIBER_COLUMNS: &str = "id, email, name, status, token, created_at, updated_at";

/// Hex SHA-256 of an address key under the installation's salt: what `forgotten` stores.
fn salted_hash(salt: &str, key: &str) -> String {
    Sha256::digest(format!("{salt}\n{key}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn email_key(email: &EmailAddress) -> String {
    email.as_str().to_lowercase()
}

/// Rows per multi-row insert (6 parameters each: well under SQLite's and PostgreSQL's limits).
pub const IMPORT_BATCH: usize = 2000;

struct PendingRow {
    email: EmailAddress,
    key: String,
    name: Option<SubscriberName>,
}

/// `rows` groups of `per_row` parameters, formatted by `row`. SQLite gets positional `?`: sqlx looks a
/// numbered `$N` up by name, which is quadratic in a statement with thousands of parameters.
fn placeholders(
    numbered: bool,
    rows: usize,
    per_row: usize,
    row: impl Fn(&[String]) -> String,
) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (0..per_row)
                .map(|k| {
                    if numbered {
                        format!("${}", 1 + r * per_row + k)
                    } else {
                        "?".to_string()
                    }
                })
                .collect();
            row(&params)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes one batch of import rows inside the import's transaction: insert the new ones, record their
/// events, then look at the addresses that were already there.
macro_rules! import_batch {
    ($tx:expr, $numbered:expr, $before:expr, $batch:expr, $summary:expr, $options:expr) => {{
        let batch: &mut Vec<PendingRow> = $batch;
        if !batch.is_empty() {
            let now = unix_now();
            let sql = format!(
                "INSERT INTO subscribers (email, email_key, name, status, token, created_at, updated_at) VALUES {} \
                 ON CONFLICT (email_key) DO NOTHING RETURNING id, email_key",
                placeholders($numbered, batch.len(), 6, |p| format!("({}, {}, {}, 'active', {}, {}, {})", p[0], p[1], p[2], p[3], p[4], p[5]))
            );
            let mut q = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql));
            let tokens = UnsubscribeToken::generate_many(batch.len());
            for (r, token) in batch.iter().zip(&tokens) {
                q = q
                    .bind(r.email.as_str())
                    .bind(&r.key)
                    .bind(r.name.as_ref().map(SubscriberName::as_str))
                    .bind(token.expose().to_string())
                    .bind(now)
                    .bind(now);
            }
            let inserted: Vec<(i64, String)> = q.fetch_all(&mut **$tx).await?;
            if !inserted.is_empty() {
                let sql = format!(
                    "INSERT INTO subscriber_events (subscriber_id, at, source, old_status, new_status, detail) VALUES {}",
                    placeholders($numbered, inserted.len(), 2, |p| format!("({}, {}, 'import', NULL, 'active', 'imported')", p[0], p[1]))
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, _) in &inserted {
                    q = q.bind(*id).bind(now);
                }
                q.execute(&mut **$tx).await?;
            }
            $summary.added += inserted.len() as u64;
            if inserted.len() < batch.len() {
                let new: HashSet<&str> = inserted.iter().map(|(_, k)| k.as_str()).collect();
                let existing: Vec<&PendingRow> = batch.iter().filter(|r| !new.contains(r.key.as_str())).collect();
                let sql = format!(
                    "SELECT id, email_key, status FROM subscribers WHERE email_key IN ({})",
                    placeholders($numbered, existing.len(), 1, |p| p[0].clone())
                );
                let mut q = sqlx::query_as::<_, (i64, String, String)>(sqlx::AssertSqlSafe(sql));
                for r in &existing {
                    q = q.bind(&r.key);
                }
                let found: Vec<(i64, String, String)> = q.fetch_all(&mut **$tx).await?;
                for (id, key, status) in found {
                    let status = SubscriberStatus::parse(&status).map_err(|e| StoreError::Corrupt(e.0))?;
                    let name = existing.iter().find(|r| r.key == key).and_then(|r| r.name.clone());
                    if id > $before {
                        $summary.skip("listed earlier in the file");
                    } else if status.is_suppressed() && !$options.resubscribe {
                        $summary.skip(match status {
                            SubscriberStatus::Bounced => "bounced; use --resubscribe to bring back",
                            SubscriberStatus::Complained => "complained; use --resubscribe to bring back",
                            _ => "unsubscribed; use --resubscribe to bring back",
                        });
                    } else if status == SubscriberStatus::Pending && !$options.resubscribe && {
                        // A pending address that once left (it signed up again, and never confirmed)
                        // is as good as gone: no silent comeback.
                        let left: bool = sqlx::query_scalar(
                            "SELECT EXISTS (SELECT 1 FROM subscriber_events WHERE subscriber_id = $1 \
                             AND new_status IN ('unsubscribed', 'bounced', 'complained'))",
                        )
                        .bind(id)
                        .fetch_one(&mut **$tx)
                        .await?;
                        left
                    } {
                        $summary.skip("left the list before and has not confirmed since; use --resubscribe to bring back");
                    } else if status.is_suppressed() || status == SubscriberStatus::Pending {
                        // A returning address gets a new token; a pending one keeps its own.
                        let new_token = status.is_suppressed().then(|| UnsubscribeToken::generate().expose().to_string());
                        sqlx::query("UPDATE subscribers SET status = 'active', token = COALESCE(CAST($1 AS TEXT), token), updated_at = $2, name = COALESCE(CAST($3 AS TEXT), name) WHERE id = $4")
                            .bind(new_token)
                            .bind(now)
                            .bind(name.as_ref().map(SubscriberName::as_str))
                            .bind(id)
                            .execute(&mut **$tx)
                            .await?;
                        sqlx::query("INSERT INTO subscriber_events (subscriber_id, at, source, old_status, new_status, detail) VALUES ($1, $2, 'import', $3, 'active', 'import')")
                            .bind(id)
                            .bind(now)
                            .bind(status.as_str())
                            .execute(&mut **$tx)
                            .await?;
                        $summary.updated += 1;
                    } else {
                        $summary.skip("already active");
                    }
                }
            }
            batch.clear();
        }
    }};
}

impl Store {
    /// Connects (creating a SQLite file if needed) and runs migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        let backend = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(std::time::Duration::from_secs(10))
                .page_size(8192)
                // 2 MB of page cache per connection keeps memory flat however long the list is
                // (`send` to 1,000,000 stays within 1.5x of 10,000); `import` raises it for its
                // own transaction.
                .pragma("cache_size", "-2048");
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // A server that is down is reported within 10 s (sqlx waits 30 s by default), so an MTA
            // piping a bounce gets its "try again later" promptly.
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(std::time::Duration::from_secs(10))
                .connect(url)
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
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

    /// Whether this address was erased on request.
    pub async fn is_forgotten(&self, email: &EmailAddress) -> Result<bool> {
        let hash = self.forget_hash(&email_key(email)).await?;
        with_pool!(self, p => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM forgotten WHERE hash = $1")
                .bind(&hash)
                .fetch_one(p)
                .await?;
            Ok(n > 0)
        })
    }

    /// Adds a subscriber unless the address is already on the list or was forgotten.
    pub async fn add(
        &self,
        email: &EmailAddress,
        name: Option<&SubscriberName>,
        status: SubscriberStatus,
        source: Source,
    ) -> Result<AddOutcome> {
        if self.is_forgotten(email).await? {
            return Ok(AddOutcome::Forgotten);
        }
        if let Some(s) = self.find_by_email(email).await? {
            return Ok(AddOutcome::Exists(s.status));
        }
        match self
            .insert_new(email, name, status, source, "added", None)
            .await?
        {
            Some(id) => {
                tracing::info!(subscriber_id = id, status = %status, source = source.as_str(), "subscriber added");
                Ok(AddOutcome::Added(id))
            }
            // Added by someone else between the look and the insert.
            None => Ok(AddOutcome::Exists(
                self.find_by_email(email)
                    .await?
                    .map_or(status, |s| s.status),
            )),
        }
    }

    /// Inserts a new subscriber and the first event of their history, in one transaction. `None` when
    /// the address is already there (two requests raced): nothing is written then.
    async fn insert_new(
        &self,
        email: &EmailAddress,
        name: Option<&SubscriberName>,
        status: SubscriberStatus,
        source: Source,
        detail: &str,
        confirm: Option<&UnsubscribeToken>,
    ) -> Result<Option<i64>> {
        let now = unix_now();
        let token = UnsubscribeToken::generate();
        let _writer = self.writer().await;
        Ok(with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO subscribers (email, email_key, name, status, token, confirm_token, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (email_key) DO NOTHING RETURNING id",
            )
            .bind(email.as_str())
            .bind(email_key(email))
            .bind(name.map(SubscriberName::as_str))
            .bind(status.as_str())
            .bind(token.expose())
            .bind(confirm.map(UnsubscribeToken::expose))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else {
                tx.rollback().await?;
                return Ok(None);
            };
            sqlx::query("INSERT INTO subscriber_events (subscriber_id, at, source, old_status, new_status, detail) VALUES ($1, $2, $3, NULL, $4, $5)")
                .bind(id)
                .bind(now)
                .bind(source.as_str())
                .bind(status.as_str())
                .bind(detail)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Some(id)
        }))
    }

    /// Double opt-in, step one: returns the confirmation token to mail. A new address becomes
    /// `pending`. An address already on the list keeps its status (an unsubscribed or bounced one
    /// comes back only when the link is used, which is its owner's consent) and keeps the
    /// confirmation token it may already have, so a link mailed earlier stays valid however often
    /// the form is used. Active addresses need no mail; complained ones are never mailed again. The
    /// form's name is stored only for a new address: a stranger cannot rename someone.
    pub async fn request_subscription(
        &self,
        email: &EmailAddress,
        name: Option<&SubscriberName>,
    ) -> Result<SubscribeOutcome> {
        for _ in 0..2 {
            match self.find_by_email(email).await? {
                Some(s) if s.status == SubscriberStatus::Active => {
                    return Ok(SubscribeOutcome::AlreadyActive);
                }
                Some(s) if s.status == SubscriberStatus::Complained => {
                    return Ok(SubscribeOutcome::Refused);
                }
                Some(s) => {
                    let fresh = UnsubscribeToken::generate();
                    let _writer = self.writer().await;
                    let token: String = with_pool!(self, p => sqlx::query_scalar(
                        "UPDATE subscribers SET confirm_token = COALESCE(confirm_token, $1), updated_at = $2 \
                         WHERE id = $3 RETURNING confirm_token",
                    )
                    .bind(fresh.expose())
                    .bind(unix_now())
                    .bind(s.id)
                    .fetch_one(p)
                    .await?);
                    let token = UnsubscribeToken::parse(&token).map_err(|_| {
                        StoreError::Corrupt(format!(
                            "subscriber {} has a malformed confirmation token",
                            s.id
                        ))
                    })?;
                    return Ok(SubscribeOutcome::Confirm(token));
                }
                None => {
                    let confirm = UnsubscribeToken::generate();
                    let added = self
                        .insert_new(
                            email,
                            name,
                            SubscriberStatus::Pending,
                            Source::Web,
                            "signed up",
                            Some(&confirm),
                        )
                        .await?;
                    if added.is_some() {
                        return Ok(SubscribeOutcome::Confirm(confirm));
                    }
                    // Another request inserted it first: treat it as known.
                }
            }
        }
        Err(StoreError::Corrupt(format!(
            "{email} could neither be found nor inserted"
        )))
    }

    /// The subscriber a confirmation token belongs to: pending, or an address that left and asked to
    /// come back. Never a complained one.
    pub async fn find_by_confirm_token(
        &self,
        token: &UnsubscribeToken,
    ) -> Result<Option<Subscriber>> {
        let sql = format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE confirm_token = $1 \
             AND status IN ('pending', 'unsubscribed', 'bounced')"
        );
        let row: Option<Row> = with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(token.expose()).fetch_optional(p).await?);
        row.map(Subscriber::try_from).transpose()
    }

    /// Double opt-in, step two: activates the subscriber (a returning one gets a new unsubscribe
    /// token) and retires the confirmation token.
    pub async fn confirm(&self, token: &UnsubscribeToken) -> Result<Option<Subscriber>> {
        let Some(pending) = self.find_by_confirm_token(token).await? else {
            return Ok(None);
        };
        let active = self
            .change_status(&pending, SubscriberStatus::Active, Source::Web, "confirmed")
            .await?;
        let _writer = self.writer().await;
        with_pool!(self, p => {
            sqlx::query("UPDATE subscribers SET confirm_token = NULL WHERE id = $1 AND confirm_token = $2")
                .bind(active.id)
                .bind(token.expose())
                .execute(p)
                .await?;
        });
        Ok(Some(active))
    }

    /// The subscriber with this address (case-insensitive).
    pub async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<Subscriber>> {
        let sql = format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key = $1");
        let row: Option<Row> = with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(email_key(email)).fetch_optional(p).await?);
        row.map(Subscriber::try_from).transpose()
    }

    /// The subscriber with this id.
    pub async fn find_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        let sql = format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = $1");
        let row: Option<Row> = with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?);
        row.map(Subscriber::try_from).transpose()
    }

    /// The subscriber whose unsubscribe token this is.
    pub async fn find_by_token(&self, token: &UnsubscribeToken) -> Result<Option<Subscriber>> {
        let sql = format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE token = $1");
        let row: Option<Row> = with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(token.expose()).fetch_optional(p).await?);
        row.map(Subscriber::try_from).transpose()
    }

    /// Sets a subscriber's status and records why. Returns the subscriber as it now is, or `None` if
    /// the address is not on the list. Setting the status it already has changes nothing.
    pub async fn set_status(
        &self,
        email: &EmailAddress,
        status: SubscriberStatus,
        source: Source,
        detail: &str,
    ) -> Result<Option<Subscriber>> {
        let Some(current) = self.find_by_email(email).await? else {
            return Ok(None);
        };
        self.change_status(&current, status, source, detail)
            .await
            .map(Some)
    }

    /// Sets the status of a subscriber already loaded (saves the lookup [`Store::set_status`] does).
    pub async fn change_status(
        &self,
        current: &Subscriber,
        status: SubscriberStatus,
        source: Source,
        detail: &str,
    ) -> Result<Subscriber> {
        let change = StatusChange {
            current: current.clone(),
            status,
            source,
            detail: detail.to_string(),
        };
        let mut done = self
            .change_status_many(std::slice::from_ref(&change))
            .await?;
        Ok(done.pop().expect("one change, one result"))
    }

    /// Applies several status changes in one transaction (a web server gathers the one-click POSTs
    /// that arrive together, so the database commits once for all of them). Each is compare-and-set:
    /// of several requests racing to make the same change (64 one-click POSTs on one link), one
    /// changes the row and logs the event; the others find it changed and do nothing. Returns each
    /// subscriber as it now is, in order.
    pub async fn change_status_many(&self, changes: &[StatusChange]) -> Result<Vec<Subscriber>> {
        let now = unix_now();
        let mut out: Vec<Option<Subscriber>> = Vec::with_capacity(changes.len());
        let mut reread = Vec::new();
        {
            let _writer = self.writer().await;
            with_pool!(self, p => {
                let mut tx = p.begin().await?;
                for (i, c) in changes.iter().enumerate() {
                    if c.current.status == c.status {
                        out.push(Some(c.current.clone()));
                        continue;
                    }
                    // Coming back after leaving gets a new token (see the module docs).
                    let rotate = c.current.status.is_suppressed() && !c.status.is_suppressed();
                    let token = if rotate {
                        UnsubscribeToken::generate()
                    } else {
                        c.current.token.clone()
                    };
                    let n = sqlx::query("UPDATE subscribers SET status = $1, token = $2, updated_at = $3 WHERE id = $4 AND status = $5")
                        .bind(c.status.as_str())
                        .bind(token.expose())
                        .bind(now)
                        .bind(c.current.id)
                        .bind(c.current.status.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n == 0 {
                        out.push(None);
                        reread.push(i);
                        continue;
                    }
                    sqlx::query("INSERT INTO subscriber_events (subscriber_id, at, source, old_status, new_status, detail) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(c.current.id)
                        .bind(now)
                        .bind(c.source.as_str())
                        .bind(c.current.status.as_str())
                        .bind(c.status.as_str())
                        .bind(&c.detail)
                        .execute(&mut *tx)
                        .await?;
                    tracing::info!(subscriber_id = c.current.id, from = %c.current.status, to = %c.status, source = c.source.as_str(), "subscriber status changed");
                    out.push(Some(Subscriber {
                        status: c.status,
                        token,
                        updated_at: now,
                        ..c.current.clone()
                    }));
                }
                tx.commit().await?;
            });
        }
        // Someone else changed these first: report them as they now are.
        for i in reread {
            let id = changes[i].current.id;
            out[i] = Some(self.find_by_id(id).await?.ok_or_else(|| {
                StoreError::Corrupt(format!("subscriber {id} vanished during a change"))
            })?);
        }
        Ok(out
            .into_iter()
            .map(|s| s.expect("every change has a result"))
            .collect())
    }

    /// Erases a subscriber's personal data, keeping only a salted hash of the address so a later
    /// import cannot re-add it silently. Their history stays, detached from any address.
    pub async fn forget(&self, email: &EmailAddress, source: Source) -> Result<bool> {
        let key = email_key(email);
        let hash = self.forget_hash(&key).await?;
        let now = unix_now();
        let _writer = self.writer().await;
        let found = with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM subscribers WHERE email_key = $1")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO forgotten (hash, forgotten_at) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING")
                .bind(&hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if let Some(id) = id {
                sqlx::query("INSERT INTO subscriber_events (subscriber_id, at, source, old_status, new_status, detail) VALUES (NULL, $1, $2, NULL, 'forgotten', $3)")
                    .bind(now)
                    .bind(source.as_str())
                    .bind(format!("subscriber {id} erased on request"))
                    .execute(&mut *tx)
                    .await?;
                // The address also sits in delivery rows and in bounce evidence: erase it there too.
                sqlx::query("UPDATE deliveries SET email = '' WHERE subscriber_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("UPDATE bounces SET email = NULL, diagnostic = NULL WHERE subscriber_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM subscribers WHERE id = $1").bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            id.is_some()
        });
        Ok(found)
    }

    /// Subscribers after `after_id` in id order, optionally of one status: a page for streaming.
    pub async fn page(
        &self,
        status: Option<SubscriberStatus>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Subscriber>> {
        let sql = format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id > $1 AND (CAST($2 AS TEXT) IS NULL OR status = CAST($2 AS TEXT)) ORDER BY id LIMIT $3"
        );
        let rows: Vec<Row> = with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after_id)
            .bind(status.map(|s| s.as_str()))
            .bind(limit)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(Subscriber::try_from).collect()
    }

    /// A subscriber's history, oldest first.
    pub async fn history(&self, subscriber_id: i64) -> Result<Vec<Event>> {
        let sql = "SELECT at, source, old_status, new_status, detail FROM subscriber_events WHERE subscriber_id = $1 ORDER BY id";
        Ok(with_pool!(self, p => sqlx::query_as(sql).bind(subscriber_id).fetch_all(p).await?))
    }

    /// One round trip to the database, for health checks: no table is read.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, p => {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }

    /// How many subscribers have each status (every status listed, zero included).
    pub async fn stats(&self) -> Result<Vec<(SubscriberStatus, i64)>> {
        let rows: Vec<(String, i64)> = with_pool!(self, p => sqlx::query_as("SELECT status, COUNT(*) FROM subscribers GROUP BY status").fetch_all(p).await?);
        Ok(SubscriberStatus::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    rows.iter()
                        .find(|(n, _)| n == s.as_str())
                        .map_or(0, |(_, c)| *c),
                )
            })
            .collect())
    }

    /// Imports rows in one transaction: all or nothing unless `skip_invalid`. Rows are written in
    /// batches of [`IMPORT_BATCH`] (one multi-row insert each), so a million rows take seconds, and
    /// memory holds one batch whatever the file's size. A repeat within the file is recognised in
    /// the database: it collides with a row whose id is above the largest id before the import.
    pub async fn import<I>(&self, rows: I, options: &ImportOptions) -> Result<ImportSummary>
    where
        I: IntoIterator<Item = ImportRow>,
    {
        let forgotten: HashSet<String> = with_pool!(self, p => sqlx::query_scalar("SELECT hash FROM forgotten").fetch_all(p).await?)
            .into_iter()
            .collect();
        let salt = if forgotten.is_empty() {
            None
        } else {
            Some(self.salt().await?)
        };
        let _writer = self.writer().await;
        let numbered = matches!(self.backend, Backend::Postgres(_));
        let sqlite = matches!(self.backend, Backend::Sqlite(_));
        with_pool!(self, p => {
            let mut conn = p.acquire().await?;
            if sqlite {
                // The email and token indexes are written in random order; with a 2 MB cache a
                // large import spends its time re-reading index pages.
                sqlx::query("PRAGMA cache_size = -32768").execute(&mut *conn).await?;
                // Multi-row inserts keep a statement journal; in a temp file it costs a write per
                // page. (Elsewhere it stays on disk: a 1,000,000-row snapshot's journal in memory
                // would stay in the process's heap after it is freed.)
                sqlx::query("PRAGMA temp_store = MEMORY").execute(&mut *conn).await?;
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM subscribers").fetch_one(&mut *tx).await?;
            let mut summary = ImportSummary::default();
            let mut in_batch: HashSet<String> = HashSet::with_capacity(IMPORT_BATCH);
            let mut batch: Vec<PendingRow> = Vec::with_capacity(IMPORT_BATCH);
            for row in rows {
                let email = match row.email {
                    Ok(e) => e,
                    Err(reason) => {
                        summary.invalid.push((row.line, reason));
                        continue;
                    }
                };
                let key = email_key(&email);
                if !in_batch.insert(key.clone()) {
                    summary.skip("listed earlier in the file");
                    continue;
                }
                if let Some(salt) = &salt
                    && forgotten.contains(&salted_hash(salt, &key))
                {
                    summary.skip("erased on request (forgotten); not re-added");
                    continue;
                }
                batch.push(PendingRow { email, key, name: row.name });
                if batch.len() == IMPORT_BATCH {
                    import_batch!(&mut tx, numbered, before, &mut batch, &mut summary, options);
                    in_batch.clear();
                }
            }
            import_batch!(&mut tx, numbered, before, &mut batch, &mut summary, options);
            if !summary.invalid.is_empty() && !options.skip_invalid {
                tx.rollback().await?;
                summary.rolled_back = true;
            } else {
                tx.commit().await?;
            }
            if sqlite {
                // Back to the small cache on the same connection; SQLite frees the pages above it.
                sqlx::query("PRAGMA cache_size = -2048").execute(&mut *conn).await?;
                sqlx::query("PRAGMA temp_store = DEFAULT").execute(&mut *conn).await?;
            }
            Ok(summary)
        })
    }
}

impl ImportSummary {
    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }
}

/// One data row of an import file.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// 1-based line in the file.
    pub line: u64,
    /// The address, or why the row is invalid.
    pub email: std::result::Result<EmailAddress, String>,
    /// Optional name.
    pub name: Option<SubscriberName>,
}

/// How an import treats bad and suppressed rows.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Bring back unsubscribed, bounced or complained addresses.
    pub resubscribe: bool,
    /// Import the good rows even if some are invalid (default: all or nothing).
    pub skip_invalid: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    pub added: u64,
    pub updated: u64,
    /// Rows deliberately left alone, counted by reason.
    pub skipped: std::collections::BTreeMap<&'static str, u64>,
    /// (line, why) for rows that are not valid.
    pub invalid: Vec<(u64, String)>,
    /// True when nothing was written because of invalid rows.
    pub rolled_back: bool,
}

// After the macros above, which the queue uses.
#[macro_use]
mod bounces;
mod queue;
pub use bounces::{Applied, BounceEntry, BouncePolicy, BounceRecord};
pub use queue::{Campaign, CampaignTimes, Delivery, DeliveryCounts, Outcome, Recorded, SyncBounce};
