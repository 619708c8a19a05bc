//! The providers' event webhooks: `POST /webhooks/ses` (Amazon SNS), `/webhooks/postmark` and
//! `/webhooks/mailgun`, and `GET` on each for `doctor` to see that it is reachable.
//!
//! Order of work for each request: the proof of origin first ([`crate::bounce::webhook`]: SNS's
//! certificate signature, Postmark's credentials, Mailgun's HMAC with its timestamp and one-time
//! token), then the event is claimed by the provider's id (a retry is answered 200 and changes
//! nothing), then it goes through the bounce intake exactly as a mailed report does: tied to its
//! delivery by the provider's message id, logged, the policy applied, complaint control checked.
//! Anything unsigned, forged, stale or replayed is answered 401/403 and logged in one bounded
//! line; nothing of it is stored. A signed event that names no delivery of ours changes nothing
//! and is answered 200, so that the provider does not retry it for days.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::bounce::intake::{Fate, Intake, Tally};
use crate::bounce::webhook::{Event, PROBE_HEADER, Provider, Refusal, mailgun, postmark, sns};
use crate::config::Config;
use crate::domain::unix_now;

/// Signing certificates kept in memory, by URL.
const CERTIFICATES_KEPT: usize = 16;

/// Certificate fetches at once, at most; and how long a URL that failed is not fetched again.
const FETCHES_AT_ONCE: usize = 2;
const FAILED_FOR: Duration = Duration::from_secs(300);

/// Refusals logged a minute, at most; the rest are counted and said in one line.
const REFUSALS_LOGGED: u64 = 20;

/// The webhooks' configuration and secrets, read once when `serve` starts.
pub struct Webhooks {
    postmark: Option<(String, String)>,
    mailgun_key: Option<String>,
    mailgun_max_age: i64,
    ses_topics: Vec<String>,
    ses_max_age: i64,
    /// An SNS emulator's origin on this machine, for tests.
    emulator: Option<String>,
    certificates: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    /// URLs whose certificate could not be fetched, and when.
    failed: Mutex<HashMap<String, std::time::Instant>>,
    fetching: tokio::sync::Semaphore,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A maximum age from the configuration, or `default` (with a warning) when it is not positive.
fn max_age(value: i64, key: &str, default: i64) -> i64 {
    if value > 0 {
        value
    } else {
        tracing::warn!("{key} = {value} would refuse every event; using {default}");
        default
    }
}

/// How many refusals were logged in the current minute, and the minute.
static REFUSALS: Mutex<(u64, u64)> = Mutex::new((0, 0));

impl Webhooks {
    pub fn new(config: &Config) -> Webhooks {
        let origin = config
            .webhooks
            .ses
            .certificate_origin
            .trim()
            .trim_end_matches('/');
        // An origin, with no path: the certificate and subscription URLs must start with it.
        let emulator = crate::fetch::is_loopback_http(origin)
            && !origin["http://".len()..].contains(['/', '?', '#']);
        if !origin.is_empty() && !emulator {
            tracing::warn!(
                "[webhooks.ses] certificate_origin is ignored: it must be http://127.0.0.1:PORT (an emulator on this machine)"
            );
        }
        let (user, password) = (env(postmark::USER_ENV), env(postmark::PASSWORD_ENV));
        if user.is_some() != password.is_some() {
            tracing::warn!(
                "the Postmark webhook needs both {} and {}; with one of them it refuses everything",
                postmark::USER_ENV,
                postmark::PASSWORD_ENV
            );
        }
        let ses_topics: Vec<String> = config
            .webhooks
            .ses
            .topics
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        for t in &ses_topics {
            if !t.starts_with("arn:aws") || t.split(':').count() != 6 {
                tracing::warn!(
                    "[webhooks.ses] topics: `{t}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME); no message will match it"
                );
            }
        }
        Webhooks {
            postmark: user.zip(password),
            mailgun_key: env(mailgun::SIGNING_KEY_ENV),
            mailgun_max_age: max_age(
                config.webhooks.mailgun.max_age_secs,
                "[webhooks.mailgun] max_age_secs",
                600,
            ),
            ses_topics,
            ses_max_age: max_age(
                config.webhooks.ses.max_age_secs,
                "[webhooks.ses] max_age_secs",
                86400,
            ),
            emulator: emulator.then(|| origin.to_string()),
            certificates: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Semaphore::new(FETCHES_AT_ONCE),
        }
    }

    /// Which webhooks can accept anything, for `GET` and `doctor`.
    pub fn configured(&self, provider: Provider) -> bool {
        match provider {
            Provider::Ses => !self.ses_topics.is_empty(),
            Provider::Postmark => self.postmark.is_some(),
            Provider::Mailgun => self.mailgun_key.is_some(),
        }
    }

    /// The certificate at `url`: kept from before, or fetched (a few at once at most; a URL that
    /// failed is not tried again for a while, so forged requests cannot make us fetch without end).
    async fn certificate(&self, url: &str) -> Result<Arc<Vec<u8>>, Refusal> {
        if let Some(c) = self.certificates.lock().expect("lock").get(url) {
            return Ok(c.clone());
        }
        if self
            .failed
            .lock()
            .expect("lock")
            .get(url)
            .is_some_and(|at| at.elapsed() < FAILED_FOR)
        {
            return Err(Refusal::NotOurs(
                "the signing certificate could not be fetched a moment ago".into(),
            ));
        }
        let _permit = self.fetching.acquire().await.map_err(|_| {
            Refusal::NotOurs("the signing certificate cannot be fetched now".into())
        })?;
        let result = self.fetch_certificate(url).await;
        if result.is_err() {
            let mut failed = self.failed.lock().expect("lock");
            failed.retain(|_, at| at.elapsed() < FAILED_FOR);
            if failed.len() < 1024 {
                failed.insert(url.to_string(), std::time::Instant::now());
            }
        }
        result
    }

    async fn fetch_certificate(&self, url: &str) -> Result<Arc<Vec<u8>>, Refusal> {
        let fetched = crate::fetch::get(
            url,
            self.emulator.is_some(),
            64 * 1024,
            Duration::from_secs(10),
        )
        .await
        .map_err(|e| Refusal::NotOurs(format!("the signing certificate: {e}")))?;
        if fetched.status != 200 {
            return Err(Refusal::NotOurs(format!(
                "the signing certificate: HTTP {}",
                fetched.status
            )));
        }
        let cert = Arc::new(fetched.body);
        let mut all = self.certificates.lock().expect("lock");
        if all.len() >= CERTIFICATES_KEPT
            && let Some(old) = all.keys().next().cloned()
        {
            all.remove(&old);
        }
        all.insert(url.to_string(), cert.clone());
        Ok(cert)
    }
}

/// The answer to a refused request, and its one log line (at most [`REFUSALS_LOGGED`] a minute;
/// beyond that, the count is said once the minute is over).
fn refuse(provider: &str, r: Refusal) -> Response {
    let minute = (unix_now() / 60) as u64;
    let (log, missed) = {
        let mut state = REFUSALS.lock().unwrap_or_else(|e| e.into_inner());
        let missed = if state.0 != minute {
            let missed = state.1.saturating_sub(REFUSALS_LOGGED);
            *state = (minute, 0);
            missed
        } else {
            0
        };
        state.1 += 1;
        (state.1 <= REFUSALS_LOGGED, missed)
    };
    if missed > 0 {
        tracing::warn!(
            "{missed} more webhook requests were refused in the minute before, not logged one by one"
        );
    }
    if log {
        tracing::warn!(provider, status = r.status(), "webhook refused: {r}");
    }
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::FORBIDDEN);
    (status, format!("refused: {r}\n")).into_response()
}

/// `GET /webhooks/PROVIDER`: whether it is there and configured.
pub async fn probe(State(state): State<Arc<AppState>>, provider: Provider) -> Response {
    let configured = state.webhooks.configured(provider);
    let mut r = (
        StatusCode::OK,
        if configured {
            "this webhook is configured; providers POST their events here\n"
        } else {
            "this webhook is not configured: it refuses every event\n"
        },
    )
        .into_response();
    r.headers_mut().insert(
        PROBE_HEADER,
        HeaderValue::from_static(if configured {
            "configured"
        } else {
            "not-configured"
        }),
    );
    r
}

/// `POST /webhooks/ses`: Amazon SNS.
pub async fn ses(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let hooks = &state.webhooks;
    let m = match sns::SnsMessage::parse(&body) {
        Ok(m) => m,
        Err(r) => return refuse("ses", r),
    };
    if !hooks.ses_topics.contains(&m.topic_arn) {
        return refuse(
            "ses",
            Refusal::NotOurs(format!(
                "topic {} is not in [webhooks.ses] topics",
                m.topic_arn.chars().take(120).collect::<String>()
            )),
        );
    }
    match m.age_secs(unix_now()) {
        Some(age) if age.abs() <= hooks.ses_max_age => {}
        Some(age) => return refuse("ses", Refusal::Stale(age)),
        None => {
            return refuse(
                "ses",
                Refusal::Malformed("a Timestamp that is not a time".into()),
            );
        }
    }
    let emulator = hooks.emulator.as_deref();
    if let Err(r) = m.check_certificate_url(emulator) {
        return refuse("ses", r);
    }
    let verified = match hooks.certificate(&m.signing_cert_url).await {
        Ok(cert) => m.verify(&cert),
        Err(r) => Err(r),
    };
    if let Err(r) = verified {
        return refuse("ses", r);
    }
    match m.kind {
        sns::SnsType::Notification => act(&state, "ses", m.event()).await,
        sns::SnsType::SubscriptionConfirmation => {
            let url = m.subscribe_url.clone().unwrap_or_default();
            if let Err(r) = m.check_url(&url, emulator) {
                return refuse("ses", r);
            }
            match crate::fetch::get(&url, emulator.is_some(), 64 * 1024, Duration::from_secs(10))
                .await
            {
                Ok(f) if f.status == 200 => {
                    tracing::info!(topic = %m.topic_arn, "SNS subscription confirmed");
                    (StatusCode::OK, "subscription confirmed\n").into_response()
                }
                Ok(f) => {
                    tracing::warn!(topic = %m.topic_arn, status = f.status, "SNS refused the subscription confirmation");
                    (StatusCode::BAD_GATEWAY, "SNS refused the confirmation\n").into_response()
                }
                Err(e) => {
                    tracing::warn!(topic = %m.topic_arn, "SNS subscription confirmation failed: {e}");
                    (
                        StatusCode::BAD_GATEWAY,
                        "the confirmation could not be sent\n",
                    )
                        .into_response()
                }
            }
        }
        sns::SnsType::UnsubscribeConfirmation => {
            tracing::warn!(topic = %m.topic_arn, "the SNS subscription of this webhook was removed");
            (StatusCode::OK, "noted\n").into_response()
        }
    }
}

/// `POST /webhooks/postmark`.
pub async fn postmark(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((user, password)) = &state.webhooks.postmark else {
        return refuse("postmark", Refusal::NotConfigured(postmark::USER_ENV));
    };
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Err(r) = postmark::authorized(auth, user, password) {
        return refuse("postmark", r);
    }
    match postmark::event(&body) {
        Ok(e) => act(&state, "postmark", e).await,
        Err(r) => refuse("postmark", r),
    }
}

/// `POST /webhooks/mailgun`.
pub async fn mailgun(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let hooks = &state.webhooks;
    let Some(key) = &hooks.mailgun_key else {
        return refuse("mailgun", Refusal::NotConfigured(mailgun::SIGNING_KEY_ENV));
    };
    let (signature, data) = match mailgun::parse(&body) {
        Ok(x) => x,
        Err(r) => return refuse("mailgun", r),
    };
    if let Err(r) = mailgun::verify(&signature, key, unix_now(), hooks.mailgun_max_age) {
        return refuse("mailgun", r);
    }
    let event = match mailgun::event(&data) {
        Ok(e) => e,
        Err(r) => return refuse("mailgun", r),
    };
    match state
        .store
        .claim_event("mailgun-token", &signature.token)
        .await
    {
        Ok(true) => {}
        Ok(false) => return refuse("mailgun", Refusal::Replayed),
        Err(e) => return unavailable("mailgun", &e),
    }
    let answer = act(&state, "mailgun", event).await;
    if answer.status() == StatusCode::SERVICE_UNAVAILABLE {
        // Not acted on: let the provider's retry through.
        let _ = state
            .store
            .release_event("mailgun-token", &signature.token)
            .await;
    }
    answer
}

fn unavailable(provider: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(provider, "webhook: database error: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is unavailable; try again\n",
    )
        .into_response()
}

/// Acts on a verified event once: claimed by its id, then through the bounce intake.
async fn act(state: &AppState, provider: &'static str, event: Event) -> Response {
    let Some(mut report) = event.report else {
        return (StatusCode::OK, "nothing to do for this event\n").into_response();
    };
    if let Err(e) = crate::bounce::policy::tie_by_provider_id(&state.store, &mut report).await {
        return unavailable(provider, &e);
    }
    if report.recipients.iter().all(|r| r.delivery.is_none()) {
        tracing::warn!(
            provider,
            "a signed event names no delivery of ours (or another address than the delivery's); nothing changed"
        );
        return (
            StatusCode::OK,
            "names no delivery of ours; nothing changed\n",
        )
            .into_response();
    }
    match state.store.claim_event(provider, &event.id).await {
        Ok(true) => {}
        Ok(false) => return (StatusCode::OK, "already received\n").into_response(),
        Err(e) => return unavailable(provider, &e),
    }
    let outcome = async {
        let intake = Intake::new(&state.store, &state.config, None).await?;
        let mut tally = Tally::default();
        let fate = intake.act(report, &mut tally).await?;
        Ok::<_, crate::store::StoreError>((fate, tally))
    }
    .await;
    match outcome {
        Ok((Fate::Done, tally)) => {
            for why in &tally.paused {
                tracing::warn!(provider, "a campaign paused itself: {why}");
            }
            (StatusCode::OK, "recorded\n").into_response()
        }
        Ok((Fate::Quarantine(why), _)) => {
            tracing::warn!(
                provider,
                "a signed event names no delivery of ours; nothing changed: {}",
                why.reason.chars().take(200).collect::<String>()
            );
            (
                StatusCode::OK,
                "names no delivery of ours; nothing changed\n",
            )
                .into_response()
        }
        Err(e) => {
            let _ = state.store.release_event(provider, &event.id).await;
            unavailable(provider, &e)
        }
    }
}
