//! Heuristic reading of bounces that are not RFC 3464 reports: the texts of qmail, Exim, Sendmail,
//! Exchange 2003, Hotmail, old Yahoo and AOL, Lotus Domino, Netscape/Sun Messaging Server, Courier,
//! OpenSMTPD, IMail, GroupWise, Sina and the small MTAs that write "could not be delivered" in their
//! own words.
//!
//! Reading one takes three steps.
//! 1. **Is it a bounce?** By structure first: a family's own opening words, an `X-Failed-Recipients`
//!    header, or a mailer-daemon sender (or the null return path) with a bounce subject or failure
//!    words. A human forwarding a bounce (`Fwd: Undeliverable…`) and a challenge-response request are
//!    not bounces.
//! 2. **Cut the returned original off**, at whichever comes first: a family's marker ("Below this line
//!    is a copy of the message", "Original message headers:", "Unsent message follows", …) or a
//!    block of pasted header lines. Nothing after it is ever read for recipients.
//! 3. **Find the recipients** in what is left: `X-Failed-Recipients` when the MTA gives it, else every
//!    address outside header-like lines, minus addresses that are never failed recipients: the
//!    mail system's own (`postmaster`, `MAILER-DAEMON`), a list's (`-bounces`, `-owner`, `-admin`,
//!    `-request`), rewritten senders (SRS, BATV), Message-IDs, the bounce's own recipient and the
//!    original's sender. Each is classified by the words between it and the next recipient.

use super::classify::{self, Class};

/// A recipient read from a bounce text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRecipient {
    pub email: Option<String>,
    pub class: Class,
    pub reason: crate::domain::BounceReason,
    /// An enhanced status code (`5.1.1`) or, failing that, a reply code (`550`).
    pub status: Option<String>,
    /// The remote server's words about this recipient.
    pub diagnostic: String,
    /// What decided the class.
    pub evidence: String,
    /// Where the address was read.
    pub found_in: String,
}

/// What the headers of a message say about it.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    pub subject: String,
    pub from_address: String,
    pub from_name: String,
    /// `Return-Path: <>`.
    pub null_sender: bool,
    /// The addresses of an `X-Failed-Recipients` header.
    pub failed_recipients: Vec<String>,
}

/// Opening words of a bounce, per family, lowercase.
pub const FAMILIES: &[(&str, &str)] = &[
    ("qmail", "this is the qmail-send program"),
    ("qmail", "hi. this is the qmail"),
    ("exim", "could not be delivered to one or more of its"),
    ("exim", "could not be delivered to all of its recipients"),
    (
        "exim",
        "this message was created automatically by mail delivery software",
    ),
    (
        "exim",
        "has not yet been delivered to one or more of its recipients",
    ),
    (
        "exchange",
        "delivery has failed to these recipients or groups",
    ),
    (
        "exchange",
        "your message did not reach some or all of the intended recipients",
    ),
    (
        "exchange",
        "the following recipient(s) could not be reached",
    ),
    ("exchange", "couldn't be delivered"),
    (
        "yahoo",
        "unable to deliver your message to the following address",
    ),
    (
        "yahoo",
        "unable to deliver message to the following address",
    ),
    (
        "aol",
        "could not be delivered because they are not accepting mail",
    ),
    ("exchange", "did not reach the following recipient"),
    ("exchange", "the following recipients did not receive"),
    (
        "sendmail",
        "the following addresses had permanent fatal errors",
    ),
    (
        "sendmail",
        "the following addresses had transient non-fatal errors",
    ),
    ("sendmail", "----- transcript of session follows -----"),
    ("sendmail", "the original message was received at"),
    ("postfix", "this is the mail system at host"),
    ("postfix", "this is the postfix program at host"),
    (
        "postfix",
        "i'm sorry to have to inform you that your message could not",
    ),
    (
        "gmail",
        "delivery to the following recipient failed permanently",
    ),
    (
        "gmail",
        "delivery to the following recipient has been delayed",
    ),
    ("gmail", "your message wasn't delivered to"),
    (
        "lotus",
        "your message was not delivered to the following recipients",
    ),
    ("lotus", "was not delivered to:"),
    ("lotus", "------- failure reasons"),
    ("hotmail", "delivery to the following recipients failed"),
    (
        "hotmail",
        "this is an automatically generated delivery status notification",
    ),
    (
        "messaging-server",
        "this message was undeliverable due to the following reason",
    ),
    (
        "messaging-server",
        "this report relates to a message you sent with the following header fields",
    ),
    ("courier", "undeliverable mail"),
    ("courier", "delays in delivering your message"),
    (
        "opensmtpd",
        "an error has occurred while attempting to deliver a message for the following list of recipients",
    ),
    ("imail", "unknown user:"),
    (
        "groupwise",
        "the message that you sent was not delivered to",
    ),
    ("generic", "could not be delivered to"),
    ("generic", "there was an error delivering your mail"),
    ("google groups", "the group you tried to contact"),
    ("generic", "did not like our rcpt to"),
    ("generic", "could not deliver your message"),
    ("generic", "could not deliver the message"),
    ("generic", "was not delivered to"),
    ("generic", "delivery to the following recipient"),
    ("generic", "message could not be delivered"),
    ("generic", "your message could not be delivered"),
    ("generic", "has been returned to the sender"),
    ("generic", "mail delivery failed"),
    ("generic", "failed to deliver"),
    ("generic", "the following address(es) failed"),
    ("generic", "message could not be delivered to the following"),
    ("generic", "undeliverable address:"),
    ("generic", "receiver not found"),
    ("generic", "recipient could not be found"),
    ("generic", "is not a valid recipient"),
    ("generic", "the following recipient could not be reached"),
    ("generic", "your message was not delivered"),
    ("generic", "delivery failed for the following"),
    ("sina", "退信"),
    ("sina", "未能送达"),
    ("sina", "无法投递"),
    ("sina", "投递失败"),
    ("sina", "无法送达"),
    ("german", "konnte nicht zugestellt werden"),
    ("german", "nicht zugestellt werden"),
    ("french", "n'a pas pu être remis"),
    ("french", "n'a pas pu etre remis"),
    ("spanish", "no se pudo entregar"),
    ("portuguese", "não pôde ser entregue"),
    ("russian", "не удалось доставить"),
    ("japanese", "配信できません"),
];

/// Subjects that mark a bounce (with a mailer-daemon sender or failure words), lowercase.
const SUBJECTS: &[&str] = &[
    "undeliverable",
    "undelivered",
    "undeliverd",
    "returned mail",
    "return mail",
    "mail delivery failed",
    "mail delivery failure",
    "delivery status notification",
    "delivery failure",
    "delivery failed",
    "delivery has failed",
    "delivery notification",
    "delivery problem",
    "failure notice",
    "failed delivery",
    "non-delivery",
    "nondeliverable",
    "non deliverable",
    "not delivered",
    "could not send",
    "couldn't be delivered",
    "could not be delivered",
    "message not delivered",
    "returned to sender",
    "mail system error",
    "warning: message",
    "delayed mail",
    "delivery delayed",
    "non remis",
    "unzustellbar",
    "nicht zugestellt",
    "zustellung fehlgeschlagen",
    "non recapitabile",
    "no entregado",
    "não entregue",
    "не доставлено",
    "系统退信",
    "退信",
    "配信エラー",
    "mail returned",
];

/// Words of a failure, for a message whose sender or subject already says "mail system".
const FAILURE_WORDS: &[&str] = &[
    "could not be delivered",
    "couldn't be delivered",
    "could not deliver",
    "couldn't deliver",
    "not be delivered",
    "was not delivered",
    "wasn't delivered",
    "undeliverable",
    "undelivered",
    "delivery failed",
    "delivery has failed",
    "delivery failure",
    "failed to deliver",
    "unable to deliver",
    "permanent error",
    "permanent failure",
    "fatal error",
    "returned to sender",
    "non-delivery",
    "user unknown",
    "unknown user",
    "no such user",
    "mailbox",
    "quota",
    "has been delayed",
    "not yet been delivered",
    "will retry",
    "delivery to the following",
    "recipient address rejected",
    "address rejected",
    "does not exist",
];

/// Where a returned original starts, in the families' own words (lowercase).
const ORIGINAL_MARKERS: &[&str] = &[
    "--- below this line is a copy of the message",
    "------ this is a copy of the message",
    "----- original message -----",
    "-----original message-----",
    "------ original message ------",
    "--- original message follows",
    "original message follows",
    "original message headers:",
    "----- unsent message follows -----",
    "----- no message was collected -----",
    "------- returned message",
    "--- returned message",
    "--- the header of the original message is following",
    "----- the following is a copy of the message",
    "---- start of returned message ----",
    "----- message header follows -----",
    "content-type: message/rfc822",
    "content-type: text/rfc822-headers",
    "the attachment contains the original mail headers",
    "below is a copy of the original message",
    "a copy of the original message below",
    "your original message is included as attachment",
];

/// Delay notices, lowercase: the recipients are soft unless the text says more.
const DELAY_WORDS: &[&str] = &[
    "has been delayed",
    "has not yet been delivered",
    "not yet been delivered",
    "will continue to try",
    "will retry",
    "will be retried",
    "still trying",
    "delivery is delayed",
    "delivery delayed",
    "delayed mail",
    "message is delayed",
    "transient non-fatal errors",
    "warning: message",
];

/// Local parts of mail-system and list addresses: never a failed subscriber.
const SYSTEM_LOCALS: &[&str] = &[
    "postmaster",
    "mailer-daemon",
    "mailerdaemon",
    "mail-daemon",
    "maildaemon",
    "daemon",
    "root",
    "abuse",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "nobody",
    "hostmaster",
    "mail-system",
    "mailsystem",
];

/// True for a sender that is a mail system (`MAILER-DAEMON`, "Mail Delivery Subsystem").
pub fn is_mail_system(signals: &Signals) -> bool {
    let local = signals
        .from_address
        .rsplit_once('@')
        .map_or(signals.from_address.as_str(), |(l, _)| l)
        .to_ascii_lowercase();
    let name = signals.from_name.to_lowercase();
    SYSTEM_LOCALS.contains(&local.as_str())
        || local.starts_with("mailer-daemon")
        || local.starts_with("postmaster")
        || [
            "mail delivery",
            "mailer-daemon",
            "mailer daemon",
            "postmaster",
            "mail system",
            "delivery subsystem",
            "mail administrator",
            "system administrator",
            "delivery notification",
            "microsoft outlook",
            "mail router",
            "系统",
        ]
        .iter()
        .any(|n| name.contains(n))
}

/// Subject prefixes of a message a person forwards or answers.
fn is_forward_or_reply(subject: &str) -> bool {
    let s = subject.trim_start().to_ascii_lowercase();
    [
        "fwd:", "fw:", "wg:", "tr:", "rv:", "enc:", "re:", "aw:", "sv:", "vs:",
    ]
    .iter()
    .any(|p| s.starts_with(p))
}

/// A challenge-response system asking the sender to prove they are a person: not a bounce.
pub fn is_challenge(subject: &str, text: &str) -> bool {
    let both = format!("{subject}\n{text}").to_lowercase();
    let asks = [
        "verify",
        "verification",
        "confirm",
        "authenticate",
        "approve",
        "whitelist",
    ]
    .iter()
    .any(|w| both.contains(w));
    let held = [
        "held",
        "pending",
        "awaiting",
        "quarantine",
        "will be delivered once",
        "until you",
        "before it is delivered",
    ]
    .iter()
    .any(|w| both.contains(w));
    let act = ["click", "link", "reply to this", "visit"]
        .iter()
        .any(|w| both.contains(w));
    asks && held && act
}

/// The family of a bounce text, or `None` if it is not one.
pub fn recognise(signals: &Signals, text: &str) -> Option<&'static str> {
    let system = is_mail_system(signals);
    if !system && is_forward_or_reply(&signals.subject) {
        return None;
    }
    let lower = text.to_lowercase();
    let head = &lower[..floor(&lower, cut_at(&lower))];
    if !signals.failed_recipients.is_empty() {
        return Some("exim");
    }
    if let Some((family, _)) = FAMILIES.iter().find(|(_, phrase)| head.contains(phrase)) {
        return Some(family);
    }
    let subject = signals.subject.to_lowercase();
    let bounce_subject = SUBJECTS.iter().any(|p| subject.contains(p));
    let failure_words = FAILURE_WORDS.iter().any(|w| head.contains(w));
    if bounce_subject && (system || signals.null_sender || failure_words) {
        return Some("by subject");
    }
    if system && failure_words {
        return Some("by sender");
    }
    None
}

/// True when the text is a delay notice rather than a failure.
pub fn is_delay(subject: &str, text: &str) -> bool {
    let lower = text.to_lowercase();
    let head = &lower[..floor(&lower, cut_at(&lower))];
    let s = subject.to_lowercase();
    DELAY_WORDS.iter().any(|w| head.contains(w))
        || s.contains("delayed")
        || s.contains("delivery status notification (delay)")
}

/// Where the returned original starts in `lower` (lowercase text), or its length.
fn cut_at(lower: &str) -> usize {
    let by_marker = ORIGINAL_MARKERS.iter().filter_map(|m| lower.find(m)).min();
    let by_headers = pasted_headers_at(lower);
    by_marker
        .into_iter()
        .chain(by_headers)
        .min()
        .unwrap_or(lower.len())
}

/// The start of the first block of at least three header lines that look like a pasted message:
/// two of them among the fields every message has.
fn pasted_headers_at(lower: &str) -> Option<usize> {
    const ORIGINAL_FIELDS: &[&str] = &[
        "received",
        "return-path",
        "message-id",
        "from",
        "to",
        "subject",
        "date",
        "mime-version",
        "content-type",
        "dkim-signature",
        "list-unsubscribe",
        "list-id",
        "reply-to",
        "x-mailer",
    ];
    let mut offset = 0;
    let mut run_start = None;
    let (mut run, mut known) = (0, 0);
    for line in lower.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let t = line.trim_end();
        let name = t.split_once(':').map(|(n, _)| n).filter(|n| {
            !n.is_empty()
                && n.len() < 40
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        let continuation = t.starts_with([' ', '\t']) && run > 0;
        if let Some(n) = name {
            if run == 0 {
                run_start = Some(start);
            }
            run += 1;
            if ORIGINAL_FIELDS.contains(&n) {
                known += 1;
            }
            if run >= 3 && known >= 2 {
                return run_start;
            }
        } else if !continuation {
            run = 0;
            known = 0;
        }
    }
    None
}

/// `text` without its returned original.
pub fn before_original(text: &str) -> &str {
    // ASCII lowercasing keeps every byte offset, so the cut found in the copy is a cut of `text`.
    let lower = text.to_ascii_lowercase();
    &text[..cut_at(&lower)]
}

fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Addresses that are never a failed recipient of this bounce.
#[derive(Debug, Clone, Default)]
pub struct Noise {
    /// Lowercase addresses: the bounce's own recipient, the original's sender, ours.
    pub addresses: Vec<String>,
    /// Lowercase domains whose addresses are ours (the bounce domain).
    pub domains: Vec<String>,
}

impl Noise {
    fn is_noise(&self, addr: &str) -> bool {
        let lower = addr.to_lowercase();
        let Some((local, domain)) = lower.rsplit_once('@') else {
            return true;
        };
        SYSTEM_LOCALS.contains(&local)
            || local.starts_with("mailer-daemon")
            || [
                "-bounces", "-bounce", "-admin", "-owner", "-request", "-errors",
            ]
            .iter()
            .any(|s| local.ends_with(s))
            || [
                "owner-", "bounce-", "bounces+", "bounces-", "srs0=", "srs1=", "prvs=", "btv1=",
                "return-",
            ]
            .iter()
            .any(|p| local.starts_with(p))
            || self.addresses.contains(&lower)
            || self.domains.iter().any(|d| domain == d)
            || looks_like_message_id(local)
    }
}

/// A local part generated by a machine for a Message-ID or queue id, not a mailbox.
fn looks_like_message_id(local: &str) -> bool {
    let digits = local.bytes().filter(u8::is_ascii_digit).count();
    local.contains('$')
        || local.contains("=_")
        || (local.len() >= 24 && digits * 10 >= local.len() * 4)
}

/// Header-like labels whose addresses are senders, ids or routing: never recipients.
fn noise_line(line: &str) -> bool {
    let lower = line.trim_start().to_lowercase();
    if lower.contains("message-id")
        || lower.contains("message id")
        || lower.contains("msg-id")
        || lower.contains("(postfix)")
        || lower.contains("with esmtp")
        || lower.contains("with smtp")
        || lower.contains("mail from:")
        || lower.starts_with("by ")
    {
        return true;
    }
    let Some((label, _)) = lower.split_once(':') else {
        return false;
    };
    if label.len() > 40 {
        return false;
    }
    [
        "from",
        "sender",
        "reply",
        "return-path",
        "errors-to",
        "references",
        "in-reply-to",
        "received",
        "delivered-to",
        "original-to",
        "list-",
        "dkim",
        "authentication",
        "resent",
        "generating server",
        "reporting",
        "remote-mta",
        "envelope-from",
    ]
    .iter()
    .any(|n| label.contains(n))
}

/// Where a line starts telling the reader whom to ask for help: addresses after it are not failed
/// recipients (`… or contact postmaster@example.org`).
fn help_from(line: &str) -> usize {
    let lower = line.to_ascii_lowercase();
    [
        "contact ",
        "for assistance",
        "for help",
        "need help",
        "send mail to",
        "write to",
        "questions",
        "helpdesk",
        "help desk",
    ]
    .iter()
    .filter_map(|w| lower.find(w))
    .min()
    .unwrap_or(line.len())
}

/// Characters of an address's local part.
fn local_char(c: char) -> bool {
    c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c)
}

fn domain_char(c: char) -> bool {
    c.is_alphanumeric() || c == '.' || c == '-'
}

/// Every address in `text` with its byte offset, in order.
pub fn addresses(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices('@') {
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| local_char(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let end = text[at + 1..]
            .char_indices()
            .take_while(|(_, c)| domain_char(*c))
            .last()
            .map_or(at + 1, |(i, c)| at + 1 + i + c.len_utf8());
        // A quote or a separator before an address (`'user@host'`, `to=user@host`) is not part of it.
        let local = text[start..at].trim_start_matches(['.', '\'', '`', '=', '/', '|']);
        let domain = text[at + 1..end].trim_end_matches(['.', '-']);
        if local.is_empty() || local.starts_with("mailto:") {
            continue;
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let tld_ok = labels.len() >= 2
            && labels
                .last()
                .is_some_and(|t| t.len() >= 2 && t.chars().all(char::is_alphabetic))
            && labels.iter().all(|l| !l.is_empty());
        if !tld_ok {
            continue;
        }
        let begin = at - local.len();
        out.push((format!("{local}@{domain}"), begin));
    }
    out
}

/// The recipients of a non-standard bounce (`text` is the whole human-readable text; the original is
/// cut off here). `delay` marks a delay notice.
pub fn read(signals: &Signals, text: &str, noise: &Noise, delay: bool) -> Vec<TextRecipient> {
    let body = before_original(text);
    let mut found: Vec<(String, usize, String)> = Vec::new();
    if !signals.failed_recipients.is_empty() {
        for r in &signals.failed_recipients {
            let pos = body
                .to_ascii_lowercase()
                .find(&r.to_ascii_lowercase())
                .unwrap_or(body.len());
            found.push((r.clone(), pos, "X-Failed-Recipients".into()));
        }
    } else {
        let mut offset = 0;
        for line in body.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            if noise_line(line) {
                continue;
            }
            let help = help_from(line);
            for (addr, pos) in addresses(line) {
                if pos > help
                    || noise.is_noise(&addr)
                    || found.iter().any(|(a, _, _)| a.eq_ignore_ascii_case(&addr))
                {
                    continue;
                }
                let context: String = line.trim().chars().take(80).collect();
                found.push((addr, start + pos, format!("text: {context}")));
            }
        }
    }
    if found.is_empty() {
        found = bare_names(signals, body);
    }
    found.sort_by_key(|(_, pos, _)| *pos);
    if found.is_empty() {
        // A bounce that names nobody: its words still classify the delivery its VERP names.
        let v = classify::classify(None, None, body, delay);
        return vec![TextRecipient {
            email: None,
            class: v.class,
            reason: v.reason,
            status: v.status,
            diagnostic: squeeze(body, 400),
            evidence: v.evidence,
            found_in: "no address in the text".into(),
        }];
    }
    // The words before the first recipient speak for every recipient; the words after one
    // recipient speak for it alone (never for the next).
    let preamble = &body[..found.first().map_or(0, |(_, p, _)| *p).min(body.len())];
    let mut out = Vec::new();
    for (i, (addr, pos, found_in)) in found.iter().enumerate() {
        // The words about this recipient run to the next one.
        let end = found[i + 1..]
            .iter()
            .map(|(_, p, _)| *p)
            .find(|p| p > pos)
            .unwrap_or(body.len());
        let window = &body[(*pos).min(body.len())..end.max(*pos).min(body.len())];
        let mut v = classify::classify(None, None, window, delay);
        if v.is_weak() || v.reason == crate::domain::BounceReason::Delayed {
            // Nothing beside the address: the opening words may say why, with the address's
            // own code if it gave one.
            let whole = classify::classify(None, None, &format!("{preamble}\n{window}"), delay);
            if !whole.is_weak() {
                v = whole;
            }
        }
        out.push(TextRecipient {
            email: Some(addr.clone()),
            class: v.class,
            reason: v.reason,
            status: v.status,
            diagnostic: squeeze(window, 400),
            evidence: v.evidence,
            found_in: found_in.clone(),
        });
    }
    out
}

/// Recipients written without a domain, as AOL wrote screen names ("…could not be delivered because
/// they are not accepting mail from…:" then a tab and `screenname`): each indented bare name in the
/// block after a line about recipients or addresses, at the reporting system's domain. Used only when
/// the text names no address at all.
fn bare_names(signals: &Signals, body: &str) -> Vec<(String, usize, String)> {
    let Some((_, domain)) = signals.from_address.rsplit_once('@') else {
        return Vec::new();
    };
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Vec::new();
    }
    let domain = labels[labels.len() - 2..].join(".").to_ascii_lowercase();
    let mut out = Vec::new();
    let mut in_block = false;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let t = line.trim();
        let lower = t.to_ascii_lowercase();
        if t.ends_with(':') && (lower.contains("recipient") || lower.contains("address")) {
            in_block = true;
            continue;
        }
        if !in_block {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        let name = !t.is_empty()
            && t.len() <= 64
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if indented && name {
            let addr = format!("{t}@{domain}");
            out.push((
                addr,
                start,
                format!("text: {t} (a name without a domain, at {domain})"),
            ));
        } else if !t.is_empty() {
            in_block = false;
        }
    }
    out
}

/// White space made single spaces, at most `max` bytes.
fn squeeze(s: &str, max: usize) -> String {
    let mut out: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.len() > max {
        out.truncate(floor(&out, max));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals(subject: &str, from: &str) -> Signals {
        Signals {
            subject: subject.into(),
            from_address: from.into(),
            ..Signals::default()
        }
    }

    #[test]
    fn reads_addresses_and_codes() {
        let text = "Hi. This is the qmail-send program at mx.example.net.\n\
            I'm afraid I wasn't able to deliver your message to the following addresses.\n\n\
            <gone@example.net>:\nRemote host said: 550 5.1.1 mailbox unavailable\n\n\
            <full@example.net>:\nRemote host said: 552 5.2.2 over quota\n\n\
            --- Below this line is a copy of the message.\n\nTo: someone@else.example\n";
        let s = signals("failure notice", "MAILER-DAEMON@mx.example.net");
        assert_eq!(recognise(&s, text), Some("qmail"));
        let found = read(&s, text, &Noise::default(), false);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].email.as_deref(), Some("gone@example.net"));
        assert_eq!(
            (found[0].class, found[0].status.as_deref()),
            (Class::Hard, Some("5.1.1"))
        );
        assert_eq!(
            (found[1].class, found[1].status.as_deref()),
            (Class::Soft, Some("5.2.2"))
        );
    }

    #[test]
    fn ordinary_mail_forwards_and_challenges_are_not_bounces() {
        assert_eq!(
            recognise(
                &signals("Re: your newsletter", "ferris@example.org"),
                "Thanks, liked it"
            ),
            None
        );
        let fwd = "---------- Forwarded message ---------\nFrom: Mail Delivery Subsystem\n\
                   Delivery to the following recipient failed permanently:\n\n     a@example.org\n";
        assert_eq!(
            recognise(&signals("Fwd: Undeliverable: TWiR", "ed@example.org"), fwd),
            None
        );
        assert!(is_challenge(
            "Please verify your message",
            "Your message is held pending verification. Click the link below to confirm you are a person."
        ));
    }

    #[test]
    fn noise_is_never_a_recipient() {
        let text = "Your message could not be delivered to the following recipient:\n\n\
            reader@example.org: 550 5.1.1 no such user\n\
            Please contact postmaster@example.org or twir-owner@lists.example.org.\n\
            Message-ID: <20250326101500.1234567890123@mx.example.net>\n\
            From: newsletter@this-week-in-rust.org\n";
        let noise = Noise {
            addresses: vec!["newsletter@this-week-in-rust.org".into()],
            domains: vec!["bounces.this-week-in-rust.org".into()],
        };
        let found = read(
            &signals("Undeliverable", "postmaster@example.org"),
            text,
            &noise,
            false,
        );
        let emails: Vec<_> = found.iter().filter_map(|f| f.email.as_deref()).collect();
        assert_eq!(emails, ["reader@example.org"]);
    }

    #[test]
    fn a_pasted_header_block_is_the_original() {
        let text = "Delivery failed for ferris@example.org: no such user.\n\nReturn-Path: <sender@example.net>\nReceived: from x by y\nTo: ferris@example.org, bystander@example.org\nSubject: hello\n";
        assert!(!before_original(text).contains("bystander"));
        assert!(before_original(text).contains("ferris@example.org: no such user"));
    }
}
