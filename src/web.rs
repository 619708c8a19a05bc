//! The subscriber-facing web: unsubscribe pages and the RFC 8058 one-click endpoint, the admin JSON
//! API under `/api/` (Bearer token from the environment, compared in constant time), health and
//! Prometheus metrics.
//!
//! GET never changes state (mail scanners follow links). POST `/unsubscribe/{token}` is both the
//! page's button and the one-click target: it needs no cookies, answers 200 (never a redirect), and is
//! idempotent. An unknown or malformed token gets the same generic 404 page, so a probe learns
//! nothing about who is subscribed.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::ConnectInfo;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use maud::{DOCTYPE, Markup, html};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::domain::{EmailAddress, SubscriberName, SubscriberStatus, UnsubscribeToken};
use crate::store::{AddOutcome, Source, Store, Subscriber};

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    /// The newsletter's name, shown on every page.
    pub site_name: String,
    /// The site the newsletter belongs to.
    pub site_url: String,
    /// SHA-256 of the admin API token (`NEWSLETTER_API_TOKEN`); `None` disables the API.
    pub api_token_hash: Option<[u8; 32]>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Double opt-in: where mail goes, how it is addressed, and the limits.
    pub signup: Signup,
}

/// What double opt-in needs.
pub struct Signup {
    pub transport: crate::transport::Transport,
    pub mail: crate::config::Mail,
    /// Public URL prefix of the confirmation link; the token is appended.
    pub confirm_url: String,
    /// Sign-up attempts per client IP.
    pub per_ip: RateLimiter,
    /// Confirmation mails per address.
    pub per_address: RateLimiter,
}

/// A sliding-window limit: at most `max` events per key within `window`.
pub struct RateLimiter {
    max: usize,
    window: Duration,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// A limiter allowing `max` events per key per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max: max as usize,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records an event for `key`; false if that goes over the limit.
    pub fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let q = seen.entry(key.to_string()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.max {
            return false;
        }
        q.push_back(now);
        true
    }
}

/// Counters exposed on `/metrics`.
#[derive(Default)]
pub struct Metrics {
    unsubscribes: AtomicU64,
    api_requests: AtomicU64,
    api_denied: AtomicU64,
}

impl AppState {
    /// The state for `store` and `config`, with the admin API enabled when `api_token` is given.
    pub fn new(
        store: Store,
        config: &crate::config::Config,
        transport: crate::transport::Transport,
        api_token: Option<&str>,
    ) -> Self {
        let window = Duration::from_secs(config.subscribe.window_secs);
        Self {
            store,
            site_name: config.site.name.clone(),
            site_url: config.site.url.clone(),
            api_token_hash: api_token
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
            metrics: Metrics::default(),
            signup: Signup {
                transport,
                mail: config.mail.clone(),
                confirm_url: config.subscribe.confirm_url.clone(),
                per_ip: RateLimiter::new(config.subscribe.per_ip, window),
                per_address: RateLimiter::new(config.subscribe.per_address, window),
            },
        }
    }
}

/// The routes.
pub fn router(state: AppState) -> Router {
    let state = Arc::new(state);
    let api = Router::new()
        .route("/subscribers", get(api_list).post(api_add))
        .route("/subscribers/{email}", get(api_show).delete(api_remove))
        .route("/stats", get(api_stats))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/subscribe", get(subscribe_page).post(subscribe))
        .route("/confirm/{token}", get(confirm_page).post(confirm))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .nest("/api", api)
        .fallback(not_found)
        .with_state(state)
}

/// Compares digests of equal length without an early exit, so timing reveals nothing of the token.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn require_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| -> [u8; 32] { Sha256::digest(t.trim().as_bytes()).into() });
    let ok = matches!((&state.api_token_hash, &given), (Some(want), Some(got)) if constant_time_eq(want, got));
    if !ok {
        state.metrics.api_denied.fetch_add(1, Ordering::Relaxed);
        let body = Json(json!({"error": "missing or wrong bearer token"}));
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            body,
        )
            .into_response();
    }
    state.metrics.api_requests.fetch_add(1, Ordering::Relaxed);
    next.run(request).await
}

fn api_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

fn store_error(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "api: database error");
    api_error(StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
}

fn parse_email(s: &str) -> Result<EmailAddress, String> {
    EmailAddress::parse(s).map_err(|e| format!("email: {e}"))
}

#[derive(serde::Deserialize)]
struct ListQuery {
    status: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

async fn api_list(State(state): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    let status = match q.status.as_deref().map(SubscriberStatus::parse).transpose() {
        Ok(s) => s,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, e.0),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    match state.store.page(status, q.after.unwrap_or(0), limit).await {
        Ok(page) => {
            let next = if page.len() as i64 == limit {
                page.last().map(|s| s.id)
            } else {
                None
            };
            Json(json!({"subscribers": page, "next_after": next})).into_response()
        }
        Err(e) => store_error(e),
    }
}

async fn api_show(State(state): State<Arc<AppState>>, Path(email): Path<String>) -> Response {
    let email = match parse_email(&email) {
        Ok(e) => e,
        Err(m) => return api_error(StatusCode::BAD_REQUEST, m),
    };
    match state.store.find_by_email(&email).await {
        Ok(Some(s)) => match state.store.history(s.id).await {
            Ok(history) => Json(json!({"subscriber": s, "history": history})).into_response(),
            Err(e) => store_error(e),
        },
        Ok(None) => api_error(StatusCode::NOT_FOUND, "no such subscriber"),
        Err(e) => store_error(e),
    }
}

#[derive(serde::Deserialize)]
struct AddBody {
    email: String,
    name: Option<String>,
    status: Option<SubscriberStatus>,
}

async fn api_add(State(state): State<Arc<AppState>>, Json(body): Json<AddBody>) -> Response {
    let email = match parse_email(&body.email) {
        Ok(e) => e,
        Err(m) => return api_error(StatusCode::BAD_REQUEST, m),
    };
    let name = match body.name.as_deref().map(SubscriberName::parse).transpose() {
        Ok(n) => n.flatten(),
        Err(e) => return api_error(StatusCode::BAD_REQUEST, format!("name: {e}")),
    };
    let status = body.status.unwrap_or(SubscriberStatus::Active);
    if !matches!(status, SubscriberStatus::Active | SubscriberStatus::Pending) {
        return api_error(StatusCode::BAD_REQUEST, "status must be active or pending");
    }
    match state
        .store
        .add(&email, name.as_ref(), status, Source::Api)
        .await
    {
        Ok(AddOutcome::Added(id)) => (
            StatusCode::CREATED,
            Json(json!({"id": id, "status": status})),
        )
            .into_response(),
        Ok(AddOutcome::Exists(s)) => Json(json!({"status": s, "added": false})).into_response(),
        Ok(AddOutcome::Forgotten) => {
            api_error(StatusCode::CONFLICT, "this address was erased on request")
        }
        Err(e) => store_error(e),
    }
}

async fn api_remove(State(state): State<Arc<AppState>>, Path(email): Path<String>) -> Response {
    let email = match parse_email(&email) {
        Ok(e) => e,
        Err(m) => return api_error(StatusCode::BAD_REQUEST, m),
    };
    let result = state
        .store
        .set_status(
            &email,
            SubscriberStatus::Unsubscribed,
            Source::Api,
            "removed through the API",
        )
        .await;
    match result {
        Ok(Some(s)) => Json(json!({"status": s.status})).into_response(),
        Ok(None) => api_error(StatusCode::NOT_FOUND, "no such subscriber"),
        Err(e) => store_error(e),
    }
}

async fn api_stats(State(state): State<Arc<AppState>>) -> Response {
    match state.store.stats().await {
        Ok(stats) => {
            let map: serde_json::Map<String, serde_json::Value> = stats
                .iter()
                .map(|(s, n)| (s.as_str().to_string(), json!(n)))
                .collect();
            Json(serde_json::Value::Object(map)).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// Prometheus text exposition.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::from(
        "# HELP newsletter_subscribers Subscribers by status.\n# TYPE newsletter_subscribers gauge\n",
    );
    match state.store.stats().await {
        Ok(stats) => {
            for (status, n) in stats {
                out.push_str(&format!(
                    "newsletter_subscribers{{status=\"{status}\"}} {n}\n"
                ));
            }
        }
        Err(e) => return store_error(e),
    }
    let m = &state.metrics;
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
            "Admin API requests refused for a missing or wrong token.",
            &m.api_denied,
        ),
    ] {
        let value = v.load(Ordering::Relaxed);
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

fn page(state: &AppState, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · " (state.site_name) }
                style { (maud::PreEscaped(PAGE_CSS)) }
            }
            body {
                main {
                    p class="site" { a href=(state.site_url) { (state.site_name) } }
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

// High contrast (WCAG AA) in both schemes, readable without any script.
const PAGE_CSS: &str = "body{margin:0;font:18px/1.5 system-ui,sans-serif;background:#fff;color:#1d1f21}\
main{max-width:34rem;margin:3rem auto;padding:0 1rem}.site a{color:#1d1f21;font-weight:bold}\
a{color:#8a3210}button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:4px;background:#8a3210;color:#fff;cursor:pointer}\
button:focus{outline:3px solid #1d1f21;outline-offset:2px}\
@media (prefers-color-scheme:dark){body{background:#111213;color:#eee}.site a{color:#eee}a{color:#ffb38a}}";

async fn lookup(state: &AppState, token: &str) -> Result<Option<Subscriber>, Response> {
    let Ok(token) = UnsubscribeToken::parse(token) else {
        return Ok(None);
    };
    match state.store.find_by_token(&token).await {
        Ok(found) => Ok(found),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe lookup failed");
            Err(unavailable(state))
        }
    }
}

fn not_found_page(state: &AppState) -> Response {
    let body = html! {
        p { "This link is not valid. It may be mistyped, or it may be from an older e-mail." }
        p { "If you want to stop receiving " (state.site_name) ", use the link in the newest issue you received." }
    };
    (StatusCode::NOT_FOUND, page(state, "Link not found", body)).into_response()
}

fn unavailable(state: &AppState) -> Response {
    let body =
        html! { p { "Something went wrong on our side. Please try again in a few minutes." } };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page(state, "Please try again", body),
    )
        .into_response()
}

async fn not_found(State(state): State<Arc<AppState>>) -> Response {
    not_found_page(&state)
}

/// GET: a confirmation page with a button. Changes nothing.
async fn unsubscribe_page(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> Response {
    match lookup(&state, &token).await {
        Err(r) => r,
        Ok(None) => not_found_page(&state),
        Ok(Some(s)) if s.status == SubscriberStatus::Unsubscribed => {
            let body = html! { p { "You are already unsubscribed. You will not receive " (state.site_name) " any more." } };
            page(&state, "You are unsubscribed", body).into_response()
        }
        Ok(Some(_)) => {
            let body = html! {
                p { "Do you want to stop receiving " (state.site_name) " by e-mail?" }
                form method="post" {
                    input type="hidden" name="List-Unsubscribe" value="One-Click";
                    button type="submit" { "Unsubscribe" }
                }
            };
            page(&state, "Unsubscribe", body).into_response()
        }
    }
}

/// POST: unsubscribes. The RFC 8058 one-click target: any body encoding, no cookies, 200, idempotent.
async fn unsubscribe(State(state): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    let subscriber = match lookup(&state, &token).await {
        Err(r) => return r,
        Ok(None) => return not_found_page(&state),
        Ok(Some(found)) => found,
    };
    // Bounced and complained addresses stay as they are: they are suppressed already.
    if matches!(
        subscriber.status,
        SubscriberStatus::Active | SubscriberStatus::Pending
    ) {
        let result = state
            .store
            .change_status(
                &subscriber,
                SubscriberStatus::Unsubscribed,
                Source::Web,
                "unsubscribe link",
            )
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "unsubscribe failed");
            return unavailable(&state);
        }
        state.metrics.unsubscribes.fetch_add(1, Ordering::Relaxed);
    }
    let body = html! {
        p { "You will not receive " (state.site_name) " by e-mail any more." }
        p { "Changed your mind? You can subscribe again on " a href=(state.site_url) { "the website" } "." }
    };
    page(&state, "You are unsubscribed", body).into_response()
}

async fn subscribe_page(State(state): State<Arc<AppState>>) -> Response {
    let body = html! {
        p { "Get " (state.site_name) " in your inbox. We will send you a link to confirm." }
        form method="post" action="/subscribe" {
            p { label for="email" { "E-mail address" } br; input id="email" name="email" type="email" required autocomplete="email"; }
            p { label for="name" { "Name (optional)" } br; input id="name" name="name" type="text" autocomplete="name"; }
            button type="submit" { "Subscribe" }
        }
    };
    page(&state, "Subscribe", body).into_response()
}

#[derive(serde::Deserialize)]
struct SubscribeForm {
    email: String,
    name: Option<String>,
}

/// POST /subscribe. The answer is the same whether or not the address is on the list.
async fn subscribe(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<SubscribeForm>,
) -> Response {
    if !state.signup.per_ip.allow(&peer.ip().to_string()) {
        let body =
            html! { p { "Too many sign-up attempts from your network. Please try again later." } };
        return (
            StatusCode::TOO_MANY_REQUESTS,
            page(&state, "Please wait", body),
        )
            .into_response();
    }
    let Ok(email) = EmailAddress::parse(&form.email) else {
        let body = html! {
            p { "That does not look like an e-mail address. Please check it and try again." }
            p { a href="/subscribe" { "Back to the form" } }
        };
        return (
            StatusCode::BAD_REQUEST,
            page(&state, "Check the address", body),
        )
            .into_response();
    };
    let Ok(name) = form.name.as_deref().map(SubscriberName::parse).transpose() else {
        let body = html! {
            p { "That name is too long. Please shorten it and try again." }
            p { a href="/subscribe" { "Back to the form" } }
        };
        return (
            StatusCode::BAD_REQUEST,
            page(&state, "Check the name", body),
        )
            .into_response();
    };
    match state
        .store
        .request_subscription(&email, name.flatten().as_ref())
        .await
    {
        // Mail goes out only within the per-address limit, so the form cannot mail-bomb anyone.
        Ok(crate::store::SubscribeOutcome::Confirm(token))
            if state.signup.per_address.allow(email.as_str()) =>
        {
            let link = format!("{}{}", state.signup.confirm_url, token.expose());
            let text = format!(
                "Someone, hopefully you, asked to receive {name} at this address.\n\n\
                 To confirm, open this link and press the button:\n\n{link}\n\n\
                 If it was not you, ignore this e-mail: you will not be subscribed.\n",
                name = state.site_name
            );
            let subject = format!("Confirm your subscription to {}", state.site_name);
            let message = crate::mail::simple_message(
                &state.signup.mail,
                &email,
                &subject,
                &text,
                crate::domain::unix_now(),
            );
            let file = format!(
                "confirm-{}",
                crate::domain::UnsubscribeToken::generate().expose()
            );
            let sender = format!("bounces@{}", state.signup.mail.bounce_domain);
            if let Err(e) = state
                .signup
                .transport
                .deliver(&sender, &email, &file, &message)
                .await
            {
                tracing::error!(error = %e, "confirmation mail not sent");
                return unavailable(&state);
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "sign-up failed");
            return unavailable(&state);
        }
    }
    let body = html! {
        p { "Thank you. If this address can receive " (state.site_name) ", a confirmation link is on its way." }
        p { "Open it to start receiving the newsletter." }
    };
    page(&state, "Check your inbox", body).into_response()
}

async fn confirm_page(State(state): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    let Ok(token) = UnsubscribeToken::parse(&token) else {
        return not_found_page(&state);
    };
    match state.store.find_by_confirm_token(&token).await {
        Ok(Some(_)) => {
            let body = html! {
                p { "Press the button to start receiving " (state.site_name) "." }
                form method="post" { button type="submit" { "Confirm my subscription" } }
            };
            page(&state, "Confirm your subscription", body).into_response()
        }
        Ok(None) => not_found_page(&state),
        Err(e) => {
            tracing::error!(error = %e, "confirm lookup failed");
            unavailable(&state)
        }
    }
}

async fn confirm(State(state): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    let Ok(token) = UnsubscribeToken::parse(&token) else {
        return not_found_page(&state);
    };
    match state.store.confirm(&token).await {
        Ok(Some(_)) => {
            let body =
                html! { p { "You will receive " (state.site_name) " from the next issue on." } };
            page(&state, "You are subscribed", body).into_response()
        }
        Ok(None) => not_found_page(&state),
        Err(e) => {
            tracing::error!(error = %e, "confirm failed");
            unavailable(&state)
        }
    }
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    match state.store.stats().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// Serves until Ctrl-C. Prints `listening on http://ADDR` once the socket is bound.
pub async fn serve(state: AppState, bind: &str) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    use std::io::Write;
    std::io::stdout().flush()?;
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
