//! The loop of `newsletter worker`: start every scheduled campaign whose time has come, find every
//! campaign that is sending, render its stored issue the same way on every machine, and hand it to
//! the caller to run; then wait for the next one. With PostgreSQL, workers on several machines share
//! the queue (claims use `FOR UPDATE SKIP LOCKED`).

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use crate::issue::{Issue, IssueError};
use crate::render::{self, RenderError, Rendered, Theme};
use crate::store::{Campaign, DeliveryCounts, Store, StoreError};

/// What to do after a campaign's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The campaign reached the warm-up's cap: leave it until this UNIX time.
    RestUntil(i64),
    /// Stop the loop (an interrupt).
    Stop,
}

/// How the loop waits.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Stop when nothing is claimable instead of waiting for the next campaign.
    pub once: bool,
    /// Time between looks for new campaigns.
    pub poll: Duration,
}

/// One campaign for the caller to run: rendered from the text stored with it.
pub struct Ready {
    pub campaign: Campaign,
    pub rendered: Rendered,
    pub counts: DeliveryCounts,
}

/// The loop has nothing to send right now: told once each time it becomes idle, so that the
/// operator knows it is alive and what it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idle {
    /// When the next scheduled campaign starts, if one is scheduled.
    pub next_scheduled: Option<i64>,
    /// Campaigns run so far by this loop.
    pub ran: usize,
    /// The loop ends now (`once`) rather than waiting.
    pub ending: bool,
}

/// Runs `each` for every sending campaign, looking again every `poll`, until Ctrl-C (while idle),
/// `each` says [`Flow::Stop`], or, with `once`, nothing is left. A campaign without a stored issue
/// text is skipped with a warning. `idle` hears each time the loop runs out of work.
pub async fn run<E, F, Fut, I>(
    store: &Store,
    theme: &Theme,
    settings: Settings,
    mut each: F,
    mut idle: I,
) -> Result<Flow, E>
where
    E: From<StoreError> + From<IssueError> + From<RenderError>,
    F: FnMut(Ready) -> Fut,
    Fut: Future<Output = Result<Flow, E>>,
    I: FnMut(Idle),
{
    let mut resting: std::collections::HashMap<i64, i64> = Default::default();
    let mut ran = 0usize;
    let mut told: Option<Idle> = None;
    loop {
        for number in store.start_due().await? {
            tracing::info!(issue = number, "scheduled campaign started");
        }
        let now = crate::domain::unix_now();
        resting.retain(|_, until| *until > now);
        let campaigns: Vec<Campaign> = store
            .campaigns_sending()
            .await?
            .into_iter()
            .filter(|c| !resting.contains_key(&c.id))
            .collect();
        if campaigns.is_empty() {
            let next = store.next_scheduled().await?;
            let now_idle = Idle {
                next_scheduled: next,
                ran,
                ending: settings.once,
            };
            if told != Some(now_idle) {
                idle(now_idle);
                told = Some(now_idle);
            }
            if settings.once {
                return Ok(Flow::Continue);
            }
            // Wake for the next scheduled campaign if it comes before the next look.
            let mut wait = settings.poll.max(Duration::from_secs(1));
            if let Some(at) = next {
                wait = wait.min(Duration::from_secs((at - now).max(1) as u64));
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => continue,
                _ = tokio::signal::ctrl_c() => return Ok(Flow::Stop),
            }
        }
        for campaign in campaigns {
            let id = campaign.id;
            let number = campaign.issue_number;
            let Some(source) = campaign.source.clone() else {
                tracing::warn!(issue = number, "campaign has no stored issue text; skipped");
                continue;
            };
            let issue = Issue::parse(
                Path::new(&format!("campaign-{number}.md")),
                source.as_bytes(),
            )?;
            let rendered = render::render(&issue, theme)?;
            let counts = store.delivery_counts(campaign.id).await?;
            ran += 1;
            told = None;
            match each(Ready {
                campaign,
                rendered,
                counts,
            })
            .await?
            {
                Flow::Stop => return Ok(Flow::Stop),
                Flow::RestUntil(until) => {
                    resting.insert(id, until);
                }
                Flow::Continue => {}
            }
        }
        if settings.once {
            // Another worker may still hold leases; `--once` stops when nothing is claimable.
            return Ok(Flow::Continue);
        }
    }
}
