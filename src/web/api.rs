//! The admin JSON API under `/api/`: `Authorization: Bearer $NEWSLETTER_API_TOKEN` (from the
//! environment only), compared in constant time; without a token set, every request is refused.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::AppState;
use crate::domain::{EmailAddress, SubscriberName, SubscriberStatus};
use crate::store::{AddOutcome, Source};

/// Compares digests of equal length without an early exit, so timing reveals nothing of the token.
pub(super) fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn require_token(
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
pub struct ListQuery {
    status: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

pub async fn list(State(state): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
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

pub async fn show(State(state): State<Arc<AppState>>, Path(email): Path<String>) -> Response {
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
pub struct AddBody {
    email: String,
    name: Option<String>,
    status: Option<SubscriberStatus>,
}

pub async fn add(State(state): State<Arc<AppState>>, Json(body): Json<AddBody>) -> Response {
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

pub async fn remove(State(state): State<Arc<AppState>>, Path(email): Path<String>) -> Response {
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

pub async fn stats(State(state): State<Arc<AppState>>) -> Response {
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
