//! [`EmailAddress`]: a syntactically valid address, dot-atom local part and a normalised domain
//! (internationalised names as `xn--` labels), so no header built from one can carry a second address.

use std::fmt;

use super::error::{ParseError, err};

/// A syntactically valid e-mail address with its domain normalised to lowercase ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    value: String,
    at: usize,
}

impl EmailAddress {
    /// Parses an address such as `Ferris@Example.ORG` (stored as `Ferris@example.org`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(err(format!(
                "the address contains a control character (U+{:04X})",
                u32::from(c)
            )));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(err("the address contains a space"));
        }
        let at = s
            .rfind('@')
            .ok_or_else(|| err(format!("`{s}` has no `@`")))?;
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if local.is_empty() {
            return Err(err(format!("`{s}` has nothing before the `@`")));
        }
        if domain.is_empty() {
            return Err(err(format!("`{s}` has nothing after the `@`")));
        }
        if local.len() > 64 {
            return Err(err(format!(
                "the part before `@` is {} characters long; the limit is 64",
                local.len()
            )));
        }
        check_local_part(local)?;
        let domain = normalize_domain(domain)?;
        let value = format!("{local}@{domain}");
        if value.len() > 254 {
            return Err(err(format!(
                "the address is {} characters long; the limit is 254",
                value.len()
            )));
        }
        Ok(Self { value, at })
    }

    /// The whole address.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The part after `@`, lowercase ASCII.
    pub fn domain(&self) -> &str {
        &self.value[self.at + 1..]
    }

    /// The part before `@`, as given.
    pub fn local_part(&self) -> &str {
        &self.value[..self.at]
    }
}

impl PartialEq<str> for EmailAddress {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EmailAddress {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for EmailAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Read from configuration: a string that must parse, or the setting is refused with the reason.
impl<'de> serde::Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EmailAddress::parse(&s)
            .map_err(|e| serde::de::Error::custom(format!("`{s}` is not a valid address: {e}")))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// RFC 5321's dot-atom local part: atoms of `atext` (letters, digits and ``!#$%&'*+-/=?^_`{|}~``)
/// separated by single dots. Quoted local parts and the specials they allow (`< > , " ; : \ ( )`,
/// spaces) are refused, so no header built from an address can carry a second address. Non-ASCII
/// letters, digits and marks are allowed as RFC 6531 does; such an address is delivered only through
/// a relay that offers SMTPUTF8. An RFC 2047 encoded word (`=?utf-8?q?…?=`) is refused too: some
/// clients would decode it into whatever it hides.
fn check_local_part(local: &str) -> Result<(), ParseError> {
    if local.starts_with('"') {
        return Err(err(format!(
            "`{local}`: quoted local parts are not accepted; use an address without quotes"
        )));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(err(format!(
            "`{local}` is not a valid local part: dots may only stand between other characters"
        )));
    }
    if local.contains("=?") && local.contains("?=") {
        return Err(err(format!(
            "`{local}` looks like an encoded word, not a mailbox name"
        )));
    }
    let atext = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~.".contains(c)
            || (!c.is_ascii() && (c.is_alphanumeric() || is_mark(c)))
    };
    if let Some(bad) = local.chars().find(|&c| !atext(c)) {
        return Err(err(format!(
            "`{local}` contains `{bad}`, which an e-mail address may not hold outside quotes"
        )));
    }
    Ok(())
}

/// Combining marks (accents written as separate characters).
fn is_mark(c: char) -> bool {
    matches!(u32::from(c),
        0x300..=0x36F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Lowercase ASCII form of a domain; internationalised names become `xn--` labels (IDNA/UTS 46).
fn normalize_domain(domain: &str) -> Result<String, ParseError> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let lower = if domain.is_ascii() {
        domain.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(domain).map_err(|_| {
            err(format!(
                "`{domain}` is not a valid internationalised domain"
            ))
        })?
    };
    if lower.len() > 253 || !lower.contains('.') {
        return Err(err(format!("`{domain}` is not a valid mail domain")));
    }
    for label in lower.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(err(format!("`{domain}` is not a valid mail domain")));
        }
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses() {
        let a = EmailAddress::parse("Ferris@Example.ORG").unwrap();
        assert_eq!(a.as_str(), "Ferris@example.org");
        assert_eq!(a.domain(), "example.org");
        for bad in [
            "no-at-sign",
            "@example.org",
            "ferris@",
            "fer\nris@example.org",
            "ferris@-bad.org",
            "ferris@localhost",
            "a b@example.org",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(65))).is_err());
        // A 64-character local part and a valid 192-character domain: 257 in all.
        let long = format!(
            "{}@{}.{}.{}.eeeee.org",
            "a".repeat(64),
            "b".repeat(60),
            "c".repeat(60),
            "d".repeat(60)
        );
        let e = EmailAddress::parse(&long).unwrap_err();
        assert!(e.0.contains("limit is 254"), "{e}");
    }

    #[test]
    fn local_parts_are_dot_atoms() {
        for ok in [
            "ferris@example.org",
            "first.last+tag@example.org",
            "o'brien@example.org",
            "x!#$%&*/=?^_`{|}~-@example.org",
            "zoë@example.org",
            "用户@example.org",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "x>,<bcc@evil.example.org",
            "\"quoted\"@example.org",
            "a,b@example.org",
            "a;b@example.org",
            "a:b@example.org",
            "a\\b@example.org",
            "a(b)@example.org",
            "a<b@example.org",
            "=?utf-8?q?bcc=40evil.example?=@example.org",
            ".dot@example.org",
            "dot.@example.org",
            "do..t@example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn internationalised_domains_are_normalised() {
        let a = EmailAddress::parse("Jürgen@Bücher.Example").unwrap();
        assert_eq!(a.as_str(), "Jürgen@xn--bcher-kva.example");
        assert!(EmailAddress::parse("x@exa mple.org").is_err());
        assert!(EmailAddress::parse("x@bad_domain.org").is_err());
    }
}
