//! The loop of `newsletter worker`: find every campaign that is sending, render its stored issue the
//! same way on every machine, and hand it to the caller to run; then wait for the next one. With
//! PostgreSQL, workers on several machines share the queue (claims use `FOR UPDATE SKIP LOCKED`).

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

/// Runs `each` for every sending campaign, looking again every `poll`, until Ctrl-C (while idle),
/// `each` says [`Flow::Stop`], or, with `once`, nothing is left. A campaign without a stored issue
/// text is skipped with a warning.
pub async fn run<E, F, Fut>(
    store: &Store,
    theme: &Theme,
    settings: Settings,
    mut each: F,
) -> Result<Flow, E>
where
    E: From<StoreError> + From<IssueError> + From<RenderError>,
    F: FnMut(Ready) -> Fut,
    Fut: Future<Output = Result<Flow, E>>,
{
    loop {
        let campaigns = store.campaigns_sending().await?;
        if campaigns.is_empty() {
            if settings.once {
                return Ok(Flow::Continue);
            }
            tokio::select! {
                _ = tokio::time::sleep(settings.poll.max(Duration::from_secs(1))) => continue,
                _ = tokio::signal::ctrl_c() => return Ok(Flow::Stop),
            }
        }
        for campaign in campaigns {
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
            if each(Ready {
                campaign,
                rendered,
                counts,
            })
            .await?
                == Flow::Stop
            {
                return Ok(Flow::Stop);
            }
        }
        if settings.once {
            // Another worker may still hold leases; `--once` stops when nothing is claimable.
            return Ok(Flow::Continue);
        }
    }
}
