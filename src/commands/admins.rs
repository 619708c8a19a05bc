//! `newsletter admins`: accounts of the administrators' console.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{anyhow, bail};

use super::{Globals, open_store, runtime};
use crate::domain::{AdminRole, EmailAddress};

/// `newsletter admins …`.
#[derive(Debug, clap::Subcommand)]
pub enum AdminsCommand {
    /// Create an account, or set an existing one's role and password (its sessions end). The
    /// password is asked on the terminal, or read as the first line of standard input.
    Add {
        email: String,
        /// admin: everything; editor: preview and test copies, no subscriber data.
        #[arg(long, default_value = "admin", value_parser = ["admin", "editor"])]
        role: String,
    },
    /// List the accounts.
    List,
    /// Delete an account and end its sessions.
    Remove { email: String },
}

/// The shortest password accepted.
const MIN_PASSWORD: usize = 12;

pub fn run(globals: &Globals, command: &AdminsCommand) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    match command {
        AdminsCommand::Add { email, role } => {
            let email = EmailAddress::parse(email).map_err(|e| anyhow!("`{email}`: {e}"))?;
            let role = AdminRole::parse(role).map_err(|e| anyhow!("{e}"))?;
            let password = read_password()?;
            if password.chars().count() < MIN_PASSWORD {
                bail!("the password is too short: use at least {MIN_PASSWORD} characters");
            }
            let hash = crate::web::admin::hash_password(&password)
                .map_err(|e| anyhow!("the password could not be hashed: {e}"))?;
            runtime()?.block_on(async {
                let store = open_store(&config, globals).await?;
                let new = store.set_admin(email.as_str(), role, &hash).await?;
                store
                    .audit(
                        None,
                        if new {
                            "account created"
                        } else {
                            "account updated"
                        },
                        Some(&format!("{} as {role} (command line)", email.as_str())),
                        None,
                    )
                    .await?;
                store.close().await;
                println!(
                    "{} {} ({role}); sign in at /admin/login of `newsletter serve`",
                    if new {
                        "added"
                    } else {
                        "updated (its sessions ended)"
                    },
                    email.as_str()
                );
                Ok(ExitCode::SUCCESS)
            })
        }
        AdminsCommand::List => runtime()?.block_on(async {
            let store = open_store(&config, globals).await?;
            let admins = store.admins().await?;
            store.close().await;
            if admins.is_empty() {
                println!("no accounts; `newsletter admins add EMAIL` creates one");
            }
            for a in admins {
                println!("{}  {}", a.email, a.role);
            }
            Ok(ExitCode::SUCCESS)
        }),
        AdminsCommand::Remove { email } => runtime()?.block_on(async {
            let store = open_store(&config, globals).await?;
            let removed = store.remove_admin(email).await?;
            if removed {
                store
                    .audit(
                        None,
                        "account removed",
                        Some(&format!("{email} (command line)")),
                        None,
                    )
                    .await?;
            }
            store.close().await;
            if !removed {
                bail!("there is no account {email}; `newsletter admins list` shows them");
            }
            println!("removed {email}");
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// The password: typed twice without echo on a terminal, else the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = prompt("Password: ")?;
    let second = prompt("Again: ")?;
    if first != second {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    std::io::stderr().flush()?;
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr/tcsetattr only read and write it for our terminal.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    let have = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if have {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
