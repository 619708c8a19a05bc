//! One function per command. They print for people; the stages they call return data.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::RenderArgs;
use crate::config::Config;
use crate::domain::{EmailAddress, unix_now};
use crate::issue::Issue;
use crate::mail::{MailRecipient, MessageFactory};
use crate::render::{self, Recipient, Theme};

/// The token in sample output: shaped like a real one (22 URL-safe characters), but no subscriber's.
pub const SAMPLE_TOKEN: &str = "SAMPLE-token-000000000";

/// `newsletter render`: renders every issue, writes its files, prints one line each.
pub fn render(config: Option<&Path>, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    let theme = Theme::from_config(&config)?;
    let sample = EmailAddress::parse(&config.render.sample_recipient)
        .map_err(|e| anyhow::anyhow!("[render] sample_recipient: {e}"))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    let unsubscribe_url = format!("{}{SAMPLE_TOKEN}", config.site.unsubscribe_url);
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
    let recipient = Recipient { unsubscribe_url };
    let html = rendered.html.fill(&recipient);
    let text = rendered.text.fill(&recipient);
    let campaign = format!("issue-{}", rendered.number);
    let factory = MessageFactory::new(&rendered, &config.mail, &campaign);
    let eml = factory.for_recipient(
        &MailRecipient {
            email: sample,
            subscriber_id: 0,
            unsubscribe_url,
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
