//! Unsubscribe: `GET /unsubscribe/{token}` shows a button and changes nothing (mail scanners follow
//! links); `POST` is both that button and the RFC 8058 one-click target: any body encoding, no
//! cookie, 200 (never a redirect), idempotent. Every miss, whatever the token looks like or whether
//! its percent-encoding even decodes, gets the same 404.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::AppState;
use super::pages::{not_found, page, unavailable};
use crate::domain::{SubscriberStatus, UnsubscribeToken};
use crate::store::{Source, Subscriber};

/// The subscriber a token in a path belongs to; `Ok(None)` for any miss.
async fn lookup(
    state: &AppState,
    token: Result<Path<String>, PathRejection>,
) -> Result<Option<Subscriber>, Response> {
    let Ok(Path(token)) = token else {
        return Ok(None);
    };
    let Ok(token) = UnsubscribeToken::parse(&token) else {
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

/// GET: a confirmation page with a button. Changes nothing.
pub async fn page_get(
    State(state): State<Arc<AppState>>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    match lookup(&state, token).await {
        Err(r) => r,
        Ok(None) => not_found(&state),
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

/// POST: unsubscribes. Concurrent POSTs on one link change the row once and log one event.
pub async fn post(
    State(state): State<Arc<AppState>>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let subscriber = match lookup(&state, token).await {
        Err(r) => return r,
        Ok(None) => return not_found(&state),
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
        match result {
            Ok(_) => {
                state.metrics.unsubscribes.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(error = %e, subscriber_id = subscriber.id, "unsubscribe failed");
                return unavailable(&state);
            }
        }
    }
    let body = html! {
        p { "You will not receive " (state.site_name) " by e-mail any more." }
        p { "Changed your mind? You can subscribe again on " a href=(state.site_url) { "the website" } "." }
    };
    page(&state, "You are unsubscribed", body).into_response()
}
