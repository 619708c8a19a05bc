//! The delivery queue. Before the first message of a campaign leaves, every recipient has a row
//! (the snapshot); workers claim rows of one provider with a lease (PostgreSQL: `FOR UPDATE SKIP
//! LOCKED`; SQLite: the single writer) and record each outcome as it happens. A crash loses at most
//! the leased rows, which are claimed again when the lease expires. Each provider's pace is kept
//! here too, for `status`. The campaigns themselves are [`super::campaigns`]'s.

use super::*;
use crate::domain::{
    Attribution, BounceClass, BounceSource, CampaignState, DeliveryState, ProviderMap, ProviderName,
};

/// A claimed delivery, with the subscriber as they are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub subscriber_id: i64,
    /// The address as snapshotted.
    pub email: StoredAddress,
    /// Attempts including this one.
    pub attempts: i64,
    /// The subscriber's current unsubscribe token (`None` if the subscriber was erased).
    pub token: Option<UnsubscribeToken>,
    /// The subscriber's current status (`None` if erased).
    pub status: Option<SubscriberStatus>,
    /// The lease owner that holds this row; outcomes must name it.
    pub owner: String,
    /// The recipient's mailbox provider, as mapped at the snapshot.
    pub provider: ProviderName,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    subscriber_id: i64,
    email: String,
    attempts: i64,
    token: Option<String>,
    status: Option<String>,
    owner: String,
    provider: String,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;
    fn try_from(r: DeliveryRow) -> Result<Self> {
        let corrupt =
            |what: String| StoreError::Corrupt(format!("subscriber {}: {what}", r.subscriber_id));
        Ok(Delivery {
            token: r
                .token
                .as_deref()
                .map(UnsubscribeToken::parse)
                .transpose()
                .map_err(|_| corrupt("a malformed token".into()))?,
            status: r
                .status
                .as_deref()
                .map(SubscriberStatus::parse)
                .transpose()
                .map_err(|e| corrupt(e.0))?,
            subscriber_id: r.subscriber_id,
            email: StoredAddress::read(r.email),
            attempts: r.attempts,
            owner: r.owner,
            provider: ProviderName::parse(&r.provider).unwrap_or_else(|_| ProviderName::other()),
        })
    }
}

/// What happened to one claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the relay (or written to the outbox).
    Sent,
    /// Accepted by a provider's API, which named the message (SES's `MessageId`): the id is kept
    /// with the delivery, so that the provider's events about it can be tied to it.
    SentAs { provider_message_id: String },
    /// A transient failure: queued again, not before the given UNIX time.
    Retry { not_before: i64, error: String },
    /// Transient failures used up every attempt: a later `send` run retries it.
    Deferred { error: String },
    /// Refused for good. With `bounce`, it is logged as a hard bounce and the subscriber is
    /// suppressed, in the same transaction.
    Failed {
        error: String,
        bounce: Option<SyncBounce>,
    },
    /// Not sent, because the subscriber left (or was erased) after the snapshot.
    Skipped { reason: String },
    /// Not attempted (shutdown): back to the queue without counting the attempt.
    Released,
    /// The recipient's provider asked us to slow down: back to the queue until `not_before`,
    /// without counting the attempt (the message was fine; the pace was not).
    Throttled { not_before: i64, error: String },
}

/// A recipient refused with a 5xx during the SMTP transaction, logged as a bounce of `class`: hard
/// only when the reply says the address is gone; a refusal about us or the message is `policy`
/// and suppresses nobody (see `bounce::classify::reply_reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncBounce {
    /// Enhanced status code if the reply had one (`5.1.1`), else the basic code (`550`).
    pub status: String,
    pub diagnostic: String,
    pub class: BounceClass,
    /// Why, read from the reply (`bounce::classify::reply_reason`).
    pub reason: crate::domain::BounceReason,
}

/// One outcome to record for a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub subscriber_id: i64,
    pub owner: String,
    pub outcome: Outcome,
}

/// One outcome as the columns it writes.
struct OutcomeRow<'a> {
    subscriber_id: i64,
    owner: &'a str,
    state: DeliveryState,
    error: Option<&'a str>,
    not_before: Option<i64>,
    /// 1 when the attempt is given back (not attempted, or throttled).
    back: i64,
    provider_message_id: Option<&'a str>,
}

impl<'a> OutcomeRow<'a> {
    fn of(r: &'a Recorded) -> Self {
        let (state, error, not_before, back) = match &r.outcome {
            Outcome::Sent | Outcome::SentAs { .. } => (DeliveryState::Sent, None, None, 0),
            Outcome::Retry { not_before, error } => (
                DeliveryState::Queued,
                Some(error.as_str()),
                Some(*not_before),
                0,
            ),
            Outcome::Deferred { error } => (DeliveryState::Deferred, Some(error.as_str()), None, 0),
            Outcome::Failed { error, .. } => (DeliveryState::Failed, Some(error.as_str()), None, 0),
            Outcome::Skipped { reason } => (DeliveryState::Skipped, Some(reason.as_str()), None, 0),
            Outcome::Released => (DeliveryState::Queued, None, None, 1),
            Outcome::Throttled { not_before, error } => (
                DeliveryState::Queued,
                Some(error.as_str()),
                Some(*not_before),
                1,
            ),
        };
        Self {
            subscriber_id: r.subscriber_id,
            owner: &r.owner,
            state,
            error,
            not_before,
            back,
            provider_message_id: match &r.outcome {
                Outcome::SentAs {
                    provider_message_id,
                } => Some(provider_message_id.as_str()),
                _ => None,
            },
        }
    }
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

impl DeliveryCounts {
    /// Counts `n` more rows in `state`.
    pub fn add(&mut self, state: DeliveryState, n: i64) {
        *match state {
            DeliveryState::Queued => &mut self.queued,
            DeliveryState::Sending => &mut self.sending,
            DeliveryState::Sent => &mut self.sent,
            DeliveryState::Deferred => &mut self.deferred,
            DeliveryState::Failed => &mut self.failed,
            DeliveryState::Skipped => &mut self.skipped,
        } += n;
    }

    /// All rows.
    pub fn total(&self) -> i64 {
        self.queued + self.sending + self.sent + self.deferred + self.failed + self.skipped
    }
}

/// One delivery of one subscriber, for the console.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct SubscriberDelivery {
    pub issue_number: i64,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

/// A provider's pace as a worker has it now.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderPace {
    pub provider: ProviderName,
    /// Messages per second; `None`: not limited.
    pub rate: Option<f64>,
    /// Throttling replies so far.
    pub throttled: i64,
}

/// One provider's part of a campaign, for `status`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProviderStatus {
    pub provider: String,
    pub counts: DeliveryCounts,
    /// Queued rows waiting for their retry time.
    pub waiting: i64,
    /// The pace last recorded, messages per second; `None`: not limited.
    pub rate: Option<f64>,
    /// Throttling replies so far.
    pub throttled: i64,
    /// Readers of this provider who complained about this campaign (each counted once, however
    /// many reports came for them).
    pub complaints: i64,
}

impl ProviderStatus {
    /// A provider with nothing counted yet.
    pub fn named(provider: &str) -> Self {
        Self {
            provider: provider.to_string(),
            counts: DeliveryCounts::default(),
            waiting: 0,
            rate: None,
            throttled: 0,
            complaints: 0,
        }
    }

    /// Complaints over messages delivered, in percent; `None` before anything was delivered.
    pub fn complaint_percent(&self) -> Option<f64> {
        (self.counts.sent > 0).then(|| 100.0 * self.complaints as f64 / self.counts.sent as f64)
    }
}

impl Store {
    /// Gives every active subscriber a queued delivery row, with the provider of their domain, and
    /// marks the campaign as sending (or, with `scheduled_at`, as scheduled for then), in one
    /// transaction. Only the first call does anything: a resumed send keeps the original list.
    /// Returns the rows added.
    pub async fn snapshot(
        &self,
        campaign_id: i64,
        scheduled_at: Option<i64>,
        providers: &ProviderMap,
    ) -> Result<u64> {
        let _writer = self.writer().await;
        let now = unix_now();
        let domain = self.domain_sql("email");
        let state = if scheduled_at.is_some() {
            CampaignState::Scheduled
        } else {
            CampaignState::Sending
        };
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let started = sqlx::query(
                "UPDATE campaigns SET state = $2, scheduled_at = $3, \
                 started_at = CASE WHEN $3 IS NULL THEN $4 ELSE NULL END WHERE id = $1 AND state = 'created'",
            )
            .bind(campaign_id)
            .bind(state.as_str())
            .bind(scheduled_at)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if started != 1 {
                tx.commit().await?;
                return Ok(0);
            }
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
            // Providers by domain: the few distinct domains are mapped here, then every row of a
            // provider other than `other` is set in one statement per provider.
            let domains: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT DISTINCT {domain} FROM deliveries WHERE campaign_id = $1"
            )))
            .bind(campaign_id)
            .fetch_all(&mut *tx)
            .await?;
            let mut by_provider: std::collections::BTreeMap<ProviderName, Vec<String>> = Default::default();
            for d in domains {
                let provider = providers.provider_of(&d);
                if provider.as_str() != ProviderName::OTHER {
                    by_provider.entry(provider).or_default().push(d);
                }
            }
            for (provider, domains) in by_provider {
                for chunk in domains.chunks(500) {
                    let list = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
                    let sql = format!("UPDATE deliveries SET provider = $2 WHERE campaign_id = $1 AND {domain} IN ({list})");
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(campaign_id).bind(provider.as_str());
                    for d in chunk {
                        q = q.bind(d);
                    }
                    q.execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    /// The lowercase domain of an address column, in this backend's SQL.
    fn domain_sql(&self, column: &str) -> String {
        match self.backend {
            Backend::Sqlite(_) => format!("lower(substr({column}, instr({column}, '@') + 1))"),
            Backend::Postgres(_) => format!("lower(split_part({column}, '@', 2))"),
        }
    }

    /// Puts deferred deliveries back in the queue (a new `send` run retries them) and reopens the
    /// campaign. Returns how many.
    pub async fn requeue_deferred(&self, campaign_id: i64) -> Result<u64> {
        let _writer = self.writer().await;
        let now = unix_now();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query("UPDATE deliveries SET state = 'queued', attempts = 0, not_before = NULL, updated_at = $2 WHERE campaign_id = $1 AND state = 'deferred'")
                .bind(campaign_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                sqlx::query("UPDATE campaigns SET state = 'sending', finished_at = NULL WHERE id = $1 AND state = 'done'")
                    .bind(campaign_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(n)
        })
    }

    /// Claims up to `limit` deliveries of one provider for `owner` until `lease_secs` from now:
    /// queued rows whose retry time has come, and rows whose lease has expired (a worker that died).
    /// Each claim counts as an attempt. `owner` must be unique per claim. Nothing is claimed unless the
    /// campaign is sending, checked in the same statement, so a pause takes effect at once.
    pub async fn claim(
        &self,
        campaign_id: i64,
        provider: &ProviderName,
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
        // Two index-driven claims (fresh rows, then expired leases) rather than one query with OR and
        // ORDER BY: that one walks every row already sent on each claim, which is quadratic over a
        // campaign. Order does not matter to delivery.
        //
        // On PostgreSQL the rows are picked once, in a materialised CTE: as `IN (subquery … LIMIT
        // … SKIP LOCKED)` the planner may choose a nested-loop semi join that runs the subquery
        // again for every outer row, each time picking other rows, so that one claim of 100 took
        // every row of the campaign (seen on a fresh, unanalysed table once `deliveries` had one
        // column more).
        let claim = |state: &str, due: &str| {
            let pick = format!(
                "SELECT subscriber_id FROM deliveries WHERE campaign_id = $1 AND provider = $6 AND state = '{state}' \
                 AND {due} LIMIT $5{lock}"
            );
            let (with, picked) = match self.backend {
                Backend::Postgres(_) => (
                    format!("WITH picked AS MATERIALIZED ({pick}) "),
                    "SELECT subscriber_id FROM picked".to_string(),
                ),
                Backend::Sqlite(_) => (String::new(), pick),
            };
            format!(
                "{with}UPDATE deliveries SET state = 'sending', lease_owner = $2, lease_until = $3, attempts = attempts + 1, updated_at = $4 \
                 WHERE campaign_id = $1 AND subscriber_id IN ({picked}) \
                 AND EXISTS (SELECT 1 FROM campaigns WHERE id = $1 AND state = 'sending')"
            )
        };
        let fresh = claim("queued", "(not_before IS NULL OR not_before <= $4)");
        let expired = claim("sending", "lease_until < $4");
        let server = matches!(self.backend, Backend::Postgres(_));
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            if server {
                // A claim need not wait for its WAL flush: lost in a server crash, its rows are
                // only in flight, as after a worker's crash (sent again once the lease ends).
                sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
            }
            let got = sqlx::query(sqlx::AssertSqlSafe(fresh))
                .bind(campaign_id)
                .bind(owner)
                .bind(now + lease_secs)
                .bind(now)
                .bind(limit)
                .bind(provider.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
            if got < limit {
                sqlx::query(sqlx::AssertSqlSafe(expired))
                    .bind(campaign_id)
                    .bind(owner)
                    .bind(now + lease_secs)
                    .bind(now)
                    .bind(limit - got)
                    .bind(provider.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            let rows: Vec<DeliveryRow> = sqlx::query_as(
                "SELECT d.subscriber_id, d.email, d.attempts, s.token, s.status, d.lease_owner AS owner, d.provider \
                 FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id \
                 WHERE d.campaign_id = $1 AND d.state = 'sending' AND d.lease_owner = $2",
            )
            .bind(campaign_id)
            .bind(owner)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            // Sorted here: ORDER BY in SQL made SQLite walk the primary key over every row of the
            // campaign on each claim instead of the few rows in flight.
            let mut rows = rows.into_iter().map(Delivery::try_from).collect::<Result<Vec<_>>>()?;
            rows.sort_by_key(|d: &Delivery| d.subscriber_id);
            Ok(rows)
        })
    }

    /// The providers with deliveries queued or in flight in a campaign.
    pub async fn pending_providers(&self, campaign_id: i64) -> Result<Vec<ProviderName>> {
        let names: Vec<String> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT DISTINCT provider FROM deliveries WHERE campaign_id = $1 AND state IN ('queued', 'sending')",
        )
        .bind(campaign_id)
        .fetch_all(p)
        .await?);
        Ok(names
            .iter()
            .map(|n| ProviderName::parse(n).unwrap_or_else(|_| ProviderName::other()))
            .collect())
    }

    /// Keeps each provider's current pace and throttling count for `status`.
    pub async fn save_paces(&self, campaign_id: i64, paces: &[ProviderPace]) -> Result<()> {
        if paces.is_empty() {
            return Ok(());
        }
        let _writer = self.writer().await;
        let now = unix_now();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for pace in paces {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO provider_rates (campaign_id, provider, rate, throttled, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (campaign_id, provider) DO UPDATE SET rate = excluded.rate, \
                     throttled = {}(provider_rates.throttled, excluded.throttled), updated_at = excluded.updated_at",
                    self.greatest()
                )))
                .bind(campaign_id)
                .bind(pace.provider.as_str())
                .bind(pace.rate)
                .bind(pace.throttled)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn greatest(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "MAX",
            Backend::Postgres(_) => "GREATEST",
        }
    }

    /// Per provider: rows per state, and the pace last recorded.
    pub async fn provider_counts(&self, campaign_id: i64) -> Result<Vec<ProviderStatus>> {
        let rows: Vec<(String, String, i64, i64)> = with_pool!(self, p => sqlx::query_as(
            "SELECT provider, state, COUNT(*), SUM(CASE WHEN state = 'queued' AND not_before > $2 THEN 1 ELSE 0 END) \
             FROM deliveries WHERE campaign_id = $1 GROUP BY provider, state",
        )
        .bind(campaign_id)
        .bind(unix_now())
        .fetch_all(p)
        .await?);
        let paces: Vec<(String, Option<f64>, i64)> = with_pool!(self, p => sqlx::query_as(
            "SELECT provider, rate, throttled FROM provider_rates WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .fetch_all(p)
        .await?);
        let mut out: std::collections::BTreeMap<String, ProviderStatus> = Default::default();
        for (provider, state, n, waiting) in rows {
            let entry = out
                .entry(provider.clone())
                .or_insert_with(|| ProviderStatus::named(&provider));
            let state = DeliveryState::parse(&state).map_err(|e| StoreError::Corrupt(e.0))?;
            entry.counts.add(state, n);
            entry.waiting += waiting;
        }
        for (provider, rate, throttled) in paces {
            let entry = out
                .entry(provider.clone())
                .or_insert_with(|| ProviderStatus::named(&provider));
            entry.rate = rate;
            entry.throttled = throttled;
        }
        // A complaint belongs to the provider of the delivery it was about.
        let complaints: Vec<(String, i64)> = with_pool!(self, p => sqlx::query_as(
            "SELECT d.provider, COUNT(DISTINCT b.subscriber_id) FROM bounces b \
             JOIN deliveries d ON d.campaign_id = b.campaign_id AND d.subscriber_id = b.subscriber_id \
             WHERE b.campaign_id = $1 AND b.kind = 'complaint' GROUP BY d.provider",
        )
        .bind(campaign_id)
        .fetch_all(p)
        .await?);
        for (provider, n) in complaints {
            out.entry(provider.clone())
                .or_insert_with(|| ProviderStatus::named(&provider))
                .complaints = n;
        }
        Ok(out.into_values().collect())
    }

    /// Messages sent since a time, over every campaign (the warm-up's count for the day).
    pub async fn sent_since(&self, since: i64) -> Result<i64> {
        Ok(with_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE state = 'sent' AND sent_at >= $1",
        )
        .bind(since)
        .fetch_one(p)
        .await?))
    }

    /// Records outcomes in one transaction. Each applies only while its owner still holds the row;
    /// returns how many did not (their lease had expired and another worker took them).
    pub async fn record_many(
        &self,
        campaign_id: i64,
        outcomes: &[Recorded],
        policy: &dyn Decide,
    ) -> Result<usize> {
        if outcomes.is_empty() {
            return Ok(0);
        }
        let _writer = self.writer().await;
        let now = unix_now();
        let rows: Vec<OutcomeRow> = outcomes.iter().map(OutcomeRow::of).collect();
        // A refusal during the send is a bounce of its reply's class, logged and applied in the same
        // transaction as its outcome, by the policy every bounce goes through; only for outcomes that were recorded.
        macro_rules! log_refusals {
            ($tx:expr, $recorded:expr) => {
                for r in outcomes {
                    let Outcome::Failed { bounce: Some(b), .. } = &r.outcome else { continue };
                    if !$recorded.contains(&r.subscriber_id) {
                        continue;
                    }
                    let email: String = sqlx::query_scalar("SELECT email FROM deliveries WHERE campaign_id = $1 AND subscriber_id = $2")
                        .bind(campaign_id)
                        .bind(r.subscriber_id)
                        .fetch_one(&mut *$tx)
                        .await?;
                    let record = BounceRecord {
                        subscriber_id: Some(r.subscriber_id),
                        campaign_id: Some(campaign_id),
                        email: Some(email),
                        kind: b.class,
                        status: Some(b.status.clone()),
                        diagnostic: Some(b.diagnostic.clone()),
                        source: BounceSource::Smtp,
                        attribution: Attribution::Delivery,
                        reason: Some(b.reason),
                        evidence: Some(format!("the server's reply during the send: {}", b.diagnostic)),
                    };
                    log_bounce!(&mut $tx, &record, policy, now);
                }
            };
        }
        let recorded: std::collections::HashSet<i64> = match &self.backend {
            // One statement for the whole batch: on a server, a round trip per outcome is what
            // limits a send.
            Backend::Postgres(p) => {
                let mut tx = p.begin().await?;
                let ids: Vec<i64> = sqlx::query_scalar(
                    "UPDATE deliveries d SET state = u.state, last_error = COALESCE(u.error, d.last_error), \
                     not_before = u.not_before, attempts = d.attempts - u.back, lease_owner = NULL, lease_until = NULL, \
                     updated_at = $2, sent_at = CASE WHEN u.state = 'sent' THEN $2 ELSE d.sent_at END, \
                     provider_message_id = COALESCE(u.provider_message_id, d.provider_message_id) \
                     FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[]) \
                       AS u(subscriber_id, owner, state, error, not_before, back, provider_message_id) \
                     WHERE d.campaign_id = $1 AND d.subscriber_id = u.subscriber_id AND d.lease_owner = u.owner \
                       AND d.state = 'sending' RETURNING d.subscriber_id",
                )
                .bind(campaign_id)
                .bind(now)
                .bind(rows.iter().map(|r| r.subscriber_id).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.owner.to_string()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.state.as_str().to_string()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.error.map(str::to_string)).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.not_before).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.back).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.provider_message_id.map(str::to_string)).collect::<Vec<_>>())
                .fetch_all(&mut *tx)
                .await?;
                let recorded = ids.into_iter().collect::<std::collections::HashSet<i64>>();
                log_refusals!(tx, recorded);
                tx.commit().await?;
                recorded
            }
            Backend::Sqlite(p) => {
                let mut tx = p.begin().await?;
                let mut recorded = std::collections::HashSet::new();
                for r in &rows {
                    let n = sqlx::query(
                        "UPDATE deliveries SET state = $4, last_error = COALESCE($5, last_error), not_before = $6, \
                         attempts = attempts - $7, lease_owner = NULL, lease_until = NULL, updated_at = $8, \
                         sent_at = CASE WHEN $4 = 'sent' THEN $8 ELSE sent_at END, \
                         provider_message_id = COALESCE($9, provider_message_id) \
                         WHERE campaign_id = $1 AND subscriber_id = $2 AND lease_owner = $3 AND state = 'sending'",
                    )
                    .bind(campaign_id)
                    .bind(r.subscriber_id)
                    .bind(r.owner)
                    .bind(r.state.as_str())
                    .bind(r.error)
                    .bind(r.not_before)
                    .bind(r.back)
                    .bind(now)
                    .bind(r.provider_message_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n == 1 {
                        recorded.insert(r.subscriber_id);
                    }
                }
                log_refusals!(tx, recorded);
                tx.commit().await?;
                recorded
            }
        };
        Ok(outcomes.len() - recorded.len())
    }

    /// When something of this campaign becomes claimable that is not claimable now: the earliest
    /// retry time of a queued row, or the earliest lease expiry of a row in flight. `None` when nothing
    /// is queued or in flight.
    pub async fn next_wake(&self, campaign_id: i64) -> Result<Option<i64>> {
        // No row when the campaign is not sending (paused or cancelled): nothing will be claimable.
        let row: Option<(Option<i64>, Option<i64>)> = with_pool!(self, p => sqlx::query_as(
            "SELECT (SELECT MIN(COALESCE(not_before, 0)) FROM deliveries WHERE campaign_id = $1 AND state = 'queued'), \
                    (SELECT MIN(lease_until) FROM deliveries WHERE campaign_id = $1 AND state = 'sending') \
             FROM campaigns WHERE id = $1 AND state = 'sending'",
        )
        .bind(campaign_id)
        .fetch_optional(p)
        .await?);
        let Some((retry, lease)) = row else {
            return Ok(None);
        };
        Ok(match (retry, lease) {
            (Some(a), Some(b)) => Some(a.min(b + 1)),
            (a, b) => a.or(b.map(|b| b + 1)),
        })
    }

    /// A subscriber's deliveries, newest campaign first.
    pub async fn deliveries_of(
        &self,
        subscriber_id: i64,
        limit: i64,
    ) -> Result<Vec<SubscriberDelivery>> {
        Ok(with_pool!(self, p => sqlx::query_as(
            "SELECT c.issue_number, d.state, d.attempts, d.last_error, d.sent_at FROM deliveries d \
             JOIN campaigns c ON c.id = d.campaign_id WHERE d.subscriber_id = $1 ORDER BY c.issue_number DESC LIMIT $2",
        )
        .bind(subscriber_id)
        .bind(limit)
        .fetch_all(p)
        .await?))
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
            c.add(
                DeliveryState::parse(&state).map_err(|e| StoreError::Corrupt(e.0))?,
                n,
            );
        }
        Ok(c)
    }

    /// Deliveries claimed under a lease that has not ended: messages some worker may still be
    /// handing to the transport. (A row whose lease has ended belongs to a worker that died; nobody
    /// sends it until the campaign runs again.)
    pub async fn leased_now(&self, campaign_id: i64) -> Result<i64> {
        Ok(with_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE campaign_id = $1 AND state = 'sending' AND lease_until >= $2",
        )
        .bind(campaign_id)
        .bind(unix_now())
        .fetch_one(p)
        .await?))
    }

    /// The most common errors of failed and deferred deliveries, most frequent first.
    pub async fn failure_reasons(
        &self,
        campaign_id: i64,
        limit: i64,
    ) -> Result<Vec<(String, i64)>> {
        Ok(with_pool!(self, p => sqlx::query_as(
            "SELECT COALESCE(last_error, '(none)'), COUNT(*) AS n FROM deliveries \
             WHERE campaign_id = $1 AND state IN ('failed', 'deferred') \
             GROUP BY COALESCE(last_error, '(none)') ORDER BY n DESC, 1 LIMIT $2",
        )
        .bind(campaign_id)
        .bind(limit)
        .fetch_all(p)
        .await?))
    }
}
