//! The console's dashboard, `/admin/`, open to every account: subscribers by status, the latest
//! issues with their outcome, and the bounces and complaints of the last 30 days, counted (no
//! address is shown).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::auth::Signed;
use super::campaigns::campaign_table;
use super::page;
use super::words::{stored_bounce_class, subscriber_status};
use crate::web::AppState;
use crate::web::pages::{scroll, thousands};

/// `GET /admin/`: subscribers by status, the last campaigns with their outcome, bounces and
/// complaints of the last 30 days.
pub async fn show(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let store = &state.store;
    let since = crate::domain::unix_now() - 30 * 86_400;
    let data = async {
        let stats = store.stats().await?;
        let campaigns = crate::send::campaign::overview(store).await?;
        let bounces = store.bounce_counts_since(since).await?;
        Ok::<_, crate::store::StoreError>((stats, campaigns, bounces))
    }
    .await;
    let (stats, campaigns, bounces) = match data {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "dashboard: database error");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response();
        }
    };
    let body = html! {
        h2 { "Subscribers" }
        (scroll("Subscribers by status", html! { table {
            thead { tr { th scope="col" { "Status" } th scope="col" class="n" { "Count" } } }
            tbody { @for (s, n) in &stats { tr { td { (subscriber_status(*s)) } td class="n" { (thousands(*n)) } } } }
        } }))
        h2 { "Issues" }
        @if campaigns.is_empty() { p { "No issue has been sent or scheduled yet." } } @else {
            (campaign_table(&state, campaigns.iter().take(10)))
            p { a href="/admin/campaigns" { "Every issue" } }
        }
        h2 { "Bounces and complaints, last 30 days" }
        @if bounces.is_empty() { p { "None." } } @else {
            ul { @for (kind, n) in &bounces { li { (stored_bounce_class(kind).unwrap_or(kind.as_str())) ": " (thousands(*n)) } } }
        }
    };
    page(&state, Some(&signed), "Dashboard", body).into_response()
}
