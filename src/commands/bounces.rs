//! `newsletter bounces …`: intake from a Maildir, an mbox file or standard input; `inspect` to
//! explain a message without changing anything; `list` for the log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};

use clap::Subcommand;

use super::{Globals, StatusFormat, open_existing_store, open_store, runtime_here};
use crate::bounce::intake::{Intake, IntakeError, StdinOutcome};
use crate::bounce::{self, Report};
use crate::config::Config;
use crate::domain::Date;
use crate::mail::Verp;
use crate::store::{Store, StoreError};

/// `newsletter bounces …`
#[derive(Debug, Subcommand)]
pub enum BouncesCommand {
    /// Read bounces and complaints, suppress the right subscribers (exit 75 if the database is down).
    Process {
        /// A Maildir: messages in new/ are handled and moved to cur/.
        #[arg(long, value_name = "DIR", group = "source")]
        maildir: Option<PathBuf>,
        /// An mbox file (left as it is).
        #[arg(long, value_name = "FILE", group = "source")]
        mbox: Option<PathBuf>,
        /// One message on standard input (for a Postfix pipe or alias).
        #[arg(long, group = "source")]
        stdin: bool,
        /// The unseen messages of the IMAP mailbox in config [bounces.imap].
        #[arg(long, group = "source")]
        imap: bool,
        /// The envelope recipient, when the MTA passes it (Postfix pipe: ${recipient}).
        #[arg(long, value_name = "ADDR", requires = "stdin")]
        recipient: Option<String>,
        /// Where messages that cannot be attributed or parsed go (a Maildir; default from config).
        #[arg(long, value_name = "DIR")]
        quarantine: Option<PathBuf>,
    },
    /// Explain what each message is and what it would do; changes nothing.
    Inspect {
        /// Message files (.eml), or with --webhook the bodies a provider posts (JSON).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Read each file as this provider's webhook body (its signature is not checked).
        #[arg(long, value_enum, value_name = "PROVIDER")]
        webhook: Option<WebhookProvider>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
        format: StatusFormat,
    },
    /// The bounce log, newest first.
    List {
        /// Only bounces received on or after this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
        format: StatusFormat,
    },
}

/// Postfix's "try again later" exit code (sysexits EX_TEMPFAIL): the MTA keeps the message and
/// delivers it again later.
const EX_TEMPFAIL: u8 = 75;

/// sysexits EX_USAGE: the command line is wrong.
const EX_USAGE: u8 = 64;

/// sysexits EX_DATAERR: the input is unacceptable. An MTA's pipe treats it as a permanent failure and
/// reports it (for a bounce, to the postmaster), so nothing is lost silently.
const EX_DATAERR: u8 = 65;

/// Runs one `bounces` subcommand.
pub fn run(globals: &Globals, cmd: &BouncesCommand) -> anyhow::Result<ExitCode> {
    let config = match globals.config() {
        Ok(c) => c,
        // An MTA's pipe must not turn a broken configuration into a bounce of the message.
        Err(e) if matches!(cmd, BouncesCommand::Process { stdin: true, .. }) => {
            return Ok(temporary_failure(&e, true));
        }
        Err(e) => return Err(e),
    };
    let rt = runtime_here()?;
    match cmd {
        BouncesCommand::Inspect {
            files,
            webhook,
            format,
        } => rt.block_on(async {
            // Inspect needs the VERP key to recognise our addresses and the deliveries to weigh
            // the proof, but writes nothing, and creates no database.
            // Without that database (a newcomer pasting a bounce), it still explains each message
            // and says what it could not check.
            let store = match open_existing_store(&config, globals).await {
                Ok(store) => Some(store),
                Err(e) => {
                    eprintln!(
                        "note: {e}\nnote: explaining without it: what each message is, whom it names and \
                         why it came back are read from the message alone; whether it proves a delivery \
                         of ours, and whom it would change, needs the database (--database-url)"
                    );
                    None
                }
            };
            let key = match &store {
                Some(store) => store.verp_key().await?,
                // A key nobody has: no tag verifies, so nothing is taken as ours.
                None => crate::domain::UnsubscribeToken::generate()
                    .expose()
                    .as_bytes()
                    .to_vec(),
            };
            let verp = Verp::new(&key, &config.mail.bounce_domain);
            let own = bounce::intake::own_addresses(&config);
            let ctx = bounce::Context {
                verp: &verp,
                envelope_to: None,
                own: &own,
                unsubscribe_local: &config.mail.unsubscribe_local,
            };
            let result = inspect(store.as_ref(), &ctx, files, *webhook, *format).await;
            if let Some(store) = store {
                store.close().await;
            }
            result
        }),
        BouncesCommand::List { since, format } => rt.block_on(async {
            let store = open_store(&config, globals).await?;
            let since = match since {
                Some(d) => {
                    Date::parse(d)
                        .map_err(|e| anyhow!("--since {d}: {e} (use YYYY-MM-DD)"))?
                        .to_unix_days()
                        * 86_400
                }
                None => 0,
            };
            let entries = store.bounces(since, None, 100_000).await?;
            store.close().await;
            match format {
                StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&entries)?),
                StatusFormat::Human => {
                    for e in &entries {
                        println!("{}", bounce_line(e, true));
                    }
                    println!("{} bounce(s)", entries.len());
                }
            }
            Ok(ExitCode::SUCCESS)
        }),
        BouncesCommand::Process {
            maildir,
            mbox,
            stdin,
            quarantine,
            recipient,
            imap,
        } => {
            let result: anyhow::Result<ExitCode> = rt.block_on(async {
                let store = open_store(&config, globals).await?;
                let r = process(
                    &store,
                    &config,
                    quarantine.clone(),
                    maildir,
                    mbox,
                    *stdin,
                    recipient.as_deref(),
                    *imap,
                )
                .await;
                store.close().await;
                r
            });
            match result {
                Ok(code) => Ok(code),
                Err(e) if is_usage(&e) => {
                    eprintln!("error: {e:#}");
                    Ok(ExitCode::from(EX_USAGE))
                }
                // Everything else a retry can fix: the database down, read-only or full, the
                // quarantine unwritable, the disk full. Nothing was acknowledged or removed.
                Err(e) => Ok(temporary_failure(&e, *stdin)),
            }
        }
    }
}

/// One line of the bounce log, for `bounces list` (with the address) and `subscribers show`.
pub(crate) fn bounce_line(e: &crate::store::BounceEntry, with_email: bool) -> String {
    let email = if with_email {
        format!("{:<24} ", e.email.as_deref().unwrap_or("(unknown)"))
    } else {
        String::new()
    };
    format!(
        "{}  {:<9} {:<6} {email}{}{}  ({} via {}){}",
        crate::domain::rfc5322_date(e.received_at),
        e.kind,
        e.status.as_deref().unwrap_or("-"),
        e.reason
            .map(|r| format!("{r}: {}. ", r.explain()))
            .unwrap_or_default(),
        e.diagnostic.as_deref().unwrap_or(""),
        e.source,
        e.attribution,
        e.campaign_id
            .map(|c| format!(", campaign {c}"))
            .unwrap_or_default()
    )
}

/// Says what failed and that nothing was lost; EX_TEMPFAIL.
fn temporary_failure(e: &anyhow::Error, stdin: bool) -> ExitCode {
    eprintln!("error: {}", chain(e));
    let store = e.chain().find_map(|c| {
        c.downcast_ref::<StoreError>()
            .or_else(|| match c.downcast_ref::<IntakeError>() {
                Some(IntakeError::Store(s)) => Some(s),
                _ => None,
            })
    });
    let outage = store.is_some_and(StoreError::is_outage)
        || e.chain().any(|c| {
            c.downcast_ref::<IntakeError>()
                .is_some_and(IntakeError::is_outage)
        });
    let what = if outage {
        "the database is unavailable"
    } else if store.is_some() {
        "the database refused the change (read-only, full or locked?)"
    } else {
        "the message could not be read, recorded or quarantined"
    };
    if stdin {
        eprintln!(
            "{what}: exit {EX_TEMPFAIL} (EX_TEMPFAIL), so the mail server keeps the message and delivers it again later; nothing was lost"
        );
    } else {
        eprintln!(
            "{what}: nothing was removed or marked read that was not recorded or quarantined; fix the cause and run again (exit {EX_TEMPFAIL}, EX_TEMPFAIL)"
        );
    }
    ExitCode::from(EX_TEMPFAIL)
}

/// An error and its causes on one line, without repeating a cause its parent already quotes.
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for c in e.chain() {
        let text = c.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// A command line that names no usable source: no retry will help.
fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<IntakeError>()
            .is_some_and(IntakeError::is_usage)
            || c.downcast_ref::<Usage>().is_some()
    })
}

/// A usage error of `bounces process`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(&'static str);

/// The providers whose webhook bodies `inspect --webhook` reads.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum WebhookProvider {
    /// Amazon SES: an SNS message, or SES's notification itself.
    Ses,
    /// Postmark: one webhook event.
    Postmark,
    /// Mailgun: a webhook body, or its `event-data`.
    Mailgun,
}

impl From<WebhookProvider> for bounce::webhook::Provider {
    fn from(p: WebhookProvider) -> Self {
        match p {
            WebhookProvider::Ses => bounce::webhook::Provider::Ses,
            WebhookProvider::Postmark => bounce::webhook::Provider::Postmark,
            WebhookProvider::Mailgun => bounce::webhook::Provider::Mailgun,
        }
    }
}

async fn inspect(
    store: Option<&Store>,
    ctx: &bounce::Context<'_>,
    files: &[PathBuf],
    webhook: Option<WebhookProvider>,
    format: StatusFormat,
) -> anyhow::Result<ExitCode> {
    let mut all = Vec::new();
    for f in files {
        let bytes = crate::files::read_bounded(f, bounce::PARSE_LIMIT as u64 * 32)
            .with_context(|| format!("cannot read {}", f.display()))?;
        let mut report = match webhook {
            None => bounce::read(&bytes, ctx),
            Some(provider) => match bounce::webhook::read_unverified(provider.into(), &bytes) {
                Ok(Some(mut r)) => {
                    r.note =
                        Some("read as a webhook body; its signature is not checked here".into());
                    r
                }
                Ok(None) => {
                    println!("{}: an event nothing is done about", f.display());
                    continue;
                }
                Err(e) => anyhow::bail!("{}: {e}", f.display()),
            },
        };
        let proofs = match store {
            Some(store) => {
                bounce::policy::tie_by_provider_id(store, &mut report).await?;
                bounce::proofs(store, &report).await?
            }
            None => report
                .recipients
                .iter()
                .map(|r| {
                    if r.class == bounce::Class::None {
                        bounce::Proof::NothingToActOn
                    } else {
                        bounce::Proof::NotChecked
                    }
                })
                .collect(),
        };
        all.push((f.clone(), report, proofs));
    }
    match format {
        StatusFormat::Json => {
            let v: Vec<_> = all
                .iter()
                .map(|(f, r, p)| serde_json::json!({"file": f, "report": r, "proof": p}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        StatusFormat::Human => {
            for (f, r, p) in &all {
                print_report(f, r, p);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(f: &Path, r: &Report, proofs: &[bounce::Proof]) {
    match &r.family {
        Some(family) => println!("{}: {} ({family})", f.display(), r.kind.as_str()),
        None => println!("{}: {}", f.display(), r.kind.as_str()),
    }
    if let Some(note) = &r.note {
        println!("  {note}");
    }
    if r.kind == bounce::Kind::Unsubscribe && r.unsubscribe.is_some() {
        println!("  a request to unsubscribe whoever the token in its address belongs to");
    }
    for (rc, proof) in r.recipients.iter().zip(proofs) {
        let proof = proof.explain();
        println!(
            "  {}  {}  status {}  attributed by {}{}  ({proof})",
            rc.email.as_deref().unwrap_or("(no address)"),
            rc.class.as_str(),
            rc.status.as_deref().unwrap_or("-"),
            rc.attribution.as_str(),
            rc.delivery
                .map(|d| format!(
                    " (subscriber {}, {})",
                    d.subscriber_id,
                    match (d.campaign_id, d.issue) {
                        (Some(c), _) => format!("campaign {c}"),
                        (None, Some(n)) => format!("issue {n}"),
                        _ => String::new(),
                    }
                ))
                .unwrap_or_default()
        );
        println!("    address from: {}", rc.found_in);
        println!("    class from:   {}", rc.evidence);
        if let Some(d) = &rc.diagnostic {
            println!("    {d}");
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn process(
    store: &Store,
    config: &Config,
    quarantine: Option<PathBuf>,
    maildir: &Option<PathBuf>,
    mbox: &Option<PathBuf>,
    stdin: bool,
    recipient: Option<&str>,
    imap: bool,
) -> anyhow::Result<ExitCode> {
    let intake = Intake::new(store, config, quarantine).await?;
    let tally = if imap {
        intake.imap(&config.bounces.imap).await?
    } else if let Some(dir) = maildir {
        intake.maildir(dir).await?
    } else if let Some(file) = mbox {
        intake.mbox(file).await?
    } else if stdin {
        match intake.stdin(recipient).await? {
            StdinOutcome::Handled(t) => t,
            StdinOutcome::TooLarge { limit } => {
                eprintln!(
                    "error: the message is over {limit} bytes ([bounces] max_message_bytes); refused whole, nothing stored"
                );
                return Ok(ExitCode::from(EX_DATAERR));
            }
        }
    } else {
        return Err(Usage(
            "say where the bounces are: --maildir DIR, --mbox FILE, --stdin or --imap",
        )
        .into());
    };
    for (path, why) in &tally.left {
        eprintln!("note: {}: {why}", path.display());
    }
    for (path, size) in &tally.oversize {
        eprintln!(
            "note: {} is {size} bytes, over [bounces] max_message_bytes ({}); quarantined unread",
            path.display(),
            intake.max_bytes
        );
    }
    println!("{tally}");
    Ok(ExitCode::SUCCESS)
}
