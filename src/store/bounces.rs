//! The bounce log. Every bounce, complaint and sender-side refusal is logged with its evidence; the
//! suppression policy (`bounce::policy`, passed in as a [`Decide`]) then says, in the same
//! transaction, whether the subscriber stops receiving mail. The store reads the facts and writes
//! the outcome; it decides nothing.

use super::*;
use crate::domain::{Attribution, BounceClass, BounceReason, BounceSource, DeliveryState};

/// One piece of evidence to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceRecord {
    /// The subscriber it is about, once attributed.
    pub subscriber_id: Option<i64>,
    pub campaign_id: Option<i64>,
    /// The address the evidence names (as written there; it may not parse).
    pub email: Option<String>,
    pub kind: BounceClass,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub source: BounceSource,
    pub attribution: Attribution,
    /// Why it came back, when the reader decided it.
    pub reason: Option<BounceReason>,
    /// What decided the class and reason (a field, a phrase); stored at most 500 characters.
    pub evidence: Option<String>,
}

/// What the store reads about the subscriber, inside the transaction, for the policy to decide on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceFacts {
    pub current: SubscriberStatus,
    /// For a soft bounce: the soft bounces in distinct campaigns since `soft_since` and since the
    /// last delivery that did not bounce, this one included. `None` for other classes.
    pub soft_count: Option<i64>,
    /// For a soft bounce: seconds from the first of those counted to this one.
    pub soft_span_secs: Option<i64>,
}

/// What the policy decided for one logged bounce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Change the subscriber's status (only if it is still `facts.current`).
    Suppress(SubscriberStatus),
    /// A soft bounce counted, short of the limit.
    Counted { count: i64, limit: i64 },
    /// Logged; the subscriber is left as is.
    Log,
}

/// The suppression policy, as the store asks it (implemented by `bounce::policy::BouncePolicy`).
pub trait Decide: Send + Sync {
    /// Soft bounces received at or after this UNIX time count (the window's start).
    fn soft_since(&self, now: i64) -> i64;
    /// The decision for `record`, given `facts`.
    fn decide(&self, record: &BounceRecord, facts: &BounceFacts) -> Verdict;
}

/// What the policy did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "applied")]
pub enum Applied {
    /// The subscriber's status changed (to bounced or complained).
    Suppressed {
        subscriber_id: i64,
        status: SubscriberStatus,
    },
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BounceEntry {
    pub id: i64,
    pub subscriber_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub email: Option<String>,
    pub kind: BounceClass,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub source: BounceSource,
    pub attribution: Attribution,
    pub received_at: i64,
    /// `None` for rows logged before reasons were kept.
    pub reason: Option<BounceReason>,
    pub evidence: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    subscriber_id: Option<i64>,
    campaign_id: Option<i64>,
    email: Option<String>,
    kind: String,
    status: Option<String>,
    diagnostic: Option<String>,
    source: String,
    attribution: String,
    received_at: i64,
    reason: Option<String>,
    evidence: Option<String>,
}

impl TryFrom<EntryRow> for BounceEntry {
    type Error = StoreError;
    fn try_from(r: EntryRow) -> Result<Self> {
        let bad = |e: crate::domain::ParseError| {
            StoreError::Corrupt(format!("bounce log entry {}: {e}", r.id))
        };
        Ok(BounceEntry {
            kind: BounceClass::parse(&r.kind).map_err(bad)?,
            source: BounceSource::parse(&r.source).map_err(bad)?,
            attribution: Attribution::parse(&r.attribution).map_err(bad)?,
            id: r.id,
            subscriber_id: r.subscriber_id,
            campaign_id: r.campaign_id,
            email: r.email,
            status: r.status,
            diagnostic: r.diagnostic,
            received_at: r.received_at,
            // A word this version does not know (a newer one wrote it) is shown as no reason.
            reason: r
                .reason
                .as_deref()
                .and_then(|w| BounceReason::parse(w).ok()),
            evidence: r.evidence,
        })
    }
}

/// Logs one bounce inside an open transaction, reads the facts, asks the policy and applies its
/// verdict, on either backend; evaluates to the [`Applied`] outcome. Shared by
/// [`Store::record_bounce`] and by `record_many`, which logs a refusal during a send in the same
/// transaction as the delivery's outcome.
macro_rules! log_bounce {
    ($tx:expr, $b:expr, $policy:expr, $now:expr) => {{
        let tx = $tx;
        let b: &BounceRecord = $b;
        let now: i64 = $now;
        'apply: {
            sqlx::query(
                "INSERT INTO bounces (subscriber_id, campaign_id, email, kind, status, diagnostic, source, attribution, received_at, reason, evidence) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(b.subscriber_id)
            .bind(b.campaign_id)
            .bind(&b.email)
            .bind(b.kind.as_str())
            .bind(&b.status)
            .bind(&b.diagnostic)
            .bind(b.source.as_str())
            .bind(b.attribution.as_str())
            .bind(now)
            .bind(b.reason.map(|r| r.as_str()))
            .bind(b.evidence.as_deref().map(|e| e.chars().take(500).collect::<String>()))
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
            let current = SubscriberStatus::parse(&current).map_err(|e| StoreError::Corrupt(e.0))?;
            let (soft_count, soft_span_secs) = if b.kind == BounceClass::Soft {
                // Since the last delivery that did not bounce, and within the window.
                let reset: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(d.sent_at) FROM deliveries d WHERE d.subscriber_id = $1 AND d.state = 'sent' \
                     AND NOT EXISTS (SELECT 1 FROM bounces x WHERE x.subscriber_id = d.subscriber_id AND x.campaign_id = d.campaign_id)",
                )
                .bind(sid)
                .fetch_one(&mut **tx)
                .await?;
                let since = $policy.soft_since(now).max(reset.map_or(i64::MIN, |r| r + 1));
                let (count, first): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(DISTINCT COALESCE(campaign_id, -id)), MIN(received_at) FROM bounces \
                     WHERE subscriber_id = $1 AND kind = 'soft' AND received_at >= $2",
                )
                .bind(sid)
                .bind(since)
                .fetch_one(&mut **tx)
                .await?;
                (Some(count), Some(first.map_or(0, |f| now - f)))
            } else {
                (None, None)
            };
            let facts = BounceFacts { current, soft_count, soft_span_secs };
            let new_status = match $policy.decide(b, &facts) {
                Verdict::Counted { count, limit } => {
                    tracing::info!(subscriber_id = sid, count, limit, "soft bounce counted");
                    break 'apply Applied::Counted { subscriber_id: sid, count, limit };
                }
                Verdict::Log => {
                    if b.kind == BounceClass::Policy {
                        tracing::warn!(subscriber_id = sid, status = ?b.status, "a receiver refused our mail for policy or reputation reasons; check the sending setup");
                    }
                    break 'apply Applied::Logged { subscriber_id: sid };
                }
                Verdict::Suppress(status) => status,
            };
            let what = if b.reason == Some($crate::domain::BounceReason::Unsubscribe) {
                "an unsubscribe request in a feedback report".to_string()
            } else {
                format!("{} bounce", b.kind)
            };
            let evidence = format!(
                "{what} ({}, attributed by {}){}{}{}",
                b.source,
                b.attribution,
                b.campaign_id.map(|c| format!(", campaign {c}")).unwrap_or_default(),
                b.status.as_deref().map(|s| format!(": {s}")).unwrap_or_default(),
                b.diagnostic.as_deref().map(|d| format!(" {d}")).unwrap_or_default(),
            );
            sqlx::query("UPDATE subscribers SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
                .bind(new_status.as_str())
                .bind(now)
                .bind(sid)
                .bind(current.as_str())
                .execute(&mut **tx)
                .await?;
            sqlx::query("INSERT INTO subscriber_events (subscriber_id, at, source, old_status, new_status, detail) VALUES ($1, $2, 'bounce', $3, $4, $5)")
                .bind(sid)
                .bind(now)
                .bind(current.as_str())
                .bind(new_status.as_str())
                .bind(&evidence)
                .execute(&mut **tx)
                .await?;
            tracing::info!(subscriber_id = sid, from = %current, to = %new_status, "subscriber suppressed by a bounce");
            Applied::Suppressed { subscriber_id: sid, status: new_status }
        }
    }};
}

/// A bounce log entry as the breaker reads it: id, subscriber, provider, reason, diagnostic.
type LogRow = (i64, i64, Option<String>, Option<String>, Option<String>);

/// A refusal about us that came back by mail (or from a provider's event) while a campaign was
/// going out: what its circuit breaker reads besides the replies of the send itself.
#[derive(Debug, Clone, PartialEq)]
pub struct SenderBounce {
    /// The bounce log entry's id (they come in id order).
    pub id: i64,
    /// Whose copy it bounced.
    pub subscriber_id: i64,
    /// The provider of the delivery it bounced.
    pub provider: String,
    pub reason: BounceReason,
    /// What the remote said (one line).
    pub diagnostic: String,
}

impl Store {
    /// The newest bounce log entry's id (0 when the log is empty): where a run starts reading.
    pub async fn last_bounce_id(&self) -> Result<i64> {
        Ok(with_pool!(self, p => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(id) FROM bounces",
        )
        .fetch_one(p)
        .await?)
        .unwrap_or(0))
    }

    /// The refusals about us logged for `campaign_id` after entry `after`, that did not come from
    /// the send itself (those the engine has seen already): bounces by mail, provider events.
    /// Reads at most 1,000 entries at a time, in id order; returns those about us and the last id
    /// read (where the next call starts).
    pub async fn sender_bounces_after(
        &self,
        campaign_id: i64,
        after: i64,
    ) -> Result<(Vec<SenderBounce>, i64)> {
        let rows: Vec<LogRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT b.id, b.subscriber_id, d.provider, b.reason, b.diagnostic FROM bounces b \
             LEFT JOIN deliveries d ON d.campaign_id = b.campaign_id AND d.subscriber_id = b.subscriber_id \
             WHERE b.id > $2 AND b.campaign_id = $1 AND b.source <> 'smtp' AND b.subscriber_id IS NOT NULL \
             ORDER BY b.id LIMIT 1000",
        )
        .bind(campaign_id)
        .bind(after)
        .fetch_all(p)
        .await?);
        let last = rows.last().map_or(after, |r| r.0);
        let about_us = rows
            .into_iter()
            .filter_map(|(id, subscriber_id, provider, reason, diagnostic)| {
                let reason = BounceReason::parse(reason.as_deref()?).ok()?;
                reason.is_sender_side().then_some(())?;
                Some(SenderBounce {
                    id,
                    subscriber_id,
                    provider: provider.unwrap_or_else(|| "other".into()),
                    reason,
                    diagnostic: diagnostic.unwrap_or_default(),
                })
            })
            .collect();
        Ok((about_us, last))
    }

    /// Bounce log entries since a time, per kind (hard, soft, complaint, policy), most first.
    pub async fn bounce_counts_since(&self, since: i64) -> Result<Vec<(String, i64)>> {
        Ok(with_pool!(self, p => sqlx::query_as(
            "SELECT kind, COUNT(*) AS n FROM bounces WHERE received_at >= $1 GROUP BY kind ORDER BY n DESC, kind",
        )
        .bind(since)
        .fetch_all(p)
        .await?))
    }

    /// The campaign and address of a subscriber's delivery, found by campaign id (from a VERP) or by
    /// issue number (from our Message-ID), in one query; `None` if there is no such delivery.
    pub async fn find_delivery(
        &self,
        campaign_id: Option<i64>,
        issue: Option<i64>,
        subscriber_id: i64,
    ) -> Result<Option<(i64, String)>> {
        // Only a message we handed over can bounce: not a row still queued or skipped.
        let rows: Vec<(i64, String, String)> = with_pool!(self, p => sqlx::query_as(
            "SELECT d.campaign_id, d.email, d.state FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id \
             WHERE d.subscriber_id = $1 AND (c.id = CAST($2 AS BIGINT) OR c.issue_number = CAST($3 AS BIGINT))",
        )
        .bind(subscriber_id)
        .bind(campaign_id)
        .bind(issue)
        .fetch_all(p)
        .await?);
        for (campaign, email, state) in rows {
            let state = DeliveryState::parse(&state).map_err(|e| StoreError::Corrupt(e.0))?;
            if state.was_handed_over() {
                return Ok(Some((campaign, email)));
            }
        }
        Ok(None)
    }

    /// Logs one bounce and applies the policy, in one transaction.
    pub async fn record_bounce(&self, b: &BounceRecord, policy: impl Decide) -> Result<Applied> {
        let _writer = self.writer().await;
        let now = unix_now();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let applied = log_bounce!(&mut tx, b, policy, now);
            tx.commit().await?;
            Ok(applied)
        })
    }

    /// Logs many bounces and applies the policy to each, in order, in one transaction: what a
    /// Maildir run does with a few hundred messages at a time. Each sees the ones before it (a
    /// soft bounce counts the earlier ones of the batch); all or none are written.
    pub async fn record_bounces(
        &self,
        records: &[&BounceRecord],
        policy: impl Decide,
    ) -> Result<Vec<Applied>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let _writer = self.writer().await;
        let now = unix_now();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let mut out = Vec::with_capacity(records.len());
            for b in records {
                out.push(log_bounce!(&mut tx, b, &policy, now));
            }
            tx.commit().await?;
            Ok(out)
        })
    }

    /// The bounce log since a UNIX time, newest first; optionally one subscriber's.
    pub async fn bounces(
        &self,
        since: i64,
        subscriber_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<BounceEntry>> {
        let rows: Vec<EntryRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, subscriber_id, campaign_id, email, kind, status, diagnostic, source, attribution, received_at, reason, evidence \
             FROM bounces WHERE received_at >= $1 AND (CAST($2 AS BIGINT) IS NULL OR subscriber_id = CAST($2 AS BIGINT)) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(since)
        .bind(subscriber_id)
        .bind(limit)
        .fetch_all(p)
        .await?);
        rows.into_iter().map(BounceEntry::try_from).collect()
    }
}
