//! Where finished messages go.
//!
//! - `file:DIR` writes each message as an `.eml` under DIR: the embedded default, so a fresh machine
//!   can send without a mail server.
//! - `smtp://[user@]host[:port][?tls=none|starttls&helo=NAME&timeout=SECS&weight=N]` and
//!   `smtps://[user@]host[:465]` hand messages to a relay with lettre's SMTP client, over reused
//!   connections (one per sender task at most). The
//!   password comes from `NEWSLETTER_SMTP_PASSWORD` only. Several relays may be listed: each message
//!   goes to a healthy one (by weight), and a relay that cannot be reached is rested for a while.
//! - `ses://REGION[?endpoint=URL&configuration_set=NAME]` sends through Amazon SES's v2 API
//!   ([`ses`]), with credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//!   `AWS_SESSION_TOKEN` only; SES names each message it accepts, and the id is kept with the
//!   delivery.
//! - `postmark://[?endpoint=URL&stream=NAME&timeout=SECS]` sends through Postmark's batch API
//!   ([`postmark`]: the message turned into Postmark's JSON, up to 500 per call), with the server
//!   token from `NEWSLETTER_POSTMARK_TOKEN` only; Postmark's `MessageID` is kept with the delivery.
//! - `mailgun://DOMAIN[?region=eu&endpoint=URL&timeout=SECS]` sends our MIME as it is through
//!   Mailgun's `messages.mime` ([`mailgun`]), with the API key from `NEWSLETTER_MAILGUN_KEY` only;
//!   Mailgun's message id (without `<>`) is kept with the delivery.
//!
//! The three APIs share one pooled HTTP client ([`http`]).
//!
//! Every failure is classified for the delivery engine: [`Failure::Transient`] (retry later),
//! [`Failure::Recipient`] (a 5xx for this recipient: a hard bounce) and [`Failure::Fatal`] (nothing
//! will get through: wrong credentials, TLS, the relay refusing the sender).

mod file;
mod http;
mod mailgun;
mod postmark;
mod ses;
mod sigv4;
mod smtp;
mod url;

use std::path::PathBuf;

use thiserror::Error;

use crate::domain::EmailAddress;

pub use mailgun::{KEY_ENV as MAILGUN_KEY_ENV, Mailgun};
pub use postmark::{Postmark, TOKEN_ENV as POSTMARK_TOKEN_ENV};
pub use ses::{ACCESS_KEY_ENV, SECRET_KEY_ENV, SESSION_TOKEN_ENV, Ses};
pub use smtp::Relay;

/// The environment variable holding the SMTP password.
pub const PASSWORD_ENV: &str = "NEWSLETTER_SMTP_PASSWORD";

/// The SMTP password from [`PASSWORD_ENV`]; unset or empty is none.
pub fn password_from_env() -> Option<String> {
    std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty())
}

/// A transport URL that cannot be used.
#[derive(Debug, Error)]
pub enum TransportError {
    /// The transport URL is not one we know.
    #[error(
        "transport `{0}` is not supported: use file:DIR, smtp://host:port (?tls=starttls), smtps://host:465, ses://REGION, postmark:// or mailgun://DOMAIN"
    )]
    Unsupported(String),
    /// The URL is malformed.
    #[error("transport `{url}`: {message}")]
    Invalid { url: String, message: String },
}

/// Why one message was not handed over.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Failure {
    /// Worth retrying: a 4xx, a timeout, a dropped or refused connection.
    #[error("{0}")]
    Transient(String),
    /// Refused for good for this recipient (a 5xx to RCPT or DATA). `status` is the enhanced status
    /// code when the reply has one, else the reply code.
    #[error("{status} {message}")]
    Recipient { status: String, message: String },
    /// Nothing will get through until an operator acts (credentials, TLS, sender refused).
    #[error("{0}")]
    Fatal(String),
    /// This message cannot go through this relay, though others can, and the recipient is not at
    /// fault: an address with non-ASCII characters, and a relay without SMTPUTF8.
    #[error("{0}")]
    Unsendable(String),
}

/// A configured transport.
pub enum Transport {
    /// Writes `<DIR>/<name>.eml`.
    File(PathBuf),
    /// One or more SMTP relays.
    Smtp(Vec<Relay>),
    /// Amazon SES's v2 API.
    Ses(Box<Ses>),
    /// Postmark's batch API.
    Postmark(Box<Postmark>),
    /// Mailgun's `messages.mime`.
    Mailgun(Box<Mailgun>),
    /// Accepts everything and sends nothing (`send --dry-run`).
    DryRun,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Transport {
    /// Parses one transport URL, or several separated by commas or spaces (SMTP relays with
    /// failover). `pool` is the most connections kept per relay; `password` is used for URLs with a
    /// user name. SES's credentials, Postmark's token and Mailgun's key are read from the
    /// environment.
    pub fn from_url(
        urls: &str,
        pool: u32,
        password: Option<&str>,
    ) -> Result<Transport, TransportError> {
        Ok(match url::parse(urls)? {
            url::Target::File(dir) => Transport::File(dir),
            url::Target::Relays(list) => Transport::Smtp(
                list.into_iter()
                    .map(|u| Relay::new(u, pool, password))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            url::Target::Ses(u) => {
                Transport::Ses(Box::new(Ses::new(u, pool, &|k| std::env::var(k).ok())?))
            }
            url::Target::Postmark(u) => {
                Transport::Postmark(Box::new(Postmark::new(u, pool, &|k| {
                    std::env::var(k).ok()
                })?))
            }
            url::Target::Mailgun(u) => {
                Transport::Mailgun(Box::new(Mailgun::new(u, pool, &|k| std::env::var(k).ok())?))
            }
        })
    }

    /// A one-line description for confirmations and logs (no credentials).
    pub fn describe(&self) -> String {
        match self {
            Transport::File(dir) => format!("file outbox {}", dir.display()),
            Transport::Smtp(relays) => {
                let names: Vec<&str> = relays.iter().map(|r| r.label.as_str()).collect();
                format!("SMTP via {}", names.join(", "))
            }
            Transport::Ses(ses) => format!("Amazon SES {}", ses.label),
            Transport::Postmark(p) => format!("Postmark {}", p.label),
            Transport::Mailgun(m) => format!("Mailgun {}", m.label),
            Transport::DryRun => "dry run (nothing is sent)".to_string(),
        }
    }

    /// Opens a connection to every SMTP relay (greeting, TLS, AUTH) before anything is sent, so
    /// that wrong credentials or TLS stop a campaign before it touches a subscriber. Fails only when
    /// no relay works, or when one has a configuration error (credentials, TLS). For SES: reads the
    /// account (credentials accepted, sending not paused); for Postmark, the server the token
    /// belongs to; for Mailgun, the domain (key accepted, domain not disabled).
    pub async fn preflight(&self) -> Result<(), Failure> {
        let labelled = |label: &str, f: Failure| match f {
            Failure::Fatal(m) => Failure::Fatal(format!("{label}: {m}")),
            other => Failure::Transient(format!("{label}: {other}")),
        };
        match self {
            Transport::Smtp(relays) => smtp::preflight(relays).await,
            Transport::Ses(ses) => ses
                .account()
                .await
                .map(|_| ())
                .map_err(|f| labelled(&ses.label, f)),
            Transport::Postmark(p) => p
                .server()
                .await
                .map(|_| ())
                .map_err(|f| labelled(&p.label, f)),
            Transport::Mailgun(m) => match m.domain().await {
                Ok(d) if d.state == "disabled" => Err(Failure::Fatal(format!(
                    "{}: Mailgun has disabled this domain; see the domain's page in Mailgun",
                    m.label
                ))),
                Ok(_) => Ok(()),
                Err(f) => Err(labelled(&m.label, f)),
            },
            Transport::File(_) | Transport::DryRun => Ok(()),
        }
    }

    /// Each relay on its own, for `doctor`: its label, and what the connection showed or why it
    /// failed. A relay without TLS away from this machine is reported as a failure. `sender` is the
    /// From address (`Name <address>` or the bare address): through SES, its domain or itself must
    /// be a verified identity; through Mailgun, the domain must be active.
    pub async fn probe(&self, sender: Option<&str>) -> Vec<(String, Result<String, Failure>)> {
        match self {
            Transport::Smtp(relays) => {
                let mut out = smtp::probe(relays).await;
                for (r, (_, result)) in relays.iter().zip(out.iter_mut()) {
                    if result.is_ok() && r.plain() && !smtp::is_loopback(r) {
                        *result = Err(Failure::Fatal(
                            "mail and credentials would cross the network in clear: use ?tls=starttls or smtps://".into(),
                        ));
                    }
                }
                out
            }
            Transport::Ses(ses) => {
                let mut out = vec![(ses.label.clone(), ses.account().await)];
                if let Some(from) = sender.and_then(ses::address_of)
                    && out[0].1.is_ok()
                {
                    out.push((
                        format!("{} sender {from}", ses.label),
                        ses.identity(&from).await,
                    ));
                }
                out
            }
            Transport::Postmark(p) => vec![(p.label.clone(), p.server().await)],
            Transport::Mailgun(m) => vec![(
                m.label.clone(),
                m.domain().await.and_then(|d| match d.state.as_str() {
                    "active" => Ok("API key accepted, domain active".to_string()),
                    "disabled" => Err(Failure::Fatal(
                        "API key accepted, but Mailgun has disabled the domain: see the \
                         domain's page in Mailgun"
                            .into(),
                    )),
                    other => Err(Failure::Fatal(format!(
                        "API key accepted, but the domain is {other}: publish the DNS records \
                         Mailgun lists for it (SPF, DKIM) and verify it in Mailgun"
                    ))),
                }),
            )],
            Transport::File(dir) => vec![(
                format!("file:{}", dir.display()),
                Ok("writes .eml files; nothing is sent".into()),
            )],
            Transport::DryRun => Vec::new(),
        }
    }

    /// Hands one message over: `from` is the envelope sender (VERP), `to` the one recipient, and
    /// `name` a unique name for the message (the outbox file name). On success, the id the
    /// provider gave the message when it gives one (SES's `MessageId`), to keep with the delivery.
    /// Through SES, Postmark and Mailgun, `from` is not used: they set the envelope sender
    /// themselves.
    pub async fn deliver(
        &self,
        from: &str,
        to: &EmailAddress,
        name: &str,
        message: &[u8],
    ) -> Result<Option<String>, Failure> {
        match self {
            Transport::DryRun => Ok(None),
            Transport::File(dir) => file::write_file(dir, name, message)
                .await
                .map(|()| None)
                .map_err(|e| Failure::Fatal(format!("cannot write to {}: {e}", dir.display()))),
            Transport::Smtp(relays) => smtp::deliver(relays, from, to, name, message)
                .await
                .map(|()| None),
            Transport::Ses(ses) => ses.deliver(to, message).await,
            Transport::Postmark(p) => p.deliver(to, message).await,
            Transport::Mailgun(m) => m.deliver(to, message).await,
        }
    }

    /// Closes pooled connections politely (QUIT).
    pub async fn shutdown(&self) {
        if let Transport::Smtp(relays) = self {
            smtp::shutdown(relays).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parses_transport_urls() {
        assert!(matches!(
            Transport::from_url("file:outbox", 4, None).unwrap(),
            Transport::File(p) if p == std::path::Path::new("outbox")
        ));
        let t = Transport::from_url(
            "smtp://127.0.0.1:2526?helo=nl.test&weight=3, smtps://mail.example.org",
            4,
            None,
        )
        .unwrap();
        assert_eq!(
            t.describe(),
            "SMTP via 127.0.0.1:2526, mail.example.org:465"
        );
        let Transport::Smtp(relays) = &t else {
            panic!("smtp")
        };
        assert_eq!(relays[0].weight, 3);
    }

    #[test]
    fn postmark_and_mailgun_urls_and_their_credentials() {
        let env = |k: &str| match k {
            "NEWSLETTER_POSTMARK_TOKEN" => Some("pm-secret".to_string()),
            "NEWSLETTER_MAILGUN_KEY" => Some("mg-secret".to_string()),
            _ => None,
        };
        let none = |_: &str| None;
        let pm = |u: &str| match url::parse(u) {
            Ok(url::Target::Postmark(p)) => p,
            _ => panic!("{u}"),
        };
        let mg = |u: &str| match url::parse(u) {
            Ok(url::Target::Mailgun(m)) => m,
            _ => panic!("{u}"),
        };
        let p = Postmark::new(pm("postmark://"), 4, &env).unwrap();
        assert_eq!(p.label, "postmark://");
        let p = Postmark::new(
            pm("postmark:?stream=weekly&endpoint=http://127.0.0.1:8025"),
            4,
            &env,
        )
        .unwrap();
        assert_eq!(p.label, "postmark:// via http://127.0.0.1:8025");
        let e = Postmark::new(pm("postmark://"), 4, &none)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("NEWSLETTER_POSTMARK_TOKEN"), "{e}");
        let m = Mailgun::new(mg("mailgun://MG.Example.org"), 4, &env).unwrap();
        assert_eq!(m.label, "mailgun://mg.example.org");
        let m = Mailgun::new(mg("mailgun://mg.example.org?region=eu"), 4, &env).unwrap();
        assert_eq!(m.label, "mailgun://mg.example.org?region=eu");
        let e = Mailgun::new(mg("mailgun://mg.example.org"), 4, &none)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("NEWSLETTER_MAILGUN_KEY"), "{e}");
    }

    #[tokio::test]
    async fn rejects_bad_urls_with_reasons() {
        for (url, want) in [
            ("ftp://x", "not supported"),
            ("file:", "outbox folder is missing"),
            ("smtp://u:pw@host", "NEWSLETTER_SMTP_PASSWORD"),
            ("smtp://u@host", "NEWSLETTER_SMTP_PASSWORD"),
            ("smtp://host:99999", "port"),
            ("smtp://host?tls=maybe", "tls=`maybe`"),
            ("smtp://host?colour=red", "unknown parameter `colour`"),
            ("postmark://api.example", "write it postmark://"),
            ("postmark://?stream=", "stream is empty"),
            ("postmark://?endpoint=http://mail.example.org", "in clear"),
            ("postmark://?colour=red", "unknown parameter `colour`"),
            ("postmark://, smtp://relay", "alone"),
            ("mailgun://", "not a domain"),
            ("mailgun://mg.example.org?region=asia", "region=`asia`"),
            (
                "mailgun://mg.example.org?endpoint=ftp://x",
                "must start with https://",
            ),
            ("smtp://relay, mailgun://mg.example.org", "alone"),
        ] {
            let e = Transport::from_url(url, 1, None).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("pw"), "{url} leaks the password: {e}");
        }
    }
}
