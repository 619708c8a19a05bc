//! `newsletter send`, `status` and `worker`: the operator's weekly job.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio::sync::watch;

use super::subscribers::{open_store, runtime};
use crate::check::{self, CheckOptions, Severity};
use crate::cli::{SendArgs, StatusFormat, WorkerArgs};
use crate::config::Config;
use crate::domain::{EmailAddress, SubscriberStatus, unix_now};
use crate::issue::Issue;
use crate::mail::{MailRecipient, MessageFactory, Verp};
use crate::render::{self, Rendered, Theme};
use crate::send::{self, Counters, Job, RunReport, SendError};
use crate::store::{Campaign, Store};
use crate::transport::{PASSWORD_ENV, Transport};

/// Exit code after Ctrl-C (128 + SIGINT), as shells expect.
const INTERRUPTED: u8 = 130;

fn load_config(
    path: Option<&Path>,
    concurrency: Option<usize>,
    rate: Option<f64>,
) -> anyhow::Result<Config> {
    let mut config = Config::load(path)?;
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

fn open_transport(config: &Config, url: Option<&str>) -> anyhow::Result<Transport> {
    let url = url.unwrap_or(&config.transport.url);
    let password = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    Ok(Transport::from_url(
        url,
        config.send.concurrency as u32,
        password.as_deref(),
    )?)
}

/// Reads, checks and renders an issue. Check errors refuse unless `force`. The issue is rendered
/// once: the size rule measures that rendering (`check::check`) instead of rendering again.
fn prepare(config: &Config, path: &Path, force: bool) -> anyhow::Result<(Issue, Rendered)> {
    let bytes = crate::issue::read_limited(path)?;
    let opts = CheckOptions::from_config(config)?;
    let issue = match Issue::parse(path, &bytes) {
        Ok(issue) => issue,
        Err(e) => {
            // A file that does not parse: the byte-level check says everything that is wrong.
            refuse_on_errors(path, &check::check_bytes(path, &bytes, &opts), force)?;
            return Err(e.into());
        }
    };
    let theme = Theme::from_config(config)?;
    let rendered = render::render(&issue, &theme)
        .with_context(|| format!("{}: rendering failed", path.display()))?;
    refuse_on_errors(
        path,
        &check::check(&issue, &rendered, &config.site, &opts),
        force,
    )?;
    Ok((issue, rendered))
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

/// The DKIM signer, when `[dkim] enabled`.
fn dkim_signer(config: &Config) -> anyhow::Result<Option<crate::dkim::Signer>> {
    let d = &config.dkim;
    if !d.enabled {
        return Ok(None);
    }
    Ok(Some(crate::dkim::Signer::from_pem_file(
        &d.key_file,
        &d.domain,
        &d.selector,
    )?))
}

fn campaign_key(number: i64) -> String {
    format!("issue-{number}")
}

fn worker_id() -> String {
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

/// `newsletter send ISSUE.md`.
pub fn send(config: Option<&Path>, url: Option<&str>, args: &SendArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(config, args.delivery.concurrency, args.delivery.rate)?;
    let (issue, rendered) = prepare(&config, &args.issue, args.force)?;
    // A DKIM key that does not load stops the send before anything is written.
    dkim_signer(&config)?;
    let html_size = rendered.html_len(&render::sample_unsubscribe_url(&config.site));
    let rt = runtime()?;
    // lettre's connection pool needs the runtime from its creation to its drop.
    rt.block_on(async {
        let transport = if args.dry_run {
            Transport::DryRun
        } else {
            open_transport(&config, args.delivery.transport.as_deref())?
        };
        if let Some(to) = &args.test_to {
            return send_test(&config, &rendered, &transport, to).await;
        }
        let store = open_store(&config, url).await?;
        let result = if args.dry_run {
            dry_run(&config, &store, &rendered, html_size).await
        } else {
            send_campaign(
                &config, &store, &issue, &rendered, transport, html_size, args,
            )
            .await
        };
        store.close().await;
        result
    })
}

async fn send_test(
    config: &Config,
    rendered: &Rendered,
    transport: &Transport,
    to: &str,
) -> anyhow::Result<ExitCode> {
    let to = EmailAddress::parse(to).map_err(|e| anyhow!("--test-to `{to}`: {e}"))?;
    transport
        .preflight()
        .await
        .map_err(|e| anyhow!("the transport does not work: {e}"))?;
    let key = format!(
        "{}-test{}",
        campaign_key(rendered.number.get().into()),
        unix_now()
    );
    // A test copy belongs to no campaign: its identifiers are signed with a throwaway key.
    let mut throwaway = [0u8; 16];
    getrandom::fill(&mut throwaway).map_err(|e| anyhow!("the OS random number generator: {e}"))?;
    let ids = Verp::new(&throwaway, &config.mail.bounce_domain);
    let factory = MessageFactory::new(rendered, &config.mail, &key, &ids);
    let url = render::sample_unsubscribe_url(&config.site);
    let mut message = factory.for_recipient(
        &MailRecipient {
            email: &to,
            subscriber_id: 0,
            unsubscribe_url: &url,
            unsubscribe_token: render::SAMPLE_TOKEN,
        },
        unix_now(),
    );
    if let Some(signer) = dkim_signer(config)? {
        signer.sign(&mut message, unix_now());
    }
    let from = format!("bounces@{}", config.mail.bounce_domain);
    transport
        .deliver(&from, &to, &key, &message)
        .await
        .map_err(|e| anyhow!("the test message to {to} was not accepted: {e}"))?;
    transport.shutdown().await;
    println!(
        "sent one test copy of issue {} to {to} via {} ({} bytes, test unsubscribe token); no campaign was created",
        rendered.number,
        transport.describe(),
        message.len()
    );
    Ok(ExitCode::SUCCESS)
}

async fn dry_run(
    config: &Config,
    store: &Store,
    rendered: &Rendered,
    html_size: usize,
) -> anyhow::Result<ExitCode> {
    let number = i64::from(rendered.number.get());
    let verp = Verp::new(&store.verp_key().await?, &config.mail.bounce_domain);
    let factory = MessageFactory::new(rendered, &config.mail, &campaign_key(number), &verp);
    let started = std::time::Instant::now();
    let (mut count, mut bytes, mut after) = (0u64, 0u64, 0i64);
    let mut buf = Vec::new();
    loop {
        let page = store
            .page(Some(SubscriberStatus::Active), after, 5000)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for s in &page {
            let email = EmailAddress::parse(&s.email)
                .map_err(|e| anyhow!("subscriber {} has an invalid address: {e}", s.id))?;
            let url = format!("{}{}", config.site.unsubscribe_url, s.token.expose());
            buf.clear();
            factory.write(
                &MailRecipient {
                    email: &email,
                    subscriber_id: s.id,
                    unsubscribe_url: &url,
                    unsubscribe_token: s.token.expose(),
                },
                unix_now(),
                &mut buf,
            );
            let _ = verp.address(0, s.id);
            count += 1;
            bytes += buf.len() as u64;
        }
    }
    let existing = store.campaign_by_number(number).await?;
    println!(
        "dry run: issue {number} \"{}\": {count} message(s) built ({:.1} MB, HTML {html_size} bytes) in {:.2} s; nothing was sent or recorded",
        rendered.title,
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    if let Some(c) = existing {
        println!(
            "note: issue {number} already has a campaign ({}); `newsletter status {number}` shows it",
            c.state
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn send_campaign(
    config: &Config,
    store: &Store,
    issue: &Issue,
    rendered: &Rendered,
    transport: Transport,
    html_size: usize,
    args: &SendArgs,
) -> anyhow::Result<ExitCode> {
    let number = i64::from(rendered.number.get());
    let hash = issue.content_hash();
    // Look before writing anything: a refusal below leaves the database as it was.
    let existing = store.campaign_by_number(number).await?;
    let mut counts = match &existing {
        Some(c) => store.delivery_counts(c.id).await?,
        None => Default::default(),
    };
    if let Some(c) = &existing {
        if c.content_hash != hash && c.state != "created" {
            return Err(crate::store::StoreError::ContentChanged {
                number,
                started: c.content_hash.clone(),
                now: hash,
            }
            .into());
        }
        if c.state == "done" && counts.deferred == 0 {
            println!(
                "issue {number} was already sent ({} sent, {} failed, {} skipped); nothing to do. `newsletter status {number}` shows the details",
                counts.sent, counts.failed, counts.skipped
            );
            return Ok(ExitCode::SUCCESS);
        }
    }
    let started = existing.as_ref().is_some_and(|c| c.state != "created");
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
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "not sending without confirmation: standard input is not a terminal. Pass --yes to send issue {number} to {recipients} recipient(s)"
            );
        }
        let resumed = if started { " (resuming)" } else { "" };
        eprintln!("Issue:      {number}{resumed}");
        eprintln!("Subject:    {}", rendered.title);
        eprintln!("From:       {}", config.mail.from);
        eprintln!("Recipients: {recipients}");
        eprintln!("HTML size:  {html_size} bytes");
        eprintln!("Transport:  {}", transport.describe());
        eprint!("Send now? [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            eprintln!("not sent");
            return Ok(ExitCode::from(1));
        }
    }
    let campaign = store
        .campaign_for_issue(number, &hash, &rendered.title, &issue.source)
        .await?;
    transport
        .preflight()
        .await
        .map_err(|e| anyhow!("the transport does not work, so nothing was sent: {e}"))?;
    if counts.deferred > 0 {
        let n = store.requeue_deferred(campaign.id).await?;
        eprintln!("retrying {n} deferred deliveries from an earlier run");
    }
    let added = store.snapshot(campaign.id).await?;
    if added > 0 {
        tracing::info!(
            campaign_id = campaign.id,
            recipients = added,
            "snapshot taken"
        );
    }
    counts = store.delivery_counts(campaign.id).await?;
    if args.enqueue_only {
        println!(
            "issue {number} is queued for {} recipient(s); run `newsletter worker` to deliver it",
            counts.queued + counts.sending
        );
        return Ok(ExitCode::SUCCESS);
    }
    let total = counts.total() as u64;
    let already = (counts.sent + counts.failed + counts.skipped + counts.deferred) as u64;
    let transport = Arc::new(transport);
    let outcome = run_campaign(
        config,
        store,
        campaign,
        rendered,
        transport.clone(),
        total,
        already,
    )
    .await;
    transport.shutdown().await;
    finish(number, outcome, store).await
}

/// Runs the engine with Ctrl-C handling and a progress display.
async fn run_campaign(
    config: &Config,
    store: &Store,
    campaign: Campaign,
    rendered: &Rendered,
    transport: Arc<Transport>,
    total: u64,
    already: u64,
) -> Result<RunReport, anyhow::Error> {
    let verp = Verp::new(&store.verp_key().await?, &config.mail.bounce_domain);
    let factory = MessageFactory::new(
        rendered,
        &config.mail,
        &campaign_key(campaign.issue_number),
        &verp,
    );
    let job = Arc::new(Job {
        factory: Arc::new(factory),
        verp,
        unsubscribe_base: config.site.unsubscribe_url.clone(),
        transport,
        worker_id: worker_id(),
        dkim: dkim_signer(config)?.map(Arc::new),
        campaign,
    });
    let counters = Arc::new(Counters::default());
    counters
        .total
        .store(total, std::sync::atomic::Ordering::Relaxed);
    let (stop_tx, stop_rx) = watch::channel(false);
    let progress = tokio::spawn(show_progress(counters.clone(), total, already));
    let engine = {
        let store = store.clone();
        let settings = config.send.clone();
        let counters = counters.clone();
        tokio::spawn(async move { send::deliver(&store, job, &settings, counters, stop_rx).await })
    };
    let grace = Duration::from_secs(config.send.shutdown_grace_secs);
    tokio::pin!(engine);
    let result = tokio::select! {
        r = &mut engine => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ninterrupted: finishing the messages being sent (at most {} s)…", grace.as_secs());
            let _ = stop_tx.send(true);
            match tokio::time::timeout(grace, &mut engine).await {
                Ok(r) => r,
                Err(_) => {
                    progress.abort();
                    bail!("stopped before every message in flight had finished; they will be sent again once their lease ends (up to {} s). Run the same command again to resume", config.send.lease_secs);
                }
            }
        }
    };
    progress.abort();
    let _ = progress.await;
    match result {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(SendError::Fatal(reason))) => bail!("{reason}"),
        Ok(Err(SendError::Store(e))) => Err(anyhow::Error::new(e)
            .context("the database failed during the send; run the same command again to resume")),
        Err(join) => bail!("the delivery engine crashed: {join}"),
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
                "{bar:30} {pos}/{len} sent+done  {per_sec}  ETA {eta}  {msg}",
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
            tracing::info!(
                sent = counters.sent.load(Relaxed),
                failed = counters.failed.load(Relaxed),
                retrying = counters.retried.load(Relaxed),
                done = already + n,
                total,
                rate = format!("{:.0}/s", n as f64 / started.elapsed().as_secs_f64()),
                "progress"
            );
        }
    }
}

async fn finish(
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
    if report.interrupted {
        eprintln!("interrupted: run the same command again to resume; what was sent stays sent");
        return Ok(ExitCode::from(INTERRUPTED));
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

/// `newsletter status [ISSUE]`.
pub fn status(
    config: Option<&Path>,
    url: Option<&str>,
    issue: Option<u32>,
    format: StatusFormat,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    runtime()?.block_on(async {
        let store = open_store(&config, url).await?;
        let campaign = match issue {
            Some(n) => store
                .campaign_by_number(n.into())
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
                let t = |v: Option<i64>| v.map_or("-".to_string(), crate::domain::rfc5322_date);
                println!("Issue {}: {} ({})", campaign.issue_number, campaign.subject, campaign.state);
                println!("  started  {}", t(campaign.started_at));
                println!("  finished {}", t(campaign.finished_at));
                println!(
                    "  {} recipients: sent {}, failed {}, deferred {}, skipped {}, queued {}, in flight {}",
                    counts.total(), counts.sent, counts.failed, counts.deferred, counts.skipped, counts.queued, counts.sending
                );
                println!("  rate     {rate:.1} messages/s");
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

/// `newsletter worker`: delivers every campaign in the `sending` state, until Ctrl-C (or, with
/// `--once`, until none is left).
pub fn worker(
    config: Option<&Path>,
    url: Option<&str>,
    args: &WorkerArgs,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config, args.delivery.concurrency, args.delivery.rate)?;
    let theme = Theme::from_config(&config)?;
    runtime()?.block_on(async {
        let transport = Arc::new(open_transport(&config, args.delivery.transport.as_deref())?);
        let store = open_store(&config, url).await?;
        if store.backend_name() == "sqlite" {
            eprintln!("note: with SQLite, workers share the queue on this machine only; use PostgreSQL to spread one campaign over several machines");
        }
        transport
            .preflight()
            .await
            .map_err(|e| anyhow!("the transport does not work: {e}"))?;
        let mut exit = ExitCode::SUCCESS;
        loop {
            let campaigns = store.campaigns_sending().await?;
            if campaigns.is_empty() {
                if args.once {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(args.poll_secs.max(1))) => continue,
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
            for campaign in campaigns {
                let number = campaign.issue_number;
                let Some(source) = campaign.source.clone() else {
                    tracing::warn!(issue = number, "campaign has no stored issue text; skipped");
                    continue;
                };
                let issue = Issue::parse(Path::new(&format!("campaign-{number}.md")), source.as_bytes())?;
                let rendered = render::render(&issue, &theme)?;
                let counts = store.delivery_counts(campaign.id).await?;
                let already = (counts.sent + counts.failed + counts.skipped + counts.deferred) as u64;
                let outcome = run_campaign(&config, &store, campaign, &rendered, transport.clone(), counts.total() as u64, already).await;
                let code = finish(number, outcome, &store).await?;
                if code == ExitCode::from(INTERRUPTED) {
                    transport.shutdown().await;
                    return Ok(code);
                }
                if code != ExitCode::SUCCESS {
                    exit = code;
                }
            }
            if args.once {
                // Another worker may still hold leases; `--once` stops when nothing is claimable.
                break;
            }
        }
        transport.shutdown().await;
        store.close().await;
        Ok(exit)
    })
}
