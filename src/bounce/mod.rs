//! What comes back to the list: bounces, complaints and unsubscribe requests by mail.
//!
//! [`read`] reads one message and never fails or panics: whatever it cannot understand is reported as
//! such. In order, it looks for:
//! - a message to the per-recipient `List-Unsubscribe` mailto address (`unsubscribe+TOKEN@…`):
//!   an unsubscribe request ([`mailto`]);
//! - an e-mail service provider's own notification (SES's JSON) ([`esp`]);
//! - an RFC 5965 ARF complaint, attributed by our tagged Message-ID or VERP `Return-Path` in the
//!   returned headers when the provider redacts the recipient;
//! - RFC 3464 delivery status fields, wherever the reporting MTA put them ([`dsn`]);
//! - the bounce texts of MTAs that write their own, read by heuristics ([`heuristic`]), the returned
//!   original cut off first;
//! - RFC 3834 automatic replies and challenge-response requests, which are not bounces.
//!
//! Each failed recipient carries its class and the field or words that decided it ([`classify`]),
//! and the field or text that named its address. Reading an address is not proof: which reports may
//! change a subscriber is settled in [`policy`].

pub mod classify;
pub mod dsn;
pub mod esp;
pub mod heuristic;
pub mod intake;
pub mod mailto;
mod parse;
pub mod policy;
pub mod structure;
pub mod webhook;

use serde::Serialize;

pub use crate::domain::{Attribution, BounceClass as Class, BounceKind as Kind};
pub use parse::read;
pub use policy::{BouncePolicy, Decision, Plan, Proof, apply, proofs};

use crate::domain::{DsnAction, UnsubscribeToken, Verp};

/// The delivery a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryRef {
    /// The campaign, when the VERP address names it.
    pub campaign_id: Option<i64>,
    /// The issue number, when only our Message-ID names it.
    pub issue: Option<i64>,
    pub subscriber_id: i64,
}

impl DeliveryRef {
    fn from_verp((campaign_id, subscriber_id): (i64, i64)) -> DeliveryRef {
        DeliveryRef {
            campaign_id: Some(campaign_id),
            issue: None,
            subscriber_id,
        }
    }
}

/// One affected recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// The address the evidence names (may be absent when only the VERP identifies the delivery).
    pub email: Option<String>,
    pub class: Class,
    /// Why it failed; the class follows the reason's group.
    pub reason: crate::domain::BounceReason,
    /// The enhanced status code (`5.1.1`), when given, else a reply code (`550`).
    pub status: Option<String>,
    /// The remote server's words.
    pub diagnostic: Option<String>,
    /// DSN `Action` (`failed`, `delayed`, …), when given.
    pub action: Option<DsnAction>,
    /// What tied this recipient to a delivery (or to an address).
    pub attribution: Attribution,
    /// The delivery, when the VERP or our Message-ID identifies it.
    pub delivery: Option<DeliveryRef>,
    /// The field, code or phrase that decided the class.
    pub evidence: String,
    /// The field or text that named the address.
    pub found_in: String,
}

/// Everything understood from one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub kind: Kind,
    pub recipients: Vec<Recipient>,
    /// The message's own Message-ID, for the log.
    pub message_id: Option<String>,
    /// The MTA family or the structure the report was recognised by.
    pub family: Option<String>,
    /// Why nothing could be attributed, when that is the case.
    pub note: Option<String>,
    /// For an unsubscribe request: the token its address carries (never printed).
    #[serde(skip)]
    pub unsubscribe: Option<UnsubscribeToken>,
    /// For a provider's event: the id the provider gave the message it is about (SES's
    /// `mail.messageId`, Postmark's `MessageID`, Mailgun's `message-id`), by which the delivery is
    /// found when nothing else of ours names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
}

impl Report {
    fn empty(kind: Kind, message_id: Option<String>, note: &str) -> Report {
        Report {
            kind,
            recipients: Vec::new(),
            message_id,
            family: None,
            note: Some(note.to_string()),
            unsubscribe: None,
            provider_message_id: None,
        }
    }

    /// True when some recipient could be tied to an address or a delivery.
    pub fn is_attributed(&self) -> bool {
        self.recipients
            .iter()
            .any(|r| r.delivery.is_some() || r.email.is_some())
    }
}

/// Messages larger than this are only scanned in their first part: a bounce carries its evidence at
/// the top, and a 25 MB returned attachment must not cost 25 MB of parsing.
pub const PARSE_LIMIT: usize = 2 * 1024 * 1024;

/// What the reader knows besides the message.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Our VERP and Message-ID key, and the bounce domain.
    pub verp: &'a Verp,
    /// The address the message was delivered to, when the MTA says (Postfix `pipe`: `${recipient}`).
    pub envelope_to: Option<&'a str>,
    /// Our own addresses (From, Reply-To): never a failed recipient.
    pub own: &'a [String],
    /// The local part before `+TOKEN` of the unsubscribe mailto address.
    pub unsubscribe_local: &'a str,
}

/// Reads one message with only the VERP key known (our own addresses unknown).
pub fn parse(bytes: &[u8], verp: &Verp, envelope_to: Option<&str>) -> Report {
    read(
        bytes,
        &Context {
            verp,
            envelope_to,
            own: &[],
            unsubscribe_local: mailto::DEFAULT_LOCAL,
        },
    )
}
