//! `newsletter doctor`: runs [`crate::doctor`]'s checks and prints each finding with its fix.

use std::process::ExitCode;

use super::{Globals, StatusFormat, database_url, runtime};
use crate::doctor::{self, Level};

/// Arguments of `newsletter doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// The DNS server to ask, host:port (default from config [doctor] nameserver; empty: the system's).
    #[arg(long, value_name = "HOST:PORT")]
    pub nameserver: Option<String>,
    /// Transport URL to check (default from config [transport] url).
    #[arg(long, env = "NEWSLETTER_TRANSPORT", value_name = "URL")]
    pub transport: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
    pub format: StatusFormat,
}

/// `newsletter doctor`: exit 0 when nothing is an error, 1 otherwise.
pub fn run(globals: &Globals, args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let mut config = globals.config()?;
    if let Some(ns) = &args.nameserver {
        config.doctor.nameserver = ns.clone();
    }
    let transport_url = args
        .transport
        .clone()
        .unwrap_or_else(|| config.transport.url.clone());
    let inputs = doctor::Inputs {
        database_url: database_url(&config, globals),
        transport_url: &transport_url,
    };
    let findings = runtime()?.block_on(doctor::run(&config, &inputs));
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let warnings = findings
        .iter()
        .filter(|f| f.level == Level::Warning)
        .count();
    match args.format {
        StatusFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "errors": errors,
                "warnings": warnings,
                "findings": findings,
            }))?
        ),
        StatusFormat::Human => {
            for f in &findings {
                let level = match f.level {
                    Level::Ok => "ok",
                    Level::Warning => "warning",
                    Level::Error => "ERROR",
                };
                println!("{level:<7}  {:<8}  {}", f.area, f.what);
                if !f.fix.is_empty() {
                    println!("{:<7}  {:<8}  fix: {}", "", "", f.fix);
                }
            }
            println!("{errors} error(s), {warnings} warning(s)");
        }
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
