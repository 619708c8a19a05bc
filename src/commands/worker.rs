//! `newsletter worker`: delivers every campaign that is sending, each the way `send` was told,
//! through the same run and report as `send` ([`super::send`]).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;

use super::send::{
    DeliveryArgs, INTERRUPTED, finish, load_config, open_transport, run_campaign, transport_url,
};
use super::{Globals, local_time, open_store, runtime};
use crate::config::Config;
use crate::render::Theme;
use crate::send::shaping::Shapes;
use crate::send::worker::{self, Flow};
use crate::store::Campaign;

/// Arguments of `newsletter worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Exit when no campaign has anything left to claim, instead of waiting for the next one.
    #[arg(long)]
    pub once: bool,
    /// Seconds between looks for new campaigns.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub poll_secs: u64,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// `newsletter worker`: delivers every campaign in the `sending` state, until Ctrl-C (or, with
/// `--once`, until none is left). Each campaign goes the way `send` was told (its transport, rate
/// and connections are kept with it); the worker's own options override them, with a warning.
pub fn worker(globals: &Globals, args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(globals, args.delivery.concurrency, args.delivery.rate)?;
    let theme = Theme::from_config(&config)?;
    let shapes = Arc::new(Shapes::from_settings(&config.send)?);
    runtime()?.block_on(async {
        let store = open_store(&config, globals).await?;
        if store.is_embedded() {
            eprintln!("note: with SQLite, workers share the queue on this machine only; use PostgreSQL to spread one campaign over several machines");
        }
        // The worker's own transport (flag, environment or config) is checked before anything,
        // so a wrong setting fails at once rather than at the first campaign.
        let own = open_transport(&config, args.delivery.transport.as_deref())?;
        own.preflight()
            .await
            .map_err(|e| anyhow!("the transport does not work: {e}"))?;
        let transports = tokio::sync::Mutex::new(vec![(own_key(&config, args), Arc::new(own))]);
        let exit = std::cell::Cell::new(ExitCode::SUCCESS);
        let settings = worker::Settings {
            once: args.once,
            poll: Duration::from_secs(args.poll_secs),
        };
        let flow = worker::run(
            &store,
            &theme,
            settings,
            |ready| {
                let (config, store, exit, shapes, transports) = (&config, &store, &exit, &shapes, &transports);
                async move {
                    let number = ready.campaign.issue_number;
                    let (config, key) = campaign_settings(config, args, &ready.campaign);
                    let transport = {
                        let mut open = transports.lock().await;
                        match open.iter().find(|(k, _)| *k == key) {
                            Some((_, t)) => t.clone(),
                            None => {
                                let t = open_transport(&config, Some(&key.0))
                                    .map_err(|e| anyhow!("issue {number}'s transport {}: {e}", key.0))?;
                                t.preflight().await.map_err(|e| {
                                    anyhow!("issue {number}'s transport ({}) does not work: {e}", t.describe())
                                })?;
                                let t = Arc::new(t);
                                open.push((key.clone(), t.clone()));
                                t
                            }
                        }
                    };
                    eprintln!(
                        "sending issue {number} by {} ({} recipient(s) left)",
                        transport.describe(),
                        ready.counts.queued + ready.counts.sending
                    );
                    let outcome = run_campaign(&config, store, ready.campaign, &ready.rendered, transport, shapes.clone(), &ready.counts).await;
                    let capped = outcome.as_ref().ok().and_then(|r| r.capped_until);
                    let code = finish(number, outcome, store).await?;
                    if let Some(until) = capped {
                        return Ok(Flow::RestUntil(until));
                    }
                    if code == ExitCode::from(INTERRUPTED) {
                        exit.set(code);
                        return Ok::<_, anyhow::Error>(Flow::Stop);
                    }
                    if code != ExitCode::SUCCESS {
                        exit.set(code);
                    }
                    Ok(Flow::Continue)
                }
            },
            |idle| say_idle(&config, idle),
        )
        .await?;
        for (_, t) in transports.into_inner() {
            t.shutdown().await;
        }
        let exit = exit.get();
        if flow == Flow::Stop && exit == ExitCode::from(INTERRUPTED) {
            return Ok(exit);
        }
        store.close().await;
        Ok(exit)
    })
}

/// A transport as the worker keys its open connections: (URL, connections).
type TransportKey = (String, usize);

fn own_key(config: &Config, args: &WorkerArgs) -> TransportKey {
    (
        transport_url(config, args.delivery.transport.as_deref()).to_string(),
        config.send.concurrency,
    )
}

/// The settings one campaign is sent with: what `send` kept with it, unless the worker was given
/// its own (then a warning says which wins).
fn campaign_settings(config: &Config, args: &WorkerArgs, c: &Campaign) -> (Config, TransportKey) {
    let number = c.issue_number;
    let mut config = config.clone();
    let kept = &c.delivery;
    let mut url = config.transport.url.clone();
    match (&args.delivery.transport, &kept.transport) {
        (Some(flag), Some(kept)) if flag != kept => {
            eprintln!(
                "warning: issue {number} was queued to go via {kept}; this worker's --transport (or NEWSLETTER_TRANSPORT) {flag} overrides it"
            );
            url = flag.clone();
        }
        (Some(flag), _) => url = flag.clone(),
        (None, Some(kept)) => url = kept.clone(),
        (None, None) => {}
    }
    match (args.delivery.rate, kept.rate) {
        (Some(flag), Some(kept)) if flag != kept => eprintln!(
            "warning: issue {number} was queued at --rate {kept}; this worker's --rate {flag} overrides it"
        ),
        (None, Some(kept)) => config.send.rate = kept,
        _ => {}
    }
    match (args.delivery.concurrency, kept.concurrency) {
        (Some(flag), Some(kept)) if flag as i64 != kept => eprintln!(
            "warning: issue {number} was queued with --concurrency {kept}; this worker's --concurrency {flag} overrides it"
        ),
        (None, Some(kept)) if kept > 0 => config.send.concurrency = kept as usize,
        _ => {}
    }
    let key = (url, config.send.concurrency);
    (config, key)
}

/// What an idle worker says, once each time it runs out of work.
fn say_idle(config: &Config, idle: worker::Idle) {
    let next = idle
        .next_scheduled
        .map(|t| {
            format!(
                "; the next scheduled issue starts {}",
                local_time(config, t)
            )
        })
        .unwrap_or_default();
    match (idle.ending, idle.ran) {
        (true, 0) => eprintln!("nothing to send: no campaign is sending or due{next}"),
        (true, n) => eprintln!("done: {n} campaign run(s), nothing left to send{next}"),
        (false, _) => eprintln!("waiting for a campaign to send{next} (Ctrl-C stops)"),
    }
}
