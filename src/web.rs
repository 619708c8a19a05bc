//! The subscriber-facing web: unsubscribe pages and the RFC 8058 one-click endpoint, plus health.
//!
//! GET never changes state (mail scanners follow links). POST `/unsubscribe/{token}` is both the
//! page's button and the one-click target: it needs no cookies, answers 200 (never a redirect), and is
//! idempotent. An unknown or malformed token gets the same generic 404 page, so a probe learns
//! nothing about who is subscribed.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};

use crate::domain::{SubscriberStatus, UnsubscribeToken};
use crate::store::{Source, Store, Subscriber};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The newsletter's name, shown on every page.
    pub site_name: String,
    /// The site the newsletter belongs to.
    pub site_url: String,
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/health", get(health))
        .fallback(not_found)
        .with_state(Arc::new(state))
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
    ) && let Err(e) = state
        .store
        .change_status(
            &subscriber,
            SubscriberStatus::Unsubscribed,
            Source::Web,
            "unsubscribe link",
        )
        .await
    {
        tracing::error!(error = %e, "unsubscribe failed");
        return unavailable(&state);
    }
    let body = html! {
        p { "You will not receive " (state.site_name) " by e-mail any more." }
        p { "Changed your mind? You can subscribe again on " a href=(state.site_url) { "the website" } "." }
    };
    page(&state, "You are unsubscribed", body).into_response()
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
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
