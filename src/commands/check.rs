//! `newsletter check`: the rules on every file, `--fix`, and the exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;

use super::Globals;
use crate::check::{self, CheckOptions, Rule, Severity, report};

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

/// `newsletter check`: runs the rules on every file, optionally fixes, prints, and sets the exit code.
pub fn run(globals: &Globals, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    let mut opts = CheckOptions::from_config(&config)?;
    if let Some(b) = args.budget {
        opts.budget = b;
    }
    for name in &args.allow {
        let rule = Rule::from_name(name).ok_or_else(|| {
            anyhow::anyhow!(
                "--allow {name}: no such rule; the rules are: {}",
                check::rule_names()
            )
        })?;
        opts.allow.push(rule);
    }
    // `header-date` compares each Date with the weekly sequence of the issues given and of the
    // dated issues beside them.
    opts.archive = check::ArchiveEntry::around(&args.issues);
    let mut reports = Vec::new();
    let mut unreadable = Vec::new();
    for path in &args.issues {
        let bytes = match crate::issue::read_limited(path) {
            Ok(b) => b,
            Err(e) => {
                unreadable.push((path.clone(), e.to_string()));
                continue;
            }
        };
        let mut rep = check::check_bytes(path, &bytes, &opts);
        if args.fix {
            match fix_file(path, &bytes, &rep, args.format == CheckFormat::Human) {
                Ok(Some(fixed)) => rep = check::check_bytes(path, &fixed, &opts),
                Ok(None) => {}
                Err(e) => eprintln!("error: {e:#}"),
            }
        }
        reports.push(rep);
    }
    match args.format {
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report::json(&reports, &unreadable))?
        ),
        CheckFormat::Human => {
            let color = if std::io::stdout().is_terminal() {
                termcolor::ColorChoice::Auto
            } else {
                termcolor::ColorChoice::Never
            };
            let stdout = termcolor::StandardStream::stdout(color);
            report::human(&reports, &mut stdout.lock())?;
            // The error names the file already.
            for (_, e) in &unreadable {
                eprintln!("error: {e}");
            }
        }
    }
    if !unreadable.is_empty() {
        return Ok(ExitCode::from(2));
    }
    let errors: usize = reports.iter().map(|r| r.count(Severity::Error)).sum();
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Applies the machine fixes of one file ([`crate::check::fix`]) and prints the diff. Returns the new
/// bytes, or `None` when nothing was written.
fn fix_file(
    path: &Path,
    original: &[u8],
    report: &crate::check::FileReport,
    diff_to_stdout: bool,
) -> anyhow::Result<Option<Vec<u8>>> {
    use crate::check::fix::{self, Outcome};
    match fix::fix_file(path, original, report)? {
        Outcome::Nothing => Ok(None),
        Outcome::NotUtf8 => {
            eprintln!(
                "note: {}: not fixed, because the file is not valid UTF-8 and rewriting it would lose bytes",
                path.display()
            );
            Ok(None)
        }
        Outcome::Fixed(f) => {
            let summary = format!(
                "fixed {} problem(s) in {}; the original is in {}",
                f.applied,
                path.display(),
                f.original_copy.display()
            );
            if diff_to_stdout {
                print!("{}", f.diff);
                println!("{summary}");
            } else {
                eprint!("{}", f.diff);
                eprintln!("{summary}");
            }
            Ok(Some(f.bytes))
        }
    }
}
