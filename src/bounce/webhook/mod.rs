//! What e-mail service providers report by HTTP: bounces, complaints and unsubscribes as signed
//! events ([`sns`] for Amazon SES through SNS, [`postmark`], [`mailgun`]).
//!
//! Each module checks a request's proof of origin first (a signature, or the credentials the
//! operator gave the provider), and only then reads it into the same [`Report`] a mailed bounce
//! becomes, tied to its delivery later by the message id the provider gave it
//! ([`super::policy::tie_by_provider_id`]). Nothing here touches the network or the store: the web
//! layer fetches certificates, claims event ids and answers the provider.

pub mod mailgun;
pub mod postmark;
pub mod sns;

use thiserror::Error;

use super::{Attribution, Kind, Recipient, Report};
use crate::domain::BounceReason;

/// The header each webhook's `GET` answers with (`configured` or `not-configured`), by which
/// `doctor` knows that `newsletter serve` itself answered at the public address.
pub const PROBE_HEADER: &str = "x-newsletter-webhook";

/// The most of a webhook request's body that is read.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Why a webhook request is refused. Logged in one bounded line; nothing of it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// This webhook's secret is not configured: it accepts nothing.
    #[error("this webhook is not configured ({0} is not set)")]
    NotConfigured(&'static str),
    /// No signature or credentials at all.
    #[error("not signed: {0}")]
    Unsigned(&'static str),
    /// A signature or credentials that do not verify.
    #[error("the signature or credentials do not verify: {0}")]
    Forged(&'static str),
    /// Signed too long ago (or in the future): the age in seconds, negative for the future.
    #[error("stale: {}", stale_words(*.0))]
    Stale(i64),
    /// A one-time token or event seen before.
    #[error("replayed: this signature was already used")]
    Replayed,
    /// Signed, but not by or for us (another topic, a certificate from elsewhere).
    #[error("not ours: {0}")]
    NotOurs(String),
    /// Not the provider's format.
    #[error("malformed: {0}")]
    Malformed(String),
}

impl Refusal {
    /// The HTTP status to answer with: 401 when no proof was offered, 400 for what cannot be read,
    /// 403 for a proof that fails.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Unsigned(_) => 401,
            Refusal::Malformed(_) => 400,
            _ => 403,
        }
    }
}

/// One event read from a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The provider's own id for the event, by which a retry is recognised.
    pub id: String,
    /// What it reports; `None` for an event nothing is done about (an open, a click, a send).
    pub report: Option<Report>,
}

fn stale_words(age: i64) -> String {
    if age >= 0 {
        format!("signed {age} seconds ago")
    } else {
        format!("signed {} seconds in the future", age.unsigned_abs())
    }
}

/// A provider whose webhook we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Amazon SES, through SNS (or SES's notification JSON itself).
    Ses,
    Postmark,
    Mailgun,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Ses, Provider::Postmark, Provider::Mailgun];

    /// Its name: the webhook's path (`/webhooks/NAME`) and its transport's scheme (`NAME://`).
    pub fn name(self) -> &'static str {
        match self {
            Provider::Ses => "ses",
            Provider::Postmark => "postmark",
            Provider::Mailgun => "mailgun",
        }
    }

    /// What `newsletter serve` needs before this webhook accepts anything.
    pub fn needs(self) -> String {
        match self {
            Provider::Ses => {
                "the SNS topic ARNs in [webhooks.ses] topics (serve's configuration)".to_string()
            }
            Provider::Postmark => format!(
                "{} and {} in serve's environment",
                postmark::USER_ENV,
                postmark::PASSWORD_ENV
            ),
            Provider::Mailgun => format!("{} in serve's environment", mailgun::SIGNING_KEY_ENV),
        }
    }
}

/// Reads a webhook body as `provider` posts it **without checking its signature**: for
/// `bounces inspect --webhook`, which explains and changes nothing. `None`: an event nothing is
/// done about.
pub fn read_unverified(provider: Provider, body: &[u8]) -> Result<Option<Report>, Refusal> {
    if body.len() > BODY_LIMIT {
        return Err(Refusal::Malformed("larger than 256 KiB".into()));
    }
    match provider {
        Provider::Ses => {
            let v: serde_json::Value =
                serde_json::from_slice(body).map_err(|_| Refusal::Malformed("not JSON".into()))?;
            let inner = match v.get("Message").and_then(serde_json::Value::as_str) {
                Some(m) => serde_json::from_str(m)
                    .map_err(|_| Refusal::Malformed("a `Message` that is not JSON".into()))?,
                None => v,
            };
            Ok(super::esp::from_notification(&inner, None, None, None))
        }
        Provider::Postmark => postmark::event(body).map(|e| e.report),
        Provider::Mailgun => {
            let v: serde_json::Value =
                serde_json::from_slice(body).map_err(|_| Refusal::Malformed("not JSON".into()))?;
            let data = v.get("event-data").unwrap_or(&v);
            mailgun::event(data).map(|e| e.report)
        }
    }
}

/// A report of one recipient of a provider's event, tied to nothing yet.
pub(crate) fn one(
    provider: &str,
    email: &str,
    reason: BounceReason,
    status: Option<String>,
    diagnostic: Option<String>,
    evidence: String,
    message_id: Option<String>,
) -> Report {
    let email = email.trim();
    Report {
        kind: Kind::ProviderEvent,
        recipients: vec![Recipient {
            email: (!email.is_empty()).then(|| email.to_ascii_lowercase()),
            class: reason.class(),
            reason,
            status,
            diagnostic: diagnostic.filter(|d| !d.is_empty()).map(|d| bounded(&d)),
            action: None,
            attribution: Attribution::DsnField,
            delivery: None,
            evidence,
            found_in: format!("{provider} event"),
        }],
        message_id: None,
        family: Some(format!("{provider} event")),
        note: None,
        unsubscribe: None,
        provider_message_id: message_id
            .map(|m| {
                m.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
            .filter(|m| !m.is_empty()),
    }
}

/// At most 1,000 characters of a provider's free text.
fn bounded(s: &str) -> String {
    s.chars().take(1000).collect()
}

/// Equal-time comparison of two secrets' bytes.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
