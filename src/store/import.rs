//! Bulk import: a CSV's rows in one transaction, written in multi-row batches.

use std::collections::HashSet;

use super::*;

/// Rows per batch: one insert statement each (on SQLite 7 parameters a row, 14,000 in all, under its
/// limit of 32,766; on PostgreSQL seven arrays).
pub const IMPORT_BATCH: usize = 2000;

/// SQLite: FTS5's settings while an import indexes its rows: 16 MB of new index kept in memory
/// before it is written (`hashsize`), and segments merged 16 at a time (`automerge`); and FTS5's
/// defaults, which every other write keeps.
const FTS_BULK: &[(&str, i64)] = &[("hashsize", 16 << 20), ("automerge", 16)];
const FTS_DEFAULT: &[(&str, i64)] = &[("hashsize", 1 << 20), ("automerge", 4)];

async fn fts_configure(conn: &mut sqlx::SqliteConnection, settings: &[(&str, i64)]) -> Result<()> {
    for (key, value) in settings {
        sqlx::query("INSERT INTO subscriber_search (subscriber_search, rank) VALUES ($1, $2)")
            .bind(*key)
            .bind(*value)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// On PostgreSQL, an import into a list with fewer rows than this is a first load ([`FirstLoad`]).
const FIRST_LOAD_BELOW: i64 = 50_000;

/// PostgreSQL: an import into a small list (a first load) sets aside, for its transaction, what
/// PostgreSQL's manual ("Populating a Database") says to set aside for a bulk load: the indexes the
/// import does not read (the trigram and address-prefix indexes of `subscribers`) and the events'
/// foreign key; they are built again, and the key checked once, before the commit. Three to four
/// times faster than keeping them up to date row by row, but the two tables stay locked until the
/// import commits; into a larger list, where readers would wait longer, they are kept up to date
/// as rows come.
struct FirstLoad {
    /// (name, CREATE INDEX statement)
    indexes: Vec<(String, String)>,
    /// (name, definition) of `subscriber_events`' foreign keys
    foreign_keys: Vec<(String, String)>,
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

impl FirstLoad {
    async fn begin(tx: &mut sqlx::PgConnection) -> Result<Option<FirstLoad>> {
        let small: bool =
            sqlx::query_scalar("SELECT COUNT(*) < $1 FROM (SELECT 1 FROM subscribers LIMIT $1) s")
                .bind(FIRST_LOAD_BELOW)
                .fetch_one(&mut *tx)
                .await?;
        if !small {
            return Ok(None);
        }
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT i.relname::text, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             WHERE x.indrelid = 'subscribers'::regclass AND NOT x.indisunique AND NOT x.indisprimary ORDER BY 1",
        )
        .fetch_all(&mut *tx)
        .await?;
        let foreign_keys: Vec<(String, String)> = sqlx::query_as(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = 'subscriber_events'::regclass AND contype = 'f' ORDER BY 1",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (name, _) in &foreign_keys {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE subscriber_events DROP CONSTRAINT {}",
                quoted(name)
            )))
            .execute(&mut *tx)
            .await?;
        }
        for (name, _) in &indexes {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {}", quoted(name))))
                .execute(&mut *tx)
                .await?;
        }
        Ok(Some(FirstLoad {
            indexes,
            foreign_keys,
        }))
    }

    async fn finish(self, tx: &mut sqlx::PgConnection) -> Result<()> {
        // A million rows' trigrams sort in fewer passes with more than the default 64 MB.
        sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
            .execute(&mut *tx)
            .await?;
        for (name, definition) in &self.foreign_keys {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE subscriber_events ADD CONSTRAINT {} {definition}",
                quoted(name)
            )))
            .execute(&mut *tx)
            .await?;
        }
        for (_, definition) in &self.indexes {
            sqlx::query(sqlx::AssertSqlSafe(definition.clone()))
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}

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

/// What one batch's insert did.
struct Added {
    /// Rows added.
    count: usize,
    /// Their keys, where the backend says (PostgreSQL).
    keys: HashSet<String>,
    /// SQLite: the largest id before the batch; the rows already there are the ids up to it.
    last: Option<i64>,
}

/// How each backend loads rows fastest: what it sets aside before the first batch, how it inserts a
/// batch's new rows (`ON CONFLICT DO NOTHING`) and their "imported" events, and what it builds
/// again before the commit.
trait BulkLoad {
    /// Before the import's transaction, on its connection (which is closed afterwards, not
    /// returned to the pool).
    async fn prepare(&mut self) -> Result<()>;
    /// Before the first batch, inside the import's transaction.
    async fn begin(&mut self) -> Result<Option<FirstLoad>>;
    /// After the last batch, before the commit; `before` is the largest id before the import.
    async fn finish(&mut self, before: i64, first_load: Option<FirstLoad>) -> Result<()>;
    async fn insert_new(
        &mut self,
        batch: &[PendingRow],
        now: i64,
        tokens: &[UnsubscribeToken],
        folded: &[Option<String>],
    ) -> Result<Added>;
}

impl BulkLoad for sqlx::SqliteConnection {
    async fn prepare(&mut self) -> Result<()> {
        // The email and token indexes are written in random order; with a 2 MB cache a large
        // import spends its time re-reading index pages.
        sqlx::query("PRAGMA cache_size = -32768")
            .execute(&mut *self)
            .await?;
        // Multi-row inserts keep a statement journal; in a temp file it costs a write per page.
        // (Elsewhere it stays on disk: a 1,000,000-row snapshot's journal in memory would stay in
        // the process's heap after it is freed.)
        sqlx::query("PRAGMA temp_store = MEMORY")
            .execute(&mut *self)
            .await?;
        // The only foreign key an import writes is its events' subscriber, each taken from the
        // rows it has just inserted: looking every one up again is a second index lookup per row
        // for nothing. (SQLite takes this setting only between transactions.)
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    /// The search index's insert trigger stands aside while `search_deferred` holds a row
    /// (migration 0012 says why).
    async fn begin(&mut self) -> Result<Option<FirstLoad>> {
        sqlx::query("INSERT INTO search_deferred (one) VALUES (1)")
            .execute(&mut *self)
            .await?;
        Ok(None)
    }

    /// Indexes every row this import added (an id above `before`) for the search in one statement;
    /// the rows it updated were indexed when they were added and again by the update trigger.
    /// Meanwhile FTS5 keeps more new index in memory between writes, and merges its segments
    /// 16 at a time instead of 4 ([`FTS_BULK`]): fewer, larger writes. Both settings are stored
    /// with the index, so they are set back before the commit; the page cache gives up room
    /// meanwhile.
    async fn finish(&mut self, before: i64, _: Option<FirstLoad>) -> Result<()> {
        sqlx::query("PRAGMA cache_size = -8192")
            .execute(&mut *self)
            .await?;
        fts_configure(self, FTS_BULK).await?;
        sqlx::query(
            "INSERT INTO subscriber_search (rowid, email_key, name_key, status) \
             SELECT id, email_key, name_key, status FROM subscribers WHERE id > $1",
        )
        .bind(before)
        .execute(&mut *self)
        .await?;
        fts_configure(self, FTS_DEFAULT).await?;
        sqlx::query("DELETE FROM search_deferred")
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    /// SQLite has one writer, this import, whose ids only grow: the rows a batch adds are the ids
    /// above the largest before it, so nothing is returned row by row.
    async fn insert_new(
        &mut self,
        batch: &[PendingRow],
        now: i64,
        tokens: &[UnsubscribeToken],
        folded: &[Option<String>],
    ) -> Result<Added> {
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM subscribers")
            .fetch_one(&mut *self)
            .await?;
        let sql = format!(
            "INSERT INTO subscribers (email, email_key, name, status, token, created_at, updated_at, name_key) VALUES {} \
             ON CONFLICT (email_key) DO NOTHING",
            placeholders(false, batch.len(), 7, |p| {
                format!(
                    "({}, {}, {}, 'active', {}, {}, {}, {})",
                    p[0], p[1], p[2], p[3], p[4], p[5], p[6]
                )
            }),
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((r, token), folded) in batch.iter().zip(tokens).zip(folded) {
            q = q
                .bind(r.email.as_str())
                .bind(&r.key)
                .bind(r.name.as_ref().map(SubscriberName::as_str))
                .bind(token.expose().to_string())
                .bind(now)
                .bind(now)
                .bind(folded.as_deref());
        }
        let count = q.execute(&mut *self).await?.rows_affected() as usize;
        if count > 0 {
            sqlx::query(
                "INSERT INTO subscriber_events (subscriber_id, at, source, old_status, new_status, detail) \
                 SELECT id, $1, 'import', NULL, 'active', 'imported' FROM subscribers WHERE id > $2 ORDER BY id",
            )
            .bind(now)
            .bind(last)
            .execute(&mut *self)
            .await?;
        }
        Ok(Added {
            count,
            keys: HashSet::new(),
            last: Some(last),
        })
    }
}

impl BulkLoad for sqlx::PgConnection {
    /// Nothing: what a PostgreSQL import changes (`SET LOCAL`, the first load's drops) lasts as
    /// long as its transaction.
    async fn prepare(&mut self) -> Result<()> {
        Ok(())
    }

    async fn begin(&mut self) -> Result<Option<FirstLoad>> {
        FirstLoad::begin(self).await
    }

    async fn finish(&mut self, _: i64, first_load: Option<FirstLoad>) -> Result<()> {
        match first_load {
            Some(first_load) => first_load.finish(self).await,
            None => Ok(()),
        }
    }

    /// PostgreSQL's sequences hand out ids to every session at once, so the added keys come back.
    /// Seven arrays instead of 14,000 parameters (a long VALUES list is slow to plan), and the
    /// events are written by the same statement from what it inserted.
    async fn insert_new(
        &mut self,
        batch: &[PendingRow],
        now: i64,
        tokens: &[UnsubscribeToken],
        folded: &[Option<String>],
    ) -> Result<Added> {
        let keys: Vec<String> = sqlx::query_scalar(
            "WITH added AS ( \
                 INSERT INTO subscribers (email, email_key, name, status, token, created_at, updated_at, name_key) \
                 SELECT e, k, n, 'active', t, $5, $5, f \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $6::text[]) WITH ORDINALITY AS u(e, k, n, t, f, o) \
                 ORDER BY o \
                 ON CONFLICT (email_key) DO NOTHING RETURNING id, email_key), \
             events AS ( \
                 INSERT INTO subscriber_events (subscriber_id, at, source, old_status, new_status, detail) \
                 SELECT id, $5, 'import', NULL, 'active', 'imported' FROM added ORDER BY id) \
             SELECT email_key FROM added",
        )
        .bind(batch.iter().map(|r| r.email.as_str()).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.key.as_str()).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.name.as_ref().map(SubscriberName::as_str)).collect::<Vec<_>>())
        .bind(tokens.iter().map(|t| t.expose().to_string()).collect::<Vec<_>>())
        .bind(now)
        .bind(folded)
        .fetch_all(&mut *self)
        .await?;
        Ok(Added {
            count: keys.len(),
            keys: keys.into_iter().collect(),
            last: None,
        })
    }
}

/// Writes one batch of import rows inside the import's transaction: insert the new ones, record their
/// events, then look at the addresses that were already there.
macro_rules! import_batch {
    ($tx:expr, $numbered:expr, $before:expr, $batch:expr, $summary:expr, $options:expr) => {{
        let batch: &mut Vec<PendingRow> = $batch;
        if !batch.is_empty() {
            let now = unix_now();
            let tokens = UnsubscribeToken::generate_many(batch.len());
            let folded: Vec<Option<String>> = batch.iter().map(|r| r.name.as_ref().map(|n| super::subscribers::fold(n.as_str()))).collect();
            let Added { count: added, keys: new, last } = BulkLoad::insert_new(&mut **$tx, batch, now, &tokens, &folded).await?;
            $summary.added += added as u64;
            if added < batch.len() {
                // The rows that were there before this batch: on SQLite, every key of the batch
                // among the ids up to `last`; on PostgreSQL, the keys that did not come back.
                let existing: std::collections::HashMap<&str, &PendingRow> = batch
                    .iter()
                    .filter(|r| !new.contains(r.key.as_str()))
                    .map(|r| (r.key.as_str(), r))
                    .collect();
                let sql = format!(
                    "SELECT id, email_key, status FROM subscribers WHERE email_key IN ({}){}",
                    placeholders($numbered, existing.len(), 1, |p| p[0].clone()),
                    last.map(|last| format!(" AND id <= {last}")).unwrap_or_default()
                );
                let mut q = sqlx::query_as::<_, (i64, String, String)>(sqlx::AssertSqlSafe(sql));
                for key in existing.keys() {
                    q = q.bind(*key);
                }
                let found: Vec<(i64, String, String)> = q.fetch_all(&mut **$tx).await?;
                for (id, key, status) in found {
                    let status = SubscriberStatus::parse(&status).map_err(|e| StoreError::Corrupt(e.0))?;
                    let name = existing.get(key.as_str()).and_then(|r| r.name.clone());
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
                        sqlx::query("UPDATE subscribers SET status = 'active', token = COALESCE(CAST($1 AS TEXT), token), updated_at = $2, \
                                     name = COALESCE(CAST($3 AS TEXT), name), name_key = COALESCE(CAST($5 AS TEXT), name_key) WHERE id = $4")
                            .bind(new_token)
                            .bind(now)
                            .bind(name.as_ref().map(SubscriberName::as_str))
                            .bind(id)
                            .bind(name.as_ref().map(|n| super::subscribers::fold(n.as_str())))
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
        with_pool!(self, p => {
            let mut conn = p.acquire().await?;
            // The import may change this connection's settings (SQLite's pragmas): it is closed
            // afterwards rather than going back to the pool with them, whatever way the import ends.
            conn.close_on_drop();
            BulkLoad::prepare(&mut *conn).await?;
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            // The search index is written once, after the rows, instead of row by row. SQLite: its
            // insert trigger stands aside while `search_deferred` holds a row (migration 0012 says
            // why). PostgreSQL: see [`FirstLoad`].
            let first_load = BulkLoad::begin(&mut *tx).await?;
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
                return Ok(summary);
            }
            BulkLoad::finish(&mut *tx, before, first_load).await?;
            tx.commit().await?;
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
