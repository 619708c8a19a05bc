//! How the console puts things into words, the same on every page: the store's terms in plain
//! English, times in the send time zone (`[send] time_zone`), library messages with typographic
//! quotes, and delivery failures with every e-mail address masked (editors read those, and may
//! not see subscriber data).

use crate::domain::{Attribution, BounceClass, BounceSource, CampaignState, SubscriberStatus};
use crate::web::AppState;

// --- The store's terms --------------------------------------------------------------------------

/// A subscriber's status as the console says it.
pub fn subscriber_status(s: SubscriberStatus) -> &'static str {
    match s {
        SubscriberStatus::Pending => "waiting for confirmation",
        SubscriberStatus::Active => "active",
        SubscriberStatus::Unsubscribed => "unsubscribed",
        SubscriberStatus::Bounced => "bounced",
        SubscriberStatus::Complained => "complained",
    }
}

/// A campaign's state as the console says it.
pub fn campaign_state(s: CampaignState) -> &'static str {
    match s {
        CampaignState::Created => "not started",
        CampaignState::Scheduled => "scheduled",
        CampaignState::Sending => "sending",
        CampaignState::Paused => "paused",
        CampaignState::Cancelled => "cancelled",
        CampaignState::Done => "done",
    }
}

/// A delivery's state as the console says it.
pub fn delivery_state(s: &str) -> &str {
    match s {
        "queued" => "waiting",
        "sending" => "being sent",
        "sent" => "delivered to the reader's server",
        "deferred" => "will be tried again",
        "failed" => "failed",
        "skipped" => "not sent (no longer subscribed)",
        other => other,
    }
}

/// How the console came to know of a bounce, in words.
pub fn bounce_source(s: BounceSource) -> &'static str {
    match s {
        BounceSource::Smtp => "the receiving server refused it while we sent",
        BounceSource::Dsn => "a delivery report from the receiving server",
        BounceSource::Arf => "a complaint report from the reader's provider",
        BounceSource::Heuristic => "a bounce message, read by its wording",
        BounceSource::Provider => "an event from the sending service (SES, Postmark, Mailgun)",
    }
}

/// How the console knew whose bounce it was, in words.
pub fn attribution(a: Attribution) -> &'static str {
    match a {
        Attribution::Verp => "the reader's own return address",
        Attribution::DsnField => "the recipient named in the report",
        Attribution::OriginalHeaders => "the returned copy of our message",
        Attribution::Heuristic => "the wording of the bounce",
        Attribution::Delivery => "our own delivery attempt",
        Attribution::ProviderMessageId => "the sending service's id for our message",
    }
}

/// A bounce's class as the console says it.
pub fn bounce_class(c: BounceClass) -> &'static str {
    match c {
        BounceClass::Hard => "Permanent failure",
        BounceClass::Soft => "Temporary failure",
        BounceClass::Complaint => "Spam complaint",
        BounceClass::Policy => "Refused by policy",
        BounceClass::None => "Not a failure",
    }
}

/// A bounce class as the store keeps it (`hard`, …) in words, if it is one.
pub fn stored_bounce_class(stored: &str) -> Option<&'static str> {
    BounceClass::parse(stored).ok().map(bounce_class)
}

// --- Text ---------------------------------------------------------------------------------------

/// A library message for the page: its `code` quotes become typographic ones (“x”), since a
/// reader of the console sees no Markdown.
pub fn quoted(s: &str) -> String {
    let mut open = true;
    s.chars()
        .map(|c| {
            if c == '`' {
                open = !open;
                if open { '”' } else { '“' }
            } else {
                c
            }
        })
        .collect()
}

/// The first letter of `s` in capitals: "mailbox full" becomes "Mailbox full".
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

// --- Times, in the send time zone ---------------------------------------------------------------

/// A time as people read it: "Mon 7 Dec 2026, 09:00 CET".
pub fn when(state: &AppState, unix: i64) -> String {
    let tz = time_zone(state);
    jiff::Timestamp::from_second(unix)
        .map(|t| {
            t.to_zoned(tz)
                .strftime("%a %-d %b %Y, %H:%M %Z")
                .to_string()
        })
        .unwrap_or_else(|_| crate::domain::rfc5322_date(unix))
}

fn time_zone(state: &AppState) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(state.config.send.time_zone.trim()).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// The send time zone's name, for a form's label ("UTC" when none is set).
pub fn zone_name(state: &AppState) -> String {
    let name = state.config.send.time_zone.trim();
    if name.is_empty() {
        "UTC".into()
    } else {
        name.into()
    }
}

/// A `datetime-local` value (`2026-12-07T09:00`) as UNIX seconds.
pub fn parse_local(state: &AppState, value: &str) -> Option<i64> {
    let dt: jiff::civil::DateTime = value.trim().parse().ok()?;
    dt.to_zoned(time_zone(state))
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// A UNIX time as a `datetime-local` value.
pub fn local_value(state: &AppState, unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| {
            t.to_zoned(time_zone(state))
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

// --- Addresses masked ---------------------------------------------------------------------------

/// `text` with every e-mail address replaced by `<recipient>`: `a@b.example`, `<a@b.example>`,
/// `"john.smith"@corp.example`, `"john smith" at corp.example`, `john.smith at corp.example`.
/// Failure reasons are shown to editors, who may not see subscriber data.
pub fn without_addresses(text: &str) -> String {
    let spelled = mask_pass(text, "@", false);
    mask_pass(&spelled, " at ", true)
}

/// Replaces each `LOCAL SEP DOMAIN` in `text`. With `strict`, the local part must be quoted or
/// look like one (`.`, `_`, `+`, `-`, a digit), because " at " is also an English word.
fn mask_pass(text: &str, sep: &str, strict: bool) -> String {
    const MARK: &str = "<recipient>";
    let is_domain_char = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '[' | ']');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_ascii_ci(rest, sep) {
        let (before, after) = (&rest[..at], &rest[at + sep.len()..]);
        // The local part: a quoted string (spaces allowed), or the word before the separator.
        let start = if let Some(quoted) = before.strip_suffix('"') {
            quoted.rfind('"')
        } else {
            let s = before
                .rfind(|c: char| {
                    c.is_whitespace() || matches!(c, '<' | '(' | '[' | ':' | ';' | ',')
                })
                .map_or(0, |i| {
                    i + before[i..].chars().next().map_or(1, char::len_utf8)
                });
            (s < before.len()).then_some(s)
        };
        let local = start.map_or("", |s| &before[s..]);
        let domain_len = after
            .char_indices()
            .find(|(_, c)| !is_domain_char(*c))
            .map_or(after.len(), |(i, _)| i);
        let domain = after[..domain_len].trim_end_matches(['.', '-']);
        let looks_local = !strict
            || local.starts_with('"')
            || local
                .chars()
                .any(|c| matches!(c, '.' | '_' | '+' | '-') || c.is_ascii_digit());
        let ok = start.is_some()
            && looks_local
            && !domain.is_empty()
            && (!strict || (domain.contains('.') && domain.split('.').all(|l| !l.is_empty())));
        match (ok, start) {
            (true, Some(s)) => {
                out.push_str(&before[..s]);
                out.push_str(MARK);
                rest = &after[domain.len()..];
            }
            _ => {
                out.push_str(&rest[..at + sep.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The byte offset of `needle` (ASCII) in `hay`, ignoring ASCII case.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::{quoted, without_addresses};

    #[test]
    fn backticks_become_quotes() {
        assert_eq!(quoted("`x` is not `y`"), "“x” is not “y”");
        assert_eq!(quoted("none"), "none");
    }

    #[test]
    fn every_written_form_of_an_address_is_masked() {
        for (text, want) in [
            (
                "550 5.1.1 <ana@contoso.example>: Recipient address rejected",
                "550 5.1.1 <<recipient>>: Recipient address rejected",
            ),
            (
                "550 \"john.smith\"@corp.example unknown",
                "550 <recipient> unknown",
            ),
            (
                "550 \"john smith\"@corp.example unknown",
                "550 <recipient> unknown",
            ),
            (
                "550 5.1.1 \"john.smith\" at corp.example does not exist",
                "550 5.1.1 <recipient> does not exist",
            ),
            (
                "user john.smith at corp.example unknown",
                "user <recipient> unknown",
            ),
            (
                "mailbox root@localhost is full",
                "mailbox <recipient> is full",
            ),
            (
                "RCPT TO:<b.o+news@x.example.org>.",
                "RCPT TO:<<recipient>>.",
            ),
        ] {
            assert_eq!(without_addresses(text), want, "{text}");
        }
    }

    #[test]
    fn ordinary_words_stay() {
        for text in [
            "451 4.7.1 Try again at a later time",
            "421 too many connections, retry at 10:00",
            "550 5.7.1 blocked at mx1.example.net by policy",
            "554 Message rejected: Email address is not verified.",
        ] {
            assert_eq!(without_addresses(text), text);
        }
    }
}
