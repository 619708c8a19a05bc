//! Campaigns and the delivery queue. Before the first message leaves, every recipient has a row;
//! workers claim rows with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the single writer)
//! and record each outcome as it happens. A crash loses at most the leased rows, which are claimed
//! again when the lease expires.

use super::*;

/// One campaign: one issue sent to the list.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Campaign {
    pub id: i64,
    pub issue_number: i64,
    pub content_hash: String,
    pub subject: String,
    /// `created`, `sending` or `done`.
    pub state: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// A claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Delivery {
    pub subscriber_id: i64,
    pub email: String,
    /// Attempts including this one.
    pub attempts: i64,
}

/// Rows per delivery state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryCounts {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub deferred: i64,
    pub failed: i64,
    pub skipped: i64,
}

const CAMPAIGN_COLUMNS: &str =
    "id, issue_number, content_hash, subject, state, created_at, started_at, finished_at";

impl Store {
    /// The campaign for an issue, created on first use. If the issue's text changed, a campaign that
    /// has not started takes the new text, and one that has started refuses with
    /// [`StoreError::ContentChanged`].
    pub async fn campaign_for_issue(
        &self,
        number: i64,
        content_hash: &str,
        subject: &str,
    ) -> Result<Campaign> {
        let _writer = self.writer().await;
        let now = unix_now();
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE issue_number = $1");
        let existing: Option<Campaign> = with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(number).fetch_optional(p).await?);
        match existing {
            Some(c) if c.content_hash == content_hash => Ok(c),
            Some(c) if c.state != "created" => Err(StoreError::ContentChanged {
                number,
                started: c.content_hash,
                now: content_hash.to_string(),
            }),
            Some(c) => {
                with_pool!(self, p => {
                    sqlx::query("UPDATE campaigns SET content_hash = $1, subject = $2 WHERE id = $3")
                        .bind(content_hash)
                        .bind(subject)
                        .bind(c.id)
                        .execute(p)
                        .await?;
                });
                Ok(Campaign {
                    content_hash: content_hash.to_string(),
                    subject: subject.to_string(),
                    ..c
                })
            }
            None => {
                let sql = format!(
                    "INSERT INTO campaigns (issue_number, content_hash, subject, state, created_at) \
                     VALUES ($1, $2, $3, 'created', $4) RETURNING {CAMPAIGN_COLUMNS}"
                );
                Ok(
                    with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(number)
                    .bind(content_hash)
                    .bind(subject)
                    .bind(now)
                    .fetch_one(p)
                    .await?),
                )
            }
        }
    }

    /// Gives every active subscriber a queued delivery row, in one statement, and marks the campaign
    /// as sending. Running it again adds nobody twice. Returns the rows added.
    pub async fn snapshot(&self, campaign_id: i64) -> Result<u64> {
        let _writer = self.writer().await;
        let now = unix_now();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let added = sqlx::query(
                "INSERT INTO deliveries (campaign_id, subscriber_id, email, state, updated_at) \
                 SELECT $1, id, email, 'queued', $2 FROM subscribers WHERE status = 'active' \
                 ON CONFLICT (campaign_id, subscriber_id) DO NOTHING",
            )
            .bind(campaign_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("UPDATE campaigns SET state = 'sending', started_at = COALESCE(started_at, $2) WHERE id = $1 AND state = 'created'")
                .bind(campaign_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(added)
        })
    }

    /// Claims up to `limit` deliveries for `owner` until `lease_secs` from now: queued rows, and rows
    /// whose lease has expired (a worker that died). Each claim counts as an attempt.
    pub async fn claim(
        &self,
        campaign_id: i64,
        owner: &str,
        limit: i64,
        lease_secs: i64,
    ) -> Result<Vec<Delivery>> {
        let _writer = self.writer().await;
        let now = unix_now();
        let lock = match self.backend {
            Backend::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE deliveries SET state = 'sending', lease_owner = $2, lease_until = $3, attempts = attempts + 1, updated_at = $4 \
             WHERE campaign_id = $1 AND subscriber_id IN (\
               SELECT subscriber_id FROM deliveries WHERE campaign_id = $1 \
               AND (state = 'queued' OR (state = 'sending' AND lease_until < $4)) \
               ORDER BY subscriber_id LIMIT $5{lock}) \
             RETURNING subscriber_id, email, attempts"
        );
        let mut rows: Vec<Delivery> = with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(campaign_id)
            .bind(owner)
            .bind(now + lease_secs)
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await?);
        rows.sort_by_key(|d| d.subscriber_id);
        Ok(rows)
    }

    /// Records an outcome for a delivery this owner holds: `sent`, `deferred` (retried by a later
    /// run) or `failed` (never retried). Returns false if the lease was lost to another worker.
    pub async fn record(
        &self,
        campaign_id: i64,
        subscriber_id: i64,
        owner: &str,
        state: &str,
        error: Option<&str>,
    ) -> Result<bool> {
        debug_assert!(matches!(state, "sent" | "deferred" | "failed" | "skipped"));
        let _writer = self.writer().await;
        let now = unix_now();
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE deliveries SET state = $4, last_error = $5, lease_owner = NULL, lease_until = NULL, updated_at = $6, \
             sent_at = CASE WHEN $4 = 'sent' THEN $6 ELSE sent_at END \
             WHERE campaign_id = $1 AND subscriber_id = $2 AND lease_owner = $3 AND state = 'sending'",
        )
        .bind(campaign_id)
        .bind(subscriber_id)
        .bind(owner)
        .bind(state)
        .bind(error)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Rows per state for a campaign.
    pub async fn delivery_counts(&self, campaign_id: i64) -> Result<DeliveryCounts> {
        let rows: Vec<(String, i64)> = with_pool!(self, p => sqlx::query_as(
            "SELECT state, COUNT(*) FROM deliveries WHERE campaign_id = $1 GROUP BY state",
        )
        .bind(campaign_id)
        .fetch_all(p)
        .await?);
        let mut c = DeliveryCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "queued" => c.queued = n,
                "sending" => c.sending = n,
                "sent" => c.sent = n,
                "deferred" => c.deferred = n,
                "failed" => c.failed = n,
                "skipped" => c.skipped = n,
                other => return Err(StoreError::Corrupt(format!("delivery state `{other}`"))),
            }
        }
        Ok(c)
    }

    /// Marks the campaign done when nothing is queued or in flight. Returns whether it is done.
    pub async fn finish_if_done(&self, campaign_id: i64) -> Result<bool> {
        let _writer = self.writer().await;
        let now = unix_now();
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE campaigns SET state = 'done', finished_at = $2 WHERE id = $1 AND state = 'sending' \
             AND NOT EXISTS (SELECT 1 FROM deliveries WHERE campaign_id = $1 AND state IN ('queued', 'sending'))",
        )
        .bind(campaign_id)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }
}
