//! One module per command: its arguments (clap) and one function that takes them, calls the stage
//! that owns the work, and prints. Shared here: the global options, the runtimes, opening the store
//! and showing a time in the configured zone.

pub mod admins;
pub mod backup;
pub mod bounces;
pub mod campaigns;
pub mod check;
pub mod doctor;
pub mod man;
pub mod render;
pub mod send;
pub mod serve;
pub mod subscribers;
pub mod worker;

pub use admins::AdminsCommand;
pub use bounces::BouncesCommand;
pub use campaigns::{CampaignsArgs, ControlArgs, StatusArgs};
pub use check::CheckArgs;
pub use doctor::DoctorArgs;
pub use render::RenderArgs;
pub use send::SendArgs;
pub use serve::ServeArgs;
pub use subscribers::SubscribersCommand;
pub use worker::WorkerArgs;

use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;

use crate::config::Config;
use crate::store::Store;

/// The options every command takes.
#[derive(Debug, Clone, Default)]
pub struct Globals {
    /// `--config FILE` (or `NEWSLETTER_CONFIG`).
    pub config: Option<PathBuf>,
    /// `--database-url URL` (or `NEWSLETTER_DATABASE_URL`).
    pub database_url: Option<String>,
}

impl Globals {
    /// The configuration: defaults, the file, then `NEWSLETTER_*` variables.
    pub fn config(&self) -> anyhow::Result<Config> {
        Ok(Config::load(self.config.as_deref())?)
    }
}

/// Output format of `status` and the `bounces` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// Readable lines.
    Human,
    /// One JSON document.
    Json,
}

/// A runtime on this thread alone, for work that goes one step at a time (bounce intake reads one
/// message after another): no hand-over between runtime threads for each step.
pub fn runtime_here() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The async runtime of commands that use the database or the network.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The database URL: `--database-url`, `NEWSLETTER_DATABASE_URL` or config, in that order.
pub(crate) fn database_url<'a>(config: &'a Config, globals: &'a Globals) -> &'a str {
    globals
        .database_url
        .as_deref()
        .unwrap_or(&config.database.url)
}

/// Connects to the database named by `--database-url`, `NEWSLETTER_DATABASE_URL` or config.
pub async fn open_store(config: &Config, globals: &Globals) -> anyhow::Result<Store> {
    let url = database_url(config, globals);
    Store::connect(url).await.with_context(|| {
        format!(
            "cannot open the database {}",
            crate::config::redact_url(url)
        )
    })
}

/// Opens the configured database only if it exists (SQLite: the file is not created).
pub async fn open_existing_store(config: &Config, globals: &Globals) -> anyhow::Result<Store> {
    let url = database_url(config, globals);
    Store::connect_existing(url).await.with_context(|| {
        format!(
            "cannot open the database {}: this command reads an existing database and creates none; \
             point --database-url (or NEWSLETTER_DATABASE_URL) at the one the campaigns were sent from",
            crate::config::redact_url(url)
        )
    })
}

/// A time in the configured zone, with UTC beside it.
pub(crate) fn local_time(config: &Config, at: i64) -> String {
    crate::send::shaping::local_time(at, &config.send.time_zone)
}
