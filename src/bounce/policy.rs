//! What a report may change: only proof acts (a VERP whose keyed tag verifies, or our tagged
//! Message-ID, naming a delivery we handed over). The suppression rules themselves (hard at once,
//! soft after a count, complaints for good) are applied by the store in the same transaction as the
//! log entry.

use serde::Serialize;

use super::{Attribution, Class, Recipient, Report};

/// Why a recipient of a report may, or may not, change a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proof {
    /// Our VERP address, whose keyed tag verifies, for a delivery we made.
    VerpTag,
    /// Our tagged Message-ID (or VERP Return-Path) in the returned headers, for a delivery we made.
    OriginalHeaders,
    /// Our tag verifies, but we have no record of handing that delivery over.
    NoSuchDelivery,
    /// Only an address: anyone could have written it.
    Unproven,
    /// Delivered or relayed: nothing to act on.
    NothingToActOn,
}

impl Proof {
    /// One line for `bounces inspect`.
    pub fn explain(self) -> &'static str {
        match self {
            Proof::VerpTag => "proof: our VERP address, its keyed tag verifies",
            Proof::OriginalHeaders => {
                "proof: our tagged Message-ID or VERP Return-Path in the returned headers"
            }
            Proof::NoSuchDelivery => {
                "our tag verifies, but we have no record of sending that delivery: quarantined, changes nobody"
            }
            Proof::Unproven => {
                "unproven: nothing we issued names this delivery; quarantined, changes nobody"
            }
            Proof::NothingToActOn => "nothing to act on",
        }
    }
}

/// The [`Proof`] behind each recipient of a report, in order (looks each named delivery up).
pub async fn proofs(
    store: &crate::store::Store,
    report: &Report,
) -> Result<Vec<Proof>, crate::store::StoreError> {
    let mut out = Vec::with_capacity(report.recipients.len());
    for r in &report.recipients {
        out.push(match r.delivery {
            _ if r.class == Class::None => Proof::NothingToActOn,
            None => Proof::Unproven,
            Some(d) => match store
                .find_delivery(d.campaign_id, d.issue, d.subscriber_id)
                .await?
            {
                None => Proof::NoSuchDelivery,
                Some(_) if r.attribution == Attribution::Verp => Proof::VerpTag,
                Some(_) => Proof::OriginalHeaders,
            },
        });
    }
    Ok(out)
}

/// What was done for one recipient of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub recipient: Recipient,
    pub applied: crate::store::Applied,
}

/// Logs a report's recipients in the store and applies the policy, **only when the report is tied to
/// a delivery we made**: a VERP address whose keyed tag verifies, or our own tagged Message-ID (or
/// VERP Return-Path) in the returned headers, naming a delivery row that was handed over. Such a
/// report acts on that delivery's subscriber only. A report that merely names an address proves
/// nothing (anyone can send one to the bounce address): its recipients come back `Unproven`,
/// nothing is written, and the intake quarantines the message. Reports that are not bounces change
/// nothing.
pub async fn apply(
    store: &crate::store::Store,
    report: &Report,
    policy: crate::store::BouncePolicy,
) -> Result<Vec<Decision>, crate::store::StoreError> {
    use crate::store::BounceRecord;
    let Some(source) = report.kind.log_source() else {
        return Ok(Vec::new());
    };
    let relevant: Vec<&Recipient> = report
        .recipients
        .iter()
        .filter(|r| r.class != Class::None)
        .collect();
    let record =
        |r: &Recipient, subscriber_id, campaign_id, attribution: Attribution| BounceRecord {
            subscriber_id,
            campaign_id,
            email: r.email.clone(),
            kind: r.class.as_str().to_string(),
            status: r.status.clone(),
            diagnostic: r.diagnostic.clone(),
            source: source.to_string(),
            attribution: attribution.as_str().to_string(),
        };
    let mut out = Vec::new();
    let delivery = relevant.iter().find_map(|r| r.delivery);
    if let Some(d) = delivery
        && let Some((c, sent_to)) = store
            .find_delivery(d.campaign_id, d.issue, d.subscriber_id)
            .await?
    {
        // One delivery, one recipient: the one the evidence names if it matches, else the
        // first failure. The address in the evidence never redirects it to someone else.
        let chosen = relevant
            .iter()
            .find(|r| {
                r.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(&sent_to))
            })
            .or(relevant.first())
            .expect("relevant has the recipient that carried the delivery");
        let applied = store
            .record_bounce(
                &record(chosen, Some(d.subscriber_id), Some(c), chosen.attribution),
                policy,
            )
            .await?;
        out.push(Decision {
            recipient: (*chosen).clone(),
            applied,
        });
        return Ok(out);
    }
    for r in relevant {
        if let Some(d) = r.delivery {
            tracing::warn!(
                subscriber_id = d.subscriber_id,
                "a bounce names a delivery we have no record of sending; quarantined"
            );
        }
        out.push(Decision {
            recipient: r.clone(),
            applied: crate::store::Applied::Unproven,
        });
    }
    Ok(out)
}
