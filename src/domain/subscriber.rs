//! Who a subscriber is and where they stand: [`SubscriberName`] (a name cleaned of what could rewrite a
//! terminal or a listing) and [`SubscriberStatus`] (pending, active, unsubscribed, bounced,
//! complained).

use std::fmt;

use super::error::{ParseError, err};
use super::sanitize::is_format_control;

/// A subscriber's name as people type it into a form or a spreadsheet: control and bidirectional
/// formatting characters removed (they could rewrite an administrator's terminal or fake a row of
/// a listing), runs of white space made one space, trimmed, and at most
/// [`SubscriberName::MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriberName(String);

impl SubscriberName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Cleans a name; `Ok(None)` when nothing is left of it, an error when it is too long.
    pub fn parse(s: &str) -> Result<Option<Self>, ParseError> {
        let cleaned: String = s
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .filter(|&c| !c.is_control() && !is_format_control(c))
            .collect();
        let name = cleaned
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let n = name.chars().count();
        if n > Self::MAX_CHARS {
            return Err(err(format!(
                "the name is {n} characters long; the limit is {}",
                Self::MAX_CHARS
            )));
        }
        Ok((!name.is_empty()).then_some(Self(name)))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriberName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a subscriber is in their life on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberStatus {
    /// Signed up, awaiting confirmation (double opt-in).
    Pending,
    /// Receives the newsletter.
    Active,
    /// Left the list.
    Unsubscribed,
    /// Suppressed after bounces.
    Bounced,
    /// Suppressed after a spam complaint; never mailed again.
    Complained,
}

impl SubscriberStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [SubscriberStatus; 5] = [
        Self::Pending,
        Self::Active,
        Self::Unsubscribed,
        Self::Bounced,
        Self::Complained,
    ];

    /// The stored name, e.g. `active`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Unsubscribed => "unsubscribed",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s.trim())
            .ok_or_else(|| {
                err(format!(
                    "`{s}` is not a status; use one of pending, active, unsubscribed, bounced, complained"
                ))
            })
    }

    /// True for statuses that a plain import must not undo.
    pub fn is_suppressed(self) -> bool {
        matches!(self, Self::Unsubscribed | Self::Bounced | Self::Complained)
    }
}

impl fmt::Display for SubscriberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for SubscriberStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SubscriberStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_capped() {
        let n = SubscriberName::parse("  Ferris \u{1b}[2J\r\nthe\tCrab\u{202e}  ")
            .unwrap()
            .unwrap();
        assert_eq!(n.as_str(), "Ferris [2J the Crab");
        assert_eq!(SubscriberName::parse(" \r\n ").unwrap(), None);
        assert!(SubscriberName::parse(&"x".repeat(201)).is_err());
        assert!(SubscriberName::parse(&"é".repeat(200)).unwrap().is_some());
    }
}
