//! Unsubscribe: `GET /unsubscribe/{token}` shows a button and changes nothing (mail scanners follow
//! links); `POST` is both that button and the RFC 8058 one-click target: any body encoding, no
//! cookie, 200 (never a redirect), idempotent. Every miss, whatever the token looks like or whether
//! its percent-encoding even decodes, gets the same 404.
//!
//! Unsubscribes are committed in groups: the POSTs that arrive while the database writes one group
//! form the next, so a burst of 2,000 one-click POSTs costs a few commits, not 2,000.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::AppState;
use super::pages::{not_found, page, unavailable};
use crate::domain::{SubscriberStatus, UnsubscribeToken};
use crate::store::{Source, StatusChange, Subscriber};

/// Unsubscribes committed in one transaction at most.
const GROUP: usize = 256;

type Waiting = (Subscriber, oneshot::Sender<Result<Subscriber, ()>>);

/// Gathers unsubscribes for group commit.
pub struct Batcher {
    tx: mpsc::Sender<Waiting>,
    rx: std::sync::Mutex<Option<mpsc::Receiver<Waiting>>>,
}

impl Default for Batcher {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(4 * GROUP);
        Self {
            tx,
            rx: std::sync::Mutex::new(Some(rx)),
        }
    }
}

/// Starts the task that commits unsubscribes (once; later calls do nothing).
pub fn start(state: &Arc<AppState>) {
    let rx = state
        .unsubscribes
        .rx
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let Some(mut rx) = rx else { return };
    let state = state.clone();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut group = vec![first];
            while group.len() < GROUP {
                match rx.try_recv() {
                    Ok(w) => group.push(w),
                    Err(_) => break,
                }
            }
            let changes: Vec<StatusChange> = group
                .iter()
                .map(|(s, _)| StatusChange {
                    current: s.clone(),
                    status: SubscriberStatus::Unsubscribed,
                    source: Source::Web,
                    detail: "unsubscribe link".into(),
                })
                .collect();
            match state.store.change_status_many(&changes).await {
                Ok(done) => {
                    for ((_, reply), s) in group.into_iter().zip(done) {
                        let _ = reply.send(Ok(s));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, unsubscribes = group.len(), "unsubscribes failed");
                    for (_, reply) in group {
                        let _ = reply.send(Err(()));
                    }
                }
            }
        }
    });
}

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
        let (reply, answer) = oneshot::channel();
        if state
            .unsubscribes
            .tx
            .send((subscriber, reply))
            .await
            .is_err()
        {
            return unavailable(&state);
        }
        match answer.await {
            Ok(Ok(_)) => {
                state.metrics.unsubscribes.fetch_add(1, Ordering::Relaxed);
            }
            _ => return unavailable(&state),
        }
    }
    let body = html! {
        p { "You will not receive " (state.site_name) " by e-mail any more." }
        p { "Changed your mind? You can subscribe again on " a href=(state.site_url) { "the website" } "." }
    };
    page(&state, "You are unsubscribed", body).into_response()
}
