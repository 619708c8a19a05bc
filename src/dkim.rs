//! DKIM signatures (RFC 6376) for finished messages: `rsa-sha256`, relaxed/relaxed canonicalization.
//!
//! Messages are built as bytes from pre-encoded parts (see [`crate::mail`]), so signing works on
//! those bytes too: canonicalize the signed headers and the body, hash, sign with the operator's RSA
//! key (PKCS#8 or PKCS#1 PEM), and put the `DKIM-Signature` header first.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::RsaKeyPair;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::config::DkimSettings;

/// The headers signed when present: everything a receiver shows or acts on, including RFC 8058's
/// List-Unsubscribe pair, so neither can be added or changed in transit.
pub const SIGNED_HEADERS: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
    "mime-version",
    "content-type",
];

/// A key that cannot be used.
#[derive(Debug, Error)]
pub enum DkimError {
    #[error("cannot read the DKIM key {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the DKIM key {0} is not a PEM RSA private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`)"
    )]
    NotPem(String),
    #[error("the DKIM key {path} was rejected: {reason}")]
    Rejected { path: String, reason: String },
    #[error("[dkim] {0}")]
    Config(String),
}

/// Signs messages for one domain and selector.
pub struct Signer {
    domain: String,
    selector: String,
    key: RsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl Signer {
    /// The signer `[dkim]` asks for: `None` when signing is off, an error when the key does not load
    /// (what `send` refuses on before anything is written, and `doctor` reports).
    pub fn from_config(settings: &DkimSettings) -> Result<Option<Signer>, DkimError> {
        if !settings.enabled {
            return Ok(None);
        }
        Self::from_pem_file(&settings.key_file, &settings.domain, &settings.selector).map(Some)
    }

    /// Loads the key from a PEM file.
    pub fn from_pem_file(path: &str, domain: &str, selector: &str) -> Result<Signer, DkimError> {
        let pem = std::fs::read_to_string(path).map_err(|source| DkimError::Read {
            path: path.to_string(),
            source,
        })?;
        Self::from_pem(&pem, domain, selector).map_err(|e| match e {
            DkimError::NotPem(_) => DkimError::NotPem(path.to_string()),
            DkimError::Rejected { reason, .. } => DkimError::Rejected {
                path: path.to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Loads the key from PEM text.
    pub fn from_pem(pem: &str, domain: &str, selector: &str) -> Result<Signer, DkimError> {
        if domain.is_empty() || selector.is_empty() {
            return Err(DkimError::Config(
                "domain and selector must both be set".into(),
            ));
        }
        let (label, der) = pem_block(pem).ok_or_else(|| DkimError::NotPem(String::new()))?;
        let key = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            _ => return Err(DkimError::NotPem(String::new())),
        }
        .map_err(|e| DkimError::Rejected {
            path: String::new(),
            reason: e.to_string(),
        })?;
        Ok(Signer {
            domain: domain.to_string(),
            selector: selector.to_string(),
            key,
            rng: ring::rand::SystemRandom::new(),
        })
    }

    /// The public half as published in DNS: base64 of its SubjectPublicKeyInfo, the `p=` of
    /// `v=DKIM1; k=rsa; p=…` (what `openssl rsa -pubout` prints between the PEM lines).
    pub fn public_key_record(&self) -> String {
        use ring::signature::KeyPair;
        STANDARD.encode(spki(self.key.public_key().as_ref()))
    }

    /// Whether a published `p=` value (base64 of SubjectPublicKeyInfo, or of the bare RSAPublicKey,
    /// which RFC 6376 also allows) is this key's public half.
    pub fn publishes_as(&self, p: &str) -> bool {
        use ring::signature::KeyPair;
        let compact: String = p.chars().filter(|c| !c.is_whitespace()).collect();
        let Ok(der) = STANDARD.decode(compact) else {
            return false;
        };
        let ours = self.key.public_key().as_ref();
        // A SubjectPublicKeyInfo ends with the RSAPublicKey in its BIT STRING.
        !ours.is_empty() && (der == ours || der.ends_with(ours))
    }

    /// The signing domain (d=).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The selector (s=).
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The `DKIM-Signature` header line (with CRLF) for a complete CRLF message.
    pub fn header(&self, message: &[u8], unix_seconds: i64) -> String {
        let split = find(message, b"\r\n\r\n").map_or(message.len(), |i| i + 2);
        let (head, body) = message.split_at(split);
        let body = body.get(2..).unwrap_or(&[]);
        let bh = STANDARD.encode(Sha256::digest(relaxed_body(body)));
        let fields = header_fields(head);
        let mut signed = Vec::new();
        let mut names = Vec::new();
        for want in SIGNED_HEADERS {
            if let Some((name, value)) = fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(want)) {
                signed.extend_from_slice(relaxed_header(name, value).as_bytes());
                names.push(*want);
            }
        }
        let unsigned = format!(
            "v=1; a=rsa-sha256; c=relaxed/relaxed; d={}; s={}; t={unix_seconds};\r\n h={};\r\n bh={bh};\r\n b=",
            self.domain,
            self.selector,
            names.join(":")
        );
        let mut input = signed;
        let own = relaxed_header("DKIM-Signature", &unsigned);
        input.extend_from_slice(own.trim_end_matches("\r\n").as_bytes());
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &self.rng,
                &input,
                &mut sig,
            )
            .expect("RSA signing with a valid key");
        let b = STANDARD.encode(sig);
        // Fold b= every 72 characters; whitespace in b= is ignored by verifiers.
        let mut folded = String::with_capacity(b.len() + b.len() / 36);
        for (i, chunk) in b.as_bytes().chunks(72).enumerate() {
            if i > 0 {
                folded.push_str("\r\n ");
            }
            folded.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        }
        format!("DKIM-Signature: {unsigned}{folded}\r\n")
    }

    /// Puts a signature in front of `message`.
    pub fn sign(&self, message: &mut Vec<u8>, unix_seconds: i64) {
        let header = self.header(message, unix_seconds);
        message.splice(0..0, header.into_bytes());
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The first PEM block: its label and decoded bytes.
/// SubjectPublicKeyInfo { rsaEncryption, NULL } around a DER RSAPublicKey (RFC 5280, RFC 8017).
fn spki(rsa_public_key: &[u8]) -> Vec<u8> {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = body.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes: Vec<u8> = n
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(body);
        out
    }
    // 1.2.840.113549.1.1.1 and NULL.
    const ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8];
    bits.extend_from_slice(rsa_public_key);
    let mut body = ALGORITHM.to_vec();
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

fn pem_block(pem: &str) -> Option<(String, Vec<u8>)> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end = rest.find(&format!("-----END {label}-----"))?;
    let b64: String = rest[body_start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Some((label, STANDARD.decode(b64).ok()?))
}

/// Header fields as (name, raw value including folds), in order.
fn header_fields(head: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(head);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push_str("\r\n");
                last.1.push_str(line);
            }
        } else if let Some((n, v)) = line.split_once(':') {
            out.push((n.to_string(), v.to_string()));
        }
    }
    out
}

/// RFC 6376 §3.4.2: lowercase name, unfold, runs of whitespace to one space, trimmed.
fn relaxed_header(name: &str, value: &str) -> String {
    let unfolded = value.replace("\r\n", "");
    let collapsed = unfolded
        .split([' ', '\t'])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!("{}:{}\r\n", name.trim().to_ascii_lowercase(), collapsed)
}

/// RFC 6376 §3.4.4: whitespace runs to one space, none at line ends, no empty lines at the end.
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    // A trailing CRLF leaves an empty last piece: it is not a line.
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut pending_space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                pending_space = true;
            } else {
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                out.push(b);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    while out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    if out == b"\r\n" {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_canonicalization_follows_rfc_6376() {
        // The RFC's §3.4.5 example.
        assert_eq!(relaxed_header("A", " X"), "a:X\r\n");
        assert_eq!(relaxed_header("B ", " Y\t\r\n\tZ  "), "b:Y Z\r\n");
        assert_eq!(relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n"), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(relaxed_body(b""), b"");
    }

    #[test]
    fn rejects_what_is_not_an_rsa_key() {
        assert!(matches!(
            Signer::from_pem("hello", "example.org", "s1"),
            Err(DkimError::NotPem(_))
        ));
        assert!(matches!(
            Signer::from_pem(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "example.org",
                "s1"
            ),
            Err(DkimError::Rejected { .. })
        ));
        assert!(matches!(
            Signer::from_pem("x", "", "s1"),
            Err(DkimError::Config(_))
        ));
    }
}
