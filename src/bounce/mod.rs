//! What comes back to the list: bounces, complaints and unsubscribe requests by mail.
//!
//! [`read`] reads one message and never fails or panics: whatever it cannot understand is reported as
//! such. In order, it looks for:
//! - a message to the per-recipient `List-Unsubscribe` mailto address (`unsubscribe+TOKEN@…`):
//!   an unsubscribe request ([`mailto`]);
//! - an RFC 5965 ARF complaint, attributed by our tagged Message-ID or VERP `Return-Path` in the
//!   returned headers when the provider redacts the recipient;
//! - RFC 3464 delivery status fields, wherever the reporting MTA put them ([`dsn`]);
//! - the bounce texts of MTAs that write their own ([`text`]), the returned original cut off first;
//! - RFC 3834 automatic replies and challenge-response requests, which are not bounces.
//!
//! Each failed recipient carries its class and the field or words that decided it ([`classify`]),
//! and the field or text that named its address. Reading an address is not proof: which reports may
//! change a subscriber is settled in [`policy`].

pub mod classify;
pub mod dsn;
pub mod mailto;
pub mod policy;
pub mod text;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::Serialize;

pub use classify::Class;
pub use policy::{Decision, Proof, apply, proofs};

use crate::domain::UnsubscribeToken;
use crate::mail::Verp;

/// What kind of message it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An RFC 3464 delivery status notification.
    Dsn,
    /// An RFC 5965 abuse/feedback report.
    Arf,
    /// A bounce in a format of its own, read from its text.
    NonStandardBounce,
    /// A request to unsubscribe, sent to the `List-Unsubscribe` mailto address.
    Unsubscribe,
    /// A vacation message, other automatic reply or challenge-response request: not a bounce.
    AutoReply,
    /// Nothing we recognise as a bounce.
    NotABounce,
    /// Not an e-mail message at all.
    Unparsable,
}

impl Kind {
    /// The name shown by `bounces inspect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dsn => "dsn",
            Kind::Arf => "arf",
            Kind::NonStandardBounce => "non-standard bounce",
            Kind::Unsubscribe => "unsubscribe request",
            Kind::AutoReply => "auto-reply",
            Kind::NotABounce => "not a bounce",
            Kind::Unparsable => "not an e-mail message",
        }
    }

    /// The bounce log's `source` for reports of this kind; `None` for what is not a bounce.
    pub fn log_source(self) -> Option<&'static str> {
        match self {
            Kind::Dsn => Some("dsn"),
            Kind::Arf => Some("arf"),
            Kind::NonStandardBounce => Some("heuristic"),
            _ => None,
        }
    }
}

/// How a recipient was tied to a delivery (or an address), most reliable first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attribution {
    /// The VERP address the bounce was sent to.
    Verp,
    /// The DSN's recipient fields.
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
    /// The enhanced status code (`5.1.1`), when given, else a reply code (`550`).
    pub status: Option<String>,
    /// The remote server's words.
    pub diagnostic: Option<String>,
    /// DSN `Action` (`failed`, `delayed`, …), when given.
    pub action: Option<String>,
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

/// The headers of a message, as lowercase names and raw values.
fn header_values<'a>(msg: &'a mail_parser::Message<'a>, name: &str) -> Vec<String> {
    msg.headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

/// The addresses in a header value, lowercase.
fn addresses_of(value: &str) -> Vec<String> {
    text::addresses(value)
        .into_iter()
        .map(|(a, _)| a.to_lowercase())
        .collect()
}

/// Reads one message.
pub fn read(bytes: &[u8], ctx: &Context<'_>) -> Report {
    let bytes = &bytes[..bytes.len().min(PARSE_LIMIT)];
    let Some(msg) = MessageParser::default().parse(bytes) else {
        return Report::empty(Kind::Unparsable, None, "not a parsable e-mail message");
    };
    let message_id = msg.message_id().map(str::to_string);
    let verp = ctx.verp;

    // Where the message was delivered: the VERP, or the unsubscribe address.
    let mut to_addresses: Vec<String> = ctx.envelope_to.into_iter().map(str::to_string).collect();
    for name in [
        "Delivered-To",
        "X-Original-To",
        "Envelope-To",
        "X-Envelope-To",
    ] {
        to_addresses.extend(header_values(&msg, name));
    }
    for list in [msg.to(), msg.cc()].into_iter().flatten() {
        to_addresses.extend(list.iter().filter_map(|a| a.address()).map(str::to_string));
    }
    if let Some(request) = mailto::recognise(&to_addresses, ctx.unsubscribe_local, verp.domain()) {
        return Report {
            kind: Kind::Unsubscribe,
            recipients: Vec::new(),
            message_id,
            family: Some("list-unsubscribe mailto".into()),
            note: request
                .is_none()
                .then(|| "an unsubscribe address without a valid token".to_string()),
            unsubscribe: request,
        };
    }
    let verp_delivery = to_addresses
        .iter()
        .find_map(|a| verp.parse(a))
        .map(DeliveryRef::from_verp);

    // The returned original (message/rfc822 or text/rfc822-headers): its Message-ID and Return-Path
    // can name our delivery; its sender is never a failed recipient.
    let mut noise = text::Noise {
        addresses: ctx.own.iter().map(|a| a.to_lowercase()).collect(),
        domains: vec![verp.domain().to_string()],
    };
    for name in ["To", "Cc", "Delivered-To", "X-Original-To"] {
        for v in header_values(&msg, name) {
            noise.addresses.extend(addresses_of(&v));
        }
    }
    let mut original_delivery = None;
    for part in &msg.parts {
        let is_headers = part.content_type().is_some_and(|c| {
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
        let Some(h) = headers_text else { continue };
        for (n, v) in header_block(&h) {
            match n.as_str() {
                "message-id" => {
                    original_delivery = original_delivery.or_else(|| our_message_id(&v, verp));
                }
                "return-path" => {
                    original_delivery =
                        original_delivery.or_else(|| verp.parse(&v).map(DeliveryRef::from_verp));
                    noise.addresses.extend(addresses_of(&v));
                }
                "from" | "sender" | "reply-to" | "errors-to" => {
                    noise.addresses.extend(addresses_of(&v));
                }
                _ => {}
            }
        }
    }
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
    let subject = msg.subject().unwrap_or("").to_string();
    let from = msg.from().and_then(|f| f.first());
    let signals = text::Signals {
        subject: subject.clone(),
        from_address: from.and_then(|a| a.address()).unwrap_or("").to_string(),
        from_name: from.and_then(|a| a.name()).unwrap_or("").to_string(),
        null_sender: header_values(&msg, "Return-Path")
            .iter()
            .any(|v| v.trim() == "<>"),
        failed_recipients: header_values(&msg, "X-Failed-Recipients")
            .iter()
            .flat_map(|v| text::addresses(v).into_iter().map(|(a, _)| a))
            .collect(),
    };
    // The human-readable text: every top-level text part (the returned original's parts are its
    // own message and are not here).
    let human: String = (0..msg.text_body_count())
        .filter_map(|i| msg.body_text(i))
        .collect::<Vec<_>>()
        .join("\n");
    // An original quoted inline (qmail, many small MTAs) has no part of its own; its header lines
    // after the cut can still name our delivery.
    if original_delivery.is_none() {
        original_delivery =
            inline_original_delivery(&human[text::before_original(&human).len()..], verp);
    }
    let delivery = verp_delivery.or(original_delivery);
    let tied = if verp_delivery.is_some() {
        Some(Attribution::Verp)
    } else if original_delivery.is_some() {
        Some(Attribution::OriginalHeaders)
    } else {
        None
    };

    let feedback = message_part(&msg, &["feedback-report"]);
    if report_type.as_deref() == Some("feedback-report") || feedback.is_some() {
        return arf(&msg, feedback, delivery, tied, message_id);
    }

    // Delivery status fields: the report part, or any text part of a report sent malformed.
    let status_text = message_part(&msg, &["delivery-status", "global-delivery-status"])
        .map(|p| String::from_utf8_lossy(raw_body(&msg, p)).into_owned())
        .or_else(|| {
            let fields_in_text = dsn::has_fields(&human);
            let bouncy = report_type.as_deref() == Some("delivery-status")
                || text::recognise(&signals, &human).is_some()
                || text::is_mail_system(&signals);
            (fields_in_text && bouncy).then(|| human.clone())
        });
    if let Some(fields) = status_text {
        let mut recipients = Vec::new();
        let groups = dsn::groups(&fields);
        let mut unnamed = Vec::new();
        for g in &groups {
            let action = g.get("action").map(|a| a.trim().to_ascii_lowercase());
            let status = g
                .get("status")
                .and_then(|s| classify::enhanced_status(s).or_else(|| Some(s.trim().to_string())));
            let diagnostic = g.get("diagnostic-code").map(|d| dsn::typed_address(d).1);
            let v = classify::classify(
                status.as_deref(),
                action.as_deref(),
                diagnostic.as_deref().unwrap_or(""),
                false,
            );
            let evidence = if g.get("status").is_some() && v.evidence.starts_with("status") {
                format!("Status: {}", &v.evidence["status ".len()..])
            } else {
                v.evidence.clone()
            };
            let r = Recipient {
                email: None,
                class: v.class,
                status: v.status.or(status),
                diagnostic,
                action,
                attribution: tied.unwrap_or(Attribution::DsnField),
                delivery,
                evidence,
                found_in: String::new(),
            };
            match dsn::recipient(g) {
                Some((addr, field)) => recipients.push(Recipient {
                    email: Some(addr),
                    found_in: field.to_string(),
                    ..r
                }),
                None => unnamed.push(r),
            }
        }
        if !unnamed.is_empty() {
            // Every recipient field named an internal address: X-Failed-Recipients or the
            // human-readable part says who it was.
            let mut named: Vec<(String, String)> = signals
                .failed_recipients
                .iter()
                .map(|a| (a.clone(), "X-Failed-Recipients".to_string()))
                .collect();
            if named.is_empty() {
                let human_only = text::before_original(&human);
                let without_fields: String = human_only
                    .lines()
                    .filter(|l| {
                        !l.split_once(':').is_some_and(|(n, _)| {
                            let n = n.trim().to_ascii_lowercase();
                            n.ends_with("recipient") || n == "reporting-mta" || n == "remote-mta"
                        })
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                named = text::read(&signals, &without_fields, &noise, false)
                    .into_iter()
                    .filter_map(|f| f.email.map(|e| (e, f.found_in)))
                    .collect();
            }
            for (i, r) in unnamed.into_iter().enumerate() {
                let (email, found_in) = match named.get(i) {
                    Some((e, f)) => (
                        Some(e.clone()),
                        format!("{f} (the DSN names an internal address)"),
                    ),
                    None => (None, "no address outside the DSN's internal one".into()),
                };
                recipients.push(Recipient {
                    email,
                    found_in,
                    ..r
                });
            }
        }
        // A group that says only "failed" or a generic code: the human-readable part may say why.
        let human_part = text::before_original(&human);
        for r in &mut recipients {
            let weak = r.evidence.contains("(generic)") || r.evidence.contains("no status");
            let Some(email) = r.email.clone().filter(|_| weak) else {
                continue;
            };
            let Some(at) = human_part
                .to_ascii_lowercase()
                .find(&email.to_ascii_lowercase())
            else {
                continue;
            };
            let window: String = human_part[at..].chars().take(400).collect();
            let v = classify::classify(None, r.action.as_deref(), &window, false);
            if !(v.evidence.contains("(generic)") || v.evidence.contains("no status")) {
                r.class = v.class;
                r.evidence = format!("{} in the human-readable part", v.evidence);
            }
        }
        let note = recipients
            .is_empty()
            .then(|| "a delivery report that names no recipient".to_string());
        return Report {
            kind: Kind::Dsn,
            recipients,
            message_id,
            family: Some(if groups.is_empty() {
                "rfc3464 (no fields)".into()
            } else {
                "rfc3464".into()
            }),
            note,
            unsubscribe: None,
        };
    }
    if report_type.as_deref() == Some("delivery-status") {
        return Report::empty(
            Kind::Dsn,
            message_id,
            "a delivery report without its delivery-status part",
        );
    }

    // Challenges and automatic replies carry bounce-like words; MTAs mark their bounces
    // auto-replied too, so a recognised bounce text wins over the auto-reply markers.
    if text::is_challenge(&subject, &human) && !text::is_mail_system(&signals) {
        return Report::empty(
            Kind::AutoReply,
            message_id,
            "a challenge-response request (asks the sender to prove they are a person); not a bounce",
        );
    }
    if let Some(family) = text::recognise(&signals, &human) {
        let delay = text::is_delay(&subject, &human);
        let recipients = text::read(&signals, &human, &noise, delay)
            .into_iter()
            .map(|f| Recipient {
                email: f.email,
                class: f.class,
                status: f.status,
                diagnostic: Some(f.diagnostic),
                action: None,
                attribution: tied.unwrap_or(Attribution::Heuristic),
                delivery,
                evidence: f.evidence,
                found_in: f.found_in,
            })
            .collect();
        return Report {
            kind: Kind::NonStandardBounce,
            recipients,
            message_id,
            family: Some(family.to_string()),
            note: None,
            unsubscribe: None,
        };
    }
    if is_auto_reply(&msg) {
        return Report::empty(
            Kind::AutoReply,
            message_id,
            "an automatic reply (RFC 3834); not a bounce",
        );
    }
    Report::empty(
        Kind::NotABounce,
        message_id,
        "no delivery report, complaint or bounce text found",
    )
}

/// An RFC 5965 complaint. Providers often redact the recipient (`Original-Rcpt-To` missing or
/// `redacted`): then our tagged Message-ID or VERP Return-Path in the returned headers names the
/// delivery.
fn arf<'a>(
    msg: &'a mail_parser::Message<'a>,
    part: Option<&'a mail_parser::MessagePart<'a>>,
    delivery: Option<DeliveryRef>,
    tied: Option<Attribution>,
    message_id: Option<String>,
) -> Report {
    let fields = part
        .map(|p| header_block(&String::from_utf8_lossy(raw_body(msg, p))))
        .unwrap_or_default();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let named = field("original-rcpt-to")
        .map(|v| ("Original-Rcpt-To", v))
        .or_else(|| field("removal-recipient").map(|v| ("Removal-Recipient", v)));
    let email = named.as_ref().and_then(|(_, v)| {
        let addr = dsn::typed_address(v).1;
        let redacted = addr.to_ascii_lowercase().contains("redacted")
            || !addr.contains('@')
            || addr
                .split('@')
                .next()
                .is_some_and(|l| l.chars().all(|c| c == 'x' || c == '*'));
        (!redacted).then_some(addr)
    });
    let found_in = match (&email, &named) {
        (Some(_), Some((f, _))) => f.to_string(),
        (None, Some((f, _))) => format!("{f} (redacted)"),
        _ => "no recipient field".to_string(),
    };
    let recipients = if delivery.is_some() || email.is_some() {
        vec![Recipient {
            email,
            class: Class::Complaint,
            status: None,
            diagnostic: field("feedback-type").map(|t| format!("feedback-type: {t}")),
            action: None,
            attribution: tied.unwrap_or(Attribution::DsnField),
            delivery,
            evidence: "an ARF feedback report".into(),
            found_in,
        }]
    } else {
        Vec::new()
    };
    Report {
        kind: Kind::Arf,
        note: recipients
            .is_empty()
            .then(|| "a complaint that names no recipient and none of our deliveries".to_string()),
        recipients,
        message_id,
        family: Some("arf".into()),
        unsubscribe: None,
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
    let subject = msg.subject().unwrap_or("").to_lowercase();
    h("X-Autoreply").is_some()
        || h("X-Autorespond").is_some()
        || h("Precedence").is_some_and(|p| p == "auto_reply")
        || h("X-Auto-Response-Suppress").is_some() && h("Auto-Submitted").is_some()
        || [
            "out of office",
            "out of the office",
            "automatic reply",
            "auto-reply",
            "autoreply",
            "abwesenheit",
            "absence",
            "vacation",
        ]
        .iter()
        .any(|w| subject.contains(w))
}

/// Header-style `Name: value` lines (with continuation lines) into lowercase names and values.
fn header_block(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        } else if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            out.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

/// Our tagged Message-ID or VERP `Return-Path` among the header lines of an original quoted in the
/// text (possibly with `>` quoting).
fn inline_original_delivery(quoted: &str, verp: &Verp) -> Option<DeliveryRef> {
    quoted.lines().find_map(|line| {
        let (name, value) = line.trim_start_matches(['>', ' ', '\t']).split_once(':')?;
        if name.eq_ignore_ascii_case("message-id") {
            our_message_id(value.trim(), verp)
        } else if name.eq_ignore_ascii_case("return-path") {
            verp.parse(value.trim()).map(DeliveryRef::from_verp)
        } else {
            None
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn an_original_quoted_inline_still_names_our_delivery() {
        let v = Verp::new(b"k", "bounces.example.org");
        let own = vec!["newsletter@example.org".to_string()];
        let ctx = Context {
            verp: &v,
            envelope_to: None,
            own: &own,
            unsubscribe_local: "unsubscribe",
        };
        let qmail = format!(
            "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@bounces.example.org\r\nSubject: failure notice\r\n\r\n\
             Hi. This is the qmail-send program at mx.example.net.\r\n\
             I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\
             This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n\
             <reader@example.com>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n\
             --- Below this line is a copy of the message.\r\n\r\n\
             From: newsletter@example.org\r\nTo: <reader@example.com>\r\nMessage-ID: {}\r\n\r\nhello\r\n",
            v.message_id("issue-576", 42)
        );
        let r = read(qmail.as_bytes(), &ctx);
        assert_eq!(r.recipients.len(), 1, "{r:?}");
        assert_eq!(r.recipients[0].attribution, Attribution::OriginalHeaders);
        assert_eq!(r.recipients[0].delivery.map(|d| d.subscriber_id), Some(42));
        // A guessed, untagged Message-ID in the same place ties nothing.
        let forged = qmail.replace(
            &v.message_id("issue-576", 42),
            "<issue-576.s42@bounces.example.org>",
        );
        assert_eq!(read(forged.as_bytes(), &ctx).recipients[0].delivery, None);
    }
}
