//! `newsletter render`: the issue as subscribers will get it, written to files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::Globals;
use crate::config::Config;
use crate::domain::{EmailAddress, unix_now};
use crate::issue::Issue;
use crate::mail::{MailRecipient, MessageFactory};
use crate::render::{self, Recipient, Theme};

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

/// `newsletter render`: renders every issue, writes its files, prints one line each.
pub fn run(globals: &Globals, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
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
            unsubscribe_token: &render::sample_token(),
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
