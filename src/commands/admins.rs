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
        /// admin: everything; editor: preview and test copies, no subscriber data. Required for a
        /// new account (no account gets every right by default); an existing one keeps its role
        /// when this is left out.
        #[arg(long, value_parser = ["admin", "editor"])]
        role: Option<String>,
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
            let role = role
                .as_deref()
                .map(AdminRole::parse)
                .transpose()
                .map_err(|e| anyhow!("{e}"))?;
            runtime()?.block_on(async {
                let store = open_store(&config, globals).await?;
                let role = match (role, store.admin_by_email(email.as_str()).await?) {
                    (Some(r), _) => r,
                    (None, Some(existing)) => existing.role,
                    (None, None) => {
                        store.close().await;
                        bail!(
                            "say which role the new account has: `--role editor` (preview and test \
                             copies) or `--role admin` (everything, subscriber data included)"
                        );
                    }
                };
                let password = read_password()?;
                if let Err(why) = password_acceptable(&password) {
                    store.close().await;
                    bail!("{why}; nothing was changed");
                }
                let hash = crate::password::hash(&password)
                    .map_err(|e| anyhow!("the password could not be hashed: {e}"))?;
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
                println!("no accounts; `newsletter admins add EMAIL --role admin` creates one");
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

/// Why a password is refused, if it is: too short, or too little of it is a secret (blank, one
/// character repeated, a handful of distinct characters).
fn password_acceptable(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD {
        return Err(format!(
            "the password is too short: use at least {MIN_PASSWORD} characters"
        ));
    }
    if password.trim().is_empty() {
        return Err("the password is only blanks".to_string());
    }
    let distinct: std::collections::HashSet<char> = password.chars().collect();
    if distinct.len() < 5 {
        return Err(format!(
            "the password uses only {} different characters: use at least 5",
            distinct.len()
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    #[test]
    fn blank_and_repetitive_passwords_are_refused() {
        assert!(super::password_acceptable(&" ".repeat(12)).is_err());
        assert!(super::password_acceptable(&"a".repeat(20)).is_err());
        assert!(super::password_acceptable("abababababab").is_err());
        assert!(super::password_acceptable("short1!").is_err());
        assert!(super::password_acceptable("correct horse battery staple").is_ok());
    }
}
