//! Reading one message: where it was delivered, what it returns, and which kind of report it is.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::{
    Attribution, Context, DeliveryRef, Kind, PARSE_LIMIT, Recipient, Report, classify, dsn,
    heuristic, mailto,
};
use crate::domain::{BounceReason, DsnAction, EnhancedStatus, Verp};

/// The headers of a message, as lowercase names and raw values.
fn header_values<'a>(msg: &'a mail_parser::Message<'a>, name: &str) -> Vec<String> {
    msg.headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

/// The first value of header `name` in the top header block, read without parsing the message.
fn header_value_raw(bytes: &[u8], name: &str) -> Option<String> {
    let head = &bytes[..bytes.len().min(65_536)];
    let end = head
        .windows(2)
        .position(|w| w == b"\n\n" || w == b"\n\r")
        .unwrap_or(head.len());
    String::from_utf8_lossy(&head[..end])
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .filter(|v| !v.is_empty() && v.len() <= 998)
}

/// The addresses in a header value, lowercase.
fn addresses_of(value: &str) -> Vec<String> {
    heuristic::addresses(value)
        .into_iter()
        .map(|(a, _)| a.to_lowercase())
        .collect()
}

/// Reads one message.
pub fn read(bytes: &[u8], ctx: &Context<'_>) -> Report {
    let bytes = &bytes[..bytes.len().min(PARSE_LIMIT)];
    // Parsing walks every part: a message nested too deep or split too finely is refused first, by
    // a scan that costs one pass over its lines.
    if let Err(e) = super::structure::check(bytes) {
        let message_id = header_value_raw(bytes, "message-id");
        return Report::empty(Kind::Unparsable, message_id, &e.to_string());
    }
    let Some(msg) = MessageParser::default().parse(bytes) else {
        return Report::empty(Kind::Unparsable, None, "not a parsable e-mail message");
    };
    let message_id = msg.message_id().map(str::to_string);
    let verp = ctx.verp;

    // Where the message was delivered: the VERP, or the unsubscribe address.
    let to_addresses = delivered_to(&msg, ctx);
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
            provider_message_id: None,
        };
    }
    let verp_delivery = to_addresses
        .iter()
        .find_map(|a| verp.parse(a))
        .map(DeliveryRef::from_verp);

    let (mut original_delivery, noise) = returned_original(&msg, ctx);
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
    let signals = signals_of(&msg, &subject);
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
            inline_original_delivery(&human[heuristic::before_original(&human).len()..], verp);
    }
    let delivery = verp_delivery.or(original_delivery);
    let tied = if verp_delivery.is_some() {
        Some(Attribution::Verp)
    } else if original_delivery.is_some() {
        Some(Attribution::OriginalHeaders)
    } else {
        None
    };
    let facts = MessageFacts {
        signals: &signals,
        human: &human,
        noise: &noise,
        delivery,
        tied,
    };

    // A provider's own notification (SES's JSON) names its recipients in its own fields.
    if let Some(r) = super::esp::report(&human, delivery, tied, message_id.clone()) {
        return r;
    }
    let feedback = message_part(&msg, &["feedback-report"]);
    if report_type.as_deref() == Some("feedback-report")
        || feedback.is_some()
        || is_jmrp(&msg, &subject)
    {
        return arf(&msg, feedback, delivery, tied, message_id);
    }

    // Delivery status fields: the report part, or any text part of a report sent malformed.
    let status_text = message_part(&msg, &["delivery-status", "global-delivery-status"])
        .map(|p| String::from_utf8_lossy(raw_body(&msg, p)).into_owned())
        .or_else(|| {
            let fields_in_text = dsn::has_fields(&human);
            let bouncy = report_type.as_deref() == Some("delivery-status")
                || heuristic::recognise(&signals, &human).is_some()
                || heuristic::is_mail_system(&signals);
            (fields_in_text && bouncy).then(|| human.clone())
        });
    if let Some(fields) = status_text {
        return dsn_report(&fields, &facts, message_id);
    }
    if report_type.as_deref() == Some("delivery-status") {
        // The delivery-status part is missing, or the boundary written is not the one declared:
        // the fields may still stand in the raw body, and the human-readable text still names
        // the address and the code.
        let raw = msg.raw_message();
        let body_at = (root.offset_body as usize).min(raw.len());
        let body = String::from_utf8_lossy(&raw[body_at..]).into_owned();
        if dsn::has_fields(&body) {
            let whole = MessageFacts {
                human: &body,
                ..facts
            };
            let mut r = dsn_report(&body, &whole, message_id.clone());
            r.note = Some("a delivery report whose parts could not be told apart (its boundary does not match): read from its body".into());
            return r;
        }
        let text_facts = if human.trim().is_empty() {
            MessageFacts {
                human: &body,
                ..facts
            }
        } else {
            facts
        };
        let family = heuristic::recognise(&signals, text_facts.human)
            .unwrap_or("rfc3464 without its fields");
        let mut r = text_report(family, &subject, &text_facts, message_id.clone());
        if r.recipients.iter().any(|r| r.email.is_some()) {
            r.kind = Kind::Dsn;
            r.note = Some(
                "a delivery report without its delivery-status part: read from its text".into(),
            );
            return r;
        }
        return Report::empty(
            Kind::Dsn,
            message_id,
            "a delivery report without its delivery-status part",
        );
    }

    // Challenges and automatic replies carry bounce-like words; MTAs mark their bounces
    // auto-replied too, so a recognised bounce text wins over the auto-reply markers.
    if heuristic::is_challenge(&subject, &human) && !heuristic::is_mail_system(&signals) {
        return Report::empty(
            Kind::AutoReply,
            message_id,
            "a challenge-response request (asks the sender to prove they are a person); not a bounce",
        );
    }
    if let Some(family) = heuristic::recognise(&signals, &human) {
        return text_report(family, &subject, &facts, message_id);
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

/// The addresses the message was delivered to: the MTA's envelope recipient, the delivery headers,
/// then To and Cc.
fn delivered_to(msg: &mail_parser::Message<'_>, ctx: &Context<'_>) -> Vec<String> {
    let mut to_addresses: Vec<String> = ctx.envelope_to.into_iter().map(str::to_string).collect();
    for name in [
        "Delivered-To",
        "X-Original-To",
        "Envelope-To",
        "X-Envelope-To",
    ] {
        to_addresses.extend(header_values(msg, name));
    }
    for list in [msg.to(), msg.cc()].into_iter().flatten() {
        to_addresses.extend(list.iter().filter_map(|a| a.address()).map(str::to_string));
    }
    to_addresses
}

/// The returned original (message/rfc822 or text/rfc822-headers): its Message-ID and Return-Path
/// can name our delivery, and its sender and recipients are never a failed recipient (they are
/// returned as the noise to ignore, with our own addresses and domain).
fn returned_original(
    msg: &mail_parser::Message<'_>,
    ctx: &Context<'_>,
) -> (Option<DeliveryRef>, heuristic::Noise) {
    let verp = ctx.verp;
    let mut noise = heuristic::Noise {
        addresses: ctx.own.iter().map(|a| a.to_lowercase()).collect(),
        domains: vec![verp.domain().to_string()],
    };
    for name in ["To", "Cc", "Delivered-To", "X-Original-To"] {
        for v in header_values(msg, name) {
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
        for (n, v) in header_fields(&h) {
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
    (original_delivery, noise)
}

/// What the message says about itself outside its body: subject, sender, null Return-Path,
/// `X-Failed-Recipients`.
fn signals_of(msg: &mail_parser::Message<'_>, subject: &str) -> heuristic::Signals {
    let from = msg.from().and_then(|f| f.first());
    heuristic::Signals {
        subject: subject.to_string(),
        from_address: from.and_then(|a| a.address()).unwrap_or("").to_string(),
        from_name: from.and_then(|a| a.name()).unwrap_or("").to_string(),
        null_sender: header_values(msg, "Return-Path")
            .iter()
            .any(|v| v.trim() == "<>"),
        failed_recipients: header_values(msg, "X-Failed-Recipients")
            .iter()
            .flat_map(|v| heuristic::addresses(v).into_iter().map(|(a, _)| a))
            .collect(),
    }
}

/// What the reader found around the report itself: the message's signals and text, the addresses
/// that are never a failed recipient, and the delivery our identifiers name.
struct MessageFacts<'a> {
    signals: &'a heuristic::Signals,
    human: &'a str,
    noise: &'a heuristic::Noise,
    delivery: Option<DeliveryRef>,
    tied: Option<Attribution>,
}

/// An RFC 3464 report: one recipient per field group, named by its recipient fields (or, when those
/// name an internal address, by `X-Failed-Recipients` or the human-readable part).
fn dsn_report(fields: &str, facts: &MessageFacts<'_>, message_id: Option<String>) -> Report {
    let MessageFacts {
        signals,
        human,
        noise,
        delivery,
        tied,
    } = *facts;
    let mut recipients = Vec::new();
    let groups = dsn::groups(fields);
    let mut unnamed = Vec::new();
    for g in &groups {
        let action = g.get("action").and_then(|a| DsnAction::from_field(a).ok());
        let status = g.get("status").map(|s| {
            EnhancedStatus::find_in(s).map_or_else(|| s.trim().to_string(), |e| e.to_string())
        });
        let diagnostic = g.get("diagnostic-code").map(|d| dsn::typed_address(d).1);
        let v = classify::classify(
            status.as_deref(),
            action,
            diagnostic.as_deref().unwrap_or(""),
            false,
        );
        let evidence = v.evidence.clone();
        let r = Recipient {
            email: None,
            class: v.class,
            reason: v.reason,
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
            let human_only = heuristic::before_original(human);
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
            named = heuristic::read(signals, &without_fields, noise, false)
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
    // The human-readable part, about each recipient (from its address to the next recipient's):
    // it decides when the fields state no cause, and a statement there about us wins.
    let human_part = heuristic::before_original(human);
    let lower_human = human_part.to_ascii_lowercase();
    let positions: Vec<Option<usize>> = recipients
        .iter()
        .map(|r| {
            r.email
                .as_ref()
                .and_then(|e| lower_human.find(&e.to_ascii_lowercase()))
        })
        .collect();
    let first = positions.iter().flatten().min().copied();
    let preamble = &human_part[..floor(human_part, first.unwrap_or(0))];
    for (i, r) in recipients.iter_mut().enumerate() {
        let window = match positions[i] {
            Some(at) => {
                let next = positions
                    .iter()
                    .flatten()
                    .filter(|p| **p > at)
                    .min()
                    .copied()
                    .unwrap_or(human_part.len());
                let end = floor(human_part, next.min(at + 600));
                format!("{preamble}\n{}", &human_part[at..end])
            }
            None => preamble.to_string(),
        };
        let v = classify::classify(None, r.action, &window, false);
        let sender_there = v.reason.is_sender_side() && !r.reason.is_sender_side();
        if (r.reason == BounceReason::Undetermined && !v.is_weak()) || sender_there {
            r.class = v.class;
            r.reason = v.reason;
            r.evidence = format!("{} in the human-readable part", v.evidence);
        }
    }
    let note = recipients
        .is_empty()
        .then(|| "a delivery report that names no recipient".to_string());
    Report {
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
        provider_message_id: None,
    }
}

/// A bounce in an MTA's own words: the recipients and reasons its text gives.
fn text_report(
    family: &str,
    subject: &str,
    facts: &MessageFacts<'_>,
    message_id: Option<String>,
) -> Report {
    let MessageFacts {
        signals,
        human,
        noise,
        delivery,
        tied,
    } = *facts;
    let delay = heuristic::is_delay(subject, human);
    let recipients = heuristic::read(signals, human, noise, delay)
        .into_iter()
        .map(|f| Recipient {
            email: f.email,
            class: f.class,
            reason: f.reason,
            status: f.status,
            diagnostic: Some(f.diagnostic),
            action: None,
            attribution: tied.unwrap_or(Attribution::Heuristic),
            delivery,
            evidence: f.evidence,
            found_in: f.found_in,
        })
        .collect();
    Report {
        kind: Kind::NonStandardBounce,
        recipients,
        message_id,
        family: Some(family.to_string()),
        note: None,
        unsubscribe: None,
        provider_message_id: None,
    }
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
        .map(|p| header_fields(&String::from_utf8_lossy(raw_body(msg, p))))
        .unwrap_or_default();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
    };
    // Every Original-Rcpt-To (a report may name several), else Removal-Recipient, else the
    // old Hotmail JMRP header in the returned message.
    let mut named: Vec<(&str, String)> = fields
        .iter()
        .filter(|(n, _)| n == "original-rcpt-to")
        .map(|(_, v)| ("Original-Rcpt-To", v.trim().to_string()))
        .collect();
    if named.is_empty() {
        named.extend(field("removal-recipient").map(|v| ("Removal-Recipient", v)));
    }
    if named.is_empty() {
        named.extend(
            returned_header(msg, "x-hmxmroriginalrecipient")
                .map(|v| ("X-HmXmrOriginalRecipient (JMRP)", v)),
        );
    }
    let feedback_type = field("feedback-type")
        .map(|t| t.to_ascii_lowercase())
        .unwrap_or_else(|| "abuse".into());
    let reason = match feedback_type.as_str() {
        "auth-failure" => BounceReason::AuthReport,
        "not-spam" => BounceReason::NotSpam,
        "opt-out" | "unsubscribe" => BounceReason::Unsubscribe,
        _ => BounceReason::Complaint,
    };
    let evidence = match reason {
        BounceReason::Complaint => {
            format!("an ARF feedback report (Feedback-Type: {feedback_type})")
        }
        r => format!(
            "an ARF report of type {feedback_type}: {}; acts on nobody",
            r.explain()
        ),
    };
    let complaint = |email: Option<String>, found_in: String| Recipient {
        email,
        class: reason.class(),
        reason,
        status: None,
        diagnostic: Some(format!("feedback-type: {feedback_type}")),
        action: None,
        attribution: tied.unwrap_or(Attribution::DsnField),
        delivery,
        evidence: evidence.clone(),
        found_in,
    };
    let mut recipients = Vec::new();
    let mut redacted_field = None;
    for (f, v) in &named {
        let addr = dsn::typed_address(v).1;
        let redacted = addr.to_ascii_lowercase().contains("redacted")
            || !addr.contains('@')
            || addr
                .split('@')
                .next()
                .is_some_and(|l| l.chars().all(|c| c == 'x' || c == '*'));
        if redacted {
            redacted_field.get_or_insert(*f);
        } else if !recipients
            .iter()
            .any(|r: &Recipient| r.email.as_deref() == Some(addr.as_str()))
        {
            recipients.push(complaint(Some(addr), f.to_string()));
        }
    }
    if recipients.is_empty() && delivery.is_some() {
        let found_in = match redacted_field {
            Some(f) => format!("{f} (redacted)"),
            None => "no recipient field".to_string(),
        };
        recipients.push(complaint(None, found_in));
    }
    Report {
        kind: Kind::Arf,
        note: recipients
            .is_empty()
            .then(|| "a complaint that names no recipient and none of our deliveries".to_string()),
        recipients,
        message_id,
        family: Some("arf".into()),
        unsubscribe: None,
        provider_message_id: None,
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
fn header_fields(text: &str) -> Vec<(String, String)> {
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
    let id = verp.parse_message_id(v)?;
    Some(DeliveryRef {
        campaign_id: None,
        issue: Some(id.issue),
        subscriber_id: id.subscriber_id,
    })
}

/// An old Hotmail JMRP complaint (before ARF): `staff@hotmail.*` reporting "complaint about
/// message from IP" with the message attached.
fn is_jmrp(msg: &mail_parser::Message<'_>, subject: &str) -> bool {
    let from = msg
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_ascii_lowercase();
    subject
        .to_ascii_lowercase()
        .starts_with("complaint about message from")
        && (from.starts_with("staff@hotmail") || from.starts_with("staff@msn"))
        && returned_header(msg, "x-hmxmroriginalrecipient").is_some()
}

/// A header of the returned message (message/rfc822 part), by lowercase name.
fn returned_header(msg: &mail_parser::Message<'_>, name: &str) -> Option<String> {
    msg.parts.iter().find_map(|p| match &p.body {
        PartType::Message(m) => m
            .headers_raw()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string()),
        _ => None,
    })
}

/// The largest char boundary at or below `i`.
fn floor(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Verp;

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
