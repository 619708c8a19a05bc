//! Prometheus text on `/metrics`: subscribers by status (counted at most every
//! [`STATS_MAX_AGE`], by one query at a time, so scrapes and `/health` probes cannot pile full-table
//! scans onto the database) and the server's own counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::domain::SubscriberStatus;
use crate::store::{Store, StoreError};

/// How old the subscriber counts on `/metrics` may be.
pub const STATS_MAX_AGE: Duration = Duration::from_secs(30);

/// Counters exposed on `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub unsubscribes: AtomicU64,
    pub api_requests: AtomicU64,
    pub api_denied: AtomicU64,
    pub signups_queued: AtomicU64,
    pub signups_processed: AtomicU64,
    pub signups_refused: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn count(field: &AtomicU64) {
        field.fetch_add(1, Ordering::Relaxed);
    }
}

/// Subscribers per status.
type Counts = Vec<(SubscriberStatus, i64)>;

/// Subscriber counts, refreshed at most every [`STATS_MAX_AGE`].
#[derive(Default)]
pub struct StatsCache {
    value: std::sync::Mutex<Option<(Instant, Counts)>>,
    refresh: tokio::sync::Mutex<()>,
}

impl StatsCache {
    /// The counts, from the cache when they are fresh enough.
    pub async fn get(&self, store: &Store) -> Result<Counts, StoreError> {
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        // One refresh at a time; those who waited find it done.
        let _one = self.refresh.lock().await;
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        let v = store.stats().await?;
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), v.clone()));
        Ok(v)
    }

    fn fresh(&self) -> Option<Counts> {
        match &*self.value.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((at, v)) if at.elapsed() < STATS_MAX_AGE => Some(v.clone()),
            _ => None,
        }
    }
}

/// The exposition text.
pub fn render(stats: &[(SubscriberStatus, i64)], m: &Metrics) -> Response {
    let mut out = String::from(
        "# HELP newsletter_subscribers Subscribers by status (refreshed at most every 30 s).\n# TYPE newsletter_subscribers gauge\n",
    );
    for (status, n) in stats {
        out.push_str(&format!(
            "newsletter_subscribers{{status=\"{status}\"}} {n}\n"
        ));
    }
    for (name, help, v) in [
        (
            "newsletter_web_unsubscribes_total",
            "Unsubscribes through the web (page or one-click).",
            &m.unsubscribes,
        ),
        (
            "newsletter_api_requests_total",
            "Authorised admin API requests.",
            &m.api_requests,
        ),
        (
            "newsletter_api_denied_total",
            "Admin API and metrics requests refused for a missing or wrong token.",
            &m.api_denied,
        ),
        (
            "newsletter_signups_queued_total",
            "Sign-up requests accepted for processing.",
            &m.signups_queued,
        ),
        (
            "newsletter_signups_processed_total",
            "Sign-up requests processed (a mail sent, or none needed).",
            &m.signups_processed,
        ),
        (
            "newsletter_signups_refused_total",
            "Sign-up requests refused because the queue was full.",
            &m.signups_refused,
        ),
    ] {
        let value = v.load(Ordering::Relaxed);
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
