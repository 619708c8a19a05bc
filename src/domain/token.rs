//! [`UnsubscribeToken`]: a subscriber's secret, 144 bits from the OS CSPRNG, URL-safe; its base32
//! form rides in the per-recipient `List-Unsubscribe` mailto address. `Debug` never prints it.

use std::fmt;

use super::error::{ParseError, err};

/// A subscriber's secret token: 144 bits from the OS CSPRNG, URL-safe base64 (24 characters).
/// Never derived from the address. `Debug` does not print it, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UnsubscribeToken(String);

impl UnsubscribeToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        Self::generate_many(1).pop().expect("one token")
    }

    /// `n` fresh random tokens from a single read of the OS CSPRNG (one syscall, not `n`).
    pub fn generate_many(n: usize) -> Vec<Self> {
        use base64::Engine;
        let mut bytes = vec![0u8; 18 * n];
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        bytes
            .chunks_exact(18)
            .map(|b| Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)))
            .collect()
    }

    /// Parses a token from a URL; anything not shaped like one is rejected before any lookup.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = s.len() == 24
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(err("not a token"))
        }
    }

    /// The token text, for URLs and storage only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The subscriber's own unsubscribe address, `LOCAL+<mailto form>@DOMAIN`, as it appears in
    /// `List-Unsubscribe` (and is recognised again by `bounce::mailto`).
    pub fn mailto_address(&self, local: &str, domain: &str) -> String {
        format!("{local}+{}@{domain}", self.mailto_form())
    }

    /// The same 144 bits as lowercase base32 (29 characters), for the local part of the per-recipient
    /// `List-Unsubscribe` mailto address: a mail system may change the case of a local part, and
    /// base32 survives that where base64 would not.
    pub fn mailto_form(&self) -> String {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.0)
            .unwrap_or_default();
        let mut out = String::with_capacity(29);
        let (mut acc, mut bits) = (0u32, 0);
        for b in bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(BASE32[((acc >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
        }
        out
    }

    /// The token a mailto local part carries, in any case; `None` if it is not one.
    pub fn from_mailto_form(s: &str) -> Option<Self> {
        use base64::Engine;
        if s.len() != 29 {
            return None;
        }
        let mut bytes = Vec::with_capacity(18);
        let (mut acc, mut bits) = (0u32, 0);
        for c in s.bytes() {
            let v = BASE32.iter().position(|&a| a == c.to_ascii_lowercase())? as u32;
            acc = (acc << 5) | v;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        (bytes.len() == 18 && acc == 0)
            .then(|| Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
    }
}

/// RFC 4648 base32, lowercase.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

impl fmt::Debug for UnsubscribeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnsubscribeToken(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (UnsubscribeToken::generate(), UnsubscribeToken::generate());
        assert_ne!(a, b);
        let many = UnsubscribeToken::generate_many(1000);
        let distinct: std::collections::HashSet<_> =
            many.iter().map(UnsubscribeToken::expose).collect();
        assert_eq!(distinct.len(), 1000);
        assert_eq!(a.expose().len(), 24);
        assert!(UnsubscribeToken::parse(a.expose()).is_ok());
        assert!(UnsubscribeToken::parse("../etc/passwd").is_err());
        assert!(!format!("{a:?}").contains(a.expose()));
        // The mailto form carries the same token in any case, and nothing else is one.
        let m = a.mailto_form();
        assert_eq!(m.len(), 29);
        assert_eq!(UnsubscribeToken::from_mailto_form(&m), Some(a.clone()));
        assert_eq!(
            UnsubscribeToken::from_mailto_form(&m.to_uppercase()),
            Some(a.clone())
        );
        assert_eq!(UnsubscribeToken::from_mailto_form(&m[1..]), None);
        assert_eq!(UnsubscribeToken::from_mailto_form(&"1".repeat(29)), None);
    }
}
