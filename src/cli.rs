//! The command line: the global options, the command list and dispatch. Each command's own
//! arguments and its one function live in [`crate::commands`]; this file only parses, calls and
//! turns the result into an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands::{
    self, AdminsCommand, BouncesCommand, CampaignsArgs, CheckArgs, ControlArgs, DoctorArgs,
    Globals, RenderArgs, SendArgs, ServeArgs, StatusArgs, SubscribersCommand, WorkerArgs,
};
use crate::store::Control;

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
    #[command(after_help = crate::check::rules::help())]
    Check(CheckArgs),
    /// Manage the subscriber list.
    #[command(subcommand)]
    Subscribers(SubscribersCommand),
    /// Send an issue to every active subscriber: check, render once, then deliver (resumable), or
    /// schedule it with --at.
    Send(SendArgs),
    /// Stop a campaign's new claims at once (messages in flight finish and are recorded).
    Pause(ControlArgs),
    /// Continue a paused campaign (a running `worker` takes it up).
    Resume(ControlArgs),
    /// End a campaign: what was not sent will not be.
    Cancel(ControlArgs),
    /// Show a campaign's progress: counts, top failure reasons, times and rate.
    Status(StatusArgs),
    /// List every campaign, newest issue first, with its state and delivery counts.
    Campaigns(CampaignsArgs),
    /// Deliver campaigns queued with `send --enqueue-only`; run one per machine against PostgreSQL.
    Worker(WorkerArgs),
    /// Process bounces and complaints, explain them, and list the bounce log.
    #[command(subcommand)]
    Bounces(BouncesCommand),
    /// Check configuration, DNS (SPF, DKIM, DMARC, MX), relays, database and links before sending
    /// (exit 1 on any error).
    Doctor(DoctorArgs),
    /// Manage the accounts of the administrators' console (`serve` answers it at /admin/).
    #[command(subcommand)]
    Admins(AdminsCommand),
    /// Write a consistent copy of the SQLite database, while it is in use, to a new private file.
    Backup(commands::backup::BackupArgs),
    /// Write the manual pages (newsletter.1 and one per command) into a folder.
    Man(commands::man::ManArgs),
    /// Serve the subscriber-facing web pages (unsubscribe, RFC 8058 one-click) until Ctrl-C.
    Serve(ServeArgs),
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
    let globals = Globals {
        config: cli.config,
        database_url: cli.database_url,
    };
    let result = match &cli.command {
        Command::Render(args) => commands::render::run(&globals, args),
        Command::Check(args) => commands::check::run(&globals, args),
        Command::Serve(args) => commands::serve::run(&globals, args),
        Command::Doctor(args) => commands::doctor::run(&globals, args),
        Command::Admins(cmd) => commands::admins::run(&globals, cmd),
        Command::Send(args) => commands::send::send(&globals, args),
        Command::Status(args) => commands::campaigns::status(&globals, args),
        Command::Campaigns(args) => commands::campaigns::campaigns(&globals, args),
        Command::Pause(args) => commands::campaigns::control(&globals, args, Control::Pause),
        Command::Resume(args) => commands::campaigns::control(&globals, args, Control::Resume),
        Command::Cancel(args) => commands::campaigns::control(&globals, args, Control::Cancel),
        Command::Worker(args) => commands::worker::worker(&globals, args),
        Command::Bounces(cmd) => commands::bounces::run(&globals, cmd),
        Command::Subscribers(cmd) => commands::subscribers::run(&globals, cmd),
        Command::Backup(args) => commands::backup::run(&globals, args),
        Command::Man(args) => commands::man::run(args, <Cli as clap::CommandFactory>::command()),
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
        Command::Render(_) | Command::Check(_) | Command::Status(_) | Command::Campaigns(_) => true,
        Command::Subscribers(_) | Command::Admins(_) | Command::Backup(_) | Command::Man(_) => true,
        Command::Pause(_) | Command::Resume(_) | Command::Cancel(_) | Command::Doctor(_) => true,
        Command::Bounces(b) => !matches!(b, BouncesCommand::Process { .. }),
        Command::Send(_) | Command::Worker(_) | Command::Serve(_) => false,
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

/// Directives that name the SMTP client are dropped from `NEWSLETTER_LOG`/`RUST_LOG` and the client
/// is held at info: at debug it writes every command it sends, `AUTH PLAIN` with its credentials
/// included, and no log level makes a password safe to write.
fn without_smtp_client_detail(filter: &str) -> String {
    let mut kept: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.starts_with("lettre"))
        .collect();
    kept.push("lettre=info");
    kept.join(",")
}

/// The longest log line written; a longer one (an outsider's 1 MiB address in a field) is cut
/// with a marker, so no request can make the log grow by more than this.
const MAX_LOG_LINE: usize = 4096;

/// Standard error, one formatted event per `write`, cut at [`MAX_LOG_LINE`].
struct BoundedStderr;

impl std::io::Write for BoundedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_bounded(&mut std::io::stderr().lock(), buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Writes one log line to `out`, cut at [`MAX_LOG_LINE`] bytes with a marker saying how much
/// was left out.
fn write_bounded(out: &mut impl std::io::Write, buf: &[u8]) -> std::io::Result<()> {
    if buf.len() <= MAX_LOG_LINE {
        return out.write_all(buf);
    }
    out.write_all(&buf[..MAX_LOG_LINE])?;
    writeln!(
        out,
        "\u{2026} [log line cut: {} more bytes]",
        buf.len() - MAX_LOG_LINE
    )
}

fn init_tracing(format: LogFormat, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let asked = ["NEWSLETTER_LOG", "RUST_LOG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()));
    let filter = asked
        .and_then(|a| EnvFilter::try_new(without_smtp_client_detail(&a)).ok())
        .unwrap_or_else(|| EnvFilter::new(log_filter(verbose)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| BoundedStderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod log_tests {
    use super::*;

    #[test]
    fn long_log_lines_are_cut_with_a_marker() {
        let mut out = Vec::new();
        write_bounded(&mut out, b"short line\n").unwrap();
        assert_eq!(out, b"short line\n");
        let mut out = Vec::new();
        let long = format!("email={}\n", "a".repeat(1 << 20));
        write_bounded(&mut out, long.as_bytes()).unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(out.len() < MAX_LOG_LINE + 100, "{} bytes", out.len());
        assert!(text.ends_with(&format!(
            "[log line cut: {} more bytes]\n",
            long.len() - MAX_LOG_LINE
        )));
    }

    #[test]
    fn the_smtp_client_is_never_traced() {
        assert_eq!(without_smtp_client_detail("trace"), "trace,lettre=info");
        assert_eq!(
            without_smtp_client_detail("newsletter=debug, lettre=trace,lettre::transport=debug"),
            "newsletter=debug,lettre=info"
        );
    }
}
