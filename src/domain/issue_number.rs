//! [`IssueNumber`]: the number of an issue, a positive integer.

use std::fmt;

use super::error::{ParseError, err};

/// The number of an issue, e.g. 522. Always positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct IssueNumber(u32);

impl IssueNumber {
    /// Parses a decimal issue number such as `522`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(format!(
                "`{s}` is not an issue number: use digits only, e.g. `522`"
            )));
        }
        match s.parse::<u32>() {
            Ok(0) => Err(err("the issue number must be 1 or more")),
            Ok(n) => Ok(Self(n)),
            Err(_) => Err(err(format!("`{s}` is too large for an issue number"))),
        }
    }

    /// The number as an integer.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for IssueNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_number_rejects_garbage() {
        assert_eq!(IssueNumber::parse(" 522 ").unwrap().get(), 522);
        assert!(IssueNumber::parse("0").is_err());
        assert!(IssueNumber::parse("52a").is_err());
        assert!(IssueNumber::parse("").is_err());
        assert!(IssueNumber::parse("99999999999").is_err());
    }
}
