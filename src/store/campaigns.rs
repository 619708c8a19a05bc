//! Campaigns: one per issue, created on the first `send`, and their life as operators and the engine
//! move them (scheduled, started when due, paused by an operator or the circuit breaker, resumed,
//! cancelled, done). Each move is one statement that checks the state it moves from, so two movers
//! cannot both win. The rows a campaign delivers live in the queue ([`super::queue`]).

use super::*;
use crate::domain::CampaignState;

/// One campaign: one issue sent to the list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Campaign {
    pub id: i64,
    pub issue_number: i64,
    pub content_hash: String,
    pub subject: String,
    pub state: CampaignState,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// When a scheduled campaign starts (UNIX seconds).
    pub scheduled_at: Option<i64>,
    /// The issue's Markdown as enqueued, so any worker renders the same message.
    #[serde(skip)]
    pub source: Option<String>,
    /// How it is to be sent, as `send` was told (a later `worker` sends it the same way).
    pub delivery: CampaignDelivery,
}

/// How a campaign is to be sent: given at `send` (or `send --at`), kept with the campaign.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CampaignDelivery {
    /// The transport URL (no password: that comes from the environment).
    pub transport: Option<String>,
    /// Messages per second, 0 for no limit.
    pub rate: Option<f64>,
    /// Connections at once.
    pub concurrency: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CampaignRow {
    id: i64,
    issue_number: i64,
    content_hash: String,
    subject: String,
    state: String,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    scheduled_at: Option<i64>,
    source: Option<String>,
    transport: Option<String>,
    rate: Option<f64>,
    concurrency: Option<i64>,
}

impl TryFrom<CampaignRow> for Campaign {
    type Error = StoreError;
    fn try_from(r: CampaignRow) -> Result<Self> {
        Ok(Campaign {
            state: CampaignState::parse(&r.state)
                .map_err(|e| StoreError::Corrupt(format!("campaign {}: {e}", r.id)))?,
            id: r.id,
            issue_number: r.issue_number,
            content_hash: r.content_hash,
            subject: r.subject,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            scheduled_at: r.scheduled_at,
            source: r.source,
            delivery: CampaignDelivery {
                transport: r.transport,
                rate: r.rate,
                concurrency: r.concurrency,
            },
        })
    }
}

/// An operator's command to a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
}

impl Control {
    fn past(self) -> &'static str {
        match self {
            Control::Pause => "paused",
            Control::Resume => "resumed",
            Control::Cancel => "cancelled",
        }
    }
}

/// Timing of a campaign, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CampaignTimes {
    pub first_sent_at: Option<i64>,
    pub last_sent_at: Option<i64>,
}

const CAMPAIGN_COLUMNS: &str = "id, issue_number, content_hash, subject, state, created_at, started_at, finished_at, scheduled_at, source, transport, rate, concurrency";

impl Store {
    /// The campaign for an issue, created on first use. If the issue's text changed, a campaign that
    /// has not started takes the new text, and one that has started refuses with
    /// [`StoreError::ContentChanged`].
    pub async fn campaign_for_issue(
        &self,
        number: i64,
        content_hash: &str,
        subject: &str,
        source: &str,
    ) -> Result<Campaign> {
        let _writer = self.writer().await;
        let now = unix_now();
        let existing = self.campaign_by_number(number).await?;
        match existing {
            Some(c) if c.content_hash == content_hash => Ok(c),
            Some(c) if c.state != CampaignState::Created => Err(StoreError::ContentChanged {
                number,
                started: c.content_hash,
                now: content_hash.to_string(),
            }),
            Some(c) => {
                with_pool!(self, p => {
                    sqlx::query("UPDATE campaigns SET content_hash = $1, subject = $2, source = $3 WHERE id = $4")
                        .bind(content_hash)
                        .bind(subject)
                        .bind(source)
                        .bind(c.id)
                        .execute(p)
                        .await?;
                });
                Ok(Campaign {
                    content_hash: content_hash.to_string(),
                    subject: subject.to_string(),
                    source: Some(source.to_string()),
                    ..c
                })
            }
            None => {
                let sql = format!(
                    "INSERT INTO campaigns (issue_number, content_hash, subject, state, created_at, source) \
                     VALUES ($1, $2, $3, 'created', $4, $5) RETURNING {CAMPAIGN_COLUMNS}"
                );
                let row: CampaignRow = with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(number)
                    .bind(content_hash)
                    .bind(subject)
                    .bind(now)
                    .bind(source)
                    .fetch_one(p)
                    .await?);
                row.try_into()
            }
        }
    }

    /// The campaign of an issue, if there is one.
    pub async fn campaign_by_number(&self, number: i64) -> Result<Option<Campaign>> {
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE issue_number = $1");
        let row: Option<CampaignRow> = with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(number).fetch_optional(p).await?);
        row.map(Campaign::try_from).transpose()
    }

    /// Campaigns, newest issue first.
    pub async fn campaigns(&self) -> Result<Vec<Campaign>> {
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns ORDER BY issue_number DESC");
        let rows: Vec<CampaignRow> =
            with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await?);
        rows.into_iter().map(Campaign::try_from).collect()
    }

    /// Campaigns with deliveries still to make, oldest first (what `worker` looks for).
    pub async fn campaigns_sending(&self) -> Result<Vec<Campaign>> {
        let sql =
            format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE state = 'sending' ORDER BY id");
        let rows: Vec<CampaignRow> =
            with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await?);
        rows.into_iter().map(Campaign::try_from).collect()
    }

    /// Starts every scheduled campaign whose time has come. Returns their issue numbers.
    pub async fn start_due(&self) -> Result<Vec<i64>> {
        let _writer = self.writer().await;
        let now = unix_now();
        Ok(with_pool!(self, p => sqlx::query_scalar(
            "UPDATE campaigns SET state = 'sending', started_at = $1 \
             WHERE state = 'scheduled' AND scheduled_at <= $1 RETURNING issue_number",
        )
        .bind(now)
        .fetch_all(p)
        .await?))
    }

    /// Moves a scheduled campaign to another time, or with `None` starts it now.
    pub async fn reschedule(&self, campaign_id: i64, at: Option<i64>) -> Result<Campaign> {
        let _writer = self.writer().await;
        let now = unix_now();
        let sql = format!(
            "UPDATE campaigns SET scheduled_at = COALESCE($2, scheduled_at), \
             state = CASE WHEN $2 IS NULL THEN 'sending' ELSE state END, \
             started_at = CASE WHEN $2 IS NULL THEN $3 ELSE started_at END \
             WHERE id = $1 AND state = 'scheduled' RETURNING {CAMPAIGN_COLUMNS}"
        );
        let row: Option<CampaignRow> = with_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(campaign_id)
            .bind(at)
            .bind(now)
            .fetch_optional(p)
            .await?);
        match row {
            Some(r) => r.try_into(),
            None => Err(StoreError::Corrupt(format!(
                "campaign {campaign_id} changed state while it was being rescheduled"
            ))),
        }
    }

    /// Keeps how the campaign is to be sent (see [`CampaignDelivery`]).
    pub async fn set_delivery(&self, campaign_id: i64, d: &CampaignDelivery) -> Result<()> {
        let _writer = self.writer().await;
        with_pool!(self, p => sqlx::query(
            "UPDATE campaigns SET transport = $2, rate = $3, concurrency = $4 WHERE id = $1",
        )
        .bind(campaign_id)
        .bind(d.transport.as_deref())
        .bind(d.rate)
        .bind(d.concurrency)
        .execute(p)
        .await
        .map(|_| ())?);
        Ok(())
    }

    /// The earliest time a scheduled campaign is due, if any is.
    pub async fn next_scheduled(&self) -> Result<Option<i64>> {
        Ok(with_pool!(self, p => sqlx::query_scalar(
            "SELECT MIN(scheduled_at) FROM campaigns WHERE state = 'scheduled'",
        )
        .fetch_one(p)
        .await?))
    }

    /// Moves an issue's campaign to another state, if the move is allowed from where it is, in one
    /// statement (so two operators, or an operator and a worker, cannot both win):
    /// - pause: from scheduled or sending;
    /// - resume: from paused, back to scheduled if it never started, else to sending;
    /// - cancel: from created, scheduled, sending or paused.
    ///
    /// Returns the campaign as it is after the move.
    pub async fn control(&self, number: i64, action: Control) -> Result<Campaign> {
        let _writer = self.writer().await;
        let now = unix_now();
        let (sql, from): (&str, &[CampaignState]) = match action {
            Control::Pause => (
                "UPDATE campaigns SET state = 'paused' WHERE issue_number = $1 AND state IN ('scheduled', 'sending')",
                &[CampaignState::Scheduled, CampaignState::Sending],
            ),
            Control::Resume => (
                "UPDATE campaigns SET state = CASE WHEN started_at IS NULL THEN 'scheduled' ELSE 'sending' END, pause_reason = NULL \
                 WHERE issue_number = $1 AND state = 'paused'",
                &[CampaignState::Paused],
            ),
            Control::Cancel => (
                "UPDATE campaigns SET state = 'cancelled', finished_at = $2 \
                 WHERE issue_number = $1 AND state IN ('created', 'scheduled', 'sending', 'paused')",
                &[
                    CampaignState::Created,
                    CampaignState::Scheduled,
                    CampaignState::Sending,
                    CampaignState::Paused,
                ],
            ),
        };
        let changed = with_pool!(self, p => {
            let q = sqlx::query(sql).bind(number);
            let q = if action == Control::Cancel { q.bind(now) } else { q };
            q.execute(p).await?.rows_affected()
        });
        let campaign = self
            .campaign_by_number(number)
            .await?
            .ok_or(StoreError::NoCampaign(number))?;
        if changed == 1 {
            return Ok(campaign);
        }
        let allowed: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        Err(StoreError::WrongState {
            number,
            state: campaign.state,
            hint: format!(
                "only a campaign that is {} can be {}",
                allowed.join(" or "),
                action.past()
            ),
        })
    }

    /// Pauses a sending campaign on its own (the circuit breaker), keeping `reason` for `status` and
    /// the console. New claims stop at once, as with `pause`. Returns false when the campaign was no
    /// longer sending (an operator paused or cancelled it first): nothing changes then.
    pub async fn pause_for(&self, campaign_id: i64, reason: &str) -> Result<bool> {
        let _writer = self.writer().await;
        let changed = with_pool!(self, p => sqlx::query(
            "UPDATE campaigns SET state = 'paused', pause_reason = $2 WHERE id = $1 AND state = 'sending'",
        )
        .bind(campaign_id)
        .bind(reason)
        .execute(p)
        .await?
        .rows_affected());
        Ok(changed == 1)
    }

    /// Why the campaign paused itself, while it is paused by the circuit breaker.
    pub async fn pause_reason(&self, campaign_id: i64) -> Result<Option<String>> {
        Ok(
            with_pool!(self, p => sqlx::query_scalar::<_, Option<String>>(
            "SELECT pause_reason FROM campaigns WHERE id = $1 AND state = 'paused'",
        )
        .bind(campaign_id)
        .fetch_optional(p)
        .await?)
            .flatten(),
        )
    }

    /// A campaign's state now (what a running engine watches to stop at once).
    pub async fn campaign_state(&self, campaign_id: i64) -> Result<Option<CampaignState>> {
        let state: Option<String> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT state FROM campaigns WHERE id = $1",
        )
        .bind(campaign_id)
        .fetch_optional(p)
        .await?);
        state
            .map(|s| CampaignState::parse(&s).map_err(|e| StoreError::Corrupt(e.0)))
            .transpose()
    }

    /// First and last successful delivery times.
    pub async fn campaign_times(&self, campaign_id: i64) -> Result<CampaignTimes> {
        let (first_sent_at, last_sent_at): (Option<i64>, Option<i64>) = with_pool!(self, p => sqlx::query_as(
            "SELECT MIN(sent_at), MAX(sent_at) FROM deliveries WHERE campaign_id = $1 AND state = 'sent'",
        )
        .bind(campaign_id)
        .fetch_one(p)
        .await?);
        Ok(CampaignTimes {
            first_sent_at,
            last_sent_at,
        })
    }

    /// Marks the campaign done when it is sending and nothing is queued or in flight. Returns its
    /// state after that.
    pub async fn finish_if_done(&self, campaign_id: i64) -> Result<CampaignState> {
        let _writer = self.writer().await;
        let now = unix_now();
        with_pool!(self, p => {
            sqlx::query(
                "UPDATE campaigns SET state = 'done', finished_at = $2 WHERE id = $1 AND state = 'sending' \
                 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE campaign_id = $1 AND state IN ('queued', 'sending'))",
            )
            .bind(campaign_id)
            .bind(now)
            .execute(p)
            .await?;
            let state: String = sqlx::query_scalar("SELECT state FROM campaigns WHERE id = $1")
                .bind(campaign_id)
                .fetch_one(p)
                .await?;
            CampaignState::parse(&state).map_err(|e| StoreError::Corrupt(e.0))
        })
    }
}
