//! `newsletter backup FILE`: a consistent copy of the SQLite database while it is in use.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Globals, database_url, open_existing_store, runtime_here};

/// Arguments of `newsletter backup`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The copy is consistent even while `send`, `worker` or `serve` run, and private (mode 0600): it \
holds password hashes, sessions and unsubscribe tokens. It is never written over an existing file.\n\n\
To restore: stop `serve` and `worker`, move the database file and its -wal and -shm files aside, copy \
the backup to the database's path, start them again.\n\n\
On PostgreSQL nothing is written: the command prints the pg_dump command to use, and exits 1."
)]
pub struct BackupArgs {
    /// Where to write the copy (a new file).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

pub fn run(globals: &Globals, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    runtime_here()?.block_on(async {
        let store = open_existing_store(&config, globals).await?;
        let url = crate::config::redact_url(database_url(&config, globals));
        let written = store.backup_to(&args.file, &url).await;
        store.close().await;
        let b = written?;
        println!(
            "backed up to {} ({:.1} MB); restore: stop serve and worker, put it in place of the database file (without its -wal and -shm files), start them again",
            b.path.display(),
            b.bytes as f64 / 1_048_576.0
        );
        Ok(ExitCode::SUCCESS)
    })
}
