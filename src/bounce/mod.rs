//! Bounces and complaints: understanding a message that came back, and deciding what it means.
//!
//! [`parse`] reads one message and never fails or panics: whatever it cannot understand is reported
//! as such. It finds:
//! - RFC 3464 delivery status notifications (`multipart/report; report-type=delivery-status`);
//! - RFC 5965 ARF complaints (`report-type=feedback-report`);
//! - RFC 3834 auto-replies (vacation and the like), which are not bounces;
//! - the non-standard bounce texts some MTAs still send (see [`heuristics`]).
//!
//! Each affected recipient is attributed, most reliable first: the VERP address the bounce was sent
//! to, the DSN's `Final-Recipient`/`Original-Recipient`, the returned original's Message-ID, then a
//! heuristic reading of the text. A subscriber is never named on a guess that contradicts the VERP.

pub mod heuristics;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::Serialize;

use crate::mail::Verp;

/// What kind of message it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An RFC 3464 delivery status notification.
    Dsn,
    /// An RFC 5965 abuse/feedback report.
    Arf,
    /// A bounce in a format of its own, read by heuristics.
    NonStandardBounce,
    /// A vacation message or other automatic reply: not a bounce.
    AutoReply,
    /// Nothing we recognise as a bounce.
    NotABounce,
}

impl Kind {
    /// The name shown by `bounces inspect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dsn => "dsn",
            Kind::Arf => "arf",
            Kind::NonStandardBounce => "non-standard bounce",
            Kind::AutoReply => "auto-reply",
            Kind::NotABounce => "not a bounce",
        }
    }
}

/// What a recipient's outcome means for the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// The address does not work: suppress.
    Hard,
    /// It may work later (mailbox full, delayed, 4.x.x): count.
    Soft,
    /// The recipient reported the mail as spam: suppress for good.
    Complaint,
    /// The receiver refused us (5.7.x policy, reputation): a sender-side problem. Record and alert,
    /// never suppress the subscriber.
    Policy,
    /// Delivered, relayed, or nothing to act on.
    None,
}

impl Class {
    /// The name shown by `bounces inspect` and stored in the bounce log.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Hard => "hard",
            Class::Soft => "soft",
            Class::Complaint => "complaint",
            Class::Policy => "policy",
            Class::None => "none",
        }
    }
}

/// How a recipient was tied to a delivery, most reliable first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attribution {
    /// The VERP address the bounce was sent to.
    Verp,
    /// The DSN's Final-Recipient or Original-Recipient field.
    DsnField,
    /// The Message-ID (or VERP Return-Path) of the returned original message.
    OriginalHeaders,
    /// A reading of a non-standard bounce text.
    Heuristic,
}

impl Attribution {
    /// The name shown by `bounces inspect` and stored in the bounce log.
    pub fn as_str(self) -> &'static str {
        match self {
            Attribution::Verp => "verp",
            Attribution::DsnField => "dsn-field",
            Attribution::OriginalHeaders => "original-headers",
            Attribution::Heuristic => "heuristic",
        }
    }
}

/// The delivery a bounce is about.
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
    /// The enhanced status code (`5.1.1`), when given.
    pub status: Option<String>,
    /// The remote server's words.
    pub diagnostic: Option<String>,
    /// DSN `Action` (`failed`, `delayed`, …), when given.
    pub action: Option<String>,
    /// What tied this recipient to a delivery (or to an address).
    pub attribution: Attribution,
    /// The delivery, when the VERP or our Message-ID identifies it.
    pub delivery: Option<DeliveryRef>,
}

/// Everything understood from one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub kind: Kind,
    pub recipients: Vec<Recipient>,
    /// The message's own Message-ID, for the log.
    pub message_id: Option<String>,
    /// Why nothing could be attributed, when that is the case.
    pub note: Option<String>,
}

impl Report {
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

/// Reads one message. `envelope_to` is the address it was delivered to, when the caller knows it
/// (Postfix `pipe` passes it; a Maildir has `Delivered-To`). Our Message-IDs (`<issue-N.sID@domain>`)
/// use the VERP domain.
pub fn parse(bytes: &[u8], verp: &Verp, envelope_to: Option<&str>) -> Report {
    let bytes = &bytes[..bytes.len().min(PARSE_LIMIT)];
    let Some(msg) = MessageParser::default().parse(bytes) else {
        return Report {
            kind: Kind::NotABounce,
            recipients: Vec::new(),
            message_id: None,
            note: Some("not a parsable e-mail message".into()),
        };
    };
    let message_id = msg.message_id().map(str::to_string);
    // 1. The VERP address this message was sent to.
    let mut to_addresses: Vec<String> = envelope_to.into_iter().map(str::to_string).collect();
    for name in [
        "Delivered-To",
        "X-Original-To",
        "Envelope-To",
        "X-Envelope-To",
    ] {
        for (n, v) in msg.headers_raw() {
            if n.eq_ignore_ascii_case(name) {
                to_addresses.push(v.trim().to_string());
            }
        }
    }
    if let Some(to) = msg.to() {
        for a in to.iter() {
            if let Some(addr) = a.address() {
                to_addresses.push(addr.to_string());
            }
        }
    }
    let verp_delivery = to_addresses
        .iter()
        .find_map(|a| verp.parse(a))
        .map(DeliveryRef::from_verp);

    let root = msg.root_part();
    let report_type = root
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);

    // The returned original (message/rfc822 or text/rfc822-headers): its Message-ID and Return-Path
    // can name our delivery.
    let mut original_delivery = None;
    let mut original_to = None;
    for part in &msg.parts {
        let ct = part.content_type();
        let is_headers = ct.is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("text")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
        });
        let headers_text: Option<String> = match &part.body {
            PartType::Message(m) => Some(
                m.headers_raw()
                    .map(|(n, v)| format!("{n}:{v}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ if is_headers => Some(String::from_utf8_lossy(part.contents()).into_owned()),
            _ => None,
        };
        if let Some(h) = headers_text {
            let fields = header_block(&h);
            for (n, v) in &fields {
                if n == "message-id" {
                    original_delivery = original_delivery.or_else(|| our_message_id(v, verp));
                }
                if n == "return-path" {
                    original_delivery =
                        original_delivery.or_else(|| verp.parse(v).map(DeliveryRef::from_verp));
                }
                if n == "to" && original_to.is_none() {
                    original_to = Some(v.trim().trim_matches(['<', '>']).to_string());
                }
            }
        }
    }
    let delivery = verp_delivery.or(original_delivery);
    let base_attribution = if verp_delivery.is_some() {
        Attribution::Verp
    } else if original_delivery.is_some() {
        Attribution::OriginalHeaders
    } else {
        Attribution::DsnField
    };

    match report_type.as_deref() {
        Some("delivery-status") => {
            let fields = message_part(&msg, &["delivery-status", "global-delivery-status"])
                .map(|p| String::from_utf8_lossy(raw_body(&msg, p)).into_owned());
            let Some(text) = fields else {
                return Report {
                    kind: Kind::Dsn,
                    recipients: Vec::new(),
                    message_id,
                    note: Some("a delivery report without its delivery-status part".into()),
                };
            };
            let recipients = dsn_recipients(&text, delivery, base_attribution);
            let note = recipients
                .is_empty()
                .then(|| "a delivery report that names no recipient".to_string());
            Report {
                kind: Kind::Dsn,
                recipients,
                message_id,
                note,
            }
        }
        Some("feedback-report") => {
            let fields = message_part(&msg, &["feedback-report"])
                .map(|p| header_block(&String::from_utf8_lossy(raw_body(&msg, p))))
                .unwrap_or_default();
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.trim().to_string())
            };
            let email = field("original-rcpt-to")
                .or(field("removal-recipient"))
                .or(original_to.clone())
                .map(|e| strip_addr_type(&e));
            let recipients = if delivery.is_some() || email.is_some() {
                vec![Recipient {
                    email,
                    class: Class::Complaint,
                    status: None,
                    diagnostic: field("feedback-type").map(|t| format!("feedback-type: {t}")),
                    action: None,
                    attribution: if delivery.is_some() {
                        base_attribution
                    } else {
                        Attribution::DsnField
                    },
                    delivery,
                }]
            } else {
                Vec::new()
            };
            Report {
                kind: Kind::Arf,
                note: recipients
                    .is_empty()
                    .then(|| "a complaint that names no recipient".to_string()),
                recipients,
                message_id,
            }
        }
        _ => {
            let text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
            let subject = msg.subject().unwrap_or("");
            match heuristics::read(subject, &text) {
                Some(found) => {
                    let recipients = found
                        .into_iter()
                        .map(|h| Recipient {
                            class: classify(h.status.as_deref(), Some("failed"), &h.diagnostic),
                            status: h.status,
                            diagnostic: Some(h.diagnostic),
                            action: None,
                            attribution: if delivery.is_some() {
                                base_attribution
                            } else {
                                Attribution::Heuristic
                            },
                            delivery,
                            email: h.email,
                        })
                        .collect();
                    Report {
                        kind: Kind::NonStandardBounce,
                        recipients,
                        message_id,
                        note: None,
                    }
                }
                // MTAs mark their bounces auto-replied too, so this is asked only after the
                // bounce texts had their chance.
                None if is_auto_reply(&msg) => Report {
                    kind: Kind::AutoReply,
                    recipients: Vec::new(),
                    message_id,
                    note: Some("an automatic reply (RFC 3834); not a bounce".into()),
                },
                None => Report {
                    kind: Kind::NotABounce,
                    recipients: Vec::new(),
                    message_id,
                    note: Some("no delivery report, complaint or bounce text found".into()),
                },
            }
        }
    }
}

/// The first `message/<subtype>` part, for one of the given subtypes.
fn message_part<'a>(
    msg: &'a mail_parser::Message<'a>,
    subtypes: &[&str],
) -> Option<&'a mail_parser::MessagePart<'a>> {
    msg.parts.iter().find(|p| {
        p.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("message")
                && c.subtype()
                    .is_some_and(|s| subtypes.iter().any(|t| s.eq_ignore_ascii_case(t)))
        })
    })
}

/// The raw (transfer-decoded when the parser did so) body of a part.
fn raw_body<'a>(
    msg: &'a mail_parser::Message<'a>,
    part: &'a mail_parser::MessagePart<'a>,
) -> &'a [u8] {
    match &part.body {
        PartType::Text(t) => t.as_bytes(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b,
        PartType::Message(m) => m.raw_message(),
        _ => {
            let raw = msg.raw_message();
            let (s, e) = (part.offset_body as usize, part.offset_end as usize);
            raw.get(s.min(e)..e.min(raw.len())).unwrap_or(&[])
        }
    }
}

/// RFC 3834 and the common older markers of automatic replies.
fn is_auto_reply(msg: &mail_parser::Message<'_>) -> bool {
    let h = |name: &str| {
        msg.headers_raw()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    if let Some(a) = h("Auto-Submitted")
        && a != "no"
        && a.starts_with("auto-replied")
    {
        return true;
    }
    h("X-Autoreply").is_some()
        || h("X-Autorespond").is_some()
        || h("Precedence").is_some_and(|p| p == "auto_reply")
        || h("X-Auto-Response-Suppress").is_some() && h("Auto-Submitted").is_some()
}

/// Header-style `Name: value` lines (with continuation lines) into lowercase names and values.
/// Blank lines separate groups in a DSN; they are kept as `("", "")` markers.
fn header_block(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push((String::new(), String::new()));
        } else if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut()
                && !last.0.is_empty()
            {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            out.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

/// `rfc822; user@example.org` → `user@example.org`.
fn strip_addr_type(v: &str) -> String {
    let v = v.trim();
    let v = match v.split_once(';') {
        Some((_, a)) => a.trim(),
        None => v,
    };
    v.trim_matches(['<', '>']).to_string()
}

/// `<issue-576.s42.TAG@bounces.example.org>` → the delivery, when it is one of ours and its keyed
/// tag verifies.
fn our_message_id(v: &str, verp: &Verp) -> Option<DeliveryRef> {
    let (issue, subscriber_id) = verp.parse_message_id(v)?;
    Some(DeliveryRef {
        campaign_id: None,
        issue: Some(issue),
        subscriber_id,
    })
}

/// The per-recipient groups of a DSN's delivery-status part.
fn dsn_recipients(
    text: &str,
    delivery: Option<DeliveryRef>,
    attribution: Attribution,
) -> Vec<Recipient> {
    let fields = header_block(text);
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for f in fields {
        if f.0.is_empty() {
            if !groups.last().is_some_and(Vec::is_empty) {
                groups.push(Vec::new());
            }
        } else {
            groups.last_mut().expect("one group").push(f);
        }
    }
    let mut out = Vec::new();
    for g in groups {
        let get = |name: &str| g.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let Some(rcpt) = get("final-recipient").or(get("original-recipient")) else {
            continue; // the per-message group
        };
        let action = get("action").map(|a| a.to_ascii_lowercase());
        let status = get("status").and_then(|s| {
            crate::transport::enhanced_status(&s).or_else(|| Some(s.trim().to_string()))
        });
        let diagnostic = get("diagnostic-code").map(|d| strip_addr_type(&d));
        let class = classify(
            status.as_deref(),
            action.as_deref(),
            diagnostic.as_deref().unwrap_or(""),
        );
        out.push(Recipient {
            email: Some(strip_addr_type(&rcpt)),
            class,
            status,
            diagnostic,
            action,
            attribution,
            delivery,
        });
    }
    // Several recipients and one VERP: the VERP names one delivery, so only a recipient whose
    // outcome is a failure keeps it (see the apply step, which matches addresses).
    out
}

/// The classification rules: 5.x.x failed is hard, except 5.2.2 (mailbox full, soft) and 5.7.x (a
/// policy or reputation refusal of the sender); 4.x.x or delayed is soft; delivered/relayed is none.
pub fn classify(status: Option<&str>, action: Option<&str>, diagnostic: &str) -> Class {
    let action = action.unwrap_or("failed");
    if matches!(action, "delivered" | "relayed" | "expanded") {
        return Class::None;
    }
    let status = status
        .map(str::to_string)
        .or_else(|| crate::transport::enhanced_status(diagnostic));
    let Some(status) = status else {
        // No code at all: a failure report without detail is taken as hard only if it says so.
        return if action == "delayed" {
            Class::Soft
        } else if action == "failed" {
            Class::Hard
        } else {
            Class::None
        };
    };
    let mut parts = status.split('.');
    let class = parts.next().unwrap_or("");
    let subject = parts.next().unwrap_or("");
    let detail = parts.next().unwrap_or("");
    match (class, subject, detail) {
        _ if action == "delayed" => Class::Soft,
        ("5", "2", "2") => Class::Soft,
        ("5", "7", _) => Class::Policy,
        ("5", _, _) => Class::Hard,
        ("4", _, _) => Class::Soft,
        // A bare reply code (550) from a heuristic.
        (c, "", "") if c.starts_with('5') => Class::Hard,
        (c, "", "") if c.starts_with('4') => Class::Soft,
        _ => Class::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_rules() {
        assert_eq!(classify(Some("5.1.1"), Some("failed"), ""), Class::Hard);
        assert_eq!(classify(Some("5.2.2"), Some("failed"), ""), Class::Soft);
        assert_eq!(classify(Some("5.7.1"), Some("failed"), ""), Class::Policy);
        assert_eq!(classify(Some("4.4.1"), Some("delayed"), ""), Class::Soft);
        assert_eq!(classify(Some("4.7.1"), Some("failed"), ""), Class::Soft);
        assert_eq!(classify(Some("2.0.0"), Some("delivered"), ""), Class::None);
        assert_eq!(
            classify(None, Some("failed"), "smtp; 550 5.1.1 unknown"),
            Class::Hard
        );
        assert_eq!(classify(Some("550"), None, ""), Class::Hard);
    }

    #[test]
    fn our_message_ids_map_to_deliveries() {
        let v = Verp::new(b"k", "bounces.example.org");
        assert_eq!(
            our_message_id(&v.message_id("issue-576", 42), &v),
            Some(DeliveryRef {
                campaign_id: None,
                issue: Some(576),
                subscriber_id: 42
            })
        );
        // The untagged form anyone can write proves nothing.
        assert_eq!(
            our_message_id("<issue-576.s42@bounces.example.org>", &v),
            None
        );
        assert_eq!(our_message_id("<random@bounces.example.org>", &v), None);
    }
}

/// Why a recipient of a report may, or may not, change a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proof {
    /// Our VERP address, whose keyed tag verifies, for a delivery we made.
    VerpTag,
    /// Our tagged Message-ID (or VERP Return-Path) in the returned headers, for a delivery we made.
    OriginalHeaders,
    /// Our tag verifies, but we have no record of handing that delivery over.
    NoSuchDelivery,
    /// Only an address: anyone could have written it.
    Unproven,
    /// Delivered or relayed: nothing to act on.
    NothingToActOn,
}

impl Proof {
    /// One line for `bounces inspect`.
    pub fn explain(self) -> &'static str {
        match self {
            Proof::VerpTag => "proof: our VERP address, its keyed tag verifies",
            Proof::OriginalHeaders => {
                "proof: our tagged Message-ID or VERP Return-Path in the returned headers"
            }
            Proof::NoSuchDelivery => {
                "our tag verifies, but we have no record of sending that delivery: quarantined, changes nobody"
            }
            Proof::Unproven => {
                "unproven: nothing we issued names this delivery; quarantined, changes nobody"
            }
            Proof::NothingToActOn => "nothing to act on",
        }
    }
}

/// The [`Proof`] behind each recipient of a report, in order (looks each named delivery up).
pub async fn proofs(
    store: &crate::store::Store,
    report: &Report,
) -> Result<Vec<Proof>, crate::store::StoreError> {
    let mut out = Vec::with_capacity(report.recipients.len());
    for r in &report.recipients {
        out.push(match r.delivery {
            _ if r.class == Class::None => Proof::NothingToActOn,
            None => Proof::Unproven,
            Some(d) => match store
                .find_delivery(d.campaign_id, d.issue, d.subscriber_id)
                .await?
            {
                None => Proof::NoSuchDelivery,
                Some(_) if r.attribution == Attribution::Verp => Proof::VerpTag,
                Some(_) => Proof::OriginalHeaders,
            },
        });
    }
    Ok(out)
}

/// What was done for one recipient of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub recipient: Recipient,
    pub applied: crate::store::Applied,
}

/// Logs a report's recipients in the store and applies the policy, **only when the report is tied to
/// a delivery we made**: a VERP address whose keyed tag verifies, or our own tagged Message-ID (or
/// VERP Return-Path) in the returned headers, naming a delivery row that was handed over. Such a
/// report acts on that delivery's subscriber only. A report that merely names an address proves
/// nothing (anyone can send one to the bounce address): its recipients come back `Unproven`,
/// nothing is written, and the intake quarantines the message. Reports that are not bounces change
/// nothing.
pub async fn apply(
    store: &crate::store::Store,
    report: &Report,
    policy: crate::store::BouncePolicy,
) -> Result<Vec<Decision>, crate::store::StoreError> {
    use crate::store::BounceRecord;
    let source = match report.kind {
        Kind::Dsn => "dsn",
        Kind::Arf => "arf",
        Kind::NonStandardBounce => "heuristic",
        Kind::AutoReply | Kind::NotABounce => return Ok(Vec::new()),
    };
    let relevant: Vec<&Recipient> = report
        .recipients
        .iter()
        .filter(|r| r.class != Class::None)
        .collect();
    let record =
        |r: &Recipient, subscriber_id, campaign_id, attribution: Attribution| BounceRecord {
            subscriber_id,
            campaign_id,
            email: r.email.clone(),
            kind: r.class.as_str().to_string(),
            status: r.status.clone(),
            diagnostic: r.diagnostic.clone(),
            source: source.to_string(),
            attribution: attribution.as_str().to_string(),
        };
    let mut out = Vec::new();
    let delivery = relevant.iter().find_map(|r| r.delivery);
    if let Some(d) = delivery
        && let Some((c, sent_to)) = store
            .find_delivery(d.campaign_id, d.issue, d.subscriber_id)
            .await?
    {
        // One delivery, one recipient: the one the evidence names if it matches, else the
        // first failure. The address in the evidence never redirects it to someone else.
        let chosen = relevant
            .iter()
            .find(|r| {
                r.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(&sent_to))
            })
            .or(relevant.first())
            .expect("relevant has the recipient that carried the delivery");
        let applied = store
            .record_bounce(
                &record(chosen, Some(d.subscriber_id), Some(c), chosen.attribution),
                policy,
            )
            .await?;
        out.push(Decision {
            recipient: (*chosen).clone(),
            applied,
        });
        return Ok(out);
    }
    for r in relevant {
        if let Some(d) = r.delivery {
            tracing::warn!(
                subscriber_id = d.subscriber_id,
                "a bounce names a delivery we have no record of sending; quarantined"
            );
        }
        out.push(Decision {
            recipient: r.clone(),
            applied: crate::store::Applied::Unproven,
        });
    }
    Ok(out)
}
