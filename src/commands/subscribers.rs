//! `newsletter subscribers …`: the administrator's view of the list.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};

use clap::{Subcommand, ValueEnum};

use super::{Globals, open_store, runtime};
use crate::domain::{
    Date, EmailAddress, SubscriberName, SubscriberStatus, spreadsheet_safe, terminal_safe,
};
use crate::store::{AddOutcome, ImportOptions, Source, Store, Subscriber};

/// `newsletter subscribers …`
#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Add one subscriber.
    Add {
        /// The address.
        email: String,
        /// Their name.
        #[arg(long)]
        name: Option<String>,
        /// Start as active (already confirmed) or pending (awaiting confirmation).
        #[arg(long, default_value_t = SubscriberStatus::Active, value_parser = starting_status)]
        status: SubscriberStatus,
    },
    /// Unsubscribe an address (it stays on record as unsubscribed).
    Remove {
        /// The address.
        email: String,
    },
    /// Erase an address on request: personal data is deleted, a salted hash blocks silent re-import.
    Forget {
        /// The address.
        email: String,
    },
    /// List subscribers.
    List {
        /// Only this status.
        #[arg(long, value_parser = SubscriberStatus::parse)]
        status: Option<SubscriberStatus>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Show one subscriber: status and history.
    Show {
        /// The address.
        email: String,
    },
    /// Count subscribers per status.
    Stats,
    /// Import a CSV file (an `email` column and an optional `name` column, in any order).
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Bring back unsubscribed, bounced and complained addresses.
        #[arg(long)]
        resubscribe: bool,
        /// Import the valid rows even if some rows are invalid (default: all or nothing).
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Export subscribers to a CSV file.
    Export {
        /// The CSV file to write.
        file: PathBuf,
        /// Only this status.
        #[arg(long, value_parser = SubscriberStatus::parse)]
        status: Option<SubscriberStatus>,
    },
}

/// Output format of list-like commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array.
    Json,
}

fn parse_email(s: &str) -> anyhow::Result<EmailAddress> {
    EmailAddress::parse(s).map_err(|e| anyhow!("`{s}` is not a valid address: {e}"))
}

fn parse_name(s: Option<&str>) -> anyhow::Result<Option<SubscriberName>> {
    Ok(match s {
        Some(n) => SubscriberName::parse(n).map_err(|e| anyhow!("--name: {e}"))?,
        None => None,
    })
}

/// A new subscriber starts either confirmed or awaiting confirmation; the other states are
/// reached only through what the subscriber or their provider does.
fn starting_status(s: &str) -> Result<SubscriberStatus, String> {
    match SubscriberStatus::parse(s).map_err(|e| e.0)? {
        st @ (SubscriberStatus::Active | SubscriberStatus::Pending) => Ok(st),
        other => Err(format!(
            "a subscriber cannot be added as {other}; use active or pending"
        )),
    }
}

fn date(ts: i64) -> String {
    Date::from_unix_days(ts.div_euclid(86_400)).to_string()
}

/// Runs one `subscribers` subcommand.
pub fn run(globals: &Globals, cmd: &SubscribersCommand) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    runtime()?.block_on(async {
        let store = open_store(&config, globals).await?;
        let code = dispatch(&store, cmd).await;
        store.close().await;
        code
    })
}

async fn dispatch(store: &Store, cmd: &SubscribersCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SubscribersCommand::Add {
            email,
            name,
            status,
        } => {
            let email = parse_email(email)?;
            let name = parse_name(name.as_deref())?;
            let status = *status;
            match store
                .add(&email, name.as_ref(), status, Source::Cli)
                .await?
            {
                AddOutcome::Added(id) => println!("added {email} ({status}, id {id})"),
                AddOutcome::Exists(s) => {
                    println!("{email} is already on the list ({s}); nothing changed");
                }
                AddOutcome::Forgotten => {
                    eprintln!("error: {email} was erased on request and is not re-added");
                    return Ok(ExitCode::from(1));
                }
            }
        }
        SubscribersCommand::Remove { email } => {
            let email = parse_email(email)?;
            match store
                .set_status(
                    &email,
                    SubscriberStatus::Unsubscribed,
                    Source::Cli,
                    "removed by an administrator",
                )
                .await?
            {
                Some(_) => println!("{email} is unsubscribed"),
                None => {
                    eprintln!("error: {email} is not on the list");
                    return Ok(ExitCode::from(1));
                }
            }
        }
        SubscribersCommand::Forget { email } => {
            let email = parse_email(email)?;
            let found = store.forget(&email, Source::Cli).await?;
            if found {
                println!("{email} is erased; a salted hash keeps it from being re-imported");
            } else {
                println!(
                    "{email} was not on the list; it is recorded so it cannot be imported later"
                );
            }
        }
        SubscribersCommand::List { status, format } => {
            list(store, *status, *format).await?;
        }
        SubscribersCommand::Show { email } => {
            let email = parse_email(email)?;
            let Some(s) = store.find_by_email(&email).await? else {
                eprintln!("error: {email} is not on the list");
                return Ok(ExitCode::from(1));
            };
            println!("email:    {}", terminal_safe(s.email.as_str()));
            println!(
                "name:     {}",
                terminal_safe(s.name.as_deref().unwrap_or("-"))
            );
            println!("status:   {}", s.status);
            println!("added:    {}", date(s.created_at));
            println!("history:");
            for e in store.history(s.id).await? {
                println!(
                    "  {}  {:<6}  {} -> {}  {}",
                    crate::domain::rfc5322_date(e.at),
                    e.source,
                    e.old_status.map_or("-", SubscriberStatus::as_str),
                    e.new_status,
                    terminal_safe(e.detail.as_deref().unwrap_or(""))
                );
            }
            let bounces = store.bounces(0, Some(s.id), 1000).await?;
            println!("bounces:  {}", if bounces.is_empty() { "none" } else { "" });
            for b in &bounces {
                println!("  {}", super::bounces::bounce_line(b, false));
            }
        }
        SubscribersCommand::Stats => {
            let stats = store.stats().await?;
            let total: i64 = stats.iter().map(|(_, n)| n).sum();
            for (status, n) in stats {
                println!("{:<13} {n}", status.as_str());
            }
            println!("{:<13} {total}", "total");
        }
        SubscribersCommand::Import {
            file,
            resubscribe,
            skip_invalid,
        } => {
            return import(
                store,
                file,
                &ImportOptions {
                    resubscribe: *resubscribe,
                    skip_invalid: *skip_invalid,
                },
            )
            .await;
        }
        SubscribersCommand::Export { file, status } => {
            let status = *status;
            let out = std::fs::File::create(file)
                .with_context(|| format!("cannot create {}", file.display()))?;
            let mut w = std::io::BufWriter::new(out);
            w.write_all(crate::store::csv::EXPORT_HEADER)?;
            let mut n = 0;
            let mut after = 0;
            loop {
                let page = store.page(status, after, 5000).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                w.write_all(&crate::store::csv::export(&page))?;
                n += page.len();
            }
            w.flush()?;
            println!("exported {n} subscribers to {}", file.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(
    store: &Store,
    status: Option<SubscriberStatus>,
    format: ListFormat,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let csv_line = |fields: [&str; 5]| -> anyhow::Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(fields)?;
        w.into_inner().map_err(|e| anyhow!("{e}"))
    };
    match format {
        ListFormat::Table => writeln!(
            out,
            "{:>8}  {:<40} {:<24} {:<13} added",
            "id", "email", "name", "status"
        )?,
        ListFormat::Csv => {
            out.write_all(&csv_line(["id", "email", "name", "status", "created"])?)?
        }
        ListFormat::Json => write!(out, "[")?,
    }
    let mut after = 0;
    let mut first = true;
    loop {
        let page: Vec<Subscriber> = store.page(status, after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for s in &page {
            match format {
                ListFormat::Table => writeln!(
                    out,
                    "{:>8}  {:<40} {:<24} {:<13} {}",
                    s.id,
                    terminal_safe(s.email.as_str()),
                    terminal_safe(s.name.as_deref().unwrap_or("")),
                    s.status.as_str(),
                    date(s.created_at)
                )?,
                ListFormat::Csv => out.write_all(&csv_line([
                    &s.id.to_string(),
                    &spreadsheet_safe(s.email.as_str()),
                    &spreadsheet_safe(s.name.as_deref().unwrap_or("")),
                    s.status.as_str(),
                    &date(s.created_at),
                ])?)?,
                ListFormat::Json => {
                    write!(
                        out,
                        "{}{}",
                        if first { "" } else { "," },
                        serde_json::to_string(s)?
                    )?;
                }
            }
            first = false;
        }
    }
    if format == ListFormat::Json {
        writeln!(out, "]")?;
    }
    out.flush()?;
    Ok(())
}

async fn import(store: &Store, file: &Path, options: &ImportOptions) -> anyhow::Result<ExitCode> {
    let file_handle =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    // A file or a pipe (`import /dev/stdin`, `<(…)`); a device such as /dev/zero would feed the
    // CSV reader one endless line, a directory nothing.
    use std::os::unix::fs::FileTypeExt;
    let kind = file_handle
        .metadata()
        .with_context(|| format!("cannot read {}", file.display()))?
        .file_type();
    if !(kind.is_file() || kind.is_fifo()) {
        anyhow::bail!(
            "{} is not a file: give a CSV file (or a pipe), not a device or a directory",
            file.display()
        );
    }
    let rows = crate::store::csv::rows(file_handle);
    // Parse and validate on a second thread while the database writes the previous batch.
    let (tx, rx) = std::sync::mpsc::sync_channel(2 * crate::store::IMPORT_BATCH);
    let reader = std::thread::spawn(move || {
        for row in rows {
            if tx.send(row).is_err() {
                break;
            }
        }
    });
    let summary = store.import(rx, options).await;
    let _ = reader.join();
    let summary = summary?;
    for (line, why) in &summary.invalid {
        eprintln!("line {line}: {why}");
    }
    let skipped: u64 = summary.skipped.values().sum();
    if summary.rolled_back {
        eprintln!(
            "nothing imported: {} invalid row(s). Fix them, or pass --skip-invalid to import the valid rows",
            summary.invalid.len()
        );
        return Ok(ExitCode::from(1));
    }
    println!(
        "added {}, updated {}, skipped {skipped}, invalid {}",
        summary.added,
        summary.updated,
        summary.invalid.len()
    );
    for (why, n) in &summary.skipped {
        println!("  skipped {n}: {why}");
    }
    Ok(ExitCode::SUCCESS)
}
