//! Reading the bounce texts that do not follow RFC 3464. Each MTA family has a recognisable opening;
//! after it come the failed addresses, each followed by the remote server's reply. The original
//! message quoted at the end is cut off first, so its addresses are never taken for recipients.

/// A recipient read from a bounce text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub email: Option<String>,
    /// An enhanced status code (`5.1.1`) or, failing that, a reply code (`550`).
    pub status: Option<String>,
    pub diagnostic: String,
}

/// The families recognised, by a phrase of their bounce text (matched case-insensitively).
pub const FAMILIES: &[(&str, &str)] = &[
    ("qmail", "this is the qmail-send program"),
    ("exim", "could not be delivered to one or more of its"),
    (
        "exchange",
        "delivery has failed to these recipients or groups",
    ),
    (
        "yahoo",
        "unable to deliver your message to the following address",
    ),
    (
        "sendmail",
        "the following addresses had permanent fatal errors",
    ),
    ("postfix", "this is the mail system at host"),
    (
        "gmail",
        "delivery to the following recipient failed permanently",
    ),
    (
        "gmail-delay",
        "delivery to the following recipient has been delayed",
    ),
    (
        "lotus",
        "your message was not delivered to the following recipients",
    ),
];

/// Subjects that mark a bounce even when the text is not one of the families.
const SUBJECTS: &[&str] = &[
    "undeliverable",
    "undelivered mail",
    "mail delivery failed",
    "delivery status notification (failure)",
    "failure notice",
    "returned mail",
    "delivery failure",
    "mail delivery failure",
    "non remis",
    "unzustellbar",
];

/// Where the quoted original begins, in the families' own words.
const ORIGINAL_MARKERS: &[&str] = &[
    "--- below this line is a copy of the message",
    "------ this is a copy of the message",
    "----- original message -----",
    "original message headers:",
    "----- transcript of session follows -----",
    "------- returned message",
    "--- the header of the original message is following",
    "------ original message ------",
    "----- the following is a copy of the message",
];

/// Phrases that make a text a delay notice rather than a failure.
const DELAY_PHRASES: &[&str] = &[
    "has been delayed",
    "will continue to try",
    "will retry",
    "delivery is delayed",
    "temporary failure",
];

/// The family name of a bounce text, if it is one we know.
pub fn family(subject: &str, text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    FAMILIES
        .iter()
        .find(|(_, phrase)| lower.contains(phrase))
        .map(|(name, _)| *name)
        .or_else(|| {
            let s = subject.to_lowercase();
            SUBJECTS
                .iter()
                .any(|p| s.contains(p))
                .then_some("by subject")
        })
}

/// The recipients of a non-standard bounce, or `None` if the text is not a bounce.
pub fn read(subject: &str, text: &str) -> Option<Vec<Found>> {
    family(subject, text)?;
    let lower = text.to_lowercase();
    let cut = ORIGINAL_MARKERS
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        .unwrap_or(text.len());
    let body = &text[..floor_char_boundary(text, cut)];
    let delayed = DELAY_PHRASES.iter().any(|p| lower[..cut].contains(p));
    let addresses = addresses_in(body);
    let mut out = Vec::new();
    for (i, (addr, start)) in addresses.iter().enumerate() {
        if out
            .iter()
            .any(|f: &Found| f.email.as_deref() == Some(addr.as_str()))
        {
            continue;
        }
        // The reply for this address lies between it and the next different address.
        let end = addresses[i + 1..]
            .iter()
            .find(|(a, _)| a != addr)
            .map_or(body.len(), |(_, s)| *s);
        let window = &body[*start..end];
        let status = crate::transport::enhanced_status(window).or_else(|| reply_code(window));
        let mut diagnostic: String = window.split_whitespace().collect::<Vec<_>>().join(" ");
        if diagnostic.len() > 400 {
            diagnostic.truncate(floor_char_boundary(&diagnostic, 400));
        }
        let status = match (status, delayed) {
            (Some(s), _) => Some(s),
            // No code: the family's words decide between a delay and a failure.
            (None, true) => Some("4.0.0".to_string()),
            (None, false) => None,
        };
        out.push(Found {
            email: Some(addr.clone()),
            status,
            diagnostic,
        });
    }
    Some(out)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A three-digit 4xx/5xx reply code standing as a word.
fn reply_code(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| {
            w.len() == 3
                && (w.starts_with('4') || w.starts_with('5'))
                && w.bytes().all(|b| b.is_ascii_digit())
        })
        .map(str::to_string)
}

/// Addresses in a text with their byte offsets, in order. Mail-system addresses are left out.
fn addresses_in(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for word in text.split_inclusive(|c: char| c.is_whitespace()) {
        let start = offset;
        offset += word.len();
        let trimmed = word.trim().trim_matches(|c: char| {
            matches!(
                c,
                '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '"' | '\'' | '.'
            )
        });
        let trimmed = trimmed
            .strip_prefix("RCPT TO:<")
            .or_else(|| trimmed.strip_prefix("TO:<"))
            .unwrap_or(trimmed)
            .trim_end_matches('>');
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            continue;
        };
        if local.is_empty()
            || !domain.contains('.')
            || domain.ends_with('.')
            || local.contains(['<', '>', '@', ':'])
            || !domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        {
            continue;
        }
        let l = local.to_ascii_lowercase();
        if matches!(l.as_str(), "mailer-daemon" | "postmaster" | "mail-daemon") {
            continue;
        }
        out.push((trimmed.to_string(), start));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_and_codes() {
        let text = "Hi. This is the qmail-send program at mx.example.net.\n\
            I'm afraid I wasn't able to deliver your message to the following addresses.\n\n\
            <gone@example.net>:\nRemote host said: 550 5.1.1 mailbox unavailable\n\n\
            <full@example.net>:\nRemote host said: 552 5.2.2 over quota\n\n\
            --- Below this line is a copy of the message.\n\nTo: someone@else.example\n";
        let found = read("failure notice", text).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].email.as_deref(), Some("gone@example.net"));
        assert_eq!(found[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(found[1].status.as_deref(), Some("5.2.2"));
    }

    #[test]
    fn ordinary_mail_is_not_a_bounce() {
        assert!(read("Re: your newsletter", "Thanks, ferris@example.org liked it").is_none());
    }
}
