//! Notifications that e-mail service providers send by mail about deliveries they made for us.
//!
//! Amazon SES (through SNS, or an SES notification sent to an address) writes its bounce and
//! complaint events as JSON: only `bounce.bouncedRecipients` and `complaint.complainedRecipients`
//! are recipients. The `mail` object (our own `source`, every `destination`, the sending identity's
//! ARN) names us and everyone we sent to, and is never read for recipients.
//! `bounceType`/`bounceSubType` map into the reason taxonomy; a recipient's own `status` and
//! `diagnosticCode`, when they state a cause, say more than the subtype.

use serde_json::Value;

use super::{Attribution, DeliveryRef, Kind, Recipient, Report, classify};
use crate::domain::{BounceReason, DsnAction};

/// The most JSON read from one notification.
const JSON_LIMIT: usize = 256 * 1024;

/// The JSON object in a text: the whole text, or from its first `{` to its last `}`.
fn json_in(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    if end <= start || end - start > JSON_LIMIT {
        return None;
    }
    serde_json::from_str(&text[start..=end]).ok()
}

/// The notification itself: SNS wraps it as a JSON string in `Message`.
fn notification(text: &str) -> Option<Value> {
    let v = json_in(text)?;
    if v.get("notificationType").is_some() || v.get("eventType").is_some() {
        return Some(v);
    }
    let inner = v.get("Message")?.as_str()?;
    let v: Value = serde_json::from_str(inner).ok()?;
    (v.get("notificationType").is_some() || v.get("eventType").is_some()).then_some(v)
}

/// The reason SES's bounce type and subtype state.
fn ses_reason(bounce_type: &str, subtype: &str) -> BounceReason {
    use BounceReason as R;
    match (bounce_type, subtype) {
        (_, "Suppressed" | "OnAccountSuppressionList") => R::Suppressed,
        ("Permanent", "NoEmail") => R::UserUnknown,
        (_, "MailboxFull") => R::MailboxFull,
        (_, "MessageTooLarge") => R::MessageTooLarge,
        (_, "ContentRejected") => R::ContentRejected,
        (_, "AttachmentRejected") => R::VirusDetected,
        // "General" says only that the receiver refused; the recipient's own words decide.
        _ => R::Undetermined,
    }
}

fn text_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Reads an SES notification received by mail; `None` when `text` is not one.
pub fn report(
    text: &str,
    delivery: Option<DeliveryRef>,
    tied: Option<Attribution>,
    message_id: Option<String>,
) -> Option<Report> {
    if !text.contains("notificationType") && !text.contains("eventType") {
        return None;
    }
    from_notification(&notification(text)?, delivery, tied, message_id)
}

/// Reads an SES notification (the JSON SNS carries in `Message`), however it arrived: by mail, or
/// by the SNS webhook (with no `delivery` or `tied`). `None` for an event that is not a bounce, a
/// complaint or a delivery.
pub fn from_notification(
    n: &Value,
    delivery: Option<DeliveryRef>,
    tied: Option<Attribution>,
    message_id: Option<String>,
) -> Option<Report> {
    let kind = text_of(n, "notificationType");
    let kind = if kind.is_empty() {
        text_of(n, "eventType")
    } else {
        kind
    };
    let recipient =
        |email: &str, reason: BounceReason, status, diagnostic, evidence: String| Recipient {
            email: (!email.is_empty()).then(|| email.to_ascii_lowercase()),
            class: reason.class(),
            reason,
            status,
            diagnostic,
            action: None,
            attribution: tied.unwrap_or(Attribution::DsnField),
            delivery,
            evidence,
            found_in: String::new(),
        };
    let (report_kind, recipients) = match kind {
        "Bounce" => {
            let b = n.get("bounce")?;
            let (bt, st) = (text_of(b, "bounceType"), text_of(b, "bounceSubType"));
            let by_type = ses_reason(bt, st);
            let list = b.get("bouncedRecipients")?.as_array()?;
            let out: Vec<Recipient> = list
                .iter()
                .map(|r| {
                    let email = text_of(r, "emailAddress");
                    let status = Some(text_of(r, "status")).filter(|s| !s.is_empty());
                    let diag = text_of(r, "diagnosticCode");
                    let action = DsnAction::from_field(text_of(r, "action")).ok();
                    let v = classify::classify(status, action, diag, false);
                    // The recipient's own words, when they state a cause, say more than a
                    // "General" subtype; a subtype that names the cause says more than a
                    // generic code.
                    let (reason, evidence) = if by_type != BounceReason::Undetermined
                        && (v.is_weak() || !v.reason.is_sender_side())
                    {
                        (by_type, format!("SES bounceType {bt}, bounceSubType {st}"))
                    } else if !v.is_weak() {
                        (v.reason, v.evidence)
                    } else {
                        (
                            BounceReason::Undetermined,
                            format!(
                                "SES bounceType {bt}, bounceSubType {st} (the cause is not stated)"
                            ),
                        )
                    };
                    let mut r = recipient(
                        email,
                        reason,
                        v.status,
                        Some(diag).filter(|d| !d.is_empty()).map(str::to_string),
                        evidence,
                    );
                    r.action = action;
                    r.found_in = "SES bouncedRecipients".into();
                    r
                })
                .collect();
            (Kind::ProviderEvent, out)
        }
        "Complaint" => {
            let c = n.get("complaint")?;
            let feedback = text_of(c, "complaintFeedbackType");
            let reason = match feedback {
                "not-spam" => BounceReason::NotSpam,
                _ => BounceReason::Complaint,
            };
            let list = c.get("complainedRecipients")?.as_array()?;
            let out: Vec<Recipient> = list
                .iter()
                .map(|r| {
                    let mut r = recipient(
                        text_of(r, "emailAddress"),
                        reason,
                        None,
                        (!feedback.is_empty()).then(|| format!("feedback-type: {feedback}")),
                        "an SES complaint notification".into(),
                    );
                    r.found_in = "SES complainedRecipients".into();
                    r
                })
                .collect();
            (Kind::ProviderEvent, out)
        }
        "Delivery" => {
            let d = n.get("delivery")?;
            let list = d.get("recipients")?.as_array()?;
            let out: Vec<Recipient> = list
                .iter()
                .filter_map(Value::as_str)
                .map(|e| {
                    let mut r = recipient(
                        e,
                        BounceReason::Delivered,
                        None,
                        None,
                        "an SES delivery notification".into(),
                    );
                    r.found_in = "SES delivery.recipients".into();
                    r
                })
                .collect();
            (Kind::ProviderEvent, out)
        }
        _ => return None,
    };
    let note = recipients
        .is_empty()
        .then(|| "an SES notification that names no recipient".to_string());
    Some(Report {
        kind: report_kind,
        recipients,
        message_id,
        family: Some("amazon ses notification".into()),
        note,
        unsubscribe: None,
        provider_message_id: n
            .get("mail")
            .map(|m| text_of(m, "messageId"))
            .filter(|id| !id.is_empty())
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bounced_recipients_are_recipients() {
        let json = r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General",
            "bouncedRecipients":[{"emailAddress":"gone@example.net","action":"failed","status":"5.1.1",
            "diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2024-01-01T00:00:00.000Z"},
            "mail":{"source":"newsletter@example.org","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/example.org",
            "destination":["gone@example.net","other@example.net"]}}"#;
        let r = report(json, None, None, None).unwrap();
        assert_eq!(r.recipients.len(), 1);
        assert_eq!(r.recipients[0].email.as_deref(), Some("gone@example.net"));
        assert_eq!(r.recipients[0].reason, BounceReason::UserUnknown);
        let wrapped = serde_json::json!({"Type": "Notification", "Message": json}).to_string();
        assert_eq!(
            report(&wrapped, None, None, None).unwrap().recipients.len(),
            1
        );
        assert!(report("{\"hello\": 1}", None, None, None).is_none());
    }
}
