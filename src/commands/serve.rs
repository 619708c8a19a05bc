//! `newsletter serve`: the subscriber-facing web server.

use std::process::ExitCode;

use anyhow::Context;

use super::{Globals, open_store, runtime};

/// Arguments of `newsletter serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Listen address (default from config: 127.0.0.1:8080; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
}

/// `newsletter serve`: the subscriber-facing web server.
pub fn run(globals: &Globals, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = globals.config()?;
    if let Some(b) = &args.bind {
        // The console's cookie rule reads where we really listen.
        config.web.bind = b.clone();
    }
    let bind = config.web.bind.clone();
    runtime()?.block_on(async {
        let store = open_store(&config, globals).await?;
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
