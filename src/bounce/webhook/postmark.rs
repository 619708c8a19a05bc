//! Postmark's webhooks, posted to `/webhooks/postmark`.
//!
//! Postmark does not sign its webhooks: it sends the HTTP Basic credentials the operator writes into
//! the webhook's URL (`https://USER:PASSWORD@host/webhooks/postmark`), which [`authorized`] checks
//! against `NEWSLETTER_POSTMARK_WEBHOOK_USER` / `_PASSWORD` (over HTTPS only, so they stay secret).
//! One event per request, by `RecordType`:
//! - `Bounce`: `Type` (HardBounce, SoftBounce, Blocked, DMARCPolicy…) mapped into the reason
//!   taxonomy, the receiver's own words in `Details` deciding when they state a cause (a "hard
//!   bounce" that says the sender was blocked is about us, not the reader);
//! - `SpamComplaint`: a complaint;
//! - `SubscriptionChange` with `SuppressSending` and `SuppressionReason` `ManualSuppression`: the
//!   reader unsubscribed through Postmark; the suppressions for a hard bounce or a complaint are
//!   not counted twice (their own events carry them);
//! - `Delivery`, `Open`, `Click`: nothing to do.
//!
//! `MessageID` names the message (the id Postmark answered our send with).

use base64::Engine;
use serde_json::Value;

use super::{Event, Refusal, one};
use crate::bounce::classify;
use crate::domain::BounceReason;

/// The environment variables holding the credentials in Postmark's webhook URL.
pub const USER_ENV: &str = "NEWSLETTER_POSTMARK_WEBHOOK_USER";
pub const PASSWORD_ENV: &str = "NEWSLETTER_POSTMARK_WEBHOOK_PASSWORD";

/// Checks an `Authorization` header against the configured credentials.
pub fn authorized(header: Option<&str>, user: &str, password: &str) -> Result<(), Refusal> {
    let header = header.ok_or(Refusal::Unsigned("no Authorization header"))?;
    // The scheme's name is case-insensitive (RFC 9110, section 11.1).
    let encoded = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest)
        .ok_or(Refusal::Unsigned("not HTTP Basic credentials"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| Refusal::Forged("credentials that are not base64"))?;
    let expected = format!("{user}:{password}");
    use sha2::{Digest, Sha256};
    if super::same(
        &Sha256::digest(&decoded),
        &Sha256::digest(expected.as_bytes()),
    ) {
        Ok(())
    } else {
        Err(Refusal::Forged("wrong Postmark webhook credentials"))
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The reason Postmark's bounce `Type` states, when it states one by itself.
fn by_type(kind: &str) -> Option<BounceReason> {
    use BounceReason as R;
    Some(match kind {
        "HardBounce" | "BadEmailAddress" => R::UserUnknown,
        "SoftBounce" | "Unknown" | "SMTPApiError" => R::Undetermined,
        "Transient" => R::Delayed,
        "DnsError" => R::NetworkError,
        "AddressChange" => R::HasMoved,
        "AutoResponder" | "ChallengeVerification" => R::AutoReply,
        "SpamNotification" => R::Filtered,
        "VirusNotification" => R::VirusDetected,
        "ManuallyDeactivated" => R::Suppressed,
        "Blocked" => R::Blocked,
        "DMARCPolicy" => R::AuthFailure,
        "SpamComplaint" => R::Complaint,
        "Unsubscribe" => R::Unsubscribe,
        _ => return None,
    })
}

/// Reads one posted event (after [`authorized`]).
pub fn event(body: &[u8]) -> Result<Event, Refusal> {
    if body.len() > super::BODY_LIMIT {
        return Err(Refusal::Malformed("larger than 256 KiB".into()));
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|_| Refusal::Malformed("not JSON".into()))?;
    let record = text(&v, "RecordType");
    if record.is_empty() {
        return Err(Refusal::Malformed("no `RecordType`".into()));
    }
    let message_id = Some(text(&v, "MessageID").to_string());
    let email = text(&v, "Email");
    let id = match v.get("ID") {
        Some(Value::Number(n)) => format!("{record}:{n}"),
        Some(Value::String(s)) => format!("{record}:{s}"),
        // No id of its own: the body's digest, so that a redelivery is one event and two
        // different events are two.
        _ => {
            use sha2::{Digest, Sha256};
            format!(
                "{record}:sha256:{}",
                crate::domain::hex(&Sha256::digest(body))
            )
        }
    };
    let report = match record {
        "Bounce" | "SpamComplaint" => {
            let kind = text(&v, "Type");
            let details = text(&v, "Details");
            let description = text(&v, "Description");
            let words = if details.is_empty() {
                description
            } else {
                details
            };
            let stated = if record == "SpamComplaint" {
                BounceReason::Complaint
            } else {
                by_type(kind).unwrap_or(BounceReason::Undetermined)
            };
            let v = classify::classify(None, None, words, stated == BounceReason::Delayed);
            // The receiving server's own words decide when they state a cause (a "hard bounce"
            // whose words say the message was taken for spam, or the sender blocked, is not the
            // reader's address failing); the type decides only when they state none.
            let (reason, evidence) = if stated == BounceReason::Complaint {
                (stated, format!("Postmark {record}"))
            } else if !v.is_weak() {
                (v.reason, v.evidence)
            } else {
                (stated, format!("Postmark bounce Type {kind}"))
            };
            Some(one(
                "postmark",
                email,
                reason,
                v.status,
                Some(words.to_string()),
                evidence,
                message_id,
            ))
        }
        "SubscriptionChange" => {
            let suppress = v.get("SuppressSending").and_then(Value::as_bool) == Some(true);
            (suppress && text(&v, "SuppressionReason") == "ManualSuppression").then(|| {
                one(
                    "postmark",
                    text(&v, "Recipient"),
                    BounceReason::Unsubscribe,
                    None,
                    None,
                    "Postmark SubscriptionChange: SuppressionReason ManualSuppression".into(),
                    message_id,
                )
            })
        }
        _ => None,
    };
    Ok(Event { id, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BounceClass;

    fn bounce(kind: &str, details: &str) -> BounceReason {
        let body = serde_json::json!({"RecordType": "Bounce", "ID": 42, "Type": kind,
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Email": "Reader@Example.net",
            "Details": details, "BouncedAt": "2026-12-07T10:00:00Z"});
        let e = event(body.to_string().as_bytes()).unwrap();
        assert_eq!(e.id, "Bounce:42");
        let r = e.report.unwrap();
        assert_eq!(
            r.provider_message_id.as_deref(),
            Some("883953f4-6105-42a2-a16a-77a8eac79483")
        );
        assert_eq!(r.recipients[0].email.as_deref(), Some("reader@example.net"));
        r.recipients[0].reason
    }

    #[test]
    fn bounce_types_map_and_the_receivers_words_decide_about_the_sender() {
        assert_eq!(
            bounce("HardBounce", "smtp;550 5.1.1 user unknown"),
            BounceReason::UserUnknown
        );
        assert_eq!(bounce("HardBounce", ""), BounceReason::UserUnknown);
        // A "hard bounce" whose words blame our sending is not the reader's.
        let r = bounce(
            "HardBounce",
            "smtp;550 5.7.1 Service unavailable; client host [50.31.156.6] blocked using Spamhaus",
        );
        assert!(r.is_sender_side(), "{r:?}");
        assert_eq!(
            bounce("SoftBounce", "mailbox full"),
            BounceReason::MailboxFull
        );
        assert_eq!(bounce("Blocked", ""), BounceReason::Blocked);
        assert_eq!(bounce("Transient", "").class(), BounceClass::None);
    }

    #[test]
    fn complaints_unsubscribes_and_what_is_ignored() {
        let c = serde_json::json!({"RecordType": "SpamComplaint", "ID": 7, "Type": "SpamComplaint",
            "MessageID": "m", "Email": "a@example.net"});
        let r = event(c.to_string().as_bytes()).unwrap().report.unwrap();
        assert_eq!(r.recipients[0].reason, BounceReason::Complaint);
        let u = serde_json::json!({"RecordType": "SubscriptionChange", "MessageID": "m",
            "Recipient": "a@example.net", "SuppressSending": true,
            "SuppressionReason": "ManualSuppression", "ChangedAt": "2026-12-07T10:00:00Z"});
        let e = event(u.to_string().as_bytes()).unwrap();
        assert_eq!(
            e.report.unwrap().recipients[0].reason,
            BounceReason::Unsubscribe
        );
        let again = serde_json::json!({"RecordType": "SubscriptionChange", "MessageID": "m",
            "Recipient": "a@example.net", "SuppressSending": true, "SuppressionReason": "HardBounce"});
        assert!(
            event(again.to_string().as_bytes())
                .unwrap()
                .report
                .is_none()
        );
        let open = serde_json::json!({"RecordType": "Open", "MessageID": "m"});
        assert!(event(open.to_string().as_bytes()).unwrap().report.is_none());
        assert!(event(b"{}").is_err());
        assert!(event(b"not json").is_err());
    }

    #[test]
    fn credentials_are_checked_exactly() {
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("hook:s3cret")
        );
        assert!(authorized(Some(&good), "hook", "s3cret").is_ok());
        assert!(matches!(
            authorized(None, "hook", "s3cret"),
            Err(Refusal::Unsigned(_))
        ));
        let upper = good.replace("Basic", "BASIC");
        assert!(authorized(Some(&upper), "hook", "s3cret").is_ok());
        for bad in ["hook:s3cre", "hook:s3cret ", "Hook:s3cret", ":"] {
            let h = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(bad)
            );
            assert!(matches!(
                authorized(Some(&h), "hook", "s3cret"),
                Err(Refusal::Forged(_))
            ));
        }
    }
}
