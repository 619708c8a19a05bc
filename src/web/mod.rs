//! The web, one file per family: unsubscribe pages and the RFC 8058 one-click endpoint
//! ([`unsubscribe`]), double opt-in ([`subscribe`]), the admin JSON API ([`api`]), the
//! administrators' console ([`console`], one file per resource), health, and Prometheus metrics
//! ([`metrics`]); the shared page shell ([`pages`]), the limits per client and per address
//! ([`rate_limit`]) and the listening loop with its time and connection limits (`server`).
//!
//! GET never changes state (mail scanners follow links). Every response carries a strict
//! Content-Security-Policy, `frame-ancestors 'none'`, `X-Frame-Options: DENY`,
//! `Referrer-Policy: no-referrer` and `X-Content-Type-Options: nosniff`.

pub mod api;
pub mod console;
pub mod metrics;
pub mod pages;
pub mod rate_limit;
mod server;
pub mod subscribe;
pub mod unsubscribe;
pub mod webhooks;

use std::sync::Arc;

use tokio::net::TcpListener;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

use crate::store::Store;

/// The last few things of a kind this server made (the console's imports, its previews), newest
/// last, found by id, bounded by number and by their total size. They live in memory: another
/// `serve` process does not see them.
pub struct Recent<T> {
    kept: usize,
    budget: usize,
    items: std::sync::Mutex<std::collections::VecDeque<(String, Arc<T>, usize)>>,
}

impl<T> Recent<T> {
    pub fn new(kept: usize) -> Self {
        Self::with_budget(kept, usize::MAX)
    }

    /// At most `kept` items, and at most `budget` bytes of them (the newest is kept regardless).
    pub fn with_budget(kept: usize, budget: usize) -> Self {
        Self {
            kept,
            budget,
            items: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    pub fn add(&self, id: &str, item: Arc<T>) {
        self.add_sized(id, item, 0);
    }

    /// Adds an item that weighs about `bytes`, dropping the oldest while over either bound.
    pub fn add_sized(&self, id: &str, item: Arc<T>, bytes: usize) {
        let mut all = self.items.lock().unwrap_or_else(|e| e.into_inner());
        all.push_back((id.to_string(), item, bytes));
        let mut total: usize = all.iter().map(|i| i.2).sum();
        while all.len() > 1 && (all.len() > self.kept || total > self.budget) {
            if let Some(dropped) = all.pop_front() {
                total -= dropped.2;
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<T>> {
        let all = self.items.lock().unwrap_or_else(|e| e.into_inner());
        all.iter()
            .find(|(k, _, _)| k == id)
            .map(|(_, v, _)| v.clone())
    }

    /// Newest first.
    pub fn newest_first(&self) -> Vec<Arc<T>> {
        let all = self.items.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().rev().map(|(_, v, _)| v.clone()).collect()
    }
}

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
    pub metrics: metrics::Metrics,
    /// Subscriber counts for `/metrics`, refreshed at most every 30 s.
    pub stats: metrics::StatsCache,
    /// Double opt-in: where mail goes, how it is addressed, and the limits.
    pub signup: subscribe::Signup,
    /// Whose forwarding headers name the client.
    pub proxies: rate_limit::TrustedProxies,
    /// One-click unsubscribes waiting for their group commit.
    pub unsubscribes: unsubscribe::Batcher,
    /// A separate, unauthenticated listen address for `/metrics`, if configured.
    pub metrics_bind: Option<String>,
    /// The administrators' console: session settings, sign-in limits, and what it keeps in memory.
    pub console: console::Console,
    /// The configuration `serve` started with (the console's quarantine, imports and previews).
    pub config: Arc<crate::config::Config>,
    /// The console's imports, running or finished (the latest few).
    pub imports: Recent<console::import::Job>,
    /// The console's rendered previews (the latest few).
    pub previews: Recent<console::preview::Preview>,
    pub webhooks: webhooks::Webhooks,
    limits: server::Limits,
    csp: HeaderValue,
}

impl AppState {
    /// The state for `store` and `config`, with the admin API enabled when `api_token` is given.
    pub fn new(
        store: Store,
        config: &crate::config::Config,
        transport: crate::transport::Transport,
        api_token: Option<&str>,
    ) -> Result<Self, crate::config::ConfigError> {
        let proxies =
            rate_limit::TrustedProxies::parse(&config.web.trusted_proxies).map_err(|message| {
                crate::config::ConfigError::Invalid {
                    layer: "[web] trusted_proxies".into(),
                    message,
                }
            })?;
        Ok(Self {
            store,
            site_name: config.site.name.clone(),
            site_url: config.site.url.clone(),
            api_token_hash: api_token
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
            metrics: metrics::Metrics::default(),
            stats: metrics::StatsCache::default(),
            signup: subscribe::Signup::new(config, transport),
            proxies,
            unsubscribes: unsubscribe::Batcher::default(),
            metrics_bind: Some(config.web.metrics_bind.trim().to_string())
                .filter(|b| !b.is_empty()),
            console: console::Console::new(config),
            config: Arc::new(config.clone()),
            imports: Recent::new(20),
            previews: Recent::with_budget(20, console::preview::KEPT_BYTES),
            webhooks: webhooks::Webhooks::new(config),
            limits: server::Limits::from_config(&config.web),
            csp: HeaderValue::from_str(&pages::content_security_policy())
                .expect("the policy is ASCII"),
        })
    }
}

/// The routes of the main listen address. `/metrics` is here, behind the admin token, unless it has
/// a listen address of its own.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/subscribers", get(api::list).post(api::add))
        .route("/subscribers/{email}", get(api::show).delete(api::remove))
        .route("/stats", get(api::stats))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            api::require_token,
        ));
    let mut app = Router::new()
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe::page_get).post(unsubscribe::post),
        )
        .route("/subscribe", get(subscribe::form).post(subscribe::post))
        .route(
            "/confirm/{token}",
            get(subscribe::confirm_page).post(subscribe::confirm),
        )
        .route("/health", get(health))
        .merge(
            Router::new()
                .route(
                    "/webhooks/ses",
                    post(webhooks::ses)
                        .get(|s| webhooks::probe(s, crate::bounce::webhook::Provider::Ses)),
                )
                .route(
                    "/webhooks/postmark",
                    post(webhooks::postmark)
                        .get(|s| webhooks::probe(s, crate::bounce::webhook::Provider::Postmark)),
                )
                .route(
                    "/webhooks/mailgun",
                    post(webhooks::mailgun)
                        .get(|s| webhooks::probe(s, crate::bounce::webhook::Provider::Mailgun)),
                )
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::bounce::webhook::BODY_LIMIT,
                )),
        )
        .nest("/api", api)
        .merge(console::router(&state));
    if state.metrics_bind.is_none() {
        app = app.route(
            "/metrics",
            get(metrics_page).route_layer(middleware::from_fn_with_state(
                state.clone(),
                api::require_token,
            )),
        );
    }
    finish(app, state)
}

/// The routes of the separate metrics address: `/metrics` only, no token.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    finish(Router::new().route("/metrics", get(metrics_page)), state)
}

fn finish(app: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    app.fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn fallback(State(state): State<Arc<AppState>>) -> Response {
    pages::not_found(&state)
}

/// Every response: the request time limit and the security headers.
async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let mut response =
        match tokio::time::timeout(state.limits.request_timeout, next.run(request)).await {
            Ok(r) => r,
            Err(_) => (StatusCode::REQUEST_TIMEOUT, "request timed out\n").into_response(),
        };
    let h = response.headers_mut();
    // A page with a policy of its own (the console's preview, which frames the e-mail) keeps it.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert_with(|| state.csp.clone());
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// 200 when the database answers one round trip; no table is read, so probes cost nothing.
async fn health(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn metrics_page(State(state): State<Arc<AppState>>) -> Response {
    match state.stats.get(&state.store).await {
        Ok(stats) => metrics::render(&stats, &state.metrics),
        Err(e) => {
            tracing::error!(error = %e, "metrics: database error");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// Serves until Ctrl-C. Prints `listening on http://ADDR` once the socket is bound (and
/// `metrics on http://ADDR` for a separate metrics address).
pub async fn serve(state: AppState, bind: &str) -> std::io::Result<()> {
    let wanted = state.limits.max_connections as u64 + server::RESERVED_FILES;
    let limits = state
        .limits
        .fit_file_limit(server::raise_file_limit(wanted));
    let state = Arc::new(state);
    subscribe::start(&state);
    unsubscribe::start(&state);
    // Every socket is bound before the first line is printed, so whoever reads `listening on`
    // can use the metrics address too.
    let listener = TcpListener::bind(bind).await?;
    let metrics = match &state.metrics_bind {
        Some(b) => Some(TcpListener::bind(b).await?),
        None => None,
    };
    server::announce("listening", &listener);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    if let Some(listener) = metrics {
        server::announce("metrics", &listener);
        tasks.push(tokio::spawn(server::run(
            listener,
            metrics_router(state.clone()),
            limits,
            stop_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(server::run(
        listener,
        router(state.clone()),
        limits,
        stop_rx,
    )));
    let _ = tokio::signal::ctrl_c().await;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}
