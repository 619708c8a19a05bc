//! Who is signed in to the console, and whether a form is theirs.
//!
//! - A session is a random 256-bit cookie (`HttpOnly`, `SameSite=Strict`, `Secure` unless the
//!   operator allowed plain loopback); the database keeps only its SHA-256. It ends after
//!   `session_idle_secs` without a request, after `session_max_secs` in any case, at sign-out,
//!   and when the account's password changes. [`require_session`] finds it for every route but the
//!   sign-in form and hands it to the handlers as [`Signed`].
//! - Every state-changing form carries the session's CSRF token (the sign-in form a token of its
//!   own, double-submitted in a cookie); [`Posted`] reads a form and refuses it with 403 when the
//!   token is not the session's. Refusals are audited once per session and window.
//! - Failed sign-ins are limited per account and per client IP, before the password is even
//!   hashed; an unknown account costs the time a known one does ([`crate::password::burn`]).
//! - Every sign-in, failed sign-in and sign-out goes to the audit log. No token, password or
//!   session id is ever logged.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Multipart, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use maud::{Markup, html};
use sha2::{Digest, Sha256};

use super::flash::flash_error;
use super::{Access, page, upload_error};
use crate::domain::AdminRole;
use crate::store::AdminSession;
use crate::web::AppState;
use crate::web::rate_limit::RateLimiter;

/// Session lifetimes, the cookies' flags, and the sign-in limits.
pub struct Sessions {
    idle_secs: i64,
    max_secs: i64,
    /// Whether cookies carry `Secure` (and the `__Host-` prefix).
    secure: bool,
    /// Attempts per account from one client IP: a stranger's guesses cannot lock the owner out.
    per_account: RateLimiter,
    /// Attempts per account from every IP together: a ceiling for guesses spread over many
    /// addresses, `login_per_account × login_per_ip`.
    per_account_all: RateLimiter,
    per_ip: RateLimiter,
    /// One audit entry per refusal kind, client and window, however many requests were refused.
    refusals_logged: RateLimiter,
}

impl Sessions {
    pub fn new(config: &crate::config::Config) -> Self {
        let a = &config.admin;
        let loopback = config
            .web
            .bind
            .parse::<SocketAddr>()
            .is_ok_and(|s| s.ip().is_loopback());
        let window = Duration::from_secs(a.login_window_secs.max(1));
        Self {
            idle_secs: a.session_idle_secs as i64,
            max_secs: a.session_max_secs as i64,
            secure: !(a.plain_loopback && loopback),
            per_account: RateLimiter::new(a.login_per_account.max(1), window),
            per_account_all: RateLimiter::new(
                a.login_per_account
                    .max(1)
                    .saturating_mul(a.login_per_ip.max(1)),
                window,
            ),
            per_ip: RateLimiter::new(a.login_per_ip.max(1), window),
            refusals_logged: RateLimiter::new(1, window),
        }
    }

    pub(super) fn session_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-nl_admin"
        } else {
            "nl_admin"
        }
    }

    fn login_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-nl_login"
        } else {
            "nl_login"
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let age = max_age.map_or(String::new(), |s| format!("; Max-Age={s}"));
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"
        ))
        .expect("cookie text is ASCII")
    }
}

/// 256 bits from the OS, URL-safe: a session, a CSRF token, an import's or a preview's id.
pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a session cookie.
pub(super) fn digest(token: &str) -> String {
    crate::domain::hex(&Sha256::digest(token.as_bytes()))
}

/// Compares two tokens in constant time (by their digests, so lengths may differ).
fn same(a: &str, b: &str) -> bool {
    crate::web::api::constant_time_eq(
        &Sha256::digest(a.as_bytes()).into(),
        &Sha256::digest(b.as_bytes()).into(),
    )
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

/// The signed-in account of a request (an extractor: only [`require_session`] provides it).
#[derive(Clone)]
pub struct Signed {
    pub session: Arc<AdminSession>,
    id_hash: String,
    /// The client's address (behind a trusted proxy, the one it names), for the audit log.
    ip: Arc<str>,
}

impl Signed {
    pub(super) fn email(&self) -> &str {
        &self.session.admin.email
    }

    pub(super) fn role(&self) -> AdminRole {
        self.session.admin.role
    }

    /// Whether this account may open a route declared with `access` (to show a link or a button
    /// only to whom it leads somewhere).
    pub(super) fn may(&self, access: Access) -> bool {
        access.admits(self.role())
    }

    /// The session's key in memory (the digest of its cookie, never the cookie itself).
    pub(super) fn session_key(&self) -> &str {
        &self.id_hash
    }

    /// Writes an audit entry for this account, with the client's address.
    pub(super) async fn audit(&self, state: &AppState, action: &str, detail: Option<&str>) {
        if let Err(e) = state
            .store
            .audit(Some(self.email()), action, detail, Some(&self.ip))
            .await
        {
            tracing::error!(error = %e, action, "audit entry not written");
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<Signed>()
            .cloned()
            .ok_or_else(sign_in_first)
    }
}

fn sign_in_first() -> Response {
    (StatusCode::UNAUTHORIZED, "sign in first\n").into_response()
}

/// Every `/admin/` route but the sign-in form: no session, no page (GET goes to the sign-in form,
/// anything else gets 401). Every answer behind it is `Cache-Control: no-store`.
pub async fn require_session(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let sessions = &state.console.sessions;
    let token = cookie_value(request.headers(), sessions.session_cookie());
    let ip: Arc<str> = match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => state
            .proxies
            .client_ip(*peer, request.headers())
            .to_string()
            .into(),
        None => Arc::from("unknown"),
    };
    let session = match token {
        Some(t) if t.len() == 43 => {
            let id_hash = digest(&t);
            match state
                .store
                .session(&id_hash, sessions.idle_secs, sessions.max_secs)
                .await
            {
                Ok(Some(s)) => Some(Signed {
                    session: Arc::new(s),
                    id_hash,
                    ip,
                }),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(error = %e, "admin session lookup failed");
                    return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
                        .into_response();
                }
            }
        }
        _ => None,
    };
    let Some(signed) = session else {
        if request.method() == axum::http::Method::GET {
            return no_store(Redirect::to("/admin/login").into_response());
        }
        return no_store(sign_in_first());
    };
    request.extensions_mut().insert(signed);
    no_store(next.run(request).await)
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

// --- CSRF ---------------------------------------------------------------------------------------

/// Whether `given` is the session's CSRF token; if not, the answer to send instead.
pub(super) async fn check_csrf(
    state: &AppState,
    signed: &Signed,
    given: &str,
) -> Result<(), Response> {
    if same(&signed.session.csrf, given) {
        return Ok(());
    }
    Err(csrf_refused(state, signed).await)
}

/// The answer to a form whose CSRF token is not this session's. Audited once per session and
/// window, so a page that forges requests cannot fill the log.
async fn csrf_refused(state: &AppState, signed: &Signed) -> Response {
    if state
        .console
        .sessions
        .refusals_logged
        .allow(&format!("csrf\n{}", signed.id_hash))
    {
        signed
            .audit(state, "refused: form not from this session (CSRF)", None)
            .await;
    }
    let body = html! {
        (flash_error(html! {
            "this form is not from your current sign-in (it may be from an older page, or from another site). "
            "Nothing was changed."
        }))
        p { "Go back, reload the page and try again." }
    };
    (
        StatusCode::FORBIDDEN,
        page(state, Some(signed), "Not done", body),
    )
        .into_response()
}

/// A form with the CSRF token of the page it came from.
pub trait CarriesCsrf {
    fn csrf(&self) -> &str;
}

/// A form with nothing but its CSRF token.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl CarriesCsrf for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// An extractor: a URL-encoded form `T` posted from a page of this session. A body that is not
/// such a form is rejected as [`Form`] rejects it; a form whose token is not the session's gets the
/// CSRF refusal. So a handler that takes one cannot act on a forged form.
pub struct Posted<T>(pub T);

impl<T> FromRequest<Arc<AppState>> for Posted<T>
where
    T: serde::de::DeserializeOwned + CarriesCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, Response> {
        let signed = request.extensions().get::<Signed>().cloned();
        let Form(form) = Form::<T>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let signed = signed.ok_or_else(sign_in_first)?;
        check_csrf(state, &signed, form.csrf()).await?;
        Ok(Posted(form))
    }
}

/// The CSRF token of a posted form, read as its handler reads it: a URL-encoded form, or with
/// `upload` (what to do when it is too large) a multipart one. A body its handler would refuse is
/// refused the same way.
pub(super) async fn posted_token(
    request: Request,
    upload: Option<&'static str>,
) -> Result<String, Response> {
    let Some(too_large) = upload else {
        return Form::<CsrfForm>::from_request(request, &())
            .await
            .map(|Form(f)| f.csrf)
            .map_err(IntoResponse::into_response);
    };
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(IntoResponse::into_response)?;
    let mut csrf = String::new();
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("csrf") => {
                csrf = field.text().await.unwrap_or_default();
            }
            Ok(Some(_)) => {}
            Ok(None) => return Ok(csrf),
            Err(e) => return Err(upload_error(&e, too_large)),
        }
    }
}

// --- Sign-in and sign-out -----------------------------------------------------------------------

/// `GET /admin/login`.
pub async fn login_form(State(state): State<Arc<AppState>>) -> Response {
    let token = random_token();
    let body = login_body(&token, None);
    let mut r = no_store(page(&state, None, "Sign in", body).into_response());
    let sessions = &state.console.sessions;
    let cookie = sessions.cookie(sessions.login_cookie(), &token, Some(3600));
    r.headers_mut().append(header::SET_COOKIE, cookie);
    r
}

fn login_body(token: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { (flash_error(html! { (e) })) }
        form method="post" action="/admin/login" {
            input type="hidden" name="csrf" value=(token);
            p { label for="email" { "E-mail" } br; input id="email" name="email" type="email" autocomplete="username" required; }
            p { label for="password" { "Password" } br; input id="password" name="password" type="password" autocomplete="current-password" required; }
            p { button type="submit" { "Sign in" } }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/login`.
pub async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let sessions = &state.console.sessions;
    let ip = state.proxies.client_ip(peer, &headers).to_string();
    let expected = cookie_value(&headers, sessions.login_cookie());
    if !expected.is_some_and(|e| !form.csrf.is_empty() && same(&e, &form.csrf)) {
        if sessions.refusals_logged.allow(&format!("login-csrf\n{ip}")) {
            let _ = state
                .store
                .audit(
                    None,
                    "sign-in refused: expired or forged form",
                    None,
                    Some(&ip),
                )
                .await;
        }
        return no_store(
            (
                StatusCode::FORBIDDEN,
                "the form has expired; reload the sign-in page\n",
            )
                .into_response(),
        );
    }
    // No account has a longer address (RFC 5321): a longer field is cut before it becomes a key
    // of the limits below or an audit entry.
    let email: String = form
        .email
        .trim()
        .chars()
        .take(254)
        .collect::<String>()
        .to_lowercase();
    // Which limit refused, as the key of its one audit entry per window: past the per-IP limit
    // the key names the IP alone, so a client cycling through addresses still writes one entry.
    let refused = if !sessions.per_ip.allow(&ip) {
        Some(format!("login-ip\n{ip}"))
    } else if !sessions.per_account.allow(&format!("{email}\n{ip}"))
        || !sessions.per_account_all.allow(&email)
    {
        Some(format!("login\n{ip}\n{email}"))
    } else {
        None
    };
    if let Some(key) = refused {
        if sessions.refusals_logged.allow(&key) {
            let _ = state
                .store
                .audit(
                    Some(&email),
                    "login refused: too many attempts (further refusals in this window are not logged)",
                    None,
                    Some(&ip),
                )
                .await;
        }
        let body = login_body(
            &form.csrf,
            Some("Too many sign-in attempts. Wait a few minutes and try again."),
        );
        return no_store(
            (
                StatusCode::TOO_MANY_REQUESTS,
                page(&state, None, "Sign in", body),
            )
                .into_response(),
        );
    }
    let account = match state.store.admin_by_email(&email).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "admin lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response();
        }
    };
    let password = form.password.clone();
    let verified = match account {
        Some(a) => {
            let phc = a.password_hash.clone();
            let ok = tokio::task::spawn_blocking(move || crate::password::verify(&password, &phc))
                .await
                .unwrap_or(false);
            ok.then_some(a)
        }
        None => {
            let _ = tokio::task::spawn_blocking(move || crate::password::burn(&password)).await;
            None
        }
    };
    let Some(admin) = verified else {
        let _ = state
            .store
            .audit(Some(&email), "login failed", None, Some(&ip))
            .await;
        let body = login_body(
            &form.csrf,
            Some("That e-mail address and password do not match an account."),
        );
        return no_store(
            (
                StatusCode::UNAUTHORIZED,
                page(&state, None, "Sign in", body),
            )
                .into_response(),
        );
    };
    let token = random_token();
    let csrf = random_token();
    if let Err(e) = state
        .store
        .create_session(&digest(&token), admin.id, &csrf)
        .await
    {
        tracing::error!(error = %e, "session not stored");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response();
    }
    let _ = state
        .store
        .audit(Some(&admin.email), "login", None, Some(&ip))
        .await;
    let mut r = no_store(Redirect::to("/admin/").into_response());
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        sessions.cookie(sessions.session_cookie(), &token, None),
    );
    h.append(
        header::SET_COOKIE,
        sessions.cookie(sessions.login_cookie(), "", Some(0)),
    );
    r
}

/// `POST /admin/logout`.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    _: Posted<CsrfForm>,
) -> Response {
    let _ = state.store.end_session(&signed.id_hash).await;
    signed.audit(&state, "logout", None).await;
    let mut r = Redirect::to("/admin/login").into_response();
    let sessions = &state.console.sessions;
    r.headers_mut().append(
        header::SET_COOKIE,
        sessions.cookie(sessions.session_cookie(), "", Some(0)),
    );
    r
}
