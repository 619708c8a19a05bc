//! What a failure means for the list, and the words that say so.
//!
//! The order of authority: a specific RFC 3463 enhanced status code (`5.1.1`, `4.2.2`), then what the
//! text says (a status-less "mailbox full" or "no such user", or a generic `5.0.0` with words that
//! are more precise), then a bare reply code (`550`), then the kind of report (`Action: delayed`, a
//! delay notice). Every result carries the evidence that decided it, for `bounces inspect`.

use crate::domain::{DsnAction, EnhancedStatus, ReplyCode};

pub use crate::domain::BounceClass as Class;

/// A class and what decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub class: Class,
    /// The status code, when there is one (`5.1.1`, else `550`).
    pub status: Option<String>,
    /// The field, code or phrase that decided the class.
    pub evidence: String,
}

/// Phrases, matched on lowercase text with runs of white space made single spaces. Each family is a
/// list of alternatives; an alternative is one or more words or word stems that must all occur, in
/// order, within one sentence-sized stretch.
struct Family {
    class: Class,
    name: &'static str,
    any: &'static [&'static [&'static str]],
}

const FAMILIES: &[Family] = &[
    // Full mailboxes: soft, whatever the code says (5.2.2 is "mailbox full" too).
    Family {
        class: Class::Soft,
        name: "mailbox full",
        any: &[
            &["mailbox", "full"],
            &["full", "mailbox"],
            &["mailfolder", "full"],
            &["inbox", "full"],
            &["quota", "exceed"],
            &["exceed", "quota"],
            &["over", "quota"],
            &["quota", "reached"],
            &["reached", "quota"],
            &["quota", "violation"],
            &["quota", "full"],
            &["insufficient", "storage"],
            &["not enough", "space"],
            &["not enough", "storage"],
            &["exceeded", "storage"],
            &["disk space", "limit"],
            &["mailbox size", "exceed"],
            &["mailbox", "exceeds", "size"],
            &["space has been used up"],
            &["too many messages", "server"],
            &["boite", "pleine"],
            &["postfach", "voll"],
            &["speicherplatz"],
            &["buzón", "lleno"],
            &["casella", "piena"],
            &["邮箱", "满"],
            &["空间不足"],
        ],
    },
    // The receiver refuses us, not the address: policy.
    Family {
        class: Class::Policy,
        name: "refused for policy or reputation",
        any: &[
            &["blacklist"],
            &["blocklist"],
            &["block list"],
            &["black list"],
            &["spamhaus"],
            &["spamcop"],
            &["barracuda", "block"],
            &["listed", "rbl"],
            &["rbl", "listed"],
            &["blocked", "spam"],
            &["detected", "spam"],
            &["spam", "rejected"],
            &["rejected", "spam"],
            &["looks like spam"],
            &["considered", "spam"],
            &["reputation"],
            &["dmarc"],
            &["spf", "fail"],
            &["sender policy framework"],
            &["dkim", "fail"],
            &["not authorized to send"],
            &["rejected", "policy"],
            &["policy", "rejected"],
            &["policy violation"],
            &["content", "rejected"],
            &["message", "rejected", "content"],
            &["virus"],
            &["malware"],
            &["client host", "rejected"],
            &["ip", "blocked"],
            &["blocked", "ip"],
            &["your ip"],
            &["sender", "blocked"],
            &["envelope blocked"],
            &["not accepting mail from"],
            &["sender", "denied"],
            &["sender address rejected"],
            &["relay", "denied"],
            &["relaying", "denied"],
            &["relay access denied"],
            &["relaying", "not allowed"],
            &["not permitted to relay"],
            &["does not have permission"],
            &["not have permissions"],
        ],
    },
    // The address does not work: hard.
    Family {
        class: Class::Hard,
        name: "no such recipient",
        any: &[
            &["user", "unknown"],
            &["unknown", "user"],
            &["recipient", "unknown"],
            &["unknown", "recipient"],
            &["addressee", "unknown"],
            &["unknown", "address"],
            &["address", "unknown"],
            &["unknown", "mailbox"],
            &["mailbox", "unknown"],
            &["unknown", "account"],
            &["no such", "user"],
            &["no such", "recipient"],
            &["no such", "mailbox"],
            &["no such", "address"],
            &["no such", "account"],
            &["no mailbox"],
            &["mailbox", "not found"],
            &["user", "not found"],
            &["recipient", "not found"],
            &["address", "not found"],
            &["account", "not found"],
            &["not found", "directory"],
            &["not listed", "directory"],
            &["not listed", "address book"],
            &["name is not recognized"],
            &["not recognized", "recipient"],
            &["receiver not found"],
            &["unknown local part"],
            &["no mail box"],
            &["mailbox name not allowed"],
            &["invalid mailbox"],
            &["does not exist"],
            &["doesn't exist"],
            &["not exist"],
            &["no longer", "valid"],
            &["no longer", "exists"],
            &["no longer", "active"],
            &["no longer", "available"],
            &["invalid", "recipient"],
            &["recipient", "invalid"],
            &["invalid", "mailbox"],
            &["mailbox", "invalid"],
            &["invalid", "address"],
            &["address", "invalid"],
            &["invalid", "user"],
            &["not a valid", "mailbox"],
            &["not a valid", "user"],
            &["not a valid", "recipient"],
            &["not a valid", "address"],
            &["bad destination mailbox"],
            &["bad", "recipient"],
            &["recipient address rejected"],
            &["rejected", "recipient"],
            &["recipient", "rejected"],
            &["account", "disabled"],
            &["disabled", "account"],
            &["account", "deactivated"],
            &["account", "inactive"],
            &["inactive", "account"],
            &["account", "closed"],
            &["account", "suspended"],
            &["account", "terminated"],
            &["account", "expired"],
            &["mailbox", "disabled"],
            &["mailbox", "inactive"],
            &["user", "disabled"],
            &["user", "inactive"],
            &["no account"],
            &["no such", "person"],
            &["not our customer"],
            &["unrouteable"],
            &["unroutable"],
            &["host", "unknown"],
            &["unknown", "host"],
            &["host", "not found"],
            &["domain", "not found"],
            &["no such", "domain"],
            &["domain", "does not exist"],
            &["unknown", "domain"],
            &["couldn't find any host"],
            &["could not find any host"],
            &["name service error"],
            &["no mx"],
            &["nxdomain"],
            &["无此用户"],
            &["用户不存在"],
            &["不存在"],
            &["unbekannt"],
            &["existiert nicht"],
            &["inexistant"],
            &["n'existe pas"],
            &["no existe"],
            &["non esiste"],
            &["несуществующ"],
            &["не существует"],
        ],
    },
    // Try later: soft.
    Family {
        class: Class::Soft,
        name: "try again later",
        any: &[
            &["try again"],
            &["temporar"],
            &["deferred"],
            &["delayed"],
            &["delay"],
            &["will", "retry"],
            &["will be retried"],
            &["still trying"],
            &["greylist"],
            &["graylist"],
            &["too many connections"],
            &["too many", "concurrent"],
            &["rate limit"],
            &["throttl"],
            &["timed out"],
            &["timeout"],
            &["connection refused"],
            &["not reachable"],
            &["unable to connect"],
            &["could not connect"],
            &["network", "unreachable"],
            &["queue too long"],
            &["in the queue too long"],
            &["not yet been delivered"],
            &["could not be delivered within"],
            &["resources", "unavailable"],
            &["service", "unavailable"],
            &["system", "busy"],
        ],
    },
];

/// The phrase family a text matches, first family first; with the words that matched.
pub fn phrase(text: &str) -> Option<(Class, String)> {
    let lower = text.to_lowercase();
    let squeezed: String = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    for f in FAMILIES {
        for alt in f.any {
            if let Some(found) = find_in_order(&squeezed, alt) {
                return Some((f.class, format!("{} (\"{found}\")", f.name)));
            }
        }
    }
    None
}

/// Finds the words of `alt` in order, within 80 characters and one sentence; returns the stretch.
fn find_in_order<'a>(text: &'a str, alt: &[&str]) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = text[from..].find(alt[0]) {
        let start = from + i;
        let mut end = start + alt[0].len();
        let ok = alt[1..].iter().all(|w| {
            let window_end = floor(text, (start + 80).min(text.len()));
            let window = &text[end.min(window_end)..window_end];
            let window = window.split(['.', ';', '\n']).next().unwrap_or("");
            match window.find(w) {
                Some(j) => {
                    end += j + w.len();
                    true
                }
                None => false,
            }
        });
        if ok {
            return Some(&text[start..floor(text, end)]);
        }
        from = start + alt[0].len();
        while from < text.len() && !text.is_char_boundary(from) {
            from += 1;
        }
    }
    None
}

fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The class of an enhanced status code, when it is specific enough to decide alone.
fn by_enhanced(status: EnhancedStatus) -> Option<Class> {
    Some(match (status.class(), status.subject(), status.detail()) {
        (2, _, _) => Class::None,
        (5, 2, 2) | (5, 2, 3) => Class::Soft,
        (5, 7, _) => Class::Policy,
        // Generic codes say little: words, when there are any, say more.
        (5, 0, 0) | (4, 0, 0) | (5, 5, 0) => return None,
        (5, _, _) => Class::Hard,
        (4, _, _) => Class::Soft,
        _ => return None,
    })
}

/// The reason behind one SMTP reply (`550 5.7.1 …`) that our own session received; `at_mail_from`
/// when the server answered MAIL FROM (then the refusal is about the sender, whatever it says).
/// The campaign's circuit breaker reads it.
pub fn reply_reason(reply: &str, at_mail_from: bool) -> crate::domain::BounceReason {
    use crate::domain::BounceReason as R;
    if at_mail_from {
        return R::SenderRejected;
    }
    match classify(None, None, reply, false).class {
        Class::Hard => R::UserUnknown,
        Class::Soft => R::MailboxFull,
        Class::Policy => R::PolicyRefused,
        Class::Complaint => R::Complaint,
        Class::None => R::Delivered,
    }
}

/// Classifies one recipient from its DSN fields (if any) and the text about it.
///
/// `status` is a DSN `Status:` field or a code found beside the address; `action` a DSN `Action:`;
/// `text` the remote server's words (`Diagnostic-Code`, or the text near the address); `delay`
/// whether the whole report is a delay notice.
pub fn classify(
    status: Option<&str>,
    action: Option<DsnAction>,
    text: &str,
    delay: bool,
) -> Verdict {
    if let Some(a) = action.filter(|a| a.is_success()) {
        return Verdict {
            class: Class::None,
            status: status.map(str::to_string),
            evidence: format!("Action: {a}"),
        };
    }
    let enhanced = status
        .and_then(|s| EnhancedStatus::parse(s).ok())
        .or_else(|| EnhancedStatus::find_in(text));
    let code = enhanced.map(|e| e.to_string()).or_else(|| {
        status
            .map(str::to_string)
            .filter(|s| s.len() == 3)
            .or_else(|| ReplyCode::find_in(text).map(|c| c.to_string()))
    });
    if action == Some(DsnAction::Delayed) {
        return Verdict {
            class: Class::Soft,
            status: code,
            evidence: "Action: delayed".into(),
        };
    }
    // A full mailbox is soft whatever the code: many servers answer it with 550 or 5.x.x.
    let words = phrase(text);
    if let Some((Class::Soft, why)) = &words
        && why.starts_with("mailbox full")
    {
        return Verdict {
            class: Class::Soft,
            status: code,
            evidence: why.clone(),
        };
    }
    if let Some(s) = enhanced
        && let Some(class) = by_enhanced(s)
    {
        return Verdict {
            class,
            status: code,
            evidence: format!("status {s}"),
        };
    }
    if let Some((class, why)) = words {
        return Verdict {
            class,
            status: code,
            evidence: why,
        };
    }
    if let Some(s) = enhanced {
        // A generic code and no words: its first digit is all it says.
        let class = if s.class() == 4 {
            Class::Soft
        } else {
            Class::Hard
        };
        return Verdict {
            class,
            status: code,
            evidence: format!("status {s} (generic)"),
        };
    }
    if let Some(c) = &code {
        let class = match c.as_bytes().first() {
            Some(b'5') => Class::Hard,
            Some(b'4') => Class::Soft,
            _ => Class::None,
        };
        if class != Class::None {
            return Verdict {
                class,
                status: code.clone(),
                evidence: format!("reply code {c}"),
            };
        }
    }
    if delay {
        return Verdict {
            class: Class::Soft,
            status: code,
            evidence: "a delay notice".into(),
        };
    }
    Verdict {
        class: Class::Hard,
        status: code,
        evidence: match action {
            Some(a) => format!("Action: {a}, no status"),
            None => "a failure notice, no status".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: Option<&str>, action: Option<DsnAction>, text: &str) -> Class {
        classify(status, action, text, false).class
    }

    #[test]
    fn codes_decide_first() {
        assert_eq!(
            class(Some("5.1.1"), Some(DsnAction::Failed), ""),
            Class::Hard
        );
        assert_eq!(
            class(Some("5.2.2"), Some(DsnAction::Failed), ""),
            Class::Soft
        );
        assert_eq!(
            class(Some("5.7.1"), Some(DsnAction::Failed), ""),
            Class::Policy
        );
        assert_eq!(
            class(Some("4.4.1"), Some(DsnAction::Delayed), ""),
            Class::Soft
        );
        assert_eq!(
            class(Some("4.7.1"), Some(DsnAction::Failed), ""),
            Class::Soft
        );
        assert_eq!(
            class(Some("2.0.0"), Some(DsnAction::Delivered), ""),
            Class::None
        );
        assert_eq!(
            class(None, Some(DsnAction::Failed), "smtp; 550 5.1.1 unknown"),
            Class::Hard
        );
        assert_eq!(class(Some("550"), None, ""), Class::Hard);
    }

    #[test]
    fn words_decide_when_there_is_no_code_or_only_a_generic_one() {
        for (text, want) in [
            ("The mailbox is full", Class::Soft),
            ("550 Mailbox full", Class::Soft),
            ("user is over quota", Class::Soft),
            ("Quota exceeded for this mailbox", Class::Soft),
            ("Temporarily deferred, try again later", Class::Soft),
            ("no such user here", Class::Hard),
            (
                "The recipient's mailbox is temporarily unavailable",
                Class::Soft,
            ),
            ("Unknown user: ferris", Class::Hard),
            ("account disabled", Class::Hard),
            (
                "This account has been disabled or discontinued",
                Class::Hard,
            ),
            (
                "5.0.0 Recipient address rejected: User unknown",
                Class::Hard,
            ),
            ("5.0.0 Your IP is listed at Spamhaus", Class::Policy),
            (
                "Sorry, I couldn't find any host named nowhere.invalid",
                Class::Hard,
            ),
            (
                "Host unknown (Name server: nowhere.invalid: host not found)",
                Class::Hard,
            ),
            ("Benutzer unbekannt", Class::Hard),
            ("Postfach voll", Class::Soft),
        ] {
            assert_eq!(class(None, None, text), want, "{text}");
        }
    }

    #[test]
    fn evidence_names_what_decided() {
        let v = classify(
            None,
            Some(DsnAction::Failed),
            "mailbox is full (#5.2.2)",
            false,
        );
        assert_eq!(v.class, Class::Soft);
        assert!(v.evidence.contains("mailbox full"), "{}", v.evidence);
        let v = classify(Some("5.1.1"), Some(DsnAction::Failed), "", false);
        assert_eq!(v.evidence, "status 5.1.1");
        let v = classify(None, None, "", true);
        assert_eq!(
            (v.class, v.evidence.as_str()),
            (Class::Soft, "a delay notice")
        );
    }
}
