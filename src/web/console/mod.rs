//! The administrators' console under `/admin/`: server-rendered pages, usable without JavaScript.
//!
//! One route table ([`table`]) declares every page and form of the console with who may open it
//! ([`Access`]) and, for the pages of the menu, their label. The router, the admission of each
//! request and the menu are made from it, so a link shows to exactly the accounts its route admits
//! and no handler checks a role by hand. A line cannot be written without its access.
//!
//! Admission, in this order: a session ([`auth::require_session`]: without one a GET goes to the
//! sign-in form, anything else gets 401); then the route's access, before its handler runs. An
//! account the route does not admit is refused: a page at once, a form once its CSRF token is
//! checked (so a forged form is answered as forged whatever the account). Editors may use the
//! console but not subscriber data, the audit log or the campaigns' controls; admins may do
//! everything. Every refusal but the audit log's is audited.
//!
//! One file per resource: [`dashboard`], [`campaigns`] (with their control), [`subscribers`],
//! [`import`] (and export), [`bounces`] (the bounce log and the quarantine), [`preview`],
//! [`audit`]; sessions, CSRF and sign-in in [`auth`]; the words every page uses in [`words`] and
//! the messages actions leave in [`flash`].

pub mod audit;
pub mod auth;
pub mod bounces;
pub mod campaigns;
pub mod dashboard;
pub mod flash;
pub mod import;
pub mod preview;
pub mod subscribers;
pub mod words;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, RawPathParams, Request, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use maud::{Markup, html};

use auth::Signed;

use crate::domain::AdminRole;
use crate::web::AppState;
use crate::web::rate_limit::RateLimiter;

/// The console's settings and what it keeps in memory.
pub struct Console {
    sessions: auth::Sessions,
    /// Test copies per account: an editor may send them, but the console is not a way to mail
    /// anyone anything at volume.
    test_copies: RateLimiter,
    /// Unsubscribes made in the console that their session may still undo.
    undos: subscribers::Undos,
}

impl Console {
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            sessions: auth::Sessions::new(config),
            test_copies: RateLimiter::new(preview::TEST_COPIES_PER_HOUR, Duration::from_secs(3600)),
            undos: subscribers::Undos::default(),
        }
    }
}

// --- Who may open a route -----------------------------------------------------------------------

/// Who may open a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not: the sign-in form.
    Public,
    /// Every signed-in account, editors and admins.
    Accounts,
    /// Admins only; any other account gets the refusal.
    Admins(Refusal),
}

impl Access {
    /// Whether a signed-in account of `role` may open a route of this access.
    pub fn admits(self, role: AdminRole) -> bool {
        match self {
            Access::Public | Access::Accounts => true,
            Access::Admins(_) => role == AdminRole::Admin,
        }
    }
}

/// How an account is refused a route for admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Subscriber data, and what names subscribers (bounces, the quarantine, imports, exports):
    /// 403 "Not allowed", audited as `refused: WHAT (ROLE)`.
    Data(What),
    /// A campaign's controls: 403 "Not allowed", audited as `refused: campaign control (ROLE)`.
    Control,
    /// The audit log: a plain 403, not audited.
    AuditLog,
}

/// What a refusal's audit entry names: a fixed word, or the value of a part of the path (the
/// action asked for: `Part("action")` for `…/{action}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Is(&'static str),
    Part(&'static str),
}

/// The campaigns' controls (their confirmation pages and their forms): the campaign page shows its
/// buttons to whom this admits.
pub const CAMPAIGN_CONTROL: Access = Access::Admins(Refusal::Control);

/// Subscriber data, named `what` in the audit log when refused.
const fn data(what: &'static str) -> Access {
    Access::Admins(Refusal::Data(What::Is(what)))
}

/// Subscriber data, named by the path's `{action}` in the audit log when refused.
const DATA_ACTION: Access = Access::Admins(Refusal::Data(What::Part("action")));

// --- The route table ----------------------------------------------------------------------------

/// One line of the table: a method and a path, who may open it, its handler, and the menu's label
/// for a page in the menu.
pub struct Route {
    method: Method,
    path: &'static str,
    access: Access,
    menu: Option<&'static str>,
    /// An upload's body: multipart, up to `[admin] max_upload_bytes`, with what to do when it is
    /// larger.
    upload: Option<&'static str>,
    handler: MethodRouter<Arc<AppState>>,
}

impl Route {
    fn get<H, T>(path: &'static str, access: Access, handler: H) -> Route
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        Route::new(Method::GET, path, access, get(handler))
    }

    fn post<H, T>(path: &'static str, access: Access, handler: H) -> Route
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        Route::new(Method::POST, path, access, post(handler))
    }

    fn new(
        method: Method,
        path: &'static str,
        access: Access,
        handler: MethodRouter<Arc<AppState>>,
    ) -> Route {
        Route {
            method,
            path,
            access,
            menu: None,
            upload: None,
            handler,
        }
    }

    /// In the menu, as `label`.
    fn menu(self, label: &'static str) -> Route {
        Route {
            menu: Some(label),
            ..self
        }
    }

    /// A multipart upload; `too_large` says what to do with one over the limit.
    fn upload(self, too_large: &'static str) -> Route {
        Route {
            upload: Some(too_large),
            ..self
        }
    }
}

/// Every route of the console. The menu is its pages with a label, in this order.
#[rustfmt::skip] // A table: one line per route reads best.
pub fn table() -> Vec<Route> {
    use Access::{Accounts, Public};
    const SUBSCRIBERS: Access = data("subscribers");
    const IMPORT: Access = data("import");
    const QUARANTINE: Access = data("the quarantine");
    const AUDIT_LOG: Access = Access::Admins(Refusal::AuditLog);
    vec![
        // The menu.
        Route::get("/admin/", Accounts, dashboard::show).menu("Dashboard"),
        Route::get("/admin/campaigns", Accounts, campaigns::list).menu("Issues"),
        Route::get("/admin/preview", Accounts, preview::form).menu("Preview"),
        Route::get("/admin/subscribers", SUBSCRIBERS, subscribers::list).menu("Subscribers"),
        Route::get("/admin/import", IMPORT, import::form).menu("Import"),
        Route::get("/admin/bounces", data("bounces"), bounces::log).menu("Bounces"),
        Route::get("/admin/quarantine", QUARANTINE, bounces::quarantine).menu("Quarantine"),
        Route::get("/admin/audit", AUDIT_LOG, audit::log).menu("Audit log"),
        // Signing in and out.
        Route::get("/admin", Public, to_dashboard),
        Route::get("/admin/login", Public, auth::login_form),
        Route::post("/admin/login", Public, auth::login),
        Route::post("/admin/logout", Accounts, auth::logout),
        // Campaigns and their control.
        Route::get("/admin/campaigns/{issue}", Accounts, campaigns::show),
        Route::get("/admin/campaigns/{issue}/{action}", CAMPAIGN_CONTROL, campaigns::confirm),
        Route::post("/admin/campaigns/{issue}/{action}", CAMPAIGN_CONTROL, campaigns::act),
        // Previews.
        Route::post("/admin/preview", Accounts, preview::create).upload(preview::TOO_LARGE),
        Route::get("/admin/preview/{id}", Accounts, preview::show),
        Route::get("/admin/preview/{id}/html", Accounts, preview::html),
        Route::post("/admin/preview/{id}/test", Accounts, preview::test_copy),
        // Subscribers, their import and export.
        Route::get("/admin/subscribers/{id}", data("a subscriber"), subscribers::show),
        Route::get("/admin/subscribers/{id}/forget", data("forget"), subscribers::forget_form),
        Route::post("/admin/subscribers/{id}/forget", data("forget"), subscribers::forget),
        Route::post("/admin/subscribers/{id}/{action}", DATA_ACTION, subscribers::act),
        Route::post("/admin/import", IMPORT, import::start).upload(import::TOO_LARGE),
        Route::get("/admin/import/{job}", IMPORT, import::job),
        Route::get("/admin/export.csv", data("export"), import::export),
        // The quarantine.
        Route::get("/admin/quarantine/{name}", QUARANTINE, bounces::show),
        Route::get("/admin/quarantine/{name}/{action}", QUARANTINE, bounces::confirm),
        Route::post("/admin/quarantine/{name}/{action}", DATA_ACTION, bounces::act),
    ]
}

/// `GET /admin`: the console is at `/admin/`.
async fn to_dashboard() -> Redirect {
    Redirect::permanent("/admin/")
}

/// The console's routes, from [`table`]: each behind its access, all but the public ones behind a
/// session.
pub fn router(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    let upload_limit = usize::try_from(state.config.admin.max_upload_bytes).unwrap_or(usize::MAX);
    let (mut public, mut signed) = (Router::new(), Router::new());
    for route in table() {
        let mut handler = route.handler;
        if let Access::Admins(refusal) = route.access {
            let gate = Gate {
                state: state.clone(),
                refusal,
                upload: route.upload,
            };
            handler = handler.route_layer(middleware::from_fn_with_state(gate, admit));
        }
        if route.upload.is_some() {
            handler = handler.layer(DefaultBodyLimit::max(upload_limit));
        }
        if route.access == Access::Public {
            public = public.route(route.path, handler);
        } else {
            signed = signed.route(route.path, handler);
        }
    }
    public.merge(signed.route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_session,
    )))
}

/// What a route for admins needs to refuse anyone else.
#[derive(Clone)]
struct Gate {
    state: Arc<AppState>,
    refusal: Refusal,
    upload: Option<&'static str>,
}

/// Lets an admin through; refuses any other account before the handler runs (a form once its
/// CSRF token is checked, as its handler would check it first).
async fn admit(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let Some(signed) = request.extensions().get::<Signed>().cloned() else {
        return (StatusCode::UNAUTHORIZED, "sign in first\n").into_response();
    };
    if Access::Admins(gate.refusal).admits(signed.role()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let what = match gate.refusal {
        Refusal::Data(What::Is(w)) => w.to_string(),
        Refusal::Data(What::Part(name)) => RawPathParams::from_request_parts(&mut parts, &())
            .await
            .ok()
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
            .unwrap_or_default(),
        Refusal::Control => "campaign control".to_string(),
        Refusal::AuditLog => {
            return (StatusCode::FORBIDDEN, "editors cannot see the audit log\n").into_response();
        }
    };
    if !parts.method.is_safe() {
        let request = Request::from_parts(parts, body);
        let token = match auth::posted_token(request, gate.upload).await {
            Ok(t) => t,
            Err(refused) => return refused,
        };
        if let Err(refused) = auth::check_csrf(&gate.state, &signed, &token).await {
            return refused;
        }
    }
    let state = &gate.state;
    signed
        .audit(state, &format!("refused: {what} ({})", signed.role()), None)
        .await;
    let says = match gate.refusal {
        Refusal::Control => "Only administrators can pause, resume, cancel or schedule an issue.",
        _ => "Editors cannot see or change subscriber data.",
    };
    let body = html! { p { (says) } };
    (
        StatusCode::FORBIDDEN,
        page(state, Some(&signed), "Not allowed", body),
    )
        .into_response()
}

// --- The layout ---------------------------------------------------------------------------------

/// The menu an account of `role` sees: the table's pages with a label whose route admits it, in
/// the table's order, as (address, label).
pub fn menu(role: AdminRole) -> impl Iterator<Item = (&'static str, &'static str)> {
    static MENU: LazyLock<Vec<(&'static str, &'static str, Access)>> = LazyLock::new(|| {
        table()
            .into_iter()
            .filter(|r| r.method == Method::GET)
            .filter_map(|r| Some((r.path, r.menu?, r.access)))
            .collect()
    });
    MENU.iter()
        .filter(move |(_, _, access)| access.admits(role))
        .map(|(path, label, _)| (*path, *label))
}

/// A console page: for a signed-in account the menu and the sign-out button, then `body`.
pub fn page(state: &AppState, signed: Option<&Signed>, title: &str, body: Markup) -> Markup {
    let nav = html! {
        @if let Some(s) = signed {
            nav class="console" aria-label="Console" {
                @for (path, label) in menu(s.role()) { a href=(path) { (label) } }
                form method="post" action="/admin/logout" {
                    input type="hidden" name="csrf" value=(s.session.csrf);
                    button type="submit" title={ "Signed in as " (s.email()) } { "Sign out" }
                }
            }
        }
        (body)
    };
    crate::web::pages::shell(state, title, nav, true)
}

/// The answer when the database fails.
pub fn unavailable(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "console: database error");
    (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
}

/// The answer to an upload that could not be read; `too_large` says what to do when it was over
/// `[admin] max_upload_bytes`.
pub fn upload_error(e: &axum::extract::multipart::MultipartError, too_large: &str) -> Response {
    let status = e.status();
    let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("the file is over [admin] max_upload_bytes; {too_large}\n")
    } else {
        format!("the upload could not be read: {}\n", e.body_text())
    };
    (status, why).into_response()
}

#[cfg(test)]
mod tests;
