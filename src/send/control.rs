//! Pause, resume and cancel, as the terminal and the console both use them: the state changes in
//! the database (where every worker on every machine sees it within [`super::engine`]'s watch
//! interval), then, for a pause or a cancel, the call waits until the messages that were already
//! with the transport are recorded, so that the counts it returns are final: nothing more goes out
//! after it returns.

use std::time::{Duration, Instant};

use crate::domain::CampaignState;
use crate::store::{Campaign, Control, DeliveryCounts, Store, StoreError};

/// How long a pause or a cancel waits for the messages in flight to be recorded. Longer than any
/// SMTP transaction a healthy relay takes; a worker that does not answer by then has died, and its
/// rows go back to the queue when their lease ends.
pub const SETTLE: Duration = Duration::from_secs(20);

/// What a control action came to.
#[derive(Debug, Clone)]
pub struct Controlled {
    /// The campaign after the change.
    pub campaign: Campaign,
    /// Its deliveries once the messages in flight were recorded (or [`SETTLE`] passed).
    pub counts: DeliveryCounts,
    /// Deliveries still leased by a worker that did not answer within the wait (0 normally).
    pub unsettled: i64,
}

/// Applies `action` to issue `number`'s campaign; for a pause or a cancel, waits up to `settle` for
/// the messages in flight to be recorded.
pub async fn apply(
    store: &Store,
    number: i64,
    action: Control,
    settle: Duration,
) -> Result<Controlled, StoreError> {
    let campaign = store.control(number, action).await?;
    let stopping = matches!(
        campaign.state,
        CampaignState::Paused | CampaignState::Cancelled
    );
    let mut unsettled = 0;
    if stopping {
        let deadline = Instant::now() + settle;
        loop {
            unsettled = store.leased_now(campaign.id).await?;
            if unsettled == 0 || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let counts = store.delivery_counts(campaign.id).await?;
    Ok(Controlled {
        campaign,
        counts,
        unsettled,
    })
}
