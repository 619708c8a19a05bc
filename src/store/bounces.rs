//! The bounce log and the suppression policy. Every bounce, complaint and sender-side refusal is
//! logged with its evidence; the policy then decides, in the same transaction, whether the
//! subscriber stops receiving mail.

use super::*;

/// One piece of evidence to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceRecord {
    /// The subscriber it is about, once attributed.
    pub subscriber_id: Option<i64>,
    pub campaign_id: Option<i64>,
    /// The address the evidence names.
    pub email: Option<String>,
    /// `hard`, `soft`, `complaint` or `policy`.
    pub kind: String,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    /// `dsn`, `arf`, `heuristic` (or `smtp` for refusals during a send).
    pub source: String,
    /// `verp`, `dsn-field`, `original-headers`, `heuristic`.
    pub attribution: String,
}

/// The suppression policy (`[bounces]` in config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BouncePolicy {
    /// Soft bounces in distinct campaigns that suppress.
    pub soft_limit: i64,
    /// Window in which they must fall.
    pub soft_window_secs: i64,
}

impl Default for BouncePolicy {
    /// The documented defaults of `[bounces]`: 3 soft bounces in 30 days.
    fn default() -> Self {
        BouncePolicy {
            soft_limit: 3,
            soft_window_secs: 30 * 86_400,
        }
    }
}

/// What the policy did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "applied")]
pub enum Applied {
    /// The subscriber's status changed (to bounced or complained).
    Suppressed { subscriber_id: i64, status: String },
    /// A soft bounce counted; `count` of `limit` in the window.
    Counted {
        subscriber_id: i64,
        count: i64,
        limit: i64,
    },
    /// Logged without effect on the subscriber (sender-side refusal, or already suppressed).
    Logged { subscriber_id: i64 },
    /// Logged, but no subscriber could be found for it.
    Unattributed,
    /// Not logged and nobody changed: nothing ties the evidence to a delivery we made (no VERP or
    /// Message-ID of ours whose keyed tag verifies). The message goes to the quarantine.
    Unproven,
}

/// One row of the bounce log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct BounceEntry {
    pub id: i64,
    pub subscriber_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub email: Option<String>,
    pub kind: String,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub source: String,
    pub attribution: String,
    pub received_at: i64,
}

/// Logs one bounce and applies the policy inside an open transaction, on either backend; evaluates
/// to the [`Applied`] outcome. Shared by [`Store::record_bounce`] and by `record_many`, which logs a
/// refusal during a send in the same transaction as the delivery's outcome.
macro_rules! log_bounce {
    ($tx:expr, $b:expr, $policy:expr, $now:expr) => {{
        let tx = $tx;
        let b: &BounceRecord = $b;
        let policy: BouncePolicy = $policy;
        let now: i64 = $now;
        'apply: {
            sqlx::query(
                "INSERT INTO bounces (subscriber_id, campaign_id, email, kind, status, diagnostic, source, attribution, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(b.subscriber_id)
            .bind(b.campaign_id)
            .bind(&b.email)
            .bind(&b.kind)
            .bind(&b.status)
            .bind(&b.diagnostic)
            .bind(&b.source)
            .bind(&b.attribution)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            let Some(sid) = b.subscriber_id else {
                break 'apply Applied::Unattributed;
            };
            let current: Option<String> = sqlx::query_scalar("SELECT status FROM subscribers WHERE id = $1")
                .bind(sid)
                .fetch_optional(&mut **tx)
                .await?;
            let Some(current) = current else {
                break 'apply Applied::Unattributed;
            };
            let evidence = format!(
                "{} bounce ({}, attributed by {}){}{}{}",
                b.kind,
                b.source,
                b.attribution,
                b.campaign_id.map(|c| format!(", campaign {c}")).unwrap_or_default(),
                b.status.as_deref().map(|s| format!(": {s}")).unwrap_or_default(),
                b.diagnostic.as_deref().map(|d| format!(" {d}")).unwrap_or_default(),
            );
            let target = match b.kind.as_str() {
                "hard" => Some("bounced"),
                "complaint" => Some("complained"),
                "soft" => {
                    // Soft bounces in distinct campaigns within the window, since the last delivery
                    // that did not bounce.
                    let reset: Option<i64> = sqlx::query_scalar(
                        "SELECT MAX(d.sent_at) FROM deliveries d WHERE d.subscriber_id = $1 AND d.state = 'sent' \
                         AND NOT EXISTS (SELECT 1 FROM bounces x WHERE x.subscriber_id = d.subscriber_id AND x.campaign_id = d.campaign_id)",
                    )
                    .bind(sid)
                    .fetch_one(&mut **tx)
                    .await?;
                    let since = (now - policy.soft_window_secs).max(reset.map_or(i64::MIN, |r| r + 1));
                    let count: i64 = sqlx::query_scalar(
                        "SELECT COUNT(DISTINCT COALESCE(campaign_id, -id)) FROM bounces \
                         WHERE subscriber_id = $1 AND kind = 'soft' AND received_at >= $2",
                    )
                    .bind(sid)
                    .bind(since)
                    .fetch_one(&mut **tx)
                    .await?;
                    if count < policy.soft_limit {
                        tracing::info!(subscriber_id = sid, count, limit = policy.soft_limit, "soft bounce counted");
                        break 'apply Applied::Counted { subscriber_id: sid, count, limit: policy.soft_limit };
                    }
                    Some("bounced")
                }
                _ => None,
            };
            let suppress = target.filter(|t| {
                // Complaints override a bounce; nothing overrides a complaint or an unsubscribe.
                matches!(current.as_str(), "active" | "pending")
                    || (*t == "complained" && current == "bounced")
            });
            let Some(new_status) = suppress else {
                if b.kind == "policy" {
                    tracing::warn!(subscriber_id = sid, status = ?b.status, "a receiver refused our mail for policy or reputation reasons; check the sending setup");
                }
                break 'apply Applied::Logged { subscriber_id: sid };
            };
            sqlx::query("UPDATE subscribers SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(new_status)
                .bind(now)
                .bind(sid)
                .execute(&mut **tx)
                .await?;
            sqlx::query("INSERT INTO subscriber_events (subscriber_id, at, source, old_status, new_status, detail) VALUES ($1, $2, 'bounce', $3, $4, $5)")
                .bind(sid)
                .bind(now)
                .bind(&current)
                .bind(new_status)
                .bind(&evidence)
                .execute(&mut **tx)
                .await?;
            tracing::info!(subscriber_id = sid, from = %current, to = new_status, "subscriber suppressed by a bounce");
            Applied::Suppressed { subscriber_id: sid, status: new_status.to_string() }
        }
    }};
}

impl Store {
    /// The campaign and address of a subscriber's delivery, found by campaign id (from a VERP) or by
    /// issue number (from our Message-ID), in one query; `None` if there is no such delivery.
    pub async fn find_delivery(
        &self,
        campaign_id: Option<i64>,
        issue: Option<i64>,
        subscriber_id: i64,
    ) -> Result<Option<(i64, String)>> {
        // Only a message we handed over can bounce: not a row still queued or skipped.
        Ok(with_pool!(self, p => sqlx::query_as(
            "SELECT d.campaign_id, d.email FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id \
             WHERE d.subscriber_id = $1 AND (c.id = CAST($2 AS BIGINT) OR c.issue_number = CAST($3 AS BIGINT)) \
             AND d.state IN ('sent', 'failed', 'deferred', 'sending') LIMIT 1",
        )
        .bind(subscriber_id)
        .bind(campaign_id)
        .bind(issue)
        .fetch_optional(p)
        .await?))
    }

    /// Logs one bounce and applies the policy, in one transaction.
    pub async fn record_bounce(&self, b: &BounceRecord, policy: BouncePolicy) -> Result<Applied> {
        let _writer = self.writer().await;
        let now = unix_now();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let applied = log_bounce!(&mut tx, b, policy, now);
            tx.commit().await?;
            Ok(applied)
        })
    }

    /// The bounce log since a UNIX time, newest first; optionally one subscriber's.
    pub async fn bounces(
        &self,
        since: i64,
        subscriber_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<BounceEntry>> {
        Ok(with_pool!(self, p => sqlx::query_as(
            "SELECT id, subscriber_id, campaign_id, email, kind, status, diagnostic, source, attribution, received_at \
             FROM bounces WHERE received_at >= $1 AND (CAST($2 AS BIGINT) IS NULL OR subscriber_id = CAST($2 AS BIGINT)) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(since)
        .bind(subscriber_id)
        .bind(limit)
        .fetch_all(p)
        .await?))
    }
}
