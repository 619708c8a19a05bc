//! The command line: clap definitions and dispatch. Each command is a function in [`crate::commands`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Render, check and deliver a weekly Markdown newsletter by e-mail.
#[derive(Debug, Parser)]
#[command(name = "newsletter", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (defaults: built in; see config/default.toml).
    #[arg(long, global = true, env = "NEWSLETTER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Database URL: sqlite://FILE or postgres://… (default from config: sqlite://newsletter.db).
    #[arg(
        long,
        global = true,
        env = "NEWSLETTER_DATABASE_URL",
        value_name = "URL"
    )]
    pub database_url: Option<String>,

    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// More log output from newsletter itself (-v: info, -vv: debug, -vvv: trace); the libraries it
    /// uses stay at warnings unless RUST_LOG or NEWSLETTER_LOG says otherwise.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render issues into HTML, plaintext and a sample .eml, and report their sizes.
    Render(RenderArgs),
    /// Check issues for what must not reach subscribers (exit 0: no errors, 1: errors, 2: unreadable).
    #[command(after_help = RULES_HELP)]
    Check(CheckArgs),
    /// Manage the subscriber list.
    #[command(subcommand)]
    Subscribers(SubscribersCommand),
    /// Send an issue to every active subscriber: check, render once, then deliver (resumable).
    Send(SendArgs),
    /// Show a campaign's progress: counts, top failure reasons, times and rate.
    Status {
        /// The issue number (default: the latest campaign).
        issue: Option<u32>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
        format: StatusFormat,
    },
    /// Deliver campaigns queued with `send --enqueue-only`; run one per machine against PostgreSQL.
    Worker(WorkerArgs),
    /// Process bounces and complaints, explain them, and list the bounce log.
    #[command(subcommand)]
    Bounces(BouncesCommand),
    /// Serve the subscriber-facing web pages (unsubscribe, RFC 8058 one-click) until Ctrl-C.
    Serve {
        /// Listen address (default from config: 127.0.0.1:8080; port 0 picks a free port).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
}

/// Arguments of `newsletter send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The issue (Markdown with a Pelican-style header).
    #[arg(value_name = "ISSUE.md")]
    pub issue: PathBuf,
    /// Check, render and build every message, but send nothing and record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send one copy to this address (with a test unsubscribe token) and create no campaign.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["dry_run", "enqueue_only"])]
    pub test_to: Option<String>,
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
}

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

/// How `send` and `worker` deliver.
#[derive(Debug, clap::Args)]
pub struct DeliveryArgs {
    /// SMTP connections at once (default from config [send] concurrency).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Messages per second for this process, 0 for no limit (default from config [send] rate).
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Transport URL: file:DIR, smtp://host:port[?tls=starttls], smtps://host:465 (default from config).
    #[arg(long, env = "NEWSLETTER_TRANSPORT", value_name = "URL")]
    pub transport: Option<String>,
}

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
        /// Message files (.eml).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
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

/// Output format of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// Readable lines.
    Human,
    /// One JSON document.
    Json,
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
        #[arg(long, default_value = "active", value_parser = ["active", "pending"])]
        status: String,
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
        #[arg(long)]
        status: Option<String>,
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
        #[arg(long)]
        status: Option<String>,
    },
}

const RULES_HELP: &str =
    "Rules (errors): placeholder, unterminated-comment, mojibake, invalid-utf8, header, unsafe-link
Rules (warnings): empty-section, duplicate-item, event-date, size-budget, raw-html
Rules (notes): http-link, bare-url
Exit codes: 0 no errors (warnings allowed), 1 at least one error, 2 a file could not be read.";

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// rustc-style diagnostics.
    Human,
    /// One JSON document for the run.
    Json,
}

/// Arguments of `newsletter check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Issue files to check.
    #[arg(required = true, value_name = "ISSUE.md")]
    pub issues: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,

    /// Apply unambiguous fixes in place (writes <file>.orig first and prints a diff).
    #[arg(long)]
    pub fix: bool,

    /// HTML size budget in bytes (default from config: 90000).
    #[arg(long, value_name = "BYTES")]
    pub budget: Option<usize>,

    /// Do not report this rule (repeatable).
    #[arg(long, value_name = "RULE")]
    pub allow: Vec<String>,
}

/// Arguments of `newsletter render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Issue files (Markdown with a Pelican-style header).
    #[arg(required = true, value_name = "ISSUE.md")]
    pub issues: Vec<PathBuf>,

    /// Output folder; <number>.html, <number>.txt and <number>.eml are written there.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    init_tracing(cli.log_format, cli.verbose);
    if prints_and_exits(&cli.command) {
        // A command whose output goes to a pipe that closes early (`| head`, `| true`) ends quietly,
        // as Unix tools do, instead of panicking on the broken pipe. Long-running commands (send,
        // worker, serve, bounce intake) keep Rust's default and handle write errors themselves.
        // SAFETY: resetting a signal's disposition before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let result = match &cli.command {
        Command::Render(args) => crate::commands::render(cli.config.as_deref(), args),
        Command::Check(args) => crate::commands::check(cli.config.as_deref(), args),
        Command::Serve { bind } => crate::commands::serve(
            cli.config.as_deref(),
            cli.database_url.as_deref(),
            bind.as_deref(),
        ),
        Command::Send(args) => {
            crate::commands::send(cli.config.as_deref(), cli.database_url.as_deref(), args)
        }
        Command::Status { issue, format } => crate::commands::status(
            cli.config.as_deref(),
            cli.database_url.as_deref(),
            *issue,
            *format,
        ),
        Command::Worker(args) => {
            crate::commands::worker(cli.config.as_deref(), cli.database_url.as_deref(), args)
        }
        Command::Bounces(cmd) => {
            crate::commands::bounces(cli.config.as_deref(), cli.database_url.as_deref(), cmd)
        }
        Command::Subscribers(cmd) => {
            crate::commands::subscribers(cli.config.as_deref(), cli.database_url.as_deref(), cmd)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Commands that only print and exit.
fn prints_and_exits(command: &Command) -> bool {
    match command {
        Command::Render(_) | Command::Check(_) | Command::Status { .. } => true,
        Command::Subscribers(_) => true,
        Command::Bounces(b) => !matches!(b, BouncesCommand::Process { .. }),
        Command::Send(_) | Command::Worker(_) | Command::Serve { .. } => false,
    }
}

/// The log filter: our own crate at the level `-v` asks for, every dependency at warnings (a
/// dependency's trace log of one `check` was 5.7 GB). `NEWSLETTER_LOG`, then `RUST_LOG`, override it.
fn log_filter(verbose: u8) -> String {
    match verbose {
        // Progress lines of a send are useful in logs even without -v.
        0 => "warn,newsletter::commands::send=info".into(),
        1 => "warn,newsletter=info".into(),
        2 => "warn,newsletter=debug".into(),
        _ => "warn,newsletter=trace".into(),
    }
}

fn init_tracing(format: LogFormat, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("NEWSLETTER_LOG")
        .or_else(|_| EnvFilter::try_from_env("RUST_LOG"))
        .unwrap_or_else(|_| EnvFilter::new(log_filter(verbose)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
