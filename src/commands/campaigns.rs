//! `newsletter campaigns`, `status` and `pause`/`resume`/`cancel`: what an operator reads about the
//! campaigns, and the moves they make on one. These read (or change) the database only; nothing
//! here sends.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail};

use super::{Globals, StatusFormat, local_time, open_existing_store, runtime};
use crate::domain::CampaignState;
use crate::send::campaign;
use crate::store::Control;

/// Arguments of `newsletter pause`, `resume` and `cancel`.
#[derive(Debug, clap::Args)]
pub struct ControlArgs {
    /// The issue number of the campaign.
    pub issue: u32,
}

/// Arguments of `newsletter campaigns`.
#[derive(Debug, clap::Args)]
pub struct CampaignsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
    pub format: StatusFormat,
}

/// Arguments of `newsletter status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The issue number, or the issue's Markdown file (default: the latest campaign).
    #[arg(value_name = "ISSUE")]
    pub issue: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
    pub format: StatusFormat,
}

/// `newsletter campaigns`: every campaign, newest issue first, with its state and counts. Reads an
/// existing database only (it creates none).
pub fn campaigns(globals: &Globals, args: &CampaignsArgs) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    runtime()?.block_on(async {
        let store = open_existing_store(&config, globals).await?;
        let list = campaign::overview(&store).await;
        store.close().await;
        let list = list?;
        match args.format {
            StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&list)?),
            StatusFormat::Human if list.is_empty() => println!("no campaigns yet"),
            StatusFormat::Human => {
                println!(
                    "{:>6}  {:<9}  {:>7}  {:>7}  {:>6}  {:>8}  {:>7}  {:>7}  started / scheduled",
                    "issue", "state", "total", "sent", "failed", "deferred", "skipped", "unsent"
                );
                for o in &list {
                    let (c, n) = (&o.campaign, &o.counts);
                    let when = match (c.started_at, c.scheduled_at) {
                        (Some(t), _) => local_time(&config, t),
                        (None, Some(t)) => format!("scheduled {}", local_time(&config, t)),
                        (None, None) => "-".to_string(),
                    };
                    println!(
                        "{:>6}  {:<9}  {:>7}  {:>7}  {:>6}  {:>8}  {:>7}  {:>7}  {}",
                        c.issue_number,
                        c.state.as_str(),
                        n.total(),
                        n.sent,
                        n.failed,
                        n.deferred,
                        n.skipped,
                        n.queued + n.sending,
                        when
                    );
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Which campaign `status` is about: an issue number, or an issue file (its `Number:`).
fn issue_of(arg: &str) -> anyhow::Result<i64> {
    if let Ok(n) = arg.trim().parse::<u32>() {
        return Ok(n.into());
    }
    let path = Path::new(arg);
    if path.is_file() {
        let issue = crate::issue::Issue::load(path).map_err(|e| {
            anyhow!("{arg}: {e}; give the issue number instead (`newsletter status 912`)")
        })?;
        return Ok(issue.header.number.get().into());
    }
    bail!(
        "`{arg}` is neither an issue number nor an issue file; write `newsletter status 912` (or the issue's Markdown file)"
    )
}

/// `newsletter status [ISSUE]`. Reads an existing database only (it creates none).
pub fn status(globals: &Globals, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let format = args.format;
    let issue = args.issue.as_deref().map(issue_of).transpose()?;
    let config = globals.config()?;
    runtime()?.block_on(async {
        let store = open_existing_store(&config, globals).await?;
        let campaign = match issue {
            Some(n) => store
                .campaign_by_number(n)
                .await?
                .ok_or_else(|| anyhow!("issue {n} has not been sent: there is no campaign for it"))?,
            None => store
                .campaigns()
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| anyhow!("nothing has been sent yet: there are no campaigns"))?,
        };
        let counts = store.delivery_counts(campaign.id).await?;
        let reasons = store.failure_reasons(campaign.id, 5).await?;
        let times = store.campaign_times(campaign.id).await?;
        let providers = store.provider_counts(campaign.id).await?;
        let pause_reason = store.pause_reason(campaign.id).await?;
        let watch = crate::send::complaints::ComplaintWatch::from_config(&config.send.complaints);
        let complaint_verdict = watch.verdict(&providers);
        // The warm-up's cap is why a sending campaign with rows left stands still today.
        let capped = if campaign.state == CampaignState::Sending && counts.queued > 0 {
            campaign::budget(&config, &store)
                .await?
                .filter(|b| b.remaining == 0)
        } else {
            None
        };
        let rate = match (times.first_sent_at, times.last_sent_at) {
            (Some(a), Some(b)) if counts.sent > 0 => counts.sent as f64 / ((b - a).max(1)) as f64,
            _ => 0.0,
        };
        store.close().await;
        match format {
            StatusFormat::Json => {
                let v = serde_json::json!({
                    "issue": campaign.issue_number,
                    "subject": campaign.subject,
                    "state": campaign.state,
                    "content_hash": campaign.content_hash,
                    "created_at": campaign.created_at,
                    "started_at": campaign.started_at,
                    "finished_at": campaign.finished_at,
                    "scheduled_at": campaign.scheduled_at,
                    "pause_reason": pause_reason,
                    "providers": providers,
                    "complaint_limit": {
                        "percent": watch.percent,
                        "min_deliveries": watch.min_deliveries,
                        "over": complaint_verdict,
                    },
                    "counts": counts,
                    "total": counts.total(),
                    "top_failures": reasons.iter().map(|(r, n)| serde_json::json!({"reason": r, "count": n})).collect::<Vec<_>>(),
                    "first_sent_at": times.first_sent_at,
                    "last_sent_at": times.last_sent_at,
                    "messages_per_second": (rate * 10.0).round() / 10.0,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            StatusFormat::Human => {
                let t = |v: Option<i64>| v.map_or("-".to_string(), |t| local_time(&config, t));
                let number = campaign.issue_number;
                println!("Issue {number}: {} ({})", campaign.subject, campaign.state);
                if let Some(reason) = &pause_reason {
                    println!("  Paused itself: {reason}");
                    println!("  Nobody was suppressed. Once the cause is fixed, `newsletter resume {number}` goes on.");
                } else if let Some(v) = &complaint_verdict {
                    println!("  Over the complaint limit: {v}");
                }
                if let Some(b) = capped {
                    println!(
                        "  Waiting for the warm-up: today's cap is reached; sending goes on from {} (`newsletter worker` does it)",
                        local_time(&config, b.until)
                    );
                }
                if campaign.scheduled_at.is_some() {
                    println!("  scheduled {}", t(campaign.scheduled_at));
                }
                println!("  started   {}", t(campaign.started_at));
                println!("  finished  {}", t(campaign.finished_at));
                let unsent = counts.queued + counts.sending;
                let rest = match campaign.state {
                    CampaignState::Cancelled => format!("{unsent} will not be sent (cancelled)"),
                    CampaignState::Done => String::new(),
                    _ if counts.sending > 0 => format!(
                        "{unsent} not sent yet ({} being sent now)",
                        counts.sending
                    ),
                    _ => format!("{unsent} not sent yet"),
                };
                println!(
                    "  {} recipients: {} sent, {} failed, {} deferred, {} skipped{}{rest}",
                    counts.total(), counts.sent, counts.failed, counts.deferred, counts.skipped,
                    if rest.is_empty() { "" } else { "; " }
                );
                let limit = match campaign.delivery.rate {
                    Some(r) if r > 0.0 => format!(" (limit {r}/s)"),
                    _ => String::new(),
                };
                println!("  rate      {rate:.1} messages/s{limit}");
                if let Some(via) = &campaign.delivery.transport {
                    println!("  transport {}", crate::config::redact_url(via));
                }
                if !providers.is_empty() {
                    println!("  {:<12} {:>8} {:>8} {:>11} {:>8} {:>8} {:>9} {:>10}  pace", "provider", "sent", "unsent", "retry later", "deferred", "failed", "throttled", "complaints");
                    for p in &providers {
                        let pace = match p.rate {
                            Some(r) => format!("{r:.1}/s (slowed by this provider)"),
                            None if !limit.is_empty() => "the campaign's limit".to_string(),
                            None => "no limit".to_string(),
                        };
                        let complaints = match p.complaint_percent() {
                            Some(r) if p.complaints > 0 => format!("{} {r:.2}%", p.complaints),
                            _ => p.complaints.to_string(),
                        };
                        println!(
                            "  {:<12} {:>8} {:>8} {:>11} {:>8} {:>8} {:>9} {complaints:>10}  {pace}",
                            p.provider, p.counts.sent, p.counts.queued + p.counts.sending, p.waiting, p.counts.deferred, p.counts.failed, p.throttled
                        );
                    }
                }
                if !reasons.is_empty() {
                    println!("  top failure reasons:");
                    for (r, n) in &reasons {
                        println!("    {n:>7}  {r}");
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `newsletter pause|resume|cancel ISSUE`: changes a campaign's state in the database, where every
/// worker on every machine sees it within a fraction of a second; a pause or a cancel returns once
/// the messages already with the transport are recorded, with the final counts.
pub fn control(globals: &Globals, args: &ControlArgs, action: Control) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    runtime()?.block_on(async {
        let store = open_existing_store(&config, globals).await?;
        let result = crate::send::control::apply(
            &store,
            args.issue.into(),
            action,
            crate::send::control::SETTLE,
        )
        .await;
        store.close().await;
        let done = result?;
        let (campaign, counts) = (&done.campaign, &done.counts);
        let number = campaign.issue_number;
        let left = counts.queued + counts.sending;
        match campaign.state {
            CampaignState::Paused => println!(
                "issue {number} is paused: {} sent, {left} not sent yet. Nothing more goes out until `newsletter resume {number}`",
                counts.sent
            ),
            CampaignState::Cancelled => println!(
                "issue {number} is cancelled: {} sent, {left} will not be sent",
                counts.sent
            ),
            CampaignState::Scheduled => println!(
                "issue {number} is scheduled again for {}; `newsletter worker` starts it then",
                campaign.scheduled_at.map_or("-".to_string(), |t| local_time(&config, t))
            ),
            state => println!(
                "issue {number} is {state} again: {left} to send; a running `newsletter worker` takes it up (or run `newsletter worker --once`)"
            ),
        }
        if done.unsettled > 0 {
            eprintln!(
                "note: {} message(s) were claimed by a worker that did not answer within {} s (it may have stopped); they go back to the queue when their lease ends and are not sent while the campaign is {}",
                done.unsettled,
                crate::send::control::SETTLE.as_secs(),
                campaign.state
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
