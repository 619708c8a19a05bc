//! What a report may change, and how. Only proof acts (a VERP whose keyed tag verifies, or our
//! tagged Message-ID, naming a delivery we handed over). The suppression rules ([`BouncePolicy`]:
//! hard at once, soft after a count in distinct campaigns, complaints for good, policy refusals
//! never) decide here; the store applies the decision in the same transaction as the log entry.

use serde::Serialize;

use super::{Attribution, Class, Recipient, Report};
use crate::domain::{BounceReason, SubscriberStatus};
use crate::store::{Applied, BounceFacts, BounceRecord, Decide, Store, StoreError, Verdict};

/// The suppression policy (`[bounces]` in config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BouncePolicy {
    /// Soft bounces in distinct campaigns that suppress.
    pub soft_limit: i64,
    /// Window in which they must fall.
    pub soft_window_secs: i64,
    /// The first and the last of them must be at least this far apart: a mailbox full for a few
    /// days (a daily list's three issues) is not a mailbox that is gone.
    pub soft_min_span_secs: i64,
}

impl Default for BouncePolicy {
    /// The documented defaults of `[bounces]`: 3 soft bounces in 30 days, at least 10 days apart
    /// from the first to the last.
    fn default() -> Self {
        BouncePolicy {
            soft_limit: 3,
            soft_window_secs: 30 * 86_400,
            soft_min_span_secs: 10 * 86_400,
        }
    }
}

impl BouncePolicy {
    /// From `[bounces]`.
    pub fn from_config(b: &crate::config::BounceSettings) -> Self {
        BouncePolicy {
            soft_limit: b.soft_limit,
            soft_window_secs: b.soft_window_days * 86_400,
            soft_min_span_secs: b.soft_min_span_days * 86_400,
        }
    }
}

impl Decide for BouncePolicy {
    fn soft_since(&self, now: i64) -> i64 {
        now - self.soft_window_secs
    }

    fn decide(&self, record: &BounceRecord, facts: &BounceFacts) -> Verdict {
        let target = match record.kind {
            Class::Hard => SubscriberStatus::Bounced,
            Class::Complaint => SubscriberStatus::Complained,
            Class::Soft => {
                let count = facts.soft_count.unwrap_or(1);
                // Enough of them, but all within a few days: still counting.
                if count < self.soft_limit
                    || facts.soft_span_secs.unwrap_or(0) < self.soft_min_span_secs
                {
                    return Verdict::Counted {
                        count,
                        limit: self.soft_limit,
                    };
                }
                SubscriberStatus::Bounced
            }
            // A feedback report that says the reader unsubscribed (ARF `opt-out`/`unsubscribe`):
            // an unsubscribe is an unsubscribe, whoever carried it.
            // It is logged as `policy` (the log's kinds are the failure classes), with its reason.
            Class::Policy | Class::None if record.reason == Some(BounceReason::Unsubscribe) => {
                SubscriberStatus::Unsubscribed
            }
            Class::Policy | Class::None => return Verdict::Log,
        };
        // A complaint overrides a bounce; nothing overrides a complaint or an unsubscribe.
        let may_change = matches!(
            facts.current,
            SubscriberStatus::Active | SubscriberStatus::Pending
        ) || (target == SubscriberStatus::Complained
            && facts.current == SubscriberStatus::Bounced);
        if may_change {
            Verdict::Suppress(target)
        } else {
            Verdict::Log
        }
    }
}

/// Logs one bounce and applies `policy`, in one transaction.
pub async fn record(
    store: &Store,
    record: &BounceRecord,
    policy: BouncePolicy,
) -> Result<Applied, StoreError> {
    store.record_bounce(record, policy).await
}

/// Why a recipient of a report may, or may not, change a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proof {
    /// Our VERP address, whose keyed tag verifies, for a delivery we made.
    VerpTag,
    /// Our tagged Message-ID (or VERP Return-Path) in the returned headers, for a delivery we made.
    OriginalHeaders,
    /// The provider's id for a message we handed it, in its own event (signed, by webhook) or
    /// its notification.
    ProviderMessage,
    /// Our tag verifies, but we have no record of handing that delivery over.
    NoSuchDelivery,
    /// Only an address: anyone could have written it.
    Unproven,
    /// Delivered or relayed: nothing to act on.
    NothingToActOn,
    /// Not checked: `bounces inspect` ran without the database the campaigns were sent from.
    NotChecked,
}

impl Proof {
    /// One line for `bounces inspect`.
    pub fn explain(self) -> &'static str {
        match self {
            Proof::VerpTag => "proof: our VERP address, its keyed tag verifies",
            Proof::OriginalHeaders => {
                "proof: our tagged Message-ID or VERP Return-Path in the returned headers"
            }
            Proof::ProviderMessage => {
                "proof: the message id the provider gave a delivery of ours, named by its event"
            }
            Proof::NoSuchDelivery => {
                "our tag verifies, but we have no record of sending that delivery: quarantined, changes nobody"
            }
            Proof::Unproven => {
                "unproven: nothing we issued names this delivery; quarantined, changes nobody"
            }
            Proof::NothingToActOn => "nothing to act on",
            Proof::NotChecked => {
                "not checked: whether this proves a delivery of ours needs the campaigns' database"
            }
        }
    }
}

/// The [`Proof`] behind each recipient of a report, in order (looks each named delivery up).
pub async fn proofs(store: &Store, report: &Report) -> Result<Vec<Proof>, StoreError> {
    let mut out = Vec::with_capacity(report.recipients.len());
    for r in &report.recipients {
        out.push(match r.delivery {
            _ if r.class == Class::None && r.reason != BounceReason::Unsubscribe => {
                Proof::NothingToActOn
            }
            None => Proof::Unproven,
            Some(d) => match store
                .find_delivery(d.campaign_id, d.issue, d.subscriber_id)
                .await?
            {
                None => Proof::NoSuchDelivery,
                Some(_) if r.attribution == Attribution::Verp => Proof::VerpTag,
                Some(_) if r.attribution == Attribution::ProviderMessageId => {
                    Proof::ProviderMessage
                }
                Some(_) => Proof::OriginalHeaders,
            },
        });
    }
    Ok(out)
}

/// Ties a provider's event to the delivery it is about by the message id the provider gave it,
/// when nothing else of ours (a VERP address) already does: the id is one the provider answered
/// our own request with, so it names our delivery as surely as our tag does. An id we never kept
/// ties nothing, and the event proves nothing. Nor does a recipient whose address is not the
/// delivery's: the id names one message to one reader, and an event that names someone else
/// about it acts on nobody.
pub async fn tie_by_provider_id(store: &Store, report: &mut Report) -> Result<(), StoreError> {
    let Some(id) = report.provider_message_id.as_deref() else {
        return Ok(());
    };
    if report.recipients.iter().any(|r| r.delivery.is_some()) {
        return Ok(());
    }
    let Some((campaign_id, subscriber_id, sent_to)) = store.find_by_provider_message_id(id).await?
    else {
        return Ok(());
    };
    for r in &mut report.recipients {
        if r.email
            .as_deref()
            .is_some_and(|e| !e.eq_ignore_ascii_case(&sent_to))
        {
            continue;
        }
        r.delivery = Some(super::DeliveryRef {
            campaign_id: Some(campaign_id),
            issue: None,
            subscriber_id,
        });
        r.attribution = Attribution::ProviderMessageId;
    }
    Ok(())
}

/// What was done for one recipient of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub recipient: Recipient,
    pub applied: Applied,
}

/// What a report comes to before anything is written: which recipient, if any, a delivery of
/// ours proves, and the record that would log it. Reading it only reads the store.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Not a bounce, or only deliveries that succeeded: nothing to log.
    Nothing,
    /// Proven: one delivery, one recipient, one record.
    Record(Box<(Recipient, BounceRecord)>),
    /// Names no delivery we made (or one we never handed over): nothing is written.
    Unproven(Vec<Recipient>),
}

impl Plan {
    /// The record to write, when there is one.
    pub fn record(&self) -> Option<&BounceRecord> {
        match self {
            Plan::Record(r) => Some(&r.1),
            _ => None,
        }
    }

    /// What was done for each recipient, given what writing the record did (`None` when nothing
    /// was written).
    pub fn decisions(self, applied: Option<Applied>) -> Vec<Decision> {
        match self {
            Plan::Nothing => Vec::new(),
            Plan::Record(r) => vec![Decision {
                recipient: r.0,
                applied: applied.unwrap_or(Applied::Unattributed),
            }],
            Plan::Unproven(rs) => rs
                .into_iter()
                .map(|recipient| Decision {
                    recipient,
                    applied: Applied::Unproven,
                })
                .collect(),
        }
    }
}

/// Settles what a report may log, **only when it is tied to a delivery we made**: a VERP address
/// whose keyed tag verifies, or our own tagged Message-ID (or VERP Return-Path) in the returned
/// headers, naming a delivery row that was handed over. Such a report acts on that delivery's
/// subscriber only. A report that merely names an address proves nothing (anyone can send one to
/// the bounce address): its recipients come back unproven, and the intake quarantines the
/// message. Reports that are not bounces change nothing.
pub async fn plan(store: &Store, report: &Report) -> Result<Plan, StoreError> {
    let Some(source) = report.kind.log_source() else {
        return Ok(Plan::Nothing);
    };
    let relevant: Vec<&Recipient> = report
        .recipients
        .iter()
        .filter(|r| r.class != Class::None || r.reason == BounceReason::Unsubscribe)
        .collect();
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
        let record = BounceRecord {
            subscriber_id: Some(d.subscriber_id),
            campaign_id: Some(c),
            email: chosen.email.clone(),
            kind: if chosen.reason == BounceReason::Unsubscribe {
                Class::Policy
            } else {
                chosen.class
            },
            status: chosen.status.clone(),
            diagnostic: chosen.diagnostic.clone(),
            source,
            attribution: chosen.attribution,
            reason: Some(chosen.reason),
            evidence: Some(chosen.evidence.clone()),
        };
        return Ok(Plan::Record(Box::new(((*chosen).clone(), record))));
    }
    for r in &relevant {
        if let Some(d) = r.delivery {
            tracing::warn!(
                subscriber_id = d.subscriber_id,
                "a bounce names a delivery we have no record of sending; quarantined"
            );
        }
    }
    Ok(Plan::Unproven(relevant.into_iter().cloned().collect()))
}

/// Logs a report in the store and applies the policy, in one transaction, when [`plan`] finds it
/// proven; what was done for each recipient.
pub async fn apply(
    store: &Store,
    report: &Report,
    policy: BouncePolicy,
) -> Result<Vec<Decision>, StoreError> {
    let plan = plan(store, report).await?;
    let applied = match plan.record() {
        Some(r) => Some(store.record_bounce(r, policy).await?),
        None => None,
    };
    Ok(plan.decisions(applied))
}

#[cfg(test)]
mod span_tests {
    use super::*;
    use crate::domain::{Attribution, BounceSource};

    fn soft() -> BounceRecord {
        BounceRecord {
            subscriber_id: Some(1),
            campaign_id: Some(1),
            email: None,
            kind: Class::Soft,
            status: Some("4.2.2".into()),
            diagnostic: None,
            source: BounceSource::Dsn,
            attribution: Attribution::Verp,
            reason: Some(crate::domain::BounceReason::MailboxFull),
            evidence: None,
        }
    }

    fn facts(count: i64, span_days: i64) -> BounceFacts {
        BounceFacts {
            current: SubscriberStatus::Active,
            soft_count: Some(count),
            soft_span_secs: Some(span_days * 86_400),
        }
    }

    #[test]
    fn soft_bounces_suppress_only_when_spread_over_the_minimum_span() {
        let p = BouncePolicy::default();
        // A daily list: three full-mailbox bounces in three days keep counting.
        assert_eq!(
            p.decide(&soft(), &facts(3, 2)),
            Verdict::Counted { count: 3, limit: 3 }
        );
        assert_eq!(
            p.decide(&soft(), &facts(5, 9)),
            Verdict::Counted { count: 5, limit: 3 }
        );
        // A weekly one: the third arrives two weeks after the first.
        assert_eq!(
            p.decide(&soft(), &facts(3, 14)),
            Verdict::Suppress(SubscriberStatus::Bounced)
        );
        assert_eq!(
            p.decide(&soft(), &facts(2, 20)),
            Verdict::Counted { count: 2, limit: 3 }
        );
    }
}
