//! One function per command. They print for people; the stages they call return data.

mod bounces;
mod send;
mod subscribers;

pub use bounces::{bounces, split_mbox};

pub use send::{send, status, worker};
pub use subscribers::{open_store, subscribers};

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::RenderArgs;
use crate::config::Config;
use crate::domain::{EmailAddress, unix_now};
use crate::issue::Issue;
use crate::mail::{MailRecipient, MessageFactory};
use crate::render::{self, Recipient, Theme};

/// `newsletter render`: renders every issue, writes its files, prints one line each.
pub fn render(config: Option<&Path>, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    let theme = Theme::from_config(&config)?;
    let sample = EmailAddress::parse(&config.render.sample_recipient)
        .map_err(|e| anyhow::anyhow!("[render] sample_recipient: {e}"))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    let unsubscribe_url = render::sample_unsubscribe_url(&config.site);
    let mut failed = 0;
    let mut written: Vec<String> = Vec::new();
    for path in &args.issues {
        match render_one(
            &config,
            &theme,
            &sample,
            &unsubscribe_url,
            path,
            &args.out,
            &mut written,
        ) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                failed += 1;
                eprintln!("error: {e:#}");
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} issues could not be rendered",
            args.issues.len()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn render_one(
    config: &Config,
    theme: &Theme,
    sample: &EmailAddress,
    unsubscribe_url: &str,
    path: &Path,
    out: &Path,
    written: &mut Vec<String>,
) -> anyhow::Result<String> {
    let issue = Issue::load(path)?;
    let rendered = render::render(&issue, theme)
        .with_context(|| format!("{}: rendering failed", path.display()))?;
    for url in &rendered.dropped_links {
        eprintln!(
            "warning: {}: link target `{url}` is not an absolute URL; its text is rendered without a link",
            path.display()
        );
    }
    for url in &rendered.unsafe_links {
        eprintln!(
            "warning: {}: link target `{url}` uses a scheme that runs code or embeds content; its text is rendered without a link",
            path.display()
        );
    }
    let recipient = Recipient { unsubscribe_url };
    let html = rendered.html.fill(&recipient);
    let text = rendered.text.fill(&recipient);
    let campaign = format!("issue-{}", rendered.number);
    // A sample: its Message-ID is signed with a throwaway key, so it proves nothing to `bounces`.
    let ids = crate::mail::Verp::new(b"sample", &config.mail.bounce_domain);
    let factory = MessageFactory::new(&rendered, &config.mail, &campaign, &ids);
    let eml = factory.for_recipient(
        &MailRecipient {
            email: sample,
            subscriber_id: 0,
            unsubscribe_url,
            unsubscribe_token: render::SAMPLE_TOKEN,
        },
        unix_now(),
    );
    let n = rendered.number;
    // Two drafts of the same issue in one run must not overwrite each other.
    let mut stem = n.to_string();
    if written.contains(&stem) {
        let file_stem = path
            .file_stem()
            .map_or("issue".into(), |s| s.to_string_lossy());
        stem = format!("{n}-{file_stem}");
        eprintln!(
            "warning: another file in this run is also issue {n}; writing {} as {stem}.*",
            path.display()
        );
    }
    written.push(stem.clone());
    for (ext, bytes) in [
        ("html", html.as_bytes()),
        ("txt", text.as_bytes()),
        ("eml", eml.as_slice()),
    ] {
        let file = out.join(format!("{stem}.{ext}"));
        std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
    }
    let mut line = format!(
        "{stem}\t{}\thtml {} bytes\ttext {} bytes",
        rendered.title,
        html.len(),
        text.len()
    );
    if html.len() > theme.size_budget {
        line.push_str(&format!(
            "\twarning: HTML is over the {} byte budget; Gmail clips messages above ~102 KB",
            theme.size_budget
        ));
    }
    Ok(line)
}

/// `newsletter check`: runs the rules on every file, optionally fixes, prints, and sets the exit code.
pub fn check(config: Option<&Path>, args: &crate::cli::CheckArgs) -> anyhow::Result<ExitCode> {
    use crate::check::{self, CheckOptions, Rule, Severity, report};
    use crate::cli::CheckFormat;
    use std::io::IsTerminal;

    let config = Config::load(config)?;
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

/// Applies the machine fixes of one file: writes `<file>.orig`, then the fixed file, and prints a
/// unified diff. Returns the new bytes, or `None` when there was nothing to fix.
fn fix_file(
    path: &Path,
    original: &[u8],
    report: &crate::check::FileReport,
    diff_to_stdout: bool,
) -> anyhow::Result<Option<Vec<u8>>> {
    if !report.valid_utf8 {
        eprintln!(
            "note: {}: not fixed, because the file is not valid UTF-8 and rewriting it would lose bytes",
            path.display()
        );
        return Ok(None);
    }
    let (fixed, applied) = report.fixed_text();
    if applied == 0 {
        return Ok(None);
    }
    let mut text = if report.had_crlf {
        fixed.replace('\n', "\r\n")
    } else {
        fixed.clone()
    };
    if report.had_bom {
        text.insert(0, '\u{feff}');
    }
    let mut orig = path.as_os_str().to_owned();
    orig.push(".orig");
    let orig = std::path::PathBuf::from(orig);
    if orig.exists() {
        anyhow::bail!(
            "{}: not fixed, because {} already exists; move it away and run again",
            path.display(),
            orig.display()
        );
    }
    std::fs::write(&orig, original).with_context(|| format!("cannot write {}", orig.display()))?;
    std::fs::write(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let diff = similar::TextDiff::from_lines(report.text.as_str(), fixed.as_str())
        .unified_diff()
        .context_radius(1)
        .header(&orig.display().to_string(), &path.display().to_string())
        .to_string();
    let summary = format!(
        "fixed {applied} problem(s) in {}; the original is in {}",
        path.display(),
        orig.display()
    );
    if diff_to_stdout {
        print!("{diff}");
        println!("{summary}");
    } else {
        eprint!("{diff}");
        eprintln!("{summary}");
    }
    Ok(Some(text.into_bytes()))
}

/// `newsletter serve`: the subscriber-facing web server.
pub fn serve(
    config: Option<&Path>,
    url: Option<&str>,
    bind: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    let bind = bind.unwrap_or(&config.web.bind).to_string();
    subscribers::runtime()?.block_on(async {
        let store = open_store(&config, url).await?;
        let api_token = std::env::var("NEWSLETTER_API_TOKEN").ok();
        if api_token.as_deref().is_none_or(str::is_empty) {
            eprintln!("note: NEWSLETTER_API_TOKEN is not set; the admin API under /api/ refuses every request");
        }
        let transport = crate::transport::Transport::from_url(&config.transport.url, 2, std::env::var(crate::transport::PASSWORD_ENV).ok().as_deref())?;
        let state = crate::web::AppState::new(store.clone(), &config, transport, api_token.as_deref())?;
        crate::web::serve(state, &bind)
            .await
            .with_context(|| format!("cannot serve on {bind}"))?;
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
