//! `newsletter send`: the operator's weekly job. The campaign's life is [`crate::send::campaign`]'s;
//! this file shows the plan, asks, shows progress and reports. Running a campaign with its progress
//! display and its final report, and the delivery options, are shared with [`super::worker`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};

use super::{Globals, local_time, open_store, runtime};
use crate::bounce::BouncePolicy;
use crate::check::{self, Severity};
use crate::config::Config;
use crate::domain::CampaignState;
use crate::domain::EmailAddress;
use crate::render::{self, Rendered};
use crate::send::campaign::{self, CampaignError, Plan, Prepared};
use crate::send::shaping::{self, Shapes};
use crate::send::{Counters, RunReport};
use crate::store::{Campaign, CampaignDelivery, DeliveryCounts, Store};
use crate::transport::Transport;

/// Arguments of `newsletter send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The issue (Markdown with a Pelican-style header).
    #[arg(value_name = "ISSUE.md")]
    pub issue: PathBuf,
    /// Check, render and build every message, but send nothing and record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send one copy to each of these addresses (repeat the option, or separate them with commas),
    /// with a test unsubscribe token, and create no campaign.
    #[arg(long, value_name = "ADDR", value_delimiter = ',', conflicts_with_all = ["dry_run", "enqueue_only"])]
    pub test_to: Vec<String>,
    /// Send one copy to each address of `[send] seed_list` (and of --test-to), and create no
    /// campaign. Without it, the seeds get their copy when the campaign starts.
    #[arg(long, conflicts_with_all = ["dry_run", "enqueue_only"])]
    pub seeds: bool,
    /// Do not ask for confirmation (needed when standard input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Send even if `check` reports errors.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    /// Create the campaign and queue its deliveries, then exit: `newsletter worker` delivers them.
    #[arg(long)]
    pub enqueue_only: bool,
    /// Check, render and snapshot the list now, and leave the campaign scheduled: `newsletter
    /// worker` starts it at TIME. RFC 3339 (`2026-12-02T09:00:00+01:00`, `…Z`) or a local time in
    /// `[send] time_zone` (`2026-12-02 09:00`).
    #[arg(long, value_name = "TIME", conflicts_with_all = ["dry_run", "test_to", "seeds"])]
    pub at: Option<String>,
}

/// How `send` and `worker` deliver.
#[derive(Debug, clap::Args)]
pub struct DeliveryArgs {
    /// SMTP connections at once (default from config [send] concurrency).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Messages per second for this process, 0 for no limit (default from config [send] rate).
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Transport URL: file:DIR, smtp://host:port[?tls=starttls], smtps://host:465, ses://REGION,
    /// postmark:// or mailgun://DOMAIN (default from config).
    #[arg(long, env = "NEWSLETTER_TRANSPORT", value_name = "URL")]
    pub transport: Option<String>,
}

/// Exit code after Ctrl-C (128 + SIGINT), as shells expect.
pub(super) const INTERRUPTED: u8 = 130;
/// Exit code of `send` and `worker` when a campaign paused itself: the circuit breaker (a provider
/// refuses us, not the readers) or complaint control (too many readers marked it as spam);
/// `newsletter status N` says why, `newsletter resume N` goes on.
const BREAKER: u8 = 3;

pub(super) fn load_config(
    globals: &Globals,
    concurrency: Option<usize>,
    rate: Option<f64>,
) -> anyhow::Result<Config> {
    let mut config = globals.config()?;
    if let Some(c) = concurrency {
        if c == 0 {
            bail!("--concurrency must be at least 1");
        }
        config.send.concurrency = c;
    }
    if let Some(r) = rate {
        if !(r >= 0.0 && r.is_finite()) {
            bail!("--rate must be a number of messages per second, 0 for no limit");
        }
        config.send.rate = r;
    }
    Ok(config)
}

/// The transport URL a command uses: its `--transport` (or `NEWSLETTER_TRANSPORT`), else config.
pub(super) fn transport_url<'a>(config: &'a Config, flag: Option<&'a str>) -> &'a str {
    flag.unwrap_or(&config.transport.url)
}

pub(super) fn open_transport(config: &Config, url: Option<&str>) -> anyhow::Result<Transport> {
    let url = transport_url(config, url);
    let password = crate::transport::password_from_env();
    Ok(Transport::from_url(
        url,
        config.send.concurrency as u32,
        password.as_deref(),
    )?)
}

/// Reads, checks and renders an issue once; check errors refuse unless `force`.
fn prepare(config: &Config, path: &Path, force: bool) -> anyhow::Result<Prepared> {
    match campaign::prepare(config, path) {
        Ok(p) => {
            refuse_on_errors(path, &p.report, force)?;
            Ok(p)
        }
        Err(CampaignError::Invalid { error, report }) => {
            // A file that does not parse: the byte-level check says everything that is wrong.
            refuse_on_errors(path, &report, force)?;
            Err(error.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints a report's errors; refuses unless `force`.
fn refuse_on_errors(path: &Path, report: &check::FileReport, force: bool) -> anyhow::Result<()> {
    let errors = report.count(Severity::Error);
    if errors == 0 {
        return Ok(());
    }
    let color = if std::io::stderr().is_terminal() {
        termcolor::ColorChoice::Auto
    } else {
        termcolor::ColorChoice::Never
    };
    let stderr = termcolor::StandardStream::stderr(color);
    let only_errors = check::FileReport {
        diagnostics: report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .cloned()
            .collect(),
        ..report.clone()
    };
    check::report::human(std::slice::from_ref(&only_errors), &mut stderr.lock())?;
    if !force {
        bail!(
            "{}: `check` found {errors} error(s); nothing was sent. Fix them (`newsletter check --fix` repairs some), or pass --force to send anyway",
            path.display()
        );
    }
    eprintln!("warning: sending despite {errors} check error(s) (--force)");
    Ok(())
}

/// The suppression policy for recipients refused during the send.
fn policy(config: &Config) -> Arc<BouncePolicy> {
    Arc::new(BouncePolicy::from_config(&config.bounces))
}

/// `newsletter send ISSUE.md`.
pub fn send(globals: &Globals, args: &SendArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(globals, args.delivery.concurrency, args.delivery.rate)?;
    let prepared = prepare(&config, &args.issue, args.force)?;
    // A DKIM key that does not load stops the send before anything is written.
    crate::dkim::Signer::from_config(&config.dkim)?;
    // So do a bad --at or provider settings: nothing is asked, no seed is mailed.
    let shapes = Arc::new(Shapes::from_settings(&config.send)?);
    let at = args
        .at
        .as_deref()
        .map(|t| shaping::parse_at(t, &config.send.time_zone))
        .transpose()?;
    if let Some(at) = at
        && at < crate::domain::unix_now()
    {
        bail!(
            "--at {} is in the past ({}); nothing was scheduled. Give a time to come, or leave out --at to send now",
            args.at.as_deref().unwrap_or_default(),
            shaping::local_time(at, &config.send.time_zone)
        );
    }
    let html_size = prepared
        .rendered
        .html_len(&render::sample_unsubscribe_url(&config.site));
    let rt = runtime()?;
    // lettre's connection pool needs the runtime from its creation to its drop.
    rt.block_on(async {
        let transport = if args.dry_run {
            Transport::DryRun
        } else {
            open_transport(&config, args.delivery.transport.as_deref())?
        };
        if !args.test_to.is_empty() || args.seeds {
            let mut to = Vec::new();
            for a in &args.test_to {
                to.push(EmailAddress::parse(a).map_err(|e| anyhow!("--test-to `{a}`: {e}"))?);
            }
            if args.seeds {
                if config.send.seed_list.is_empty() {
                    bail!(
                        "--seeds: the seed list is empty; set [send] seed_list in the config (or NEWSLETTER_SEND__SEED_LIST)"
                    );
                }
                to.extend(config.send.seed_list.iter().cloned());
            }
            let mut seen = std::collections::HashSet::new();
            to.retain(|a| seen.insert(a.clone()));
            let copies = campaign::test_copies(&config, &prepared.rendered, &transport, &to).await?;
            let names: Vec<&str> = to.iter().map(EmailAddress::as_str).collect();
            println!(
                "sent {} test copy(ies) of issue {} to {} via {} ({} bytes each, test unsubscribe token); no campaign was created",
                copies.sent,
                prepared.rendered.number,
                names.join(", "),
                transport.describe(),
                copies.bytes
            );
            return Ok(ExitCode::SUCCESS);
        }
        let store = open_store(&config, globals).await?;
        let result = if args.dry_run {
            dry_run(&config, &store, &prepared.rendered, html_size).await
        } else {
            send_campaign(&config, &store, &prepared, transport, html_size, args, &shapes, at).await
        };
        store.close().await;
        result
    })
}

async fn dry_run(
    config: &Config,
    store: &Store,
    rendered: &Rendered,
    html_size: usize,
) -> anyhow::Result<ExitCode> {
    let d = campaign::dry_run(config, store, rendered).await?;
    let number = rendered.number;
    println!(
        "dry run: issue {number} \"{}\": {} message(s) built ({:.1} MB, HTML {html_size} bytes) in {:.2} s; nothing was sent or recorded",
        rendered.title,
        d.messages,
        d.bytes as f64 / 1e6,
        d.seconds
    );
    if let Some(c) = d.existing {
        println!(
            "note: issue {number} already has a campaign ({}); `newsletter status {number}` shows it",
            c.state
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; `Ok(false)` when the answer is not yes.
fn confirm(
    config: &Config,
    plan: &Plan,
    rendered: &Rendered,
    transport: &Transport,
    html_size: usize,
    at: Option<i64>,
) -> anyhow::Result<bool> {
    let number = plan.number;
    if !std::io::stdin().is_terminal() {
        bail!(
            "not sending without confirmation: standard input is not a terminal. Pass --yes to send issue {number} to {} recipient(s)",
            plan.recipients
        );
    }
    let resumed = if plan.started { " (resuming)" } else { "" };
    eprintln!("Issue:      {number}{resumed}");
    eprintln!("Subject:    {}", rendered.title);
    eprintln!("From:       {}", config.mail.from);
    eprintln!("Recipients: {}", plan.recipients);
    if !plan.started && !config.send.seed_list.is_empty() {
        eprintln!("Seeds:      {} (first)", config.send.seed_list.len());
    }
    eprintln!("HTML size:  {html_size} bytes");
    eprintln!("Transport:  {}", transport.describe());
    match at {
        Some(at) => {
            eprintln!("Starts:     {}", local_time(config, at));
            eprint!("Schedule issue {number} for then? [y/N] ");
        }
        None => eprint!("Send issue {number} now? [y/N] "),
    }
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

#[allow(clippy::too_many_arguments)]
async fn send_campaign(
    config: &Config,
    store: &Store,
    prepared: &Prepared,
    transport: Transport,
    html_size: usize,
    args: &SendArgs,
    shapes: &Arc<Shapes>,
    at: Option<i64>,
) -> anyhow::Result<ExitCode> {
    let (issue, rendered) = (&prepared.issue, &prepared.rendered);
    // Look before writing anything: a refusal below leaves the database as it was.
    let plan = campaign::plan(store, issue, rendered).await?;
    let number = plan.number;
    if plan.already_done() {
        println!(
            "issue {number} was already sent ({} sent, {} failed, {} skipped); nothing to do. `newsletter status {number}` shows the details",
            plan.counts.sent, plan.counts.failed, plan.counts.skipped
        );
        return Ok(ExitCode::SUCCESS);
    }
    if plan.recipients == 0 && !plan.started {
        bail!(
            "issue {number} would go to nobody: there is no active subscriber. Nothing was {}. `newsletter subscribers list` shows the list; `newsletter subscribers import FILE.csv` fills it",
            if at.is_some() { "scheduled" } else { "sent" }
        );
    }
    if !args.yes && !confirm(config, &plan, rendered, &transport, html_size, at)? {
        eprintln!("not sent");
        return Ok(ExitCode::from(1));
    }
    if !plan.started && !config.send.seed_list.is_empty() {
        // The seeds see the issue before anyone else; one that refuses stops the send here, with
        // no subscriber touched.
        let seeds = &config.send.seed_list;
        let copies = campaign::test_copies(config, rendered, &transport, seeds)
            .await
            .map_err(|e| anyhow!("{e}; no subscriber was touched. Fix the seed or remove it from [send] seed_list"))?;
        eprintln!(
            "sent issue {number} to {} seed inbox(es) first",
            copies.sent
        );
    }
    let order = campaign::Order {
        at,
        delivery: CampaignDelivery {
            transport: Some(transport_url(config, args.delivery.transport.as_deref()).to_string()),
            rate: Some(config.send.rate),
            concurrency: Some(config.send.concurrency as i64),
        },
    };
    let started =
        campaign::start(store, issue, rendered, &transport, &plan, &order, shapes).await?;
    if let Some(at) = at {
        let counts = started.counts;
        println!(
            "issue {number} is scheduled for {} ({} recipient(s), by {}); `newsletter worker` starts it then. `newsletter pause {number}` or `cancel {number}` stops it",
            local_time(config, at),
            counts.queued + counts.sending,
            transport.describe()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if started.requeued > 0 {
        eprintln!(
            "retrying {} deferred deliveries from an earlier run",
            started.requeued
        );
    }
    let counts = started.counts;
    if args.enqueue_only {
        println!(
            "issue {number} is queued for {} recipient(s); run `newsletter worker` to deliver it",
            counts.queued + counts.sending
        );
        return Ok(ExitCode::SUCCESS);
    }
    let transport = Arc::new(transport);
    let outcome = run_campaign(
        config,
        store,
        started.campaign,
        rendered,
        transport.clone(),
        shapes.clone(),
        &counts,
    )
    .await;
    transport.shutdown().await;
    finish(number, outcome, store).await
}

/// Runs the engine with Ctrl-C handling and a progress display.
pub(super) async fn run_campaign(
    config: &Config,
    store: &Store,
    campaign: Campaign,
    rendered: &Rendered,
    transport: Arc<Transport>,
    shapes: Arc<Shapes>,
    counts: &DeliveryCounts,
) -> anyhow::Result<RunReport> {
    // Progress counts from what earlier runs already settled.
    let total = counts.total() as u64;
    let already = (counts.sent + counts.failed + counts.skipped + counts.deferred) as u64;
    let job = campaign::job(
        config,
        store,
        campaign,
        rendered,
        transport,
        shapes,
        policy(config),
    )
    .await?;
    let counters = Arc::new(Counters::default());
    counters
        .total
        .store(total, std::sync::atomic::Ordering::Relaxed);
    let progress = tokio::spawn(show_progress(counters.clone(), total, already));
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result = campaign::run(store, job, config, counters, interrupt, |grace| {
        eprintln!(
            "\ninterrupted: finishing the messages being sent (at most {} s)…",
            grace.as_secs()
        );
    })
    .await;
    progress.abort();
    let _ = progress.await;
    match result {
        Ok(report) => Ok(report),
        Err(CampaignError::Send(crate::send::SendError::Fatal(reason))) => bail!("{reason}"),
        Err(CampaignError::Send(crate::send::SendError::Store(e))) => Err(anyhow::Error::new(e)
            .context("the database failed during the send; run the same command again to resume")),
        Err(e) => Err(e.into()),
    }
}

async fn show_progress(counters: Arc<Counters>, total: u64, already: u64) {
    use std::sync::atomic::Ordering::Relaxed;
    let started = std::time::Instant::now();
    let done = |c: &Counters| {
        c.sent.load(Relaxed)
            + c.failed.load(Relaxed)
            + c.deferred.load(Relaxed)
            + c.skipped.load(Relaxed)
    };
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} done  {per_sec}  ETA {eta}  {msg}",
            )
            .expect("progress template"),
        );
        bar.set_position(already);
        loop {
            bar.set_position(already + done(&counters));
            bar.set_message(format!(
                "failed {}  retrying {}",
                counters.failed.load(Relaxed),
                counters.retried.load(Relaxed)
            ));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    } else {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let n = done(&counters);
            // The campaign's figures (what `status` shows), then this run's own.
            tracing::info!(
                campaign_done = already + n,
                total,
                this_run_sent = counters.sent.load(Relaxed),
                this_run_failed = counters.failed.load(Relaxed),
                this_run_retrying = counters.retried.load(Relaxed),
                rate = format!("{:.0}/s", n as f64 / started.elapsed().as_secs_f64()),
                "progress"
            );
        }
    }
}

pub(super) async fn finish(
    number: i64,
    outcome: anyhow::Result<RunReport>,
    store: &Store,
) -> anyhow::Result<ExitCode> {
    let report = outcome?;
    let rate = if report.seconds > 0.0 {
        report.sent as f64 / report.seconds
    } else {
        0.0
    };
    println!(
        "issue {number}: sent {}, failed permanently {}, deferred {}, skipped {} in {:.1} s ({rate:.0} messages/s)",
        report.sent, report.failed, report.deferred, report.skipped, report.seconds
    );
    if report.lost > 0 {
        println!(
            "note: {} outcome(s) arrived after their lease had passed to another worker",
            report.lost
        );
    }
    if report.throttled > 0 {
        println!(
            "note: providers asked to slow down {} time(s); those messages waited and went again (`newsletter status {number}` shows each provider)",
            report.throttled
        );
    }
    if report.interrupted {
        eprintln!("interrupted: run the same command again to resume; what was sent stays sent");
        return Ok(ExitCode::from(INTERRUPTED));
    }
    if let Some(reason) = &report.breaker {
        eprintln!(
            "issue {number} was paused by the circuit breaker: {reason}. Nobody was suppressed. \
             Fix the cause (the relay's or provider's logs and postmaster pages say more), then \
             `newsletter resume {number}` and `newsletter worker --once` (or this command again) go on"
        );
        return Ok(ExitCode::from(BREAKER));
    }
    match report.state {
        CampaignState::Paused => {
            let campaign = store.campaign_by_number(number).await?;
            let reason = match campaign {
                Some(c) => store.pause_reason(c.id).await?,
                None => None,
            };
            if let Some(reason) = reason {
                // Paused by something other than an operator (complaint control, by a report
                // taken in while this ran): the same exit as the circuit breaker's.
                eprintln!(
                    "issue {number} paused itself: {reason}. Nobody was suppressed. \
                     `newsletter resume {number}` goes on"
                );
                return Ok(ExitCode::from(BREAKER));
            }
            eprintln!("issue {number} was paused; `newsletter resume {number}` continues it");
            return Ok(ExitCode::SUCCESS);
        }
        CampaignState::Cancelled => {
            eprintln!("issue {number} was cancelled; what was not sent will not be");
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    if let Some(until) = report.capped_until {
        eprintln!(
            "the warm-up's cap for today is reached; `newsletter worker` goes on from {}",
            crate::domain::rfc5322_date(until)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !report.finished {
        let counts = store
            .delivery_counts(report_campaign(store, number).await?)
            .await?;
        eprintln!(
            "{} deliveries are still queued or in flight; run the same command again to finish",
            counts.queued + counts.sending
        );
        return Ok(ExitCode::from(1));
    }
    if report.deferred > 0 {
        eprintln!(
            "{} deliveries were deferred after repeated temporary failures; run the same command later to retry them",
            report.deferred
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn report_campaign(store: &Store, number: i64) -> anyhow::Result<i64> {
    Ok(store
        .campaign_by_number(number)
        .await?
        .ok_or_else(|| anyhow!("issue {number} has no campaign"))?
        .id)
}
