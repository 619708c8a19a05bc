//! Subscribers: adding, signing up and confirming, status changes with their history, erasure on
//! request, and listing.

use super::*;

/// A subscriber as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Subscriber {
    pub id: i64,
    pub email: StoredAddress,
    pub name: Option<String>,
    pub status: SubscriberStatus,
    #[serde(skip)]
    pub token: UnsubscribeToken,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One entry of a subscriber's history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub at: i64,
    pub source: Source,
    pub old_status: Option<SubscriberStatus>,
    pub new_status: SubscriberStatus,
    pub detail: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    at: i64,
    source: String,
    old_status: Option<String>,
    new_status: String,
    detail: Option<String>,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self> {
        let corrupt =
            |e: crate::domain::ParseError| StoreError::Corrupt(format!("history: {}", e.0));
        Ok(Event {
            at: r.at,
            source: Source::parse(&r.source).map_err(corrupt)?,
            old_status: r
                .old_status
                .as_deref()
                .map(SubscriberStatus::parse)
                .transpose()
                .map_err(corrupt)?,
            new_status: SubscriberStatus::parse(&r.new_status).map_err(corrupt)?,
            detail: r.detail,
        })
    }
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
            email: StoredAddress::read(r.email),
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

const SUBSCRIBER_COLUMNS: &str = "id, email, name, status, token, created_at, updated_at";
/// How many rows in id order the search scans before it asks an index (see [`Store::search`]).
const SEARCH_WINDOW: i64 = 5000;
/// The same columns, qualified, for queries that join the search index (which has a `name` and `status`).
const QUALIFIED_COLUMNS: &str = "subscribers.id, subscribers.email, subscribers.name, subscribers.status, \
     subscribers.token, subscribers.created_at, subscribers.updated_at";

impl Store {
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
                "INSERT INTO subscribers (email, email_key, name, status, token, confirm_token, created_at, updated_at, name_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ON CONFLICT (email_key) DO NOTHING RETURNING id",
            )
            .bind(email.as_str())
            .bind(email_key(email))
            .bind(name.map(SubscriberName::as_str))
            .bind(status.as_str())
            .bind(token.expose())
            .bind(confirm.map(UnsubscribeToken::expose))
            .bind(now)
            .bind(name.map(|n| fold(n.as_str())))
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
            // An administrator may have searched for the address: the audit log keeps that it
            // happened, not what was searched.
            sqlx::query("UPDATE admin_audit SET detail = '(erased: the address was forgotten)' \
                         WHERE detail IS NOT NULL AND lower(detail) LIKE $1 ESCAPE '\\'")
                .bind(format!("%{}%", like_escape(&key)))
                .execute(&mut *tx)
                .await?;
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

    /// One page of the console's search, in id order after `after_id`, of one status or any:
    /// with three characters or more, subscribers whose address or name contains `q` anywhere (any
    /// case); with one or two, those whose address begins with `q` (no index can find two letters
    /// anywhere in a million addresses quickly, and a scan for a rare pair reads them all).
    ///
    /// Two steps, because the cheap plan depends on how common `q` is: first the next
    /// [`SEARCH_WINDOW`] rows in id order are scanned, which fills a page for anything common;
    /// only if that falls short does an index find every match (trigrams for a part, the address
    /// index for a beginning), which is quick because the matches are then few.
    pub async fn search(
        &self,
        q: &str,
        status: Option<SubscriberStatus>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Subscriber>> {
        self.fold_stored_names().await?;
        let q = q.trim().to_lowercase();
        // Names are matched folded (case, accents, ß), addresses as they are written, lowercase.
        let folded = fold(&q);
        let part = q.chars().count() >= 3;
        let sqlite = matches!(self.backend, Backend::Sqlite(_));
        let status_filter = "(CAST($2 AS TEXT) IS NULL OR status = CAST($2 AS TEXT))";
        let matches = match (sqlite, part) {
            (true, true) => "(instr(email_key, $4) > 0 OR instr(COALESCE(name_key, ''), $5) > 0)",
            (false, true) => {
                "(strpos(email_key, $4) > 0 OR strpos(COALESCE(name_key, ''), $5) > 0)"
            }
            (true, false) => "substr(email_key, 1, length($4)) = $4",
            (false, false) => "starts_with(email_key, $4)",
        };
        let window = format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM (SELECT * FROM subscribers WHERE id > $1 ORDER BY id LIMIT {SEARCH_WINDOW}) w \
             WHERE {status_filter} AND ($4 = '' OR {matches}) ORDER BY id LIMIT $3"
        );
        let rows = self
            .search_query(&window, &q, Some(&folded), status, after_id, limit)
            .await?;
        if q.is_empty() || rows.len() as i64 >= limit {
            return rows.into_iter().map(Subscriber::try_from).collect();
        }
        let phrase = |t: &str| format!("\"{}\"", t.replace('"', "\"\""));
        let (indexed, pattern, second) = match (sqlite, part) {
            (true, true) => (
                format!(
                    "SELECT {QUALIFIED_COLUMNS} FROM subscriber_search f JOIN subscribers ON subscribers.id = f.rowid \
                     WHERE subscriber_search MATCH $4 AND f.rowid > $1 \
                     AND (CAST($2 AS TEXT) IS NULL OR subscribers.status = CAST($2 AS TEXT)) \
                     ORDER BY f.rowid LIMIT $3"
                ),
                // One FTS5 phrase per column, quoted, so no character of the query is syntax.
                format!(
                    "email_key : {} OR name_key : {}",
                    phrase(&q),
                    phrase(&folded)
                ),
                None,
            ),
            (false, true) => (
                format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id > $1 AND {status_filter} \
                     AND (email_key LIKE $4 OR COALESCE(name_key, '') LIKE $5) ORDER BY id LIMIT $3"
                ),
                format!("%{}%", like_escape(&q)),
                Some(format!("%{}%", like_escape(&folded))),
            ),
            // A range of the address index (byte order in SQLite; "C" order in PostgreSQL, whose
            // index on email_key COLLATE "C" the migration adds), re-checked exactly.
            (true, false) => (
                format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key >= $4 AND email_key < $4 || char(1114111) \
                     AND substr(email_key, 1, length($4)) = $4 AND id > $1 AND {status_filter} ORDER BY id LIMIT $3"
                ),
                q.clone(),
                None,
            ),
            (false, false) => (
                format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key COLLATE \"C\" >= $4 \
                     AND email_key COLLATE \"C\" < $4 || chr(1114111) \
                     AND starts_with(email_key, $4) AND id > $1 AND {status_filter} ORDER BY id LIMIT $3"
                ),
                q.clone(),
                None,
            ),
        };
        let rows = self
            .search_query(
                &indexed,
                &pattern,
                second.as_deref(),
                status,
                after_id,
                limit,
            )
            .await?;
        rows.into_iter().map(Subscriber::try_from).collect()
    }

    /// Runs one step of [`Store::search`]: `$1` after, `$2` status, `$3` limit, `$4` the pattern
    /// and, when the query has one, `$5` the folded pattern for names.
    async fn search_query(
        &self,
        sql: &str,
        pattern: &str,
        names: Option<&str>,
        status: Option<SubscriberStatus>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Row>> {
        Ok(with_pool!(self, p => {
            let q = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
                .bind(after_id)
                .bind(status.map(|s| s.as_str()))
                .bind(limit)
                .bind(pattern);
            let q = match names {
                Some(n) => q.bind(n),
                None => q,
            };
            q.fetch_all(p).await?
        }))
    }

    /// Folds the names stored before names were folded (migration 0011), a batch at a time, so
    /// that the search finds them; after that, the index it asks is empty and this costs one
    /// lookup.
    async fn fold_stored_names(&self) -> Result<()> {
        loop {
            let rows: Vec<(i64, String)> = with_pool!(self, p => sqlx::query_as(
                "SELECT id, name FROM subscribers WHERE name IS NOT NULL AND name_key IS NULL ORDER BY id LIMIT 2000",
            )
            .fetch_all(p)
            .await?);
            if rows.is_empty() {
                return Ok(());
            }
            let _writer = self.writer().await;
            with_pool!(self, p => {
                let mut tx = p.begin().await?;
                for (id, name) in &rows {
                    sqlx::query("UPDATE subscribers SET name_key = $1 WHERE id = $2 AND name_key IS NULL")
                        .bind(fold(name))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            });
        }
    }

    /// A subscriber's history, oldest first.
    pub async fn history(&self, subscriber_id: i64) -> Result<Vec<Event>> {
        let sql = "SELECT at, source, old_status, new_status, detail FROM subscriber_events WHERE subscriber_id = $1 ORDER BY id";
        let rows: Vec<EventRow> =
            with_pool!(self, p => sqlx::query_as(sql).bind(subscriber_id).fetch_all(p).await?);
        rows.into_iter().map(Event::try_from).collect()
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
}

/// A name as the search compares it, folded as people expect: lowercase, accents removed, and
/// letters written two ways written one way (ß and ss, æ and ae, ø and o), so that "Weiss" finds
/// "Weiß" and "Muller" finds "Müller". Letters outside the Latin alphabets are kept as they are.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ǎ' => "a",
            'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
            'ď' | 'đ' | 'ð' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
            'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
            'ĥ' | 'ħ' => "h",
            'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' | 'ǐ' => "i",
            'ĵ' => "j",
            'ķ' => "k",
            'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
            'ñ' | 'ń' | 'ņ' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'ǒ' => "o",
            'ŕ' | 'ŗ' | 'ř' => "r",
            'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
            'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
            'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ǔ' => "u",
            'ŵ' => "w",
            'ý' | 'ÿ' | 'ŷ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            'ß' => "ss",
            'æ' => "ae",
            'œ' => "oe",
            'þ' => "th",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(plain);
    }
    out
}

/// `text` for a `LIKE` pattern: `%`, `_` and the escape character itself match only themselves
/// (PostgreSQL's default escape is the backslash).
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod fold_tests {
    use super::fold;

    #[test]
    fn names_fold_as_people_expect() {
        assert_eq!(fold("Weiß"), "weiss");
        assert_eq!(fold("WEISS"), "weiss");
        assert_eq!(fold("Müller"), "muller");
        assert_eq!(fold("Muller"), "muller");
        assert_eq!(fold("Zoë Ångström-Łukasz"), "zoe angstrom-lukasz");
        assert_eq!(fold("Ærø"), "aero");
        assert_eq!(fold("Дмитрий"), "дмитрий");
    }
}
