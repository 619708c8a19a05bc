//! SMTP's own vocabulary as it reaches us in replies and in delivery reports: RFC 3463 enhanced
//! status codes (`5.1.1`) and RFC 5321 reply codes (`550`), each found in free text and printed back
//! exactly. The transport reads them from the relay's replies, the bounce parser from reports.

use std::fmt;

use super::ParseError;

/// An RFC 3463 enhanced status code, `class.subject.detail`: `5.1.1` (bad mailbox), `4.2.2`
/// (mailbox full). The class is 2 (success), 4 (persistent transient) or 5 (permanent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedStatus {
    /// Parses exactly one code (`5.1.1`); surrounding spaces are allowed, nothing else.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        let bad = || ParseError(format!("`{s}` is not an enhanced status code like 5.1.1"));
        let mut parts = s.split('.');
        let (Some(c), Some(sub), Some(det), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let class = match c {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return Err(bad()),
        };
        // RFC 3463: subject and detail are one to three digits.
        let number = |p: &str| {
            (!p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u16>().ok())
                .flatten()
        };
        match (number(sub), number(det)) {
            (Some(subject), Some(detail)) => Ok(EnhancedStatus {
                class,
                subject,
                detail,
            }),
            _ => Err(bad()),
        }
    }

    /// The first code standing as a word in a reply or diagnostic text (`#5.1.1`, `(5.2.2)`,
    /// `550-5.1.1`): a version number like `1.2.3` is not one, as its class is not 2, 4 or 5.
    pub fn find_in(text: &str) -> Option<Self> {
        text.split(|c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    ':' | ',' | '(' | ')' | '[' | ']' | '<' | '>' | '#' | '"' | ';'
                )
        })
        .map(|w| w.trim_end_matches('.'))
        .find_map(|w| EnhancedStatus::parse(w).ok())
    }

    /// 2, 4 or 5.
    pub fn class(self) -> u8 {
        self.class
    }

    /// The subject (the middle number): 1 addressing, 2 mailbox, 7 security or policy, …
    pub fn subject(self) -> u16 {
        self.subject
    }

    /// The detail (the last number).
    pub fn detail(self) -> u16 {
        self.detail
    }

    /// Whether the code is permanent (class 5).
    pub fn is_permanent(self) -> bool {
        self.class == 5
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// An RFC 5321 reply code of a failure, 400–599 (`550`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// Parses exactly three digits starting with 4 or 5.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) && matches!(&s[..1], "4" | "5") {
            Ok(ReplyCode(s.parse().expect("three digits")))
        } else {
            Err(ParseError(format!(
                "`{s}` is not an SMTP failure reply code like 550"
            )))
        }
    }

    /// The first failure code standing as a word in a text (`550`, `550-`, `(552)`).
    pub fn find_in(text: &str) -> Option<Self> {
        text.split(|c: char| !c.is_ascii_alphanumeric())
            .find_map(|w| ReplyCode::parse(w).ok())
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// Whether the code is permanent (5xx).
    pub fn is_permanent(self) -> bool {
        self.0 >= 500
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Option<String> {
        EnhancedStatus::find_in(text).map(|s| s.to_string())
    }

    #[test]
    fn enhanced_codes_are_found_where_servers_write_them() {
        assert_eq!(
            found("permanent error (550): 5.1.1 User unknown").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(found("<mx.example.com #5.1.1>").as_deref(), Some("5.1.1"));
        assert_eq!(found("(#5.2.2)").as_deref(), Some("5.2.2"));
        assert_eq!(
            found("550 5.1.1 The email account").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(found("said: 4.7.1."), Some("4.7.1".into()));
        assert_eq!(found("550 no such user"), None);
        assert_eq!(found("version 1.2.3"), None);
        assert_eq!(found("5.1.1234"), None);
    }

    #[test]
    fn codes_print_as_they_parse() {
        for s in ["5.1.1", "4.2.2", "2.0.0", "5.7.26", "5.100.999"] {
            assert_eq!(EnhancedStatus::parse(s).unwrap().to_string(), s);
        }
        assert!(EnhancedStatus::parse("6.1.1").is_err());
        assert!(EnhancedStatus::parse("5.1").is_err());
        let e = EnhancedStatus::parse("5.7.1").unwrap();
        assert_eq!((e.class(), e.subject(), e.detail()), (5, 7, 1));
        assert!(e.is_permanent());
    }

    #[test]
    fn reply_codes_are_failures_only() {
        assert_eq!(
            ReplyCode::find_in("said: 550-5.1.1 The email").map(ReplyCode::get),
            Some(550)
        );
        assert_eq!(
            ReplyCode::find_in("(452) try later").map(|c| c.get()),
            Some(452)
        );
        assert_eq!(ReplyCode::find_in("250 ok"), None);
        assert!(ReplyCode::parse("421").unwrap().get() == 421);
        assert!(!ReplyCode::parse("421").unwrap().is_permanent());
    }
}
