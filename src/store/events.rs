//! What provider event webhooks need from the store: the delivery a provider's message id names,
//! and a claim on each event (and each one-time signing token) so that one delivered twice is
//! acted on once.

use super::*;

/// How long a claimed event id or token is remembered. Providers retry for hours, not weeks; a
/// signed event older than this is refused as stale by its webhook before it gets here.
pub const EVENT_MEMORY_SECS: i64 = 30 * 24 * 3600;

impl Store {
    /// The campaign, subscriber and address of the delivery a provider accepted under `id` (the
    /// message id it answered with), if we kept one.
    pub async fn find_by_provider_message_id(
        &self,
        id: &str,
    ) -> Result<Option<(i64, i64, String)>> {
        Ok(with_pool!(self, p => sqlx::query_as(
            "SELECT campaign_id, subscriber_id, email FROM deliveries WHERE provider_message_id = $1 \
             ORDER BY campaign_id DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?))
    }

    /// Claims a provider's event (or signing token) by its id: true the first time, false when
    /// it was claimed before (a retry or a replay). Forgets claims older than
    /// [`EVENT_MEMORY_SECS`].
    pub async fn claim_event(&self, provider: &str, event_id: &str) -> Result<bool> {
        let _writer = self.writer().await;
        let now = unix_now();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM provider_events WHERE received_at < $1")
                .bind(now - EVENT_MEMORY_SECS)
                .execute(&mut *tx)
                .await?;
            let claimed = sqlx::query(
                "INSERT INTO provider_events (provider, event_id, received_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (provider, event_id) DO NOTHING",
            )
            .bind(provider)
            .bind(event_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            tx.commit().await?;
            Ok(claimed)
        })
    }

    /// Gives a claim back, when acting on the event failed (the provider will retry it).
    pub async fn release_event(&self, provider: &str, event_id: &str) -> Result<()> {
        let _writer = self.writer().await;
        with_pool!(self, p => sqlx::query(
            "DELETE FROM provider_events WHERE provider = $1 AND event_id = $2",
        )
        .bind(provider)
        .bind(event_id)
        .execute(p)
        .await
        .map(|_| ())?);
        Ok(())
    }
}
