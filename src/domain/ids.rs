//! Our identifiers in mail: the VERP envelope sender and the Message-ID, both carrying a keyed tag
//! so that a bounce quoting them proves it is about a delivery we made.

use sha2::{Digest, Sha256};

/// VERP envelope senders: `bounces+<campaign>-<subscriber>-<tag>@<bounce domain>`, in lowercase hex.
/// The tag is a keyed hash, so a bounce sent to such an address names exactly one delivery, and an
/// address nobody got from us is recognised as forged.
#[derive(Clone)]
pub struct Verp {
    key: Vec<u8>,
    domain: String,
}

/// The local part of the bounce address, before `+` in a VERP.
pub const VERP_PREFIX: &str = "bounces";

/// What one of our Message-IDs names, once its tag verified: the issue and the subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageId {
    pub issue: i64,
    pub subscriber_id: i64,
}

/// A campaign's key in our Message-IDs and MIME boundaries: `issue-576`.
pub fn campaign_key(issue: i64) -> String {
    format!("issue-{issue}")
}

impl Verp {
    /// `key` is the installation's secret (see `Store::verp_key`).
    pub fn new(key: &[u8], domain: &str) -> Verp {
        Verp {
            key: key.to_vec(),
            domain: domain.to_ascii_lowercase(),
        }
    }

    /// The bounce domain (also the domain of our Message-IDs).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The plain bounce address, for mail that belongs to no delivery (confirmations, test copies).
    pub fn plain_address(&self) -> String {
        format!("{VERP_PREFIX}@{}", self.domain)
    }

    /// The envelope sender for one delivery.
    pub fn address(&self, campaign_id: i64, subscriber_id: i64) -> String {
        format!(
            "{VERP_PREFIX}+{campaign_id:x}-{subscriber_id:x}-{}@{}",
            self.tag(campaign_id, subscriber_id),
            self.domain
        )
    }

    /// The (campaign, subscriber) a VERP address was made for; `None` if it is not ours or its tag is
    /// wrong. Case-insensitive, and tolerant of `<>` around the address.
    pub fn parse(&self, address: &str) -> Option<(i64, i64)> {
        let a = address
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_ascii_lowercase();
        let (local, domain) = a.rsplit_once('@')?;
        if domain != self.domain {
            return None;
        }
        let rest = local.strip_prefix(VERP_PREFIX)?.strip_prefix('+')?;
        let mut it = rest.split('-');
        let (c, s, tag) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        let c = i64::from_str_radix(c, 16).ok()?;
        let s = i64::from_str_radix(s, 16).ok()?;
        (self.tag(c, s) == tag).then_some((c, s))
    }

    fn tag(&self, campaign_id: i64, subscriber_id: i64) -> String {
        self.keyed(format!("{campaign_id}-{subscriber_id}").as_bytes())
    }

    /// 40 bits of SHA-256 over the secret key and `data`, in hex.
    fn keyed(&self, data: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(&self.key);
        h.update(data);
        hex(&h.finalize()[..5])
    }

    /// Our Message-ID for one delivery, `<issue-576.s42.TAG@bounce domain>`: stable across retries,
    /// and carrying a keyed tag, so that a bounce quoting it proves it is about a message we sent
    /// (issue numbers are public and subscriber ids are small numbers: without the tag anyone could
    /// name any subscriber's delivery).
    pub fn message_id(&self, campaign_key: &str, subscriber_id: i64) -> String {
        // The format here and the parse below are the only places that know it.
        let base = format!("{campaign_key}.s{subscriber_id}");
        let tag = self.keyed(format!("message-id\n{base}").as_bytes());
        format!("<{base}.{tag}@{}>", self.domain)
    }

    /// What one of our campaign Message-IDs names, if its tag verifies; `None` for anything else
    /// (another domain, a test send, an old untagged id, a wrong tag).
    pub fn parse_message_id(&self, value: &str) -> Option<MessageId> {
        let v = value.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = v.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        let (base, tag) = local.rsplit_once('.')?;
        let (issue, sub) = base.strip_prefix("issue-")?.split_once(".s")?;
        let (issue, sub): (i64, i64) = (issue.parse().ok()?, sub.parse().ok()?);
        let want = self.keyed(format!("message-id\nissue-{issue}.s{sub}").as_bytes());
        (tag.eq_ignore_ascii_case(&want) && base == format!("issue-{issue}.s{sub}")).then_some(
            MessageId {
                issue,
                subscriber_id: sub,
            },
        )
    }
}

/// Lowercase hexadecimal of `bytes`: digests and random names, wherever they are written out.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verp_round_trips_and_rejects_forgeries() {
        let v = Verp::new(b"secret", "Bounces.Example.org");
        let a = v.address(12, 34567);
        assert!(a.starts_with("bounces+c-8707-"), "{a}");
        assert!(a.ends_with("@bounces.example.org"));
        assert_eq!(v.parse(&a), Some((12, 34567)));
        assert_eq!(
            v.parse(&format!("<{}>", a.to_uppercase())),
            Some((12, 34567))
        );
        // Another subscriber id with the same tag, another key, another domain: all refused.
        assert_eq!(v.parse(&a.replace("-8707-", "-8708-")), None);
        assert_eq!(Verp::new(b"other", "bounces.example.org").parse(&a), None);
        assert_eq!(v.parse(&a.replace("example.org", "example.net")), None);
        assert_eq!(v.parse("bounces@bounces.example.org"), None);
    }

    #[test]
    fn message_ids_carry_a_tag_that_only_we_can_make() {
        let v = Verp::new(b"secret", "bounces.example.org");
        let id = v.message_id("issue-576", 42);
        assert!(
            id.starts_with("<issue-576.s42.") && id.ends_with("@bounces.example.org>"),
            "{id}"
        );
        assert_eq!(v.message_id("issue-576", 42), id, "stable across retries");
        assert_eq!(
            v.parse_message_id(&id),
            Some(MessageId {
                issue: 576,
                subscriber_id: 42
            })
        );
        assert_eq!(
            v.parse_message_id(
                &id.to_uppercase()
                    .replace("ISSUE", "issue")
                    .replace(".S42", ".s42")
            ),
            Some(MessageId {
                issue: 576,
                subscriber_id: 42
            })
        );
        // Guessable or forged ids prove nothing.
        for forged in [
            "<issue-576.s42@bounces.example.org>".to_string(),
            id.replace(".s42.", ".s43."),
            id.replace("576", "577"),
            Verp::new(b"other", "bounces.example.org").message_id("issue-576", 42),
            id.replace("example.org", "example.net"),
            v.message_id("issue-576-test1700000000", 42),
        ] {
            assert_eq!(v.parse_message_id(&forged), None, "{forged}");
        }
    }
}
