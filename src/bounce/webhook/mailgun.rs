//! Mailgun's webhooks, posted to `/webhooks/mailgun` as JSON.
//!
//! Each request carries `signature: {timestamp, token, signature}`: the signature is the hex
//! HMAC-SHA256 of the timestamp followed by the token, keyed with the account's HTTP webhook
//! signing key (`NEWSLETTER_MAILGUN_SIGNING_KEY`). [`verify`] checks it and the timestamp's
//! freshness; the web layer then claims the token, so a captured request cannot be replayed.
//! `event-data` is read by `event`:
//! - `failed`: `severity` permanent or temporary, the receiver's `delivery-status` (code, enhanced
//!   code, message) classified as a mailed bounce is; Mailgun's own `reason` decides when it says
//!   more (`suppress-bounce`: the address is on Mailgun's bounce list; `suppress-unsubscribe`;
//!   `espblock`: the receiver refused the sender);
//! - `complained`: a complaint; `unsubscribed`: the reader left through Mailgun's link;
//! - anything else (`accepted`, `delivered`, `opened`…): nothing to do.
//!
//! `message.headers.message-id` names the message (the id Mailgun answered our send with).

use serde_json::Value;

use super::{Event, Refusal, one};
use crate::bounce::classify;
use crate::domain::{BounceReason, DsnAction};

/// The environment variable holding Mailgun's HTTP webhook signing key.
pub const SIGNING_KEY_ENV: &str = "NEWSLETTER_MAILGUN_SIGNING_KEY";

/// The signature block of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub timestamp: String,
    pub token: String,
    pub signature: String,
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Reads a posted body into its signature and its event data.
pub fn parse(body: &[u8]) -> Result<(Signature, Value), Refusal> {
    if body.len() > super::BODY_LIMIT {
        return Err(Refusal::Malformed("larger than 256 KiB".into()));
    }
    let mut v: Value =
        serde_json::from_slice(body).map_err(|_| Refusal::Malformed("not JSON".into()))?;
    let s = v
        .get("signature")
        .filter(|s| s.is_object())
        .ok_or(Refusal::Unsigned("no `signature`"))?;
    let signature = Signature {
        timestamp: text(s, "timestamp").to_string(),
        token: text(s, "token").to_string(),
        signature: text(s, "signature").to_string(),
    };
    if signature.timestamp.is_empty()
        || signature.token.is_empty()
        || signature.signature.is_empty()
    {
        return Err(Refusal::Unsigned("an incomplete `signature`"));
    }
    let data = v
        .get_mut("event-data")
        .map(Value::take)
        .filter(Value::is_object)
        .ok_or_else(|| Refusal::Malformed("no `event-data`".into()))?;
    Ok((signature, data))
}

/// Checks the signature with the signing key, and that it was made within `max_age` seconds of
/// `now`.
pub fn verify(s: &Signature, key: &str, now: i64, max_age: i64) -> Result<(), Refusal> {
    let expected = (0..s.signature.len())
        .step_by(2)
        .map(|i| {
            s.signature
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .filter(|b| b.len() == 32)
        .ok_or(Refusal::Forged("a signature that is not 64 hex digits"))?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    let signed = format!("{}{}", s.timestamp, s.token);
    ring::hmac::verify(&key, signed.as_bytes(), &expected)
        .map_err(|_| Refusal::Forged("the Mailgun signature does not match"))?;
    let at: i64 = s
        .timestamp
        .parse()
        .map_err(|_| Refusal::Forged("a timestamp that is not a number"))?;
    match now.checked_sub(at) {
        Some(age) if age.checked_abs().is_some_and(|a| a <= max_age) => {}
        Some(age) => return Err(Refusal::Stale(age)),
        None => return Err(Refusal::Stale(i64::MIN)),
    }
    Ok(())
}

/// What a verified request's event data reports.
pub fn event(data: &Value) -> Result<Event, Refusal> {
    let id = text(data, "id");
    if id.is_empty() {
        return Err(Refusal::Malformed("no event `id`".into()));
    }
    let message_id = data
        .get("message")
        .and_then(|m| m.get("headers"))
        .map(|h| text(h, "message-id").to_string());
    let email = text(data, "recipient");
    let report = match text(data, "event") {
        "failed" => {
            let permanent = text(data, "severity") != "temporary";
            let status = data.get("delivery-status").cloned().unwrap_or(Value::Null);
            let enhanced = text(&status, "enhanced-code");
            let code = status.get("code").and_then(Value::as_u64);
            let words = [text(&status, "message"), text(&status, "description")]
                .into_iter()
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let code_text = code.map(|c| c.to_string());
            let field = Some(enhanced)
                .filter(|e| !e.is_empty())
                .or(code_text.as_deref());
            let action = Some(if permanent {
                DsnAction::Failed
            } else {
                DsnAction::Delayed
            });
            let v = classify::classify(field, action, &words, !permanent);
            // Mailgun's own reason says more only about a permanent failure: a temporary one
            // never suppresses, whatever list it names.
            let mailgun_reason = if permanent { text(data, "reason") } else { "" };
            let (reason, evidence) = match mailgun_reason {
                "suppress-bounce" => (
                    BounceReason::Suppressed,
                    "Mailgun reason suppress-bounce".to_string(),
                ),
                "suppress-unsubscribe" => (
                    BounceReason::Unsubscribe,
                    "Mailgun reason suppress-unsubscribe".to_string(),
                ),
                "suppress-complaint" => (
                    BounceReason::Complaint,
                    "Mailgun reason suppress-complaint".to_string(),
                ),
                "espblock" if v.is_weak() || !v.reason.is_sender_side() => {
                    (BounceReason::Blocked, "Mailgun reason espblock".to_string())
                }
                _ => (v.reason, v.evidence),
            };
            Some(one(
                "mailgun",
                email,
                reason,
                v.status,
                Some(words),
                evidence,
                message_id,
            ))
        }
        "complained" => Some(one(
            "mailgun",
            email,
            BounceReason::Complaint,
            None,
            None,
            "Mailgun complained event".into(),
            message_id,
        )),
        "unsubscribed" => Some(one(
            "mailgun",
            email,
            BounceReason::Unsubscribe,
            None,
            None,
            "Mailgun unsubscribed event".into(),
            message_id,
        )),
        _ => None,
    };
    Ok(Event {
        id: id.to_string(),
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(key: &str, timestamp: &str, token: &str) -> String {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
        crate::domain::hex(ring::hmac::sign(&k, format!("{timestamp}{token}").as_bytes()).as_ref())
    }

    #[test]
    fn signatures_verify_and_forgeries_do_not() {
        let s = Signature {
            timestamp: "1796637600".into(),
            token: "tok".into(),
            signature: sign("key-1", "1796637600", "tok"),
        };
        assert!(verify(&s, "key-1", 1_796_637_600, 600).is_ok());
        assert!(matches!(
            verify(&s, "key-2", 1_796_637_600, 600),
            Err(Refusal::Forged(_))
        ));
        assert!(matches!(
            verify(&s, "key-1", 1_796_637_600 + 601, 600),
            Err(Refusal::Stale(_))
        ));
        let mut other = s.clone();
        other.token = "tok2".into();
        assert!(verify(&other, "key-1", 1_796_637_600, 600).is_err());
        other = s.clone();
        other.signature = "zz".repeat(32);
        assert!(verify(&other, "key-1", 1_796_637_600, 600).is_err());
        other.signature = "é".repeat(40);
        assert!(verify(&other, "key-1", 1_796_637_600, 600).is_err());
    }

    fn failed(severity: &str, reason: &str, code: u64, message: &str) -> BounceReason {
        let data = serde_json::json!({"event": "failed", "id": "ev1", "severity": severity,
            "reason": reason, "recipient": "reader@example.net",
            "delivery-status": {"code": code, "message": message, "description": ""},
            "message": {"headers": {"message-id": "20261207.1@mg.example.org"}}});
        let e = event(&data).unwrap();
        let r = e.report.unwrap();
        assert_eq!(
            r.provider_message_id.as_deref(),
            Some("20261207.1@mg.example.org")
        );
        r.recipients[0].reason
    }

    #[test]
    fn failures_read_the_receivers_words_and_mailguns_reason() {
        assert_eq!(
            failed(
                "permanent",
                "bounce",
                550,
                "5.1.1 The email account that you tried to reach does not exist"
            ),
            BounceReason::UserUnknown
        );
        assert!(
            failed(
                "permanent",
                "bounce",
                554,
                "5.7.1 Service unavailable; Client host blocked using Spamhaus"
            )
            .is_sender_side()
        );
        assert_eq!(
            failed("permanent", "suppress-bounce", 605, ""),
            BounceReason::Suppressed
        );
        assert_eq!(
            failed("permanent", "espblock", 0, ""),
            BounceReason::Blocked
        );
        assert_ne!(
            failed("temporary", "generic", 452, "4.2.2 mailbox full").class(),
            crate::domain::BounceClass::Hard
        );
        let ignored = serde_json::json!({"event": "delivered", "id": "ev2"});
        assert!(event(&ignored).unwrap().report.is_none());
        assert!(event(&serde_json::json!({"event": "failed"})).is_err());
    }

    #[test]
    fn unsigned_bodies_are_unsigned() {
        assert!(matches!(
            parse(b"{\"event-data\":{}}"),
            Err(Refusal::Unsigned(_))
        ));
        assert!(matches!(
            parse(b"{\"signature\":{\"timestamp\":\"1\",\"token\":\"t\"},\"event-data\":{}}"),
            Err(Refusal::Unsigned(_))
        ));
        assert!(matches!(parse(b"nope"), Err(Refusal::Malformed(_))));
    }
}
