//! The console's audit log, `/admin/audit` (admins only: see the route table): the latest 200
//! sign-ins and actions, newest first, with who did them and from where.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::auth::Signed;
use super::page;
use super::words::when;
use crate::web::AppState;
use crate::web::pages::scroll;

/// `GET /admin/audit`.
pub async fn log(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let entries = state.store.audit_log(200).await.unwrap_or_default();
    let body = html! {
        p { "The latest 200 sign-ins and actions in the console, newest first." }
        (scroll("Audit log", html! { table class="cards" {
            thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "From" } } }
            tbody {
                @for e in &entries {
                    tr {
                        td data-label="When" { (when(&state, e.at)) }
                        td data-label="Who" { (e.admin_email.as_deref().unwrap_or("-")) }
                        td data-label="What" { (e.action) @if let Some(d) = &e.detail { ": " (d) } }
                        td data-label="From" { (e.ip.as_deref().unwrap_or("-")) }
                    }
                }
            }
        } }))
    };
    page(&state, Some(&signed), "Audit log", body).into_response()
}
