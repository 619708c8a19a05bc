//! A campaign's life, from the issue file to a finished run: prepare (read, check, render once),
//! plan (is there a campaign, is it done, did the issue change), start (create, preflight, requeue
//! what was deferred, snapshot the list), build the engine's [`Job`], and run it until it is done or
//! interrupted. A test copy and a dry run use the same rendering without creating a campaign.
//!
//! Nothing here prints or asks: `commands::send` shows the plan, asks for confirmation and reports;
//! `commands::worker` reports the runs it makes.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::watch;

use super::engine::{Budget, Counters, Job, RunReport, SendError, deliver};
use super::shaping::{self, Shapes, ShapingError};
use crate::check::{self, CheckOptions, FileReport};
use crate::config::{Config, ConfigError};
use crate::dkim::Signer;
use crate::domain::{CampaignState, EmailAddress, SubscriberStatus, Verp, campaign_key, unix_now};
use crate::issue::{Issue, IssueError};
use crate::mail::{MailRecipient, MessageFactory};
use crate::render::{self, RenderError, Rendered, Theme};
use crate::store::{Campaign, Decide, DeliveryCounts, Store, StoreError, StoredAddress};
use crate::transport::{Failure, Transport};

/// Why a campaign could not be prepared, started or run.
#[derive(Debug, Error)]
pub enum CampaignError {
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The file does not parse; the byte-level check says everything that is wrong with it.
    #[error("{error}")]
    Invalid {
        error: IssueError,
        report: Box<FileReport>,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Shaping(#[from] ShapingError),
    #[error("{}: rendering failed: {source}", path.display())]
    Render {
        path: std::path::PathBuf,
        source: RenderError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dkim(#[from] crate::dkim::DkimError),
    /// The transport failed its preflight (greeting, TLS, AUTH): nothing was sent.
    #[error("the transport does not work, so nothing was sent: {0}")]
    Preflight(Failure),
    /// A test copy was refused.
    #[error("the test message to {to} was not accepted: {failure}")]
    TestRefused { to: EmailAddress, failure: Failure },
    #[error("the OS random number generator failed: {0}")]
    Random(String),
    /// The engine stopped on a campaign-fatal error.
    #[error(transparent)]
    Send(#[from] SendError),
    /// Stopped by an interrupt before the messages in flight finished.
    #[error(
        "stopped before every message in flight had finished; they will be sent again once their lease ends (up to {lease_secs} s). Run the same command again to resume"
    )]
    Abandoned { lease_secs: i64 },
    #[error("the delivery engine crashed: {0}")]
    Crashed(String),
    /// A stored address that no longer parses (the rules tightened since it was stored).
    #[error("subscriber {id} has an invalid address: {error}")]
    InvalidAddress {
        id: i64,
        error: crate::domain::ParseError,
    },
}

/// An issue read, checked and rendered once.
pub struct Prepared {
    pub issue: Issue,
    pub rendered: Rendered,
    /// The checks, measured against this rendering (the size rule does not render again).
    pub report: FileReport,
}

/// Reads, checks and renders an issue.
pub fn prepare(config: &Config, path: &Path) -> Result<Prepared, CampaignError> {
    let bytes = crate::issue::read_limited(path)?;
    prepare_bytes(config, path, &bytes)
}

/// Checks and renders an issue's bytes (an upload, a paste); `path` names it in diagnostics.
pub fn prepare_bytes(
    config: &Config,
    path: &Path,
    bytes: &[u8],
) -> Result<Prepared, CampaignError> {
    let opts = CheckOptions::from_config(config)?;
    let issue = match Issue::parse(path, bytes) {
        Ok(issue) => issue,
        Err(error) => {
            return Err(CampaignError::Invalid {
                error,
                report: Box::new(check::check_bytes(path, bytes, &opts)),
            });
        }
    };
    let theme = Theme::from_config(config)?;
    let rendered = render::render(&issue, &theme).map_err(|source| CampaignError::Render {
        path: path.to_path_buf(),
        source,
    })?;
    let report = check::check(&issue, &rendered, &config.site, &opts);
    Ok(Prepared {
        issue,
        rendered,
        report,
    })
}

/// Where an issue's campaign stands, read before anything is written.
#[derive(Debug, Clone)]
pub struct Plan {
    pub number: i64,
    /// The issue's content hash now.
    pub hash: String,
    pub existing: Option<Campaign>,
    pub counts: DeliveryCounts,
    /// Whether sending has begun (a resumed run).
    pub started: bool,
    /// Who this run would send to: the rest of the queue when resuming, else the active list.
    pub recipients: i64,
}

impl Plan {
    /// Everything was sent and nothing waits for a retry.
    pub fn already_done(&self) -> bool {
        self.existing
            .as_ref()
            .is_some_and(|c| c.state == CampaignState::Done && self.counts.deferred == 0)
    }
}

/// Looks at the issue's campaign without writing anything. An issue whose text changed after its
/// campaign started is refused ([`StoreError::ContentChanged`]).
pub async fn plan(
    store: &Store,
    issue: &Issue,
    rendered: &Rendered,
) -> Result<Plan, CampaignError> {
    let number = i64::from(rendered.number.get());
    let hash = issue.content_hash();
    let existing = store.campaign_by_number(number).await?;
    let counts = match &existing {
        Some(c) => store.delivery_counts(c.id).await?,
        None => DeliveryCounts::default(),
    };
    if let Some(c) = &existing {
        let hint = match c.state {
            CampaignState::Paused => Some(format!(
                "nothing was sent; `newsletter resume {number}` continues it"
            )),
            CampaignState::Cancelled => Some(
                "a cancelled campaign is not sent again; give the issue a new number to send it"
                    .to_string(),
            ),
            _ => None,
        };
        if let Some(hint) = hint {
            return Err(StoreError::WrongState {
                number,
                state: c.state,
                hint,
            }
            .into());
        }
    }
    let started = existing
        .as_ref()
        .is_some_and(|c| c.state != CampaignState::Created);
    if let Some(c) = &existing
        && started
        && c.content_hash != hash
    {
        return Err(StoreError::ContentChanged {
            number,
            started: c.content_hash.clone(),
            now: hash,
        }
        .into());
    }
    let recipients = if started {
        counts.queued + counts.sending + counts.deferred
    } else {
        store
            .stats()
            .await?
            .iter()
            .find(|(s, _)| *s == SubscriberStatus::Active)
            .map_or(0, |(_, n)| *n)
    };
    Ok(Plan {
        number,
        hash,
        existing,
        counts,
        started,
        recipients,
    })
}

/// A campaign ready for the engine.
pub struct Started {
    pub campaign: Campaign,
    /// Deferred deliveries of an earlier run queued again.
    pub requeued: u64,
    /// Recipients added by the snapshot (0 when resuming).
    pub snapshot: u64,
    pub counts: DeliveryCounts,
}

/// What the operator asked of a send: when (`None`: now) and how, kept with the campaign so that a
/// later `worker` sends it the same way.
#[derive(Debug, Clone, Default)]
pub struct Order {
    pub at: Option<i64>,
    pub delivery: crate::store::CampaignDelivery,
}

/// Creates (or takes up) the campaign, checks the transport, queues deferred deliveries again and
/// snapshots the active list (only the first time). The preflight comes before the snapshot, so bad
/// credentials touch no subscriber. With `at`, the campaign is left `scheduled` for that time
/// (a scheduled one is moved to it); without, a scheduled campaign starts now.
pub async fn start(
    store: &Store,
    issue: &Issue,
    rendered: &Rendered,
    transport: &Transport,
    plan: &Plan,
    order: &Order,
    shapes: &Shapes,
) -> Result<Started, CampaignError> {
    let at = order.at;
    if let (Some(_), Some(c)) = (at, &plan.existing)
        && !matches!(c.state, CampaignState::Created | CampaignState::Scheduled)
    {
        return Err(StoreError::WrongState {
            number: plan.number,
            state: c.state,
            hint: "it has started already, so it cannot be scheduled; `newsletter pause` stops it"
                .into(),
        }
        .into());
    }
    let campaign = store
        .campaign_for_issue(plan.number, &plan.hash, &rendered.title, &issue.source)
        .await?;
    transport
        .preflight()
        .await
        .map_err(CampaignError::Preflight)?;
    store.set_delivery(campaign.id, &order.delivery).await?;
    let requeued = if plan.counts.deferred > 0 {
        store.requeue_deferred(campaign.id).await?
    } else {
        0
    };
    let snapshot = store.snapshot(campaign.id, at, &shapes.map).await?;
    let campaign = if snapshot == 0 && campaign.state == CampaignState::Scheduled {
        store.reschedule(campaign.id, at).await?
    } else {
        store
            .campaign_by_number(plan.number)
            .await?
            .unwrap_or(campaign)
    };
    if snapshot > 0 {
        tracing::info!(
            campaign_id = campaign.id,
            recipients = snapshot,
            "snapshot taken"
        );
    }
    let counts = store.delivery_counts(campaign.id).await?;
    Ok(Started {
        campaign,
        requeued,
        snapshot,
        counts,
    })
}

/// A worker id unique to this process: `host:pid:random`.
pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "host".into());
    let mut r = [0u8; 4];
    let _ = getrandom::fill(&mut r);
    format!(
        "{}:{}:{:08x}",
        host.trim(),
        std::process::id(),
        u32::from_le_bytes(r)
    )
}

/// The engine's job for one campaign.
pub async fn job(
    config: &Config,
    store: &Store,
    campaign: Campaign,
    rendered: &Rendered,
    transport: Arc<Transport>,
    shapes: Arc<Shapes>,
    policy: Arc<dyn Decide>,
) -> Result<Job, CampaignError> {
    let verp = Verp::new(&store.verp_key().await?, &config.mail.bounce_domain);
    let budget = budget(config, store).await?;
    let factory = MessageFactory::new(
        rendered,
        &config.mail,
        &campaign_key(campaign.issue_number),
        &verp,
    );
    Ok(Job {
        factory: Arc::new(factory),
        verp,
        unsubscribe_base: config.site.unsubscribe_url.clone(),
        transport,
        worker_id: worker_id(),
        dkim: Signer::from_config(&config.dkim)?.map(Arc::new),
        policy,
        campaign,
        shapes,
        budget,
    })
}

/// The warm-up's budget for a run starting now, when `[send.warmup]` is enabled.
pub async fn budget(config: &Config, store: &Store) -> Result<Option<Budget>, CampaignError> {
    let w = &config.send.warmup;
    if !w.enabled {
        return Ok(None);
    }
    let (day, begin, end) = shaping::warmup_day(&w.start, &config.send.time_zone, unix_now())?;
    let cap = shaping::warmup_cap(w.first_day, w.growth, day);
    let sent = store.sent_since(begin).await?.max(0) as u64;
    Ok(Some(Budget {
        remaining: cap.saturating_sub(sent),
        until: if day < 0 { begin } else { end },
    }))
}

/// Runs the engine on `job` until the campaign is done, a fatal error, or `interrupt` resolves. On
/// an interrupt, `on_interrupt` is called and the messages in flight get `grace` to finish; what is
/// left goes back to the queue (the result says `interrupted`).
pub async fn run(
    store: &Store,
    job: Job,
    config: &Config,
    counters: Arc<Counters>,
    interrupt: impl Future<Output = ()>,
    on_interrupt: impl FnOnce(Duration),
) -> Result<RunReport, CampaignError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let engine = {
        let store = store.clone();
        let settings = config.send.clone();
        let job = Arc::new(job);
        tokio::spawn(async move { deliver(&store, job, &settings, counters, stop_rx).await })
    };
    let grace = Duration::from_secs(config.send.shutdown_grace_secs);
    tokio::pin!(engine);
    let result = tokio::select! {
        r = &mut engine => r,
        _ = interrupt => {
            on_interrupt(grace);
            let _ = stop_tx.send(true);
            match tokio::time::timeout(grace, &mut engine).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(CampaignError::Abandoned { lease_secs: config.send.lease_secs });
                }
            }
        }
    };
    match result {
        Ok(r) => Ok(r?),
        Err(join) => Err(CampaignError::Crashed(join.to_string())),
    }
}

/// What the test copies were.
pub struct TestCopies {
    /// The size of one copy.
    pub bytes: usize,
    /// How many were accepted (all of them, when this is returned).
    pub sent: usize,
}

/// Sends one copy to each address in `to`, with a test unsubscribe token, and creates no campaign:
/// `--test-to` and the seed list. Their identifiers are signed with a throwaway key, so a bounce of
/// one proves nothing. Stops at the first refusal, naming the address.
pub async fn test_copies(
    config: &Config,
    rendered: &Rendered,
    transport: &Transport,
    to: &[EmailAddress],
) -> Result<TestCopies, CampaignError> {
    transport
        .preflight()
        .await
        .map_err(CampaignError::Preflight)?;
    let key = format!(
        "{}-test{}",
        campaign_key(rendered.number.get().into()),
        unix_now()
    );
    let mut throwaway = [0u8; 16];
    getrandom::fill(&mut throwaway).map_err(|e| CampaignError::Random(e.to_string()))?;
    let ids = Verp::new(&throwaway, &config.mail.bounce_domain);
    let factory = MessageFactory::new(rendered, &config.mail, &key, &ids);
    let url = render::sample_unsubscribe_url(&config.site);
    let signer = Signer::from_config(&config.dkim)?;
    let mut copies = TestCopies { bytes: 0, sent: 0 };
    for (n, address) in to.iter().enumerate() {
        let mut message = factory.for_recipient(
            &MailRecipient {
                email: address,
                subscriber_id: 0,
                unsubscribe_url: &url,
                unsubscribe_token: &render::sample_token(),
            },
            unix_now(),
        );
        if let Some(signer) = &signer {
            signer.sign(&mut message, unix_now());
        }
        let result = transport
            .deliver(
                &ids.plain_address(),
                address,
                &format!("{key}-{n}"),
                &message,
            )
            .await;
        if let Err(failure) = result {
            transport.shutdown().await;
            return Err(CampaignError::TestRefused {
                to: address.clone(),
                failure,
            });
        }
        copies.bytes = message.len();
        copies.sent += 1;
    }
    transport.shutdown().await;
    Ok(copies)
}

/// What a dry run built.
pub struct DryRun {
    pub messages: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// The issue's campaign, if one exists already.
    pub existing: Option<Campaign>,
}

/// Builds every active subscriber's message, as a send would, and sends and records nothing.
pub async fn dry_run(
    config: &Config,
    store: &Store,
    rendered: &Rendered,
) -> Result<DryRun, CampaignError> {
    let number = i64::from(rendered.number.get());
    let verp = Verp::new(&store.verp_key().await?, &config.mail.bounce_domain);
    let factory = MessageFactory::new(rendered, &config.mail, &campaign_key(number), &verp);
    let started = std::time::Instant::now();
    let (mut messages, mut bytes, mut after) = (0u64, 0u64, 0i64);
    let mut buf = Vec::new();
    loop {
        let page = store
            .page(Some(SubscriberStatus::Active), after, 5000)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for s in &page {
            let email = match &s.email {
                StoredAddress::Valid(e) => e,
                StoredAddress::Invalid { error, .. } => {
                    return Err(CampaignError::InvalidAddress {
                        id: s.id,
                        error: error.clone(),
                    });
                }
            };
            let url = format!("{}{}", config.site.unsubscribe_url, s.token.expose());
            buf.clear();
            factory.write(
                &MailRecipient {
                    email,
                    subscriber_id: s.id,
                    unsubscribe_url: &url,
                    unsubscribe_token: &s.token,
                },
                unix_now(),
                &mut buf,
            );
            let _ = verp.address(0, s.id);
            messages += 1;
            bytes += buf.len() as u64;
        }
    }
    Ok(DryRun {
        messages,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
        existing: store.campaign_by_number(number).await?,
    })
}

/// One campaign with its delivery counts, for `newsletter campaigns`.
#[derive(Debug, serde::Serialize)]
pub struct Overview {
    #[serde(flatten)]
    pub campaign: Campaign,
    pub counts: DeliveryCounts,
}

/// Every campaign, newest issue first, with its counts.
pub async fn overview(store: &Store) -> Result<Vec<Overview>, StoreError> {
    let mut out = Vec::new();
    for campaign in store.campaigns().await? {
        let counts = store.delivery_counts(campaign.id).await?;
        out.push(Overview { campaign, counts });
    }
    Ok(out)
}
