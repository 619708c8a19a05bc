//! Complaint control: per campaign and per mailbox provider, the readers who marked the issue as
//! spam over the messages delivered there.
//!
//! Gmail asks bulk senders to keep this rate below 0.3% (and to aim for 0.1%); past it, mail goes
//! to spam or is refused. A complaint arrives long after its message left (by mail as a feedback
//! report, or by a provider's webhook), in another process than the one sending, so the check runs
//! where a complaint is recorded: [`ComplaintWatch::after`] reads the campaign's rates and, when
//! one provider's rate reaches the limit after enough deliveries there, pauses the campaign in the
//! database. Every worker sees the pause on its next claim, as with `newsletter pause`. A campaign
//! that has finished cannot pause; `status` still shows its rates.

use crate::config::ComplaintSettings;
use crate::domain::BounceClass;
use crate::store::{BounceRecord, ProviderStatus, Store, StoreError};

/// The limit from `[send.complaints]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComplaintWatch {
    pub enabled: bool,
    pub percent: f64,
    pub min_deliveries: i64,
}

impl Default for ComplaintWatch {
    fn default() -> Self {
        ComplaintWatch::from_config(&ComplaintSettings::default())
    }
}

impl ComplaintWatch {
    pub fn from_config(c: &ComplaintSettings) -> Self {
        ComplaintWatch {
            enabled: c.enabled,
            percent: c.percent,
            min_deliveries: c.min_deliveries,
        }
    }

    /// Whether this provider's part of a campaign is over the limit: enough delivered there to
    /// judge, and complaints at or above `percent` of them. Reaching the limit counts: Gmail's
    /// requirement is to stay *below* it.
    pub fn is_over(&self, p: &ProviderStatus) -> bool {
        p.counts.sent >= self.min_deliveries.max(1)
            && p.complaint_percent().is_some_and(|r| r >= self.percent)
    }

    /// The first provider over the limit, as the sentence `status` and the console show.
    pub fn verdict(&self, providers: &[ProviderStatus]) -> Option<String> {
        let p = providers.iter().find(|p| self.is_over(p))?;
        Some(format!(
            "complaints at {}: {} of {} readers who got it marked it as spam ({:.2}%), at or over \
             the limit of {}% ([send.complaints]); look at what changed (the list's source, the \
             content, the subject) before going on",
            p.provider,
            p.complaints,
            p.counts.sent,
            p.complaint_percent().unwrap_or(0.0),
            self.percent
        ))
    }

    /// After a bounce record was written: when it is a complaint about a campaign that is still
    /// sending and that campaign is now over the limit at some provider, pauses it with the reason.
    /// Returns the reason when it paused the campaign.
    pub async fn after(
        &self,
        store: &Store,
        record: &BounceRecord,
    ) -> Result<Option<String>, StoreError> {
        let (true, BounceClass::Complaint, Some(campaign_id)) =
            (self.enabled, record.kind, record.campaign_id)
        else {
            return Ok(None);
        };
        let providers = store.provider_counts(campaign_id).await?;
        let Some(reason) = self.verdict(&providers) else {
            return Ok(None);
        };
        if store.pause_for(campaign_id, &reason).await? {
            tracing::warn!(
                campaign_id,
                "complaint control: {reason}; pausing the campaign"
            );
            return Ok(Some(reason));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(provider: &str, sent: i64, complaints: i64) -> ProviderStatus {
        let mut p = ProviderStatus::named(provider);
        p.counts.sent = sent;
        p.complaints = complaints;
        p
    }

    #[test]
    fn the_limit_needs_enough_deliveries_and_is_reached_at_the_rate() {
        let w = ComplaintWatch::default();
        // 3 of 1,000 is 0.3%: reached.
        assert!(w.is_over(&at("google", 1000, 3)));
        // 2 of 1,000 is 0.2%: under.
        assert!(!w.is_over(&at("google", 1000, 2)));
        // 3 of 1,001 is 0.2997%: under.
        assert!(!w.is_over(&at("google", 1001, 3)));
        // 50 of 999: far over, but too few deliveries there to judge.
        assert!(!w.is_over(&at("google", 999, 50)));
        // Nothing delivered: nothing to judge, even with a zero minimum.
        let eager = ComplaintWatch {
            min_deliveries: 0,
            ..w
        };
        assert!(!eager.is_over(&at("google", 0, 1)));
        assert!(eager.is_over(&at("google", 10, 1)));
    }

    #[test]
    fn the_verdict_names_the_provider_over_the_limit() {
        let w = ComplaintWatch::default();
        let providers = [at("google", 5000, 2), at("yahoo", 1200, 4)];
        let v = w.verdict(&providers).unwrap();
        assert!(v.starts_with("complaints at yahoo: 4 of 1200"), "{v}");
        assert!(v.contains("(0.33%)"), "{v}");
        assert_eq!(w.verdict(&providers[..1]), None);
    }
}
