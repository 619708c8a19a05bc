//! Amazon SES events delivered by Amazon SNS to `POST /webhooks/ses`.
//!
//! SNS signs each message: the values of a fixed list of its fields, each preceded by the field's
//! name, one per line, in the order Amazon documents (Message, MessageId, Subject when present,
//! SubscribeURL, Timestamp, Token, TopicArn, Type), signed with RSA over SHA-1
//! (`SignatureVersion` 1) or SHA-256 (2) by the key of the X.509 certificate at
//! `SigningCertURL`. That URL must be HTTPS on Amazon's SNS host of the topic's own region
//! (`sns.REGION.amazonaws.com`); the web layer fetches it over verified TLS and
//! [`SnsMessage::verify`] checks the signature with the certificate's key. Only configured topics
//! are accepted, and only their subscription is confirmed. The notification inside `Message` is
//! read by [`super::super::esp`], the same reader as an SES notification received by mail.

use base64::Engine;
use serde_json::Value;

use super::{Event, Refusal};

/// What kind of SNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

/// One SNS message, as posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessage {
    pub kind: SnsType,
    pub message_id: String,
    pub topic_arn: String,
    pub message: String,
    pub subject: Option<String>,
    pub timestamp: String,
    pub signature_version: String,
    pub signature: String,
    pub signing_cert_url: String,
    pub subscribe_url: Option<String>,
    pub token: Option<String>,
}

fn field(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::to_string)
}

fn required(v: &Value, name: &'static str) -> Result<String, Refusal> {
    field(v, name).ok_or_else(|| Refusal::Malformed(format!("no `{name}`")))
}

impl SnsMessage {
    /// Reads a posted body; a body without `Signature` is unsigned.
    pub fn parse(body: &[u8]) -> Result<SnsMessage, Refusal> {
        if body.len() > super::BODY_LIMIT {
            return Err(Refusal::Malformed("larger than 256 KiB".into()));
        }
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| Refusal::Malformed("not a JSON object".into()))?;
        if !v.is_object() {
            return Err(Refusal::Malformed("not a JSON object".into()));
        }
        let kind = match required(&v, "Type")?.as_str() {
            "Notification" => SnsType::Notification,
            "SubscriptionConfirmation" => SnsType::SubscriptionConfirmation,
            "UnsubscribeConfirmation" => SnsType::UnsubscribeConfirmation,
            _ => return Err(Refusal::Malformed("an unknown SNS `Type`".into())),
        };
        let signature = field(&v, "Signature").ok_or(Refusal::Unsigned("no `Signature`"))?;
        let m = SnsMessage {
            kind,
            message_id: required(&v, "MessageId")?,
            topic_arn: required(&v, "TopicArn")?,
            message: required(&v, "Message")?,
            subject: field(&v, "Subject"),
            timestamp: required(&v, "Timestamp")?,
            signature_version: required(&v, "SignatureVersion")?,
            signature,
            signing_cert_url: required(&v, "SigningCertURL")?,
            subscribe_url: field(&v, "SubscribeURL"),
            token: field(&v, "Token"),
        };
        if kind != SnsType::Notification && (m.subscribe_url.is_none() || m.token.is_none()) {
            return Err(Refusal::Malformed(
                "a subscription message without `SubscribeURL` or `Token`".into(),
            ));
        }
        Ok(m)
    }

    /// The text SNS signed.
    pub fn string_to_sign(&self) -> String {
        let mut out = String::new();
        let mut add = |name: &str, value: &str| {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        };
        add("Message", &self.message);
        add("MessageId", &self.message_id);
        match self.kind {
            SnsType::Notification => {
                if let Some(s) = &self.subject {
                    add("Subject", s);
                }
            }
            _ => add("SubscribeURL", self.subscribe_url.as_deref().unwrap_or("")),
        }
        add("Timestamp", &self.timestamp);
        if self.kind != SnsType::Notification {
            add("Token", self.token.as_deref().unwrap_or(""));
        }
        add("TopicArn", &self.topic_arn);
        add(
            "Type",
            match self.kind {
                SnsType::Notification => "Notification",
                SnsType::SubscriptionConfirmation => "SubscriptionConfirmation",
                SnsType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
            },
        );
        out
    }

    /// The topic's region (`arn:aws:sns:REGION:ACCOUNT:NAME`).
    pub fn region(&self) -> Option<&str> {
        let mut parts = self.topic_arn.split(':');
        (parts.next() == Some("arn") && parts.nth(1) == Some("sns"))
            .then(|| parts.next())
            .flatten()
            .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    }

    /// Seconds since it was signed (negative: in the future); `None` when `Timestamp` is not an
    /// RFC 3339 time.
    pub fn age_secs(&self, now: i64) -> Option<i64> {
        let t: jiff::Timestamp = self.timestamp.parse().ok()?;
        Some(now - t.as_second())
    }

    /// Checks that a URL SNS gave (`SigningCertURL`, `SubscribeURL`) is on Amazon's SNS host of
    /// the topic's region over HTTPS, or on the configured emulator `origin` (loopback only).
    pub fn check_url(&self, url: &str, emulator: Option<&str>) -> Result<(), Refusal> {
        if let Some(origin) = emulator
            && let Some(rest) = url.strip_prefix(origin)
            && rest.starts_with('/')
        {
            return Ok(());
        }
        let region = self
            .region()
            .ok_or_else(|| Refusal::NotOurs("a topic ARN without a region".into()))?;
        let Some(rest) = url.strip_prefix("https://") else {
            return Err(Refusal::NotOurs("a signing URL that is not HTTPS".into()));
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let ok = [".amazonaws.com", ".amazonaws.com.cn"]
            .iter()
            .any(|suffix| host == format!("sns.{region}{suffix}"));
        if !ok {
            return Err(Refusal::NotOurs(format!(
                "a signing URL on {} rather than Amazon SNS in {region}",
                host.chars().take(80).collect::<String>()
            )));
        }
        Ok(())
    }

    /// Checks `SigningCertURL`: as [`check_url`](Self::check_url), and on Amazon's host the path
    /// SNS gives its certificates (`/SimpleNotificationService-ID.pem`), so that a forger cannot
    /// make us fetch any other address there.
    pub fn check_certificate_url(&self, emulator: Option<&str>) -> Result<(), Refusal> {
        let url = self.signing_cert_url.as_str();
        self.check_url(url, emulator)?;
        if emulator.is_some_and(|origin| url.starts_with(origin)) {
            return Ok(());
        }
        let path = url
            .strip_prefix("https://")
            .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("");
        let ok = path
            .strip_prefix("/SimpleNotificationService-")
            .and_then(|p| p.strip_suffix(".pem"))
            .is_some_and(|id| {
                !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if ok {
            Ok(())
        } else {
            Err(Refusal::NotOurs(
                "a signing URL that is not an SNS certificate (/SimpleNotificationService-ID.pem)"
                    .into(),
            ))
        }
    }

    /// Checks the signature with the certificate at `SigningCertURL` (PEM).
    pub fn verify(&self, certificate_pem: &[u8]) -> Result<(), Refusal> {
        use ring::signature;
        let alg: &dyn signature::VerificationAlgorithm = match self.signature_version.as_str() {
            "1" => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "2" => &signature::RSA_PKCS1_2048_8192_SHA256,
            _ => return Err(Refusal::Forged("an unknown SignatureVersion")),
        };
        let der = pem_certificate(certificate_pem)
            .ok_or_else(|| Refusal::NotOurs("the signing certificate cannot be read".into()))?;
        let key = rsa_public_key(&der)
            .ok_or_else(|| Refusal::NotOurs("the signing certificate has no RSA key".into()))?;
        let sig = base64::engine::general_purpose::STANDARD
            .decode(self.signature.trim())
            .map_err(|_| Refusal::Forged("the signature is not base64"))?;
        signature::UnparsedPublicKey::new(alg, key)
            .verify(self.string_to_sign().as_bytes(), &sig)
            .map_err(|_| Refusal::Forged("the SNS signature does not match"))
    }

    /// The SES event a verified notification carries.
    pub fn event(&self) -> Event {
        let report = serde_json::from_str::<Value>(&self.message)
            .ok()
            .and_then(|n| crate::bounce::esp::from_notification(&n, None, None, None));
        Event {
            id: self.message_id.clone(),
            report,
        }
    }
}

/// The first certificate of a PEM text, as DER.
fn pem_certificate(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + text[start..].find("-----END CERTIFICATE-----")?;
    let b64: String = text[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// One DER element: its tag, its contents, and what follows it.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The RSAPublicKey (PKCS #1) of an X.509 certificate's subjectPublicKeyInfo, when its algorithm
/// is rsaEncryption. A flat walk over known positions: no recursion, every length checked.
fn rsa_public_key(certificate: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let (SEQUENCE, cert, _) = der(certificate)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = der(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] version (optional), serialNumber, signature, issuer, validity, subject.
    let (tag, _, after) = der(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..5 {
        rest = der(rest)?.2;
    }
    let (SEQUENCE, spki, _) = der(rest)? else {
        return None;
    };
    let (SEQUENCE, algorithm, after) = der(spki)? else {
        return None;
    };
    let (0x06, oid, _) = der(algorithm)? else {
        return None;
    };
    if oid != RSA_ENCRYPTION {
        return None;
    }
    let (0x03, bits, _) = der(after)? else {
        return None;
    };
    // A BIT STRING starts with its count of unused bits, 0 for a key.
    match bits.split_first()? {
        (0, key) => Some(key),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: &str, topic: &str, cert: &str) -> Vec<u8> {
        serde_json::json!({
            "Type": kind, "MessageId": "m-1", "TopicArn": topic, "Message": "{}",
            "Timestamp": "2026-12-07T10:00:00.000Z", "SignatureVersion": "1",
            "Signature": "AAAA", "SigningCertURL": cert,
            "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
            "Token": "t"
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_signed_text_follows_amazons_field_order() {
        let m = SnsMessage::parse(&message(
            "SubscriptionConfirmation",
            "arn:aws:sns:eu-west-1:123456789012:ses-events",
            "https://sns.eu-west-1.amazonaws.com/cert.pem",
        ))
        .unwrap();
        assert_eq!(
            m.string_to_sign(),
            "Message\n{}\nMessageId\nm-1\nSubscribeURL\nhttps://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription\n\
             Timestamp\n2026-12-07T10:00:00.000Z\nToken\nt\nTopicArn\narn:aws:sns:eu-west-1:123456789012:ses-events\n\
             Type\nSubscriptionConfirmation\n"
        );
        assert_eq!(m.age_secs(1_796_637_600), Some(0));
    }

    #[test]
    fn certificate_urls_must_be_amazons_sns_host_of_the_topic_region() {
        let m = SnsMessage::parse(&message(
            "Notification",
            "arn:aws:sns:eu-west-1:123456789012:ses-events",
            "x",
        ))
        .unwrap();
        assert!(
            m.check_url(
                "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
                None
            )
            .is_ok()
        );
        for bad in [
            "http://sns.eu-west-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.eu-west-1.amazonaws.com.evil.example/a.pem",
            "https://evil.example/sns.eu-west-1.amazonaws.com/a.pem",
            "https://sns.eu-west-1.amazonaws.com@evil.example/a.pem",
        ] {
            assert!(m.check_url(bad, None).is_err(), "{bad}");
        }
        let with_cert = |url: &str| SnsMessage {
            signing_cert_url: url.into(),
            ..m.clone()
        };
        assert!(
            with_cert("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem")
                .check_certificate_url(None)
                .is_ok()
        );
        for other in [
            "https://sns.eu-west-1.amazonaws.com/",
            "https://sns.eu-west-1.amazonaws.com/?Action=Publish",
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem?x=1",
            "https://sns.eu-west-1.amazonaws.com/other/SimpleNotificationService-1.pem",
        ] {
            assert!(
                with_cert(other).check_certificate_url(None).is_err(),
                "{other}"
            );
        }
        let emulator = Some("http://127.0.0.1:4000");
        assert!(m.check_url("http://127.0.0.1:4000/c.pem", emulator).is_ok());
        assert!(
            m.check_url("http://127.0.0.1:40000/c.pem", emulator)
                .is_err()
        );
    }

    #[test]
    fn unsigned_and_malformed_bodies_are_told_apart() {
        let mut v: Value = serde_json::from_slice(&message("Notification", "a", "b")).unwrap();
        v.as_object_mut().unwrap().remove("Signature");
        assert!(matches!(
            SnsMessage::parse(v.to_string().as_bytes()),
            Err(Refusal::Unsigned(_))
        ));
        for body in [
            "",
            "[]",
            "{\"Type\":\"Notification\",\"Signature\":\"x\"}",
            &"[".repeat(100_000),
        ] {
            assert!(matches!(
                SnsMessage::parse(body.as_bytes()),
                Err(Refusal::Malformed(_))
            ));
        }
    }

    #[test]
    fn certificate_walk_survives_garbage() {
        for bytes in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x03, 0x30, 0x01, 0x00],
        ] {
            assert!(rsa_public_key(bytes).is_none());
        }
        assert!(
            pem_certificate(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----")
                .is_none()
        );
    }
}
