//! Why a failure happened, for one recipient, and what that means for the list.
//!
//! Every signal is read first: the DSN `Status`, the enhanced code and reply code in the remote
//! server's words, the words themselves, which SMTP command the server was answering, and whether
//! the report is a delay notice. Then one [`BounceReason`] is decided, in this order of authority:
//! 1. a success (`Action: delivered`) is no failure;
//! 2. a delay notice is no failure (the server keeps trying), unless a permanent code says otherwise;
//! 3. a statement about **us** wins whatever the first digit or the `Status` says: the words
//!    (block lists, reputation, SPF/DKIM/DMARC, "sender", "not verified", "unauthenticated",
//!    relaying, rate and volume limits), an answer to `MAIL FROM`, or a code about the sender
//!    (5.1.7, 5.1.8, 5.7.x) — a refusal of the message's content under a 5.7.x code is the
//!    message's;
//! 4. words about the mailbox or the message (full, disabled, too large, virus) win over a code:
//!    many servers answer "mailbox full" with 550 and 5.1.1;
//! 5. a specific enhanced code (the remote's own, in the diagnostic, before the reporting MTA's
//!    `Status`);
//! 6. any other words (no such user, host unknown, network errors);
//! 7. a generic code (`5.0.0`, `550`) or a bare failure: the cause is not stated, and an unstated
//!    cause never suppresses at once ([`BounceReason::Undetermined`]).
//!
//! The class follows the reason's group: only a gone address is hard. Every verdict carries the
//! evidence that decided it, for `bounces inspect`.

use crate::domain::{BounceReason, DsnAction, EnhancedStatus, ReasonGroup, ReplyCode};

pub use crate::domain::BounceClass as Class;

use BounceReason as R;

/// A reason, its class and what decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub class: Class,
    pub reason: BounceReason,
    /// The status code, when there is one (`5.1.1`, else `550`).
    pub status: Option<String>,
    /// The field, code or phrase that decided the reason.
    pub evidence: String,
}

impl Verdict {
    fn new(reason: BounceReason, status: Option<String>, evidence: String) -> Verdict {
        Verdict {
            class: reason.class(),
            reason,
            status,
            evidence,
        }
    }

    /// True when nothing stated the cause (a generic code, or a bare failure): another text about
    /// the same recipient may say more.
    pub fn is_weak(&self) -> bool {
        self.reason == R::Undetermined
    }
}

/// Phrases, matched on lowercase text with runs of white space made single spaces. Each rule is a
/// list of alternatives; an alternative is one or more words or word stems that must all occur, in
/// order, within one sentence-sized stretch. The first rule that matches names the reason, so the
/// more specific statements come first.
struct Rule {
    reason: BounceReason,
    any: &'static [&'static [&'static str]],
}

const RULES: &[Rule] = &[
    // About us: these win over every code.
    Rule {
        reason: R::RateLimited,
        any: &[
            &["rate limit"],
            &["ratelimit"],
            &["rate-limit"],
            &["receiving mail at a rate"],
            &["at a rate that"],
            &["unusual rate"],
            &["sending rate"],
            &["message rate"],
            &["too many recipients"],
            &["too many messages", "hour"],
            &["too many messages", "minute"],
            &["too many messages", "day"],
            &["too many messages", "from"],
            &["too many mails"],
            &["too many emails"],
            &["too much mail"],
            &["sending limit"],
            &["sending quota"],
            &["daily", "limit"],
            &["hourly", "limit"],
            &["per hour"],
            &["this hour"],
            &["volume", "exceed"],
            &["unexpected volume"],
            &["high volume"],
            &["exceeded", "volume"],
            &["throttl"],
            &["4.7.28"],
            &["5.7.28"],
            &["4.7.650"],
        ],
    },
    Rule {
        reason: R::TooManyConnections,
        any: &[
            &["too many connections"],
            &["too many concurrent"],
            &["concurrent connections"],
            &["too many simultaneous"],
            &["too many sessions"],
            &["connection limit"],
            &["connections from your"],
        ],
    },
    Rule {
        reason: R::AuthFailure,
        any: &[
            &["dmarc"],
            &["spf", "fail"],
            &["spf", "check"],
            &["spf", "record"],
            &["sender policy framework"],
            &["dkim"],
            &["not pass authentication"],
            &["authentication checks"],
            &["authentication level"],
            &["spoof"],
            &["unauthenticated email"],
            &["arc validation"],
            &["5.7.23"],
            &["5.7.26"],
        ],
    },
    Rule {
        reason: R::RequirePtr,
        any: &[
            &["reverse dns"],
            &["reverse lookup"],
            &["reverse hostname"],
            &["ptr record"],
            &["no ptr"],
            &["rdns"],
            &["cannot find your hostname"],
            &["cannot resolve your"],
            &["5.7.25"],
        ],
    },
    Rule {
        reason: R::BadReputation,
        any: &[
            &["reputation"],
            &["sender score"],
            &["senderscore"],
            &["low trust"],
        ],
    },
    Rule {
        reason: R::Blocked,
        any: &[
            &["blacklist"],
            &["blocklist"],
            &["block list"],
            &["black list"],
            &["denylist"],
            &["spamhaus"],
            &["spamcop"],
            &["sorbs"],
            &["dnsbl"],
            &["barracuda", "block"],
            &["listed", "rbl"],
            &["rbl", "listed"],
            &["blocked using"],
            &["client host", "rejected"],
            &["ip", "blocked"],
            &["blocked", "ip"],
            &["your ip"],
            &["ip address", "block"],
            &["ip address", "listed"],
            &["ip", "banned"],
            &["banned", "ip"],
            &["host", "blocked"],
            &["network", "blocked"],
            &["domain", "blocked"],
            &["blocked", "domain"],
            &["cyber", "block"],
        ],
    },
    Rule {
        reason: R::RelayDenied,
        any: &[
            &["relay", "denied"],
            &["relaying", "denied"],
            &["relay access denied"],
            &["relaying", "not allowed"],
            &["relay", "not permitted"],
            &["not permitted to relay"],
            &["unable to relay"],
            &["we do not relay"],
            &["not allowed to relay"],
            &["relaying disallowed"],
            &["no relaying"],
            &["relay not allowed"],
            &["open relay"],
        ],
    },
    Rule {
        reason: R::SenderRejected,
        any: &[
            &["sender address rejected"],
            &["sender", "rejected"],
            &["sender was rejected"],
            &["sender verify"],
            &["sender verification"],
            &["sender address", "does not exist"],
            &["domain of sender"],
            &["sender domain"],
            &["sender's domain"],
            &["sender address", "invalid"],
            &["invalid sender"],
            &["bad sender"],
            &["unauthenticated sender"],
            &["unauthenticated", "not allowed"],
            &["sender", "not allowed"],
            &["sender", "not authorized"],
            &["sender", "not permitted"],
            &["sender", "denied"],
            &["sender", "blocked"],
            &["sender", "refused"],
            &["email address is not verified"],
            &["identities failed"],
            &["identity", "not verified"],
            &["sender", "not verified"],
            &["unverified sender"],
            &["not authorized to send"],
            &["authentication required"],
            &["authentication is required"],
            &["must authenticate"],
            &["requires authentication"],
            &["auth required"],
            &["envelope blocked"],
            &["not accepting mail from"],
            &["mail from", "rejected"],
            &["mail from", "refused"],
            &["mail from", "invalid"],
            &["from address", "rejected"],
            &["from address", "not allowed"],
            &["5.1.7"],
            &["5.1.8"],
        ],
    },
    // About the message.
    Rule {
        reason: R::VirusDetected,
        any: &[
            &["virus"],
            &["malware"],
            &["infected"],
            &["trojan"],
            &["forbidden attachment"],
            &["banned attachment"],
            &["attachment", "not allowed"],
            &["attachment", "blocked"],
            &["executable", "attach"],
        ],
    },
    Rule {
        reason: R::ContentRejected,
        any: &[
            &["blocked", "spam"],
            &["detected", "spam"],
            &["identified", "spam"],
            &["spam", "rejected"],
            &["rejected", "spam"],
            &["looks like spam"],
            &["considered", "spam"],
            &["as spam"],
            &["spam content"],
            &["spam message"],
            &["likely spam"],
            &["unsolicited"],
            &["content", "rejected"],
            &["rejected", "content"],
            &["content", "not accepted"],
            &["message content"],
            &["content filter"],
            &["url", "blocked"],
            &["phishing"],
            &["suspicious"],
        ],
    },
    Rule {
        reason: R::NotCompliant,
        any: &[
            &["rfc 5322"],
            &["rfc5322"],
            &["rfc 2822"],
            &["rfc2822"],
            &["rfc 822"],
            &["not rfc"],
            &["bare lf"],
            &["missing", "header"],
            &["header", "missing"],
            &["invalid header"],
            &["malformed"],
            &["duplicate header"],
            &["message-id", "missing"],
            &["missing", "message-id"],
        ],
    },
    // The receiver's policy, about us, naming no finer cause.
    Rule {
        reason: R::PolicyRefused,
        any: &[
            &["rejected", "policy"],
            &["policy", "rejected"],
            &["policy violation"],
            &["policy reasons"],
            &["administrative prohibition"],
            &["access denied"],
            &["does not have permission"],
            &["not have permission"],
            &["not authorized"],
            &["not allowed to send"],
        ],
    },
    // The receiving system.
    Rule {
        reason: R::SystemFull,
        any: &[
            &["insufficient system"],
            &["system storage"],
            &["system resources"],
            &["disk full"],
            &["out of disk"],
            &["no space left"],
        ],
    },
    // The mailbox.
    Rule {
        reason: R::MailboxFull,
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
            &["out of storage"],
            &["exceeded", "storage"],
            &["disk space", "limit"],
            &["mailbox size", "exceed"],
            &["mailbox", "exceeds", "size"],
            &["space has been used up"],
            &["too many messages", "server"],
            &["too many messages", "mailbox"],
            &["boite", "pleine"],
            &["boîte", "pleine"],
            &["postfach", "voll"],
            &["speicherplatz"],
            &["buzón", "lleno"],
            &["casella", "piena"],
            &["邮箱", "满"],
            &["空间不足"],
            &["容量", "超"],
        ],
    },
    Rule {
        reason: R::MessageTooLarge,
        any: &[
            &["message", "too large"],
            &["message", "too big"],
            &["message size", "exceed"],
            &["size", "exceeds", "limit"],
            &["exceeds", "maximum", "size"],
            &["maximum message size"],
            &["size limit"],
            &["message length exceeds"],
        ],
    },
    Rule {
        reason: R::MailboxDisabled,
        any: &[
            &["account", "disabled"],
            &["disabled", "account"],
            &["account", "deactivated"],
            &["account", "inactive"],
            &["inactive", "account"],
            &["account", "suspended"],
            &["suspended", "account"],
            &["account", "locked"],
            &["account", "expired"],
            &["account", "closed"],
            &["account", "terminated"],
            &["account", "frozen"],
            &["mailbox", "disabled"],
            &["mailbox", "inactive"],
            &["mailbox", "suspended"],
            &["mailbox", "not accepting"],
            &["mailbox", "locked"],
            &["user", "disabled"],
            &["user", "inactive"],
            &["user", "suspended"],
            &["user", "terminated"],
            &["temporarily disabled"],
            &["not accepting mail"],
            &["not receiving mail"],
            &["discontinued"],
            &["停止"],
            &["無効"],
        ],
    },
    Rule {
        reason: R::Filtered,
        any: &[
            &["blocked by the recipient"],
            &["recipient", "has blocked"],
            &["recipient's filter"],
            &["user's filter"],
            &["recipient", "rules"],
            &["refused by", "recipient"],
            &["filtered"],
            &["拒否"],
        ],
    },
    Rule {
        reason: R::Suppressed,
        any: &[
            &["suppression list"],
            &["suppressed"],
            &["previously bounced"],
            &["recent history of bouncing"],
        ],
    },
    Rule {
        reason: R::HasMoved,
        any: &[
            &["has moved"],
            &["no longer with"],
            &["no longer employed"],
            &["left the company"],
            &["left the organization"],
        ],
    },
    // The address is gone.
    Rule {
        reason: R::HostUnknown,
        any: &[
            &["host", "unknown"],
            &["unknown", "host"],
            &["host", "not found"],
            &["domain", "not found"],
            &["no such", "domain"],
            &["domain", "does not exist"],
            &["domain", "doesn't exist"],
            &["domain", "not exist"],
            &["unknown", "domain"],
            &["domain", "unknown"],
            &["couldn't find any host"],
            &["could not find any host"],
            &["name service error"],
            &["no mx"],
            &["null mx"],
            &["nxdomain"],
            &["unrouteable"],
            &["mx records point to non-existent hosts"],
            &["unroutable"],
            &["domain", "accept no mail"],
            &["does not accept mail"],
        ],
    },
    Rule {
        reason: R::UserUnknown,
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
            &["no such", "person"],
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
            &["mailbox unavailable", "not exist"],
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
            &["no account"],
            &["doesn't have a", "account"],
            &["user doesn't have a"],
            &["user does not have a"],
            &["does not have a", "account"],
            &["not our customer"],
            &["无此用户"],
            &["用户不存在"],
            &["不存在"],
            &["存在しない"],
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
    // The way there.
    // A stated network cause names the failure even when the queue then gave up.
    Rule {
        reason: R::NetworkError,
        any: &[
            &["timed out"],
            // A bare "timeout" would also match Exim's "retry timeout exceeded", which is expiry.
            &["smtp timeout"],
            &["timeout after"],
            &["read timeout"],
            &["connection timeout"],
            &["connect timeout"],
            &["timeout", "connect"],
            &["timeout while"],
            &["timeout waiting"],
            &["connection refused"],
            &["connection reset"],
            &["lost connection"],
            &["connection closed"],
            &["no route to host"],
            &["not reachable"],
            &["unable to connect"],
            &["could not connect"],
            &["network", "unreachable"],
            &["tls", "fail"],
            &["starttls"],
            &["certificate"],
        ],
    },
    Rule {
        reason: R::Expired,
        any: &[
            &["queue too long"],
            &["in the queue too long"],
            &["could not be delivered within"],
            &["retry timeout exceeded"],
            &["delivery time expired"],
            &["message expired"],
            &["expired", "queue"],
        ],
    },
    Rule {
        reason: R::SystemError,
        any: &[
            &["system error"],
            &["internal error"],
            &["local error"],
            &["mailer error"],
            &["server error"],
            &["resources", "unavailable"],
            &["service", "unavailable"],
            &["system", "busy"],
            &["try again"],
            &["temporar"],
            &["greylist"],
            &["graylist"],
            &["deferred"],
        ],
    },
    // Not a failure.
    Rule {
        reason: R::Delayed,
        any: &[
            &["has been delayed"],
            &["delivery is delayed"],
            &["delivery delayed"],
            &["will retry"],
            &["will be retried"],
            &["will continue to try"],
            &["still trying"],
            &["not yet been delivered"],
        ],
    },
];

/// The reason the words of a text state, first rule first; with the words that matched.
pub fn phrase(text: &str) -> Option<(BounceReason, String)> {
    let lower = text.to_lowercase();
    let squeezed: String = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    // One pass finds which first words occur at all; an alternative whose first word is absent
    // cannot match, so it is skipped without a search of its own (the rules' order is unchanged).
    let (firsts, index) = &*FIRST_WORDS;
    let mut present = vec![false; firsts.patterns_len()];
    for m in firsts.find_overlapping_iter(&squeezed) {
        present[m.pattern().as_usize()] = true;
    }
    let mut alt_no = 0;
    for rule in RULES {
        for alt in rule.any {
            let here = alt_no;
            alt_no += 1;
            if !present[index[here]] {
                continue;
            }
            if let Some(found) = find_in_order(&squeezed, alt) {
                return Some((rule.reason, format!("{} (\"{found}\")", rule.reason)));
            }
        }
    }
    None
}

/// An automaton over the distinct first words of every alternative of [`RULES`], and for each
/// alternative (in rule order) the pattern number of its first word.
static FIRST_WORDS: std::sync::LazyLock<(aho_corasick::AhoCorasick, Vec<usize>)> =
    std::sync::LazyLock::new(|| {
        let mut words: Vec<&str> = Vec::new();
        let mut index = Vec::new();
        for alt in RULES.iter().flat_map(|r| r.any.iter()) {
            let first = alt[0];
            let n = match words.iter().position(|w| *w == first) {
                Some(n) => n,
                None => {
                    words.push(first);
                    words.len() - 1
                }
            };
            index.push(n);
        }
        let ac = aho_corasick::AhoCorasick::new(&words).expect("the phrase list builds");
        (ac, index)
    });

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

/// The reason an enhanced status code states alone; `None` for a generic code (`5.0.0`, `4.0.0`,
/// `5.5.0`, …) that says no more than its first digit.
pub fn code_reason(s: EnhancedStatus) -> Option<BounceReason> {
    Some(match (s.class(), s.subject(), s.detail()) {
        (2, _, _) => R::Delivered,
        (_, 0, 0) | (_, 5, 0) | (_, 1, 0) | (_, 3, 0) | (_, 4, 0) | (_, 6, 0) => return None,
        (_, 1, 7) | (_, 1, 8) => R::SenderRejected,
        (5, 1, 1) | (5, 1, 10) | (5, 1, 3) | (5, 1, 4) | (5, 1, 5) => R::UserUnknown,
        (5, 1, 2) | (5, 4, 4) => R::HostUnknown,
        (5, 1, 6) => R::HasMoved,
        (4, 1, _) => R::SystemError,
        (_, 2, 1) => R::MailboxDisabled,
        (_, 2, 2) => R::MailboxFull,
        (_, 2, 3) | (_, 3, 4) => R::MessageTooLarge,
        (_, 3, 1) => R::SystemFull,
        (_, 3, _) => R::SystemError,
        (_, 4, 7) => R::Expired,
        (_, 4, 6) | (_, 4, 3) => R::SystemError,
        (_, 4, _) => R::NetworkError,
        (_, 5, _) => R::SystemError,
        (_, 6, _) => R::NotCompliant,
        (_, 7, 1) | (_, 7, 0) => R::PolicyRefused,
        (_, 7, 20..=24) | (_, 7, 26) | (_, 7, 29) => R::AuthFailure,
        (_, 7, 25) => R::RequirePtr,
        (_, 7, 27) => R::SenderRejected,
        (_, 7, 28) => R::RateLimited,
        (_, 7, 30) => R::NetworkError,
        (_, 7, _) => R::PolicyRefused,
        _ => return None,
    })
}

/// True for a code about us: the sender's address (5.1.7, 5.1.8) or security and policy (x.7.x).
fn is_sender_code(s: EnhancedStatus) -> bool {
    matches!((s.subject(), s.detail()), (1, 7) | (1, 8) | (7, _))
}

/// Which SMTP command the remote server was answering, when the text says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// `MAIL FROM`: the refusal is about the sender, whatever it says.
    MailFrom,
    /// `RCPT TO`: about this recipient.
    RcptTo,
    /// `DATA` or the end of data: about the message (or the recipient, per the words).
    Data,
}

/// The SMTP command a failure answered: Postfix's "(in reply to MAIL FROM command)", Exim's
/// "after MAIL FROM:<…>", qmail's "did not like our MAIL FROM" / "sender was rejected", or a
/// Sendmail transcript where a `>>> MAIL From:` line is answered by a `<<< 5xx` or `<<< 4xx`.
pub fn answered(text: &str) -> Option<Answered> {
    let lower = text.to_ascii_lowercase();
    let squeezed: String = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    for (words, cmd) in [
        ("in reply to mail from", Answered::MailFrom),
        ("after mail from", Answered::MailFrom),
        ("after pipelined mail from", Answered::MailFrom),
        ("did not like our mail from", Answered::MailFrom),
        ("sender was rejected", Answered::MailFrom),
        ("in reply to rcpt to", Answered::RcptTo),
        ("after rcpt to", Answered::RcptTo),
        ("did not like our rcpt to", Answered::RcptTo),
        ("in reply to end of data", Answered::Data),
        ("in reply to data", Answered::Data),
        ("after end of data", Answered::Data),
        ("after data", Answered::Data),
        ("did not like our data", Answered::Data),
    ] {
        if squeezed.contains(words) {
            return Some(cmd);
        }
    }
    // A transcript: the command line, then the reply line.
    let lines: Vec<&str> = lower
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for pair in lines.windows(2) {
        let reply = pair[1]
            .strip_prefix("<<<")
            .map(str::trim_start)
            .is_some_and(|r| r.starts_with('5') || r.starts_with('4'));
        if !reply {
            continue;
        }
        let cmd = pair[0].trim_start_matches(">>>").trim_start();
        if !pair[0].starts_with(">>>") {
            continue;
        }
        if cmd.starts_with("mail from") {
            return Some(Answered::MailFrom);
        } else if cmd.starts_with("rcpt to") {
            return Some(Answered::RcptTo);
        } else if cmd.starts_with("data") || cmd == "." {
            return Some(Answered::Data);
        }
    }
    None
}

/// The reason behind one SMTP reply (`550 5.7.1 …`) that our own session received; `at_mail_from`
/// when the server answered MAIL FROM (then the refusal is about the sender, whatever it says).
/// The campaign's circuit breaker reads it.
pub fn reply_reason(reply: &str, at_mail_from: bool) -> BounceReason {
    if at_mail_from {
        let words = phrase(reply).map(|(r, _)| r);
        return words
            .filter(|r| r.is_sender_side())
            .unwrap_or(R::SenderRejected);
    }
    classify(None, None, reply, false).reason
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
    let field = status.and_then(|s| EnhancedStatus::parse(s).ok());
    let said = EnhancedStatus::find_in(text);
    let reply = status
        .and_then(|s| ReplyCode::parse(s).ok())
        .or_else(|| ReplyCode::find_in(text));
    // The code we report: the remote's own when it is specific, else the field's.
    let shown = match (said, field) {
        (Some(s), _) if code_reason(s).is_some() => Some(s),
        (_, Some(f)) => Some(f),
        (s, None) => s,
    };
    let code = shown
        .map(|e| e.to_string())
        .or_else(|| reply.map(|c| c.to_string()));
    let verdict =
        |reason: BounceReason, evidence: String| Verdict::new(reason, code.clone(), evidence);

    if let Some(a) = action.filter(|a| a.is_success()) {
        return verdict(R::Delivered, format!("Action: {a}"));
    }
    let words = phrase(text);
    let command = answered(text);
    let permanent = said.or(field).map(|s| s.class() == 5).unwrap_or(false)
        || reply.is_some_and(|r| r.is_permanent());

    // 2. A delay is no failure (the server keeps trying), unless a permanent code says otherwise.
    if action == Some(DsnAction::Delayed) {
        return verdict(R::Delayed, "Action: delayed".into());
    }
    if delay && !permanent {
        return verdict(R::Delayed, "a delay notice".into());
    }

    // 3. A statement about us. A refusal of MAIL FROM names our sender more precisely than a
    // generic "policy" word does.
    if let Some((r, why)) = &words
        && r.is_sender_side()
        && !(*r == R::PolicyRefused && command == Some(Answered::MailFrom))
    {
        return verdict(*r, why.clone());
    }
    // "452 4.3.1 Insufficient system storage" often answers MAIL FROM (its SIZE): the remote's
    // disk, not a refusal of our sender.
    if command == Some(Answered::MailFrom) && !matches!(words, Some((R::SystemFull, _))) {
        return verdict(
            R::SenderRejected,
            "the server refused our MAIL FROM (a refusal of the sender)".into(),
        );
    }
    // A final failure under a temporary code, with no words about us: the remote kept answering
    // 4xx until the message expired in a queue. The way there failed (soft), not the sender: a
    // greylisting "451 4.7.1 Try again later" says nothing about our reputation. Words about the
    // mailbox, the message or the network still name their reason below.
    if let Some(s) = said.or(field)
        && s.class() == 4
        && !permanent
        && action == Some(DsnAction::Failed)
    {
        if let Some((r, why)) = &words
            && matches!(
                r.group(),
                ReasonGroup::Unwell | ReasonGroup::Message | ReasonGroup::Transport
            )
        {
            return verdict(*r, why.clone());
        }
        return verdict(
            R::Expired,
            format!("Action: failed under the temporary status {s} (it expired in a queue)"),
        );
    }
    for (s, source) in [(said, "in the server's reply"), (field, "in Status")] {
        let Some(s) = s.filter(|s| is_sender_code(*s)) else {
            continue;
        };
        // Under a policy code, a refusal of the content is the message's; a provider's suppression
        // list or the reader's own filter rule, when the words name it, is theirs (5.7.1 is the
        // usual code for both). A bare "filtered" names no one's filter.
        if let Some((r, why)) = &words
            && (r.group() == ReasonGroup::Message
                || *r == R::Suppressed
                || (*r == R::Filtered && !why.ends_with("(\"filtered\")")))
        {
            return verdict(*r, format!("{why} under code {s}"));
        }
        let r = code_reason(s).unwrap_or(R::PolicyRefused);
        return verdict(r, format!("code {s} {source} (about the sender)"));
    }

    // 4. Words about the mailbox, the message or the receiving system win over a code.
    if let Some((r, why)) = &words
        && (matches!(r.group(), ReasonGroup::Unwell | ReasonGroup::Message)
            || matches!(r, R::SystemFull | R::Suppressed | R::HasMoved))
    {
        return verdict(*r, why.clone());
    }

    // 5. A specific code: the remote's own first.
    for (s, source) in [
        (said, "status {s} in the server's reply"),
        (field, "Status: {s}"),
    ] {
        if let Some(s) = s
            && let Some(r) = code_reason(s)
        {
            if s.class() == 4 && r.group() == ReasonGroup::Gone {
                return verdict(R::SystemError, source.replace("{s}", &s.to_string()));
            }
            // Within the gone group the words name the finer reason (a null MX under 5.1.10).
            if let Some((w, why)) = &words
                && r.group() == ReasonGroup::Gone
                && w.group() == ReasonGroup::Gone
            {
                return verdict(*w, why.clone());
            }
            return verdict(r, source.replace("{s}", &s.to_string()));
        }
    }

    // 6. Any other words.
    if let Some((r, why)) = words {
        let r = if r == R::Delayed && permanent {
            R::Undetermined
        } else {
            r
        };
        return verdict(r, why);
    }

    // 7. Nothing states the cause.
    let evidence = if let Some(s) = said.or(field) {
        format!("status {s} (generic: the cause is not stated)")
    } else if let Some(c) = reply {
        format!("reply code {c} (generic: the cause is not stated)")
    } else if delay {
        return verdict(R::Delayed, "a delay notice".into());
    } else {
        match action {
            Some(a) => format!("Action: {a}, no status or words (the cause is not stated)"),
            None => "a failure notice, no status or words (the cause is not stated)".into(),
        }
    };
    verdict(R::Undetermined, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(status: Option<&str>, action: Option<DsnAction>, text: &str) -> BounceReason {
        classify(status, action, text, false).reason
    }

    #[test]
    fn codes_decide_when_the_words_say_nothing_finer() {
        let f = Some(DsnAction::Failed);
        assert_eq!(reason(Some("5.1.1"), f, ""), R::UserUnknown);
        assert_eq!(reason(Some("5.2.2"), f, ""), R::MailboxFull);
        assert_eq!(reason(Some("5.7.1"), f, ""), R::PolicyRefused);
        assert_eq!(
            reason(Some("4.4.1"), Some(DsnAction::Delayed), ""),
            R::Delayed
        );
        assert_eq!(reason(Some("4.7.1"), f, ""), R::Expired);
        assert_eq!(
            reason(
                Some("4.7.1"),
                f,
                "smtp; 451 4.7.1 Client host blocked using zen.example"
            ),
            R::Blocked
        );
        assert_eq!(
            reason(Some("2.0.0"), Some(DsnAction::Delivered), ""),
            R::Delivered
        );
        assert_eq!(reason(None, f, "smtp; 550 5.1.1 unknown"), R::UserUnknown);
        assert_eq!(reason(Some("5.7.26"), f, ""), R::AuthFailure);
        assert_eq!(reason(Some("5.1.8"), f, ""), R::SenderRejected);
        // A generic code alone states no cause: never hard.
        assert_eq!(reason(Some("550"), None, ""), R::Undetermined);
        assert_eq!(reason(Some("5.0.0"), f, ""), R::Undetermined);
        assert_eq!(reason(None, f, ""), R::Undetermined);
    }

    #[test]
    fn a_statement_about_the_sender_wins_over_any_code() {
        let f = Some(DsnAction::Failed);
        for (status, text, want) in [
            (
                Some("5.0.0"),
                "smtp; 554 Message rejected: Email address is not verified. The following identities failed the check",
                R::SenderRejected,
            ),
            (
                Some("5.1.8"),
                "smtp; 553 5.1.8 <newsletter@example.org>... Domain of sender address newsletter@example.org does not exist",
                R::SenderRejected,
            ),
            (
                Some("5.1.1"),
                "smtp; 550 5.7.1 IP address blacklisted",
                R::Blocked,
            ),
            (
                Some("5.2.1"),
                "smtp; 550-5.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages",
                R::RateLimited,
            ),
            (
                Some("5.1.1"),
                "smtp; 550 5.1.1 Message rejected: sent to too many recipients this hour",
                R::RateLimited,
            ),
            (
                None,
                "550 Unauthenticated senders not allowed (in reply to MAIL FROM command)",
                R::SenderRejected,
            ),
            (
                Some("5.1.1"),
                "host mx.example.net said: 550 5.1.1 mailbox unavailable (in reply to MAIL FROM command)",
                R::SenderRejected,
            ),
        ] {
            let v = classify(status, f, text, false);
            assert_eq!(v.reason, want, "{text}: {}", v.evidence);
            assert_ne!(v.class, Class::Hard, "{text}");
        }
    }

    #[test]
    fn words_about_the_mailbox_win_over_a_code() {
        for (status, text, want) in [
            (None, "The mailbox is full", R::MailboxFull),
            (Some("5.1.1"), "550 5.1.1 Mailbox full", R::MailboxFull),
            (None, "user is over quota", R::MailboxFull),
            (
                None,
                "Temporarily deferred, try again later",
                R::SystemError,
            ),
            (None, "no such user here", R::UserUnknown),
            (None, "Unknown user: ferris", R::UserUnknown),
            (None, "account disabled", R::MailboxDisabled),
            (
                Some("5.0.0"),
                "Recipient address rejected: User unknown",
                R::UserUnknown,
            ),
            (Some("5.0.0"), "Your IP is listed at Spamhaus", R::Blocked),
            (
                None,
                "Sorry, I couldn't find any host named nowhere.invalid",
                R::HostUnknown,
            ),
            (None, "Benutzer unbekannt", R::UserUnknown),
            (None, "Postfach voll", R::MailboxFull),
            (
                Some("5.7.1"),
                "550 5.7.1 Virus found in message",
                R::VirusDetected,
            ),
            (
                Some("5.3.4"),
                "552 5.3.4 Message size exceeds fixed limit",
                R::MessageTooLarge,
            ),
            // Issue #22's fixtures: the stated cause, not the code or the queue's lifetime.
            (
                Some("5.7.1"),
                "554 5.7.1 recipient address was suppressed due to customer policy",
                R::Suppressed,
            ),
            (
                Some("5.7.1"),
                "550 5.7.1 Message rejected by recipient's filter rule",
                R::Filtered,
            ),
            (
                Some("5.7.1"),
                "550 5.7.1 Message filtered",
                R::PolicyRefused,
            ),
            (
                None,
                "retry timeout exceeded host mx.example.at [203.0.113.140]: Connection refused",
                R::NetworkError,
            ),
            (None, "retry timeout exceeded", R::Expired),
            (
                None,
                "all relevant MX records point to non-existent hosts",
                R::HostUnknown,
            ),
            (
                Some("4.3.2"),
                "421 4.3.2 The maximum number of concurrent connections has exceeded a limit",
                R::TooManyConnections,
            ),
            (
                Some("4.3.1"),
                ">>> MAIL From:<b@example.org> SIZE=18233 <<< 452 4.3.1 Insufficient system storage",
                R::SystemFull,
            ),
        ] {
            assert_eq!(
                reason(status, Some(DsnAction::Failed), text),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn the_command_answered_is_read_from_transcripts() {
        let t = ">>> MAIL From:<bounces@example.org> SIZE=1234\n<<< 553 5.1.1 ... user unknown\n";
        assert_eq!(answered(t), Some(Answered::MailFrom));
        assert_eq!(
            answered(
                "SMTP error from remote mail server after pipelined MAIL FROM:<b@example.org>: 550 no"
            ),
            Some(Answered::MailFrom)
        );
        let t = ">>> MAIL From:<bounces@example.org>\n<<< 250 ok\n>>> RCPT To:<a@example.net>\n<<< 550 5.1.1 user unknown\n";
        assert_eq!(answered(t), Some(Answered::RcptTo));
        assert_eq!(reason(None, None, t), R::UserUnknown);
        assert_eq!(
            reply_reason("550 5.1.1 user unknown", true),
            R::SenderRejected
        );
        assert_eq!(reply_reason("550 5.7.1 Spamhaus listed", true), R::Blocked);
        assert_eq!(
            reply_reason("550 5.1.1 user unknown", false),
            R::UserUnknown
        );
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
        assert!(v.evidence.contains("mailbox-full"), "{}", v.evidence);
        let v = classify(Some("5.1.1"), Some(DsnAction::Failed), "", false);
        assert_eq!(v.evidence, "Status: 5.1.1");
        let v = classify(None, None, "", true);
        assert_eq!(
            (v.reason, v.evidence.as_str()),
            (R::Delayed, "a delay notice")
        );
    }
}
