//! `newsletter man DIR`: the manual pages, generated from the command line's own definitions, so
//! they say what `--help` says: `newsletter.1`, then `newsletter-COMMAND.1` for each command and
//! `newsletter-COMMAND-SUB.1` for each of its own.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `newsletter man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The folder to write the pages into (created if missing; pages there are replaced).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Writes a page for `command` (named `name`) and for each of its subcommands, recursively.
fn write_pages(
    command: clap::Command,
    name: &str,
    dir: &Path,
    out: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    // The page is named for the whole command (`newsletter-subscribers-import`); its synopsis
    // shows it as it is typed (`newsletter subscribers import`).
    let command = command
        .name(name.to_string())
        .bin_name(name.replace('-', " "));
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), &format!("{name}-{}", sub.get_name()), dir, out)?;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .title(name.to_string())
        .render(&mut page)
        .with_context(|| format!("cannot render the page of {name}"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    out.push(path);
    Ok(())
}

/// `cli` is the whole command line's definition.
pub fn run(args: &ManArgs, cli: clap::Command) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let mut written = Vec::new();
    write_pages(cli, "newsletter", &args.dir, &mut written)?;
    println!(
        "{} manual pages written to {} (read one with `man -l {}`)",
        written.len(),
        args.dir.display(),
        args.dir.join("newsletter.1").display()
    );
    Ok(ExitCode::SUCCESS)
}
