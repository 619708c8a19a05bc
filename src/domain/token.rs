//! [`UnsubscribeToken`]: a subscriber's secret, 144 bits from the OS CSPRNG, URL-safe; its base32
//! form rides in the per-recipient `List-Unsubscribe` mailto address. `Debug` never prints it.
//!
//! A token is 8 characters that count up with time, then the 144 random bits (24 characters):
//! tokens made together sort together, so the million tokens of one import go to one end of the
//! database's token index instead of all over it, which made inserting them twice as slow (the
//! same reason time-ordered UUIDs exist). The first 8 characters say when the token was made, to
//! the second, and nothing about the secret. Tokens made before that (24 characters, all random)
//! stay valid.

use std::fmt;

use super::error::{ParseError, err};

/// A subscriber's secret token: a time-ordered prefix (8 characters) and 144 bits from the OS
/// CSPRNG, URL-safe base64 (32 characters; 24 for tokens made before the prefix). Never derived
/// from the address. `Debug` does not print it, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UnsubscribeToken(String);

impl UnsubscribeToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        Self::generate_many(1).pop().expect("one token")
    }

    /// `n` fresh tokens, their random parts from a single read of the OS CSPRNG (one syscall, not
    /// `n`), in increasing order.
    pub fn generate_many(n: usize) -> Vec<Self> {
        use base64::Engine;
        let mut bytes = vec![0u8; 18 * n];
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        let first = next_sequence(n as u64);
        bytes
            .chunks_exact(18)
            .zip(first..)
            .map(|(b, seq)| {
                let mut token = String::with_capacity(32);
                for k in (0..8).rev() {
                    token.push(SORTED[((seq >> (6 * k)) & 63) as usize] as char);
                }
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(b, &mut token);
                Self(token)
            })
            .collect()
    }

    /// Parses a token from a URL; anything not shaped like one is rejected before any lookup.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = (s.len() == 32 || s.len() == 24)
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

    /// The same token as lowercase base32 (39 characters; 29 for a token without the prefix), for
    /// the local part of the per-recipient
    /// `List-Unsubscribe` mailto address: a mail system may change the case of a local part, and
    /// base32 survives that where base64 would not.
    pub fn mailto_form(&self) -> String {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.0)
            .unwrap_or_default();
        let mut out = String::with_capacity(39);
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
        let want = match s.len() {
            39 => 24,
            29 => 18,
            _ => return None,
        };
        let mut bytes = Vec::with_capacity(want);
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
        (bytes.len() == want && acc == 0)
            .then(|| Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
    }
}

/// The base64url characters in ASCII order: a number written with them sorts as the number does.
const SORTED: &[u8; 64] = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// The first of `n` consecutive 48-bit sequence numbers for token prefixes: the UNIX time in
/// seconds times 65,536, or just after the last one handed out in this process when that is
/// later (65,536 tokens a second before it runs ahead of the clock; it fits in 48 bits until 2106).
fn next_sequence(n: u64) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(super::unix_now()).unwrap_or(0) << 16;
    let mut first = 0;
    let _ = LAST.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
        first = now.max(last + 1);
        Some(first + n.max(1) - 1)
    });
    first & ((1 << 48) - 1)
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
        assert_eq!(a.expose().len(), 32);
        assert!(UnsubscribeToken::parse(a.expose()).is_ok());
        assert!(UnsubscribeToken::parse("../etc/passwd").is_err());
        assert!(!format!("{a:?}").contains(a.expose()));
        // The mailto form carries the same token in any case, and nothing else is one.
        let m = a.mailto_form();
        assert_eq!(m.len(), 39);
        assert_eq!(UnsubscribeToken::from_mailto_form(&m), Some(a.clone()));
        assert_eq!(
            UnsubscribeToken::from_mailto_form(&m.to_uppercase()),
            Some(a.clone())
        );
        assert_eq!(UnsubscribeToken::from_mailto_form(&m[1..]), None);
        assert_eq!(UnsubscribeToken::from_mailto_form(&"1".repeat(29)), None);
        assert_eq!(UnsubscribeToken::from_mailto_form(&"1".repeat(39)), None);
    }

    #[test]
    fn tokens_made_later_sort_later_and_older_tokens_still_work() {
        let many = UnsubscribeToken::generate_many(5000);
        let later = UnsubscribeToken::generate_many(3);
        let all: Vec<&str> = many
            .iter()
            .chain(&later)
            .map(UnsubscribeToken::expose)
            .collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]), "in order");
        // The random parts are not: 144 bits each, all different.
        let random: std::collections::HashSet<&str> = all.iter().map(|t| &t[8..]).collect();
        assert_eq!(random.len(), all.len());
        // A token made before the prefix (24 characters) parses and round-trips by mail.
        let old = UnsubscribeToken::parse("AbCdEfGhIjKlMnOpQrStUv-_").unwrap();
        let m = old.mailto_form();
        assert_eq!(m.len(), 29);
        assert_eq!(UnsubscribeToken::from_mailto_form(&m), Some(old));
        for bad in [
            "",
            "short",
            &"a".repeat(28),
            &"a".repeat(33),
            &format!("{}!", "a".repeat(31)),
        ] {
            assert!(UnsubscribeToken::parse(bad).is_err(), "{bad}");
        }
    }
}
