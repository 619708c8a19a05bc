//! The administrators' console under `/admin/`: accounts (argon2id passwords), sessions, CSRF, the
//! audit log, and the pages. Server-rendered, usable without JavaScript.
//!
//! - A session is a random 256-bit cookie (`HttpOnly`, `SameSite=Strict`, `Secure` unless the
//!   operator allowed plain loopback); the database keeps only its SHA-256. It ends after
//!   `session_idle_secs` without a request, after `session_max_secs` in any case, at logout, and when
//!   the account's password changes.
//! - Every state-changing form carries the session's CSRF token (the login form a token of its own,
//!   double-submitted in a cookie); a POST without the right one is refused with 403.
//! - Failed logins are limited per account and per client IP, before the password is even hashed.
//! - Editors may use the console but not subscriber data; admins may do everything.
//! - Every login, failed login, logout and action goes to the audit log. No token, password or
//!   session id is ever logged.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use maud::{Markup, html};
use sha2::{Digest, Sha256};

use super::AppState;
use super::admin_control::{
    Done, DoneQuery, attribution, bounce_class, bounce_source, campaign_state, delivery_state,
    flash, not_yet, when,
};
use super::pages::{scroll, thousands};
use super::rate_limit::RateLimiter;
use crate::domain::{AdminRole, SubscriberStatus};
use crate::store::AdminSession;

/// The console's settings and login limits.
pub struct Console {
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
    /// Test copies per account: an editor may send them, but the console is not a way to mail
    /// anyone anything at volume.
    pub(super) test_copies: RateLimiter,
    /// Unsubscribes made in the console that their session may still undo.
    pub(super) undos: super::admin_control::Undos,
}

/// Test copies one account may send from the console per hour.
pub const TEST_COPIES_PER_HOUR: u32 = 20;

impl Console {
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
            test_copies: RateLimiter::new(TEST_COPIES_PER_HOUR, Duration::from_secs(3600)),
            undos: super::admin_control::Undos::default(),
        }
    }

    fn session_cookie(&self) -> &'static str {
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

/// Hashes a password with argon2id (the crate's default, memory-hard parameters) and a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A verification of a password nobody has, so that an unknown account costs the same time.
fn burn_time(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default());
    let _ = verify_password(password, phc);
}

pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two tokens in constant time (by their digests, so lengths may differ).
fn same(a: &str, b: &str) -> bool {
    super::api::constant_time_eq(
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

/// The signed-in account of a request.
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

    pub(super) fn is_admin(&self) -> bool {
        self.session.admin.role == AdminRole::Admin
    }

    /// The session's key in memory (the digest of its cookie, never the cookie itself).
    pub(super) fn session_key(&self) -> &str {
        &self.id_hash
    }

    pub(super) fn csrf_ok(&self, given: &str) -> bool {
        same(&self.session.csrf, given)
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

/// The answer to a form whose CSRF token is not this session's. Audited once per session and
/// window, so a page that forges requests cannot fill the log.
pub(super) async fn csrf_refused(state: &AppState, signed: &Signed) -> Response {
    if state
        .console
        .refusals_logged
        .allow(&format!("csrf\n{}", signed.id_hash))
    {
        signed
            .audit(state, "refused: form not from this session (CSRF)", None)
            .await;
    }
    let body = html! {
        (super::admin_control::flash_error(html! {
            "this form is not from your current sign-in (it may be from an older page, or from another site). "
            "Nothing was changed."
        }))
        p { "Go back, reload the page and try again." }
    };
    (
        StatusCode::FORBIDDEN,
        admin_page(state, Some(signed), "Not done", body),
    )
        .into_response()
}

/// Every `/admin/` route but the login form: no session, no page (GET goes to the login form,
/// anything else gets 401).
pub async fn require_session(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let console = &state.console;
    let token = cookie_value(request.headers(), console.session_cookie());
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
                .session(&id_hash, console.idle_secs, console.max_secs)
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
        return no_store((StatusCode::UNAUTHORIZED, "sign in first\n").into_response());
    };
    request.extensions_mut().insert(signed);
    no_store(next.run(request).await)
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(super) fn admin_page(
    state: &AppState,
    signed: Option<&Signed>,
    title: &str,
    body: Markup,
) -> Markup {
    let nav = html! {
        @if let Some(s) = signed {
            nav class="console" aria-label="Console" {
                a href="/admin/" { "Dashboard" }
                a href="/admin/campaigns" { "Issues" }
                a href="/admin/preview" { "Preview" }
                @if s.is_admin() {
                    a href="/admin/subscribers" { "Subscribers" }
                    a href="/admin/import" { "Import" }
                    a href="/admin/bounces" { "Bounces" }
                    a href="/admin/quarantine" { "Quarantine" }
                    a href="/admin/audit" { "Audit log" }
                }
                form method="post" action="/admin/logout" {
                    input type="hidden" name="csrf" value=(s.session.csrf);
                    button type="submit" title={ "Signed in as " (s.email()) } { "Sign out" }
                }
            }
        }
        (body)
    };
    super::pages::shell(state, title, nav, true)
}

/// A table of issues: each row a link to its page, with its state, its date and its counts.
fn campaign_table<'a>(
    state: &AppState,
    list: impl Iterator<Item = &'a crate::send::campaign::Overview>,
) -> Markup {
    scroll(
        "Issues",
        html! { table class="cards" {
            thead { tr {
                th scope="col" { "Issue" } th scope="col" { "State" } th scope="col" { "When" }
                th scope="col" class="n" { "Sent" } th scope="col" class="n" { "Not yet" } th scope="col" class="n" { "Failed" }
            } }
            tbody {
                @for o in list {
                    @let c = &o.campaign;
                    tr {
                        td data-label="Issue" { a href={ "/admin/campaigns/" (c.issue_number) } { "Issue " (c.issue_number) } br; small { (c.subject) } }
                        td data-label="State" { (campaign_state(c.state)) }
                        td data-label="When" { (campaign_date(state, c)) }
                        td class="n" data-label="Sent" { (thousands(o.counts.sent)) }
                        td class="n" data-label="Not yet" { (thousands(not_yet(&o.counts))) }
                        td class="n" data-label="Failed" { (thousands(o.counts.failed)) }
                    }
                }
            }
        } },
    )
}

/// The one date that says most about a campaign in its state.
fn campaign_date(state: &AppState, c: &crate::store::Campaign) -> String {
    use crate::domain::CampaignState::*;
    let (what, at) = match c.state {
        Done | Cancelled => (
            if c.state == Done {
                "finished"
            } else {
                "cancelled"
            },
            c.finished_at,
        ),
        Sending | Paused => ("started", c.started_at),
        Scheduled => ("due", c.scheduled_at),
        Created => ("prepared", Some(c.created_at)),
    };
    at.map_or(String::new(), |t| format!("{what} {}", when(state, t)))
}

/// A subscriber's status as the console says it.
pub(super) fn subscriber_status(s: SubscriberStatus) -> &'static str {
    match s {
        SubscriberStatus::Pending => "waiting for confirmation",
        SubscriberStatus::Active => "active",
        SubscriberStatus::Unsubscribed => "unsubscribed",
        SubscriberStatus::Bounced => "bounced",
        SubscriberStatus::Complained => "complained",
    }
}

/// A status change's stored detail as the console says it: "campaign ID" (the database's id)
/// becomes "issue N", and the evidence in parentheses ("(smtp, attributed by delivery)") moves out
/// of the sentence, to be shown one click away.
fn plain_detail(detail: &str, campaigns: &[crate::store::Campaign]) -> (String, Option<String>) {
    let mut text = String::with_capacity(detail.len());
    let mut rest = detail;
    while let Some(at) = rest.find("campaign ") {
        let after = &rest[at + "campaign ".len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        text.push_str(&rest[..at]);
        match after[..digits]
            .parse::<i64>()
            .ok()
            .and_then(|id| campaigns.iter().find(|c| c.id == id))
        {
            Some(c) => text.push_str(&format!("issue {}", c.issue_number)),
            None => text.push_str(&rest[at..at + "campaign ".len() + digits]),
        }
        rest = &after[digits..];
    }
    text.push_str(rest);
    if let (Some(open), Some(close)) = (text.find(" ("), text.find(')'))
        && open < close
        && text[open..close].contains("attributed by")
    {
        let technical = text[open + 2..close].to_string();
        let plain = format!("{}{}", &text[..open], &text[close + 1..]);
        return (plain, Some(technical));
    }
    (text, None)
}

/// Who or what changed a subscriber, in words.
fn change_source(s: crate::domain::Source) -> &'static str {
    use crate::domain::Source::*;
    match s {
        Cli => "an operator, from a terminal",
        Web => "the reader, on the website",
        Api => "the admin API",
        Bounce => "a bounce or complaint",
        Import => "an import",
        Mail => "the reader, by e-mail",
        Admin => "an administrator, in the console",
    }
}

/// A bounce class as stored (`hard`, …), in words.
fn kind_words(kind: &str) -> String {
    crate::domain::BounceClass::parse(kind)
        .map_or(kind.to_string(), |k| bounce_class(k).to_string())
}

/// `GET /admin/login`.
pub async fn login_form(State(state): State<Arc<AppState>>) -> Response {
    let token = random_token();
    let body = login_body(&token, None);
    let mut r = no_store(admin_page(&state, None, "Sign in", body).into_response());
    let cookie = state
        .console
        .cookie(state.console.login_cookie(), &token, Some(3600));
    r.headers_mut().append(header::SET_COOKIE, cookie);
    r
}

fn login_body(token: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { (super::admin_control::flash_error(html! { (e) })) }
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
    let console = &state.console;
    let ip = state.proxies.client_ip(peer, &headers).to_string();
    let expected = cookie_value(&headers, console.login_cookie());
    if !expected.is_some_and(|e| !form.csrf.is_empty() && same(&e, &form.csrf)) {
        if console.refusals_logged.allow(&format!("login-csrf\n{ip}")) {
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
    let refused = if !console.per_ip.allow(&ip) {
        Some(format!("login-ip\n{ip}"))
    } else if !console.per_account.allow(&format!("{email}\n{ip}"))
        || !console.per_account_all.allow(&email)
    {
        Some(format!("login\n{ip}\n{email}"))
    } else {
        None
    };
    if let Some(key) = refused {
        if console.refusals_logged.allow(&key) {
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
                admin_page(&state, None, "Sign in", body),
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
            let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
                .await
                .unwrap_or(false);
            ok.then_some(a)
        }
        None => {
            let _ = tokio::task::spawn_blocking(move || burn_time(&password)).await;
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
                admin_page(&state, None, "Sign in", body),
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
        console.cookie(console.session_cookie(), &token, None),
    );
    h.append(
        header::SET_COOKIE,
        console.cookie(console.login_cookie(), "", Some(0)),
    );
    r
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
}

/// `POST /admin/logout`.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !signed.csrf_ok(&form.csrf) {
        return csrf_refused(&state, &signed).await;
    }
    let _ = state.store.end_session(&signed.id_hash).await;
    signed.audit(&state, "logout", None).await;
    let mut r = Redirect::to("/admin/login").into_response();
    let console = &state.console;
    r.headers_mut().append(
        header::SET_COOKIE,
        console.cookie(console.session_cookie(), "", Some(0)),
    );
    r
}

/// `GET /admin/`: subscribers by status, the last campaigns with their outcome, bounces and
/// complaints of the last 30 days.
pub async fn dashboard(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
) -> Response {
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
            ul { @for (kind, n) in &bounces { li { (kind_words(kind)) ": " (thousands(*n)) } } }
        }
    };
    admin_page(&state, Some(&signed), "Dashboard", body).into_response()
}

#[derive(serde::Deserialize)]
pub struct SubscriberQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    after: i64,
}

/// Subscriber data is for admins: an editor gets 403, and the refusal is audited.
pub(super) async fn admins_only(state: &AppState, signed: &Signed, what: &str) -> Option<Response> {
    if signed.is_admin() {
        return None;
    }
    signed
        .audit(state, &format!("refused: {what} (editor)"), None)
        .await;
    let body = html! { p { "Editors cannot see or change subscriber data." } };
    Some(
        (
            StatusCode::FORBIDDEN,
            admin_page(state, Some(signed), "Not allowed", body),
        )
            .into_response(),
    )
}

pub(super) fn unavailable(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "console: database error");
    (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
}

/// `GET /admin/subscribers?q=&status=&after=`: search by address or name (any part of either),
/// filter by status, 50 per page in id order (keyset: `after` is the last id shown).
pub async fn subscribers(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    Query(q): Query<SubscriberQuery>,
    Query(done): Query<DoneQuery>,
) -> Response {
    if let Some(refused) = admins_only(&state, &signed, "subscribers").await {
        return refused;
    }
    let status = SubscriberStatus::parse(&q.status).ok();
    let rows = match state.store.search(&q.q, status, q.after.max(0), 50).await {
        Ok(p) => p,
        Err(e) => return unavailable(e),
    };
    signed
        .audit(&state, "searched subscribers", Some(&q.q))
        .await;
    let next = (rows.len() == 50)
        .then(|| rows.last().map(|s| s.id))
        .flatten();
    let short = (1..3).contains(&q.q.trim().chars().count());
    let body = html! {
        @if done.done() == Some(Done::Forgotten) {
            (flash(html! { p { strong { "The subscriber is forgotten." } " Their address and name are erased." } }))
        }
        form method="get" action="/admin/subscribers" role="search" class="actions" {
            p {
                label for="q" { "Address or name contains" } br;
                input id="q" name="q" type="search" value=(q.q) aria-describedby="q-hint";
            }
            p {
                label for="status" { "Status" } br;
                select id="status" name="status" {
                    option value="" selected[status.is_none()] { "any" }
                    @for s in SubscriberStatus::ALL {
                        option value=(s.as_str()) selected[status == Some(s)] { (subscriber_status(s)) }
                    }
                }
            }
            p { button type="submit" { "Search" } }
        }
        p id="q-hint" { small {
            @if short { strong { "Only the start of addresses was searched. " } }
            "One or two characters find addresses that begin with them; three or more find any part of an address or a name. "
            "Capitals and accents do not matter in names (Weiss finds Weiß)."
        } }
        @if rows.is_empty() { p { "Nobody matches." } } @else {
            (scroll("Subscribers found", html! { table {
                thead { tr { th scope="col" { "Address" } th scope="col" { "Name" } th scope="col" { "Status" } } }
                tbody {
                    @for s in &rows {
                        tr {
                            td { a href={ "/admin/subscribers/" (s.id) } { (s.email.as_str()) } }
                            td { (s.name.as_deref().unwrap_or("")) }
                            td { (subscriber_status(s.status)) }
                        }
                    }
                }
            } }))
        }
        @if let Some(n) = next {
            p { a href={ "/admin/subscribers?q=" (encode(&q.q)) "&status=" (encode(&q.status)) "&after=" (n) } { "Next page" } }
        }
    };
    admin_page(&state, Some(&signed), "Subscribers", body).into_response()
}

pub(super) fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Which status changes the console offers for a status: unsubscribe from pending or active; back
/// to active only from bounced (the address works again). Someone who unsubscribed or complained
/// withdrew consent: only they can come back, by signing up.
fn may_resubscribe(s: SubscriberStatus) -> bool {
    s == SubscriberStatus::Bounced
}

fn may_unsubscribe(s: SubscriberStatus) -> bool {
    matches!(s, SubscriberStatus::Active | SubscriberStatus::Pending)
}

/// `GET /admin/subscribers/{id}`: status history, deliveries and bounces, and the actions.
pub async fn subscriber(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    axum::extract::Path(id): axum::extract::Path<i64>,
    Query(done): Query<DoneQuery>,
) -> Response {
    if let Some(refused) = admins_only(&state, &signed, "a subscriber").await {
        return refused;
    }
    let store = &state.store;
    let data = async {
        let Some(s) = store.find_by_id(id).await? else {
            return Ok(None);
        };
        let history = store.history(id).await?;
        let deliveries = store.deliveries_of(id, 50).await?;
        let bounces = store.bounces(0, Some(id), 50).await?;
        let campaigns = store.campaigns().await?;
        Ok::<_, crate::store::StoreError>(Some((s, history, deliveries, bounces, campaigns)))
    }
    .await;
    let (s, history, deliveries, bounces, campaigns) = match data {
        Ok(Some(d)) => d,
        Ok(None) => return super::pages::not_found(&state),
        Err(e) => return unavailable(e),
    };
    signed
        .audit(
            &state,
            "viewed a subscriber",
            Some(&format!("subscriber {id}")),
        )
        .await;
    let csrf = &signed.session.csrf;
    // A delivery the reader's server took and that came back later: its bounce, by campaign.
    let issue_of = |campaign: Option<i64>| {
        campaign.and_then(|cid| {
            campaigns
                .iter()
                .find(|c| c.id == cid)
                .map(|c| c.issue_number)
        })
    };
    let bounced_later = |issue: i64, delivered: bool, sent_at: Option<i64>| {
        bounces.iter().find(|b| {
            delivered
                && b.kind != crate::domain::BounceClass::None
                && issue_of(b.campaign_id) == Some(issue)
                && sent_at.is_none_or(|t| b.received_at >= t)
        })
    };
    let may_undo = done.done() == Some(Done::Unsubscribed)
        && s.status == SubscriberStatus::Unsubscribed
        && state.console.undos.open(signed.session_key(), id);
    let body = html! {
        @match done.done() {
            Some(Done::Unsubscribed) => (flash(html! {
                p { strong { (s.email.as_str()) " is unsubscribed." } " They get no further issue." }
                @if may_undo {
                    form method="post" action={ "/admin/subscribers/" (id) "/undo" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Undo" }
                    }
                    p { small { "A mistake? Undo puts them back as they were, within 15 minutes, in this session." } }
                }
            })),
            Some(Done::Resubscribed) => (flash(html! { p { strong { (s.email.as_str()) " is active again." } } })),
            Some(Done::Undone) => (flash(html! { p { strong { "Undone: " (s.email.as_str()) " is " (subscriber_status(s.status)) " again." } } })),
            _ => {}
        }
        p { strong { (s.email.as_str()) } @if let Some(n) = &s.name { " (" (n) ")" } ": " (s.status.as_str()) }
        h2 { "Actions" }
        div class="actions" {
            @if may_unsubscribe(s.status) {
                form method="post" action={ "/admin/subscribers/" (id) "/unsubscribe" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Unsubscribe" }
                }
            }
            @if may_resubscribe(s.status) {
                form method="post" action={ "/admin/subscribers/" (id) "/resubscribe" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Resubscribe" }
                }
            }
            p { a href={ "/admin/subscribers/" (id) "/forget" } { "Forget this subscriber…" } }
        }
        h2 { "Status history" }
        (scroll("Status history", html! { table class="cards" {
            thead { tr { th scope="col" { "When" } th scope="col" { "From" } th scope="col" { "To" } th scope="col" { "Why" } } }
            tbody {
                @for e in &history {
                    tr {
                        td data-label="When" { (when(&state, e.at)) }
                        td data-label="From" { (e.old_status.map_or("-", subscriber_status)) }
                        td data-label="To" { (subscriber_status(e.new_status)) }
                        td data-label="Why" {
                            (change_source(e.source))
                            @if let Some(d) = &e.detail {
                                @let (plain, technical) = plain_detail(d, &campaigns);
                                ": " (plain)
                                @if let Some(t) = technical { details { summary { "Technical" } p { (t) } } }
                            }
                        }
                    }
                }
            }
        } }))
        h2 { "Deliveries" }
        @if deliveries.is_empty() { p { "None." } } @else {
            (scroll("Deliveries", html! { table class="cards" {
                thead { tr { th scope="col" { "Issue" } th scope="col" { "Outcome" } th scope="col" class="n" { "Attempts" } th scope="col" { "Last error" } } }
                tbody {
                    @for d in &deliveries {
                        tr {
                            td data-label="Issue" { a href={ "/admin/campaigns/" (d.issue_number) } { "Issue " (d.issue_number) } }
                            td data-label="Outcome" {
                                @if let Some(b) = bounced_later(d.issue_number, d.state == "sent", d.sent_at) {
                                    strong { "bounced" } ": " (bounce_class(b.kind)) " on " (when(&state, b.received_at))
                                    br; small { "Their server first accepted it"
                                        @if let Some(t) = d.sent_at { " (" (when(&state, t)) ")" }
                                        ", then sent it back." }
                                } @else {
                                    (delivery_state(&d.state))
                                }
                            }
                            td class="n" data-label="Attempts" { (d.attempts) }
                            td data-label="Last error" { (d.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            } }))
        }
        h2 { "Bounces" }
        @if bounces.is_empty() { p { "None." } } @else {
            (scroll("Bounces", html! { table class="cards" {
                thead { tr { th scope="col" { "When" } th scope="col" { "Issue" } th scope="col" { "What happened" } th scope="col" { "Details" } } }
                tbody {
                    @for b in &bounces {
                        tr {
                            td data-label="When" { (when(&state, b.received_at)) }
                            td data-label="Issue" { @if let Some(n) = issue_of(b.campaign_id) { "Issue " (n) } @else { "-" } }
                            td data-label="What happened" { strong { (bounce_class(b.kind)) } @if let Some(r) = b.reason { ": " (r.explain()) } }
                            td data-label="Details" {
                                details {
                                    summary { "Evidence" }
                                    @if let Some(d) = &b.diagnostic { p { "The server said: " (d) } }
                                    p { small { "Technical: status " code { (b.status.as_deref().unwrap_or("-")) }
                                        ", source " code { (b.source.as_str()) } "." } }
                                }
                            }
                        }
                    }
                }
            } }))
        }
    };
    admin_page(&state, Some(&signed), "Subscriber", body).into_response()
}

/// `GET /admin/subscribers/{id}/forget`: the confirmation step.
pub async fn forget_form(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Response {
    if let Some(refused) = admins_only(&state, &signed, "forget").await {
        return refused;
    }
    let s = match state.store.find_by_id(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return super::pages::not_found(&state),
        Err(e) => return unavailable(e),
    };
    let body = html! {
        p { "Forgetting " strong { (s.email.as_str()) } " erases the address, name and token for good. "
            "Only a salted hash stays, so that an import cannot add the address again unnoticed. This cannot be undone." }
        form method="post" action={ "/admin/subscribers/" (id) "/forget" } {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            p { button type="submit" { "Forget " (s.email.as_str()) } }
        }
        p { a href={ "/admin/subscribers/" (id) } { "Cancel" } }
    };
    admin_page(&state, Some(&signed), "Forget a subscriber", body).into_response()
}

/// `POST /admin/subscribers/{id}/forget`, after its confirmation page.
pub async fn forget(
    state: State<Arc<AppState>>,
    signed: axum::Extension<Signed>,
    axum::extract::Path(id): axum::extract::Path<i64>,
    form: Form<CsrfForm>,
) -> Response {
    subscriber_action(
        state,
        signed,
        axum::extract::Path((id, "forget".to_string())),
        form,
    )
    .await
}

/// `POST /admin/subscribers/{id}/{unsubscribe|resubscribe|forget}`.
pub async fn subscriber_action(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    axum::extract::Path((id, action)): axum::extract::Path<(i64, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !signed.csrf_ok(&form.csrf) {
        return csrf_refused(&state, &signed).await;
    }
    if let Some(refused) = admins_only(&state, &signed, &action).await {
        return refused;
    }
    let store = &state.store;
    let s = match store.find_by_id(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return super::pages::not_found(&state),
        Err(e) => return unavailable(e),
    };
    let detail = format!("by {} in the console", signed.email());
    let page = |done: Done| format!("/admin/subscribers/{id}?done={}", done.code());
    let done = match action.as_str() {
        "unsubscribe" if may_unsubscribe(s.status) => {
            let r = store
                .change_status(
                    &s,
                    SubscriberStatus::Unsubscribed,
                    crate::domain::Source::Admin,
                    &detail,
                )
                .await;
            if r.is_ok() {
                state
                    .console
                    .undos
                    .offer(signed.session_key(), id, s.status);
            }
            r.map(|_| page(Done::Unsubscribed))
        }
        "resubscribe" if may_resubscribe(s.status) => store
            .change_status(
                &s,
                SubscriberStatus::Active,
                crate::domain::Source::Admin,
                &detail,
            )
            .await
            .map(|_| page(Done::Resubscribed)),
        // The administrator's own mistake, taken back: no consent of the reader is needed, because
        // the reader never gave the unsubscribe either.
        "undo" => {
            let previous = (s.status == SubscriberStatus::Unsubscribed)
                .then(|| state.console.undos.take(signed.session_key(), id))
                .flatten();
            let Some(previous) = previous else {
                let body = html! {
                    (super::admin_control::flash_error(html! {
                        "this unsubscribe can no longer be undone here (after 15 minutes, in another session, or once the subscriber changed again). "
                        "Only the reader can sign up again."
                    }))
                    p { a href={ "/admin/subscribers/" (id) } { "Back to the subscriber" } }
                };
                return (
                    StatusCode::CONFLICT,
                    admin_page(&state, Some(&signed), "Not undone", body),
                )
                    .into_response();
            };
            store
                .change_status(
                    &s,
                    previous,
                    crate::domain::Source::Admin,
                    &format!(
                        "undo by {} of their own unsubscribe in the console",
                        signed.email()
                    ),
                )
                .await
                .map(|_| page(Done::Undone))
        }
        "forget" => match &s.email {
            crate::store::StoredAddress::Valid(e) => store
                .forget(e, crate::domain::Source::Admin)
                .await
                .map(|_| format!("/admin/subscribers?done={}", Done::Forgotten.code())),
            crate::store::StoredAddress::Invalid { .. } => {
                return (StatusCode::CONFLICT, "this stored address cannot be parsed: forget it from a terminal with: newsletter subscribers forget\n").into_response();
            }
        },
        "unsubscribe" | "resubscribe" => {
            let body = html! {
                (super::admin_control::flash_error(html! {
                    "that change is not allowed for a subscriber who is " (subscriber_status(s.status)) "."
                    @if s.status == SubscriberStatus::Unsubscribed || s.status == SubscriberStatus::Complained {
                        " They left the list themselves; only they can sign up again."
                    }
                }))
                p { a href={ "/admin/subscribers/" (id) } { "Back to the subscriber" } }
            };
            return (
                StatusCode::CONFLICT,
                admin_page(&state, Some(&signed), "Not allowed", body),
            )
                .into_response();
        }
        _ => return super::pages::not_found(&state),
    };
    match done {
        Ok(to) => {
            signed
                .audit(
                    &state,
                    &format!("{action} subscriber"),
                    Some(&format!("subscriber {id}")),
                )
                .await;
            Redirect::to(&to).into_response()
        }
        Err(e) => unavailable(e),
    }
}

/// `GET /admin/audit`: admins only.
pub async fn audit(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
) -> Response {
    if !signed.is_admin() {
        return (StatusCode::FORBIDDEN, "editors cannot see the audit log\n").into_response();
    }
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
    admin_page(&state, Some(&signed), "Audit log", body).into_response()
}

/// `GET /admin/campaigns`: every campaign with its state and counts.
pub async fn campaigns(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
) -> Response {
    let list = match crate::send::campaign::overview(&state.store).await {
        Ok(l) => l,
        Err(e) => return unavailable(e),
    };
    let body = html! {
        @if list.is_empty() { p { "No issue has been sent or scheduled yet." } } @else {
            (campaign_table(&state, list.iter()))
        }
    };
    admin_page(&state, Some(&signed), "Issues", body).into_response()
}

/// `GET /admin/campaigns/{issue}`: counts per state and per provider, top failure reasons. While it
/// sends, the page reloads itself every 5 seconds (the pages' small script; without it, a link).
pub async fn campaign(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    axum::extract::Path(issue): axum::extract::Path<i64>,
    Query(done): Query<DoneQuery>,
) -> Response {
    let store = &state.store;
    let data = async {
        let Some(c) = store.campaign_by_number(issue).await? else {
            return Ok(None);
        };
        let counts = store.delivery_counts(c.id).await?;
        let providers = store.provider_counts(c.id).await?;
        let reasons = store.failure_reasons(c.id, 10).await?;
        let pause_reason = store.pause_reason(c.id).await?;
        Ok::<_, crate::store::StoreError>(Some((c, counts, providers, reasons, pause_reason)))
    }
    .await;
    let (c, counts, providers, reasons, pause_reason) = match data {
        Ok(Some(d)) => d,
        Ok(None) => return super::pages::not_found(&state),
        Err(e) => return unavailable(e),
    };
    let live = matches!(
        c.state,
        crate::domain::CampaignState::Sending | crate::domain::CampaignState::Scheduled
    );
    let t = |v: Option<i64>| v.map_or("-".to_string(), |t| when(&state, t));
    let outcome = counts.sent + counts.failed + counts.skipped + counts.deferred;
    let body = html! {
        (super::admin_control::campaign_flash(&state, &c, &counts, done.done()))
        p { "“" (c.subject) "”" }
        @if live { (super::pages::auto_refresh()) }
        dl class="facts" {
            dt { "State" } dd { (campaign_state(c.state)) }
            @if let Some(reason) = &pause_reason {
                dt { "Why" }
                dd role="status" {
                    strong { "Paused by the circuit breaker: " } (without_addresses(reason))
                    " Nobody was suppressed. Once the cause is fixed, "
                    @if signed.is_admin() { "press Resume below." } @else { "an administrator can resume it." }
                    details { summary { "From a terminal" } p { code { "newsletter resume " (c.issue_number) } } }
                }
            }
            @if c.scheduled_at.is_some() { dt { "Scheduled for" } dd { (t(c.scheduled_at)) } }
            dt { "Prepared" } dd { (t(Some(c.created_at))) }
            dt { "Started" } dd { (t(c.started_at)) }
            dt { "Finished" } dd { (t(c.finished_at)) }
        }
        @if signed.is_admin() { (super::admin_control::controls(&state, &c)) }
        h2 { "Deliveries" }
        p {
            progress max=(counts.total().max(1)) value=(outcome) aria-label="Progress" {}
            " " (thousands(outcome)) " of " (thousands(counts.total())) " have an outcome"
        }
        (scroll("Deliveries", html! { table class="cards" {
            thead { tr {
                th scope="col" class="n" { "Sent" } th scope="col" class="n" { "Failed" } th scope="col" class="n" { "To try again" }
                th scope="col" class="n" { "Not sent" } th scope="col" class="n" { "Waiting" } th scope="col" class="n" { "Being sent" }
            } }
            tbody { tr {
                td class="n" data-label="Sent" { (thousands(counts.sent)) } td class="n" data-label="Failed" { (thousands(counts.failed)) } td class="n" data-label="To try again" { (thousands(counts.deferred)) }
                td class="n" data-label="Not sent" { (thousands(counts.skipped)) } td class="n" data-label="Waiting" { (thousands(counts.queued)) } td class="n" data-label="Being sent" { (thousands(counts.sending)) }
            } }
        } }))
        p { small { "“Not sent”: readers who left the list before their turn came. "
            "“To try again”: the reader's server asked us to come back later." } }
        h2 { "Per provider" }
        (scroll("Per provider", html! { table class="cards" {
            thead { tr {
                th scope="col" { "Provider" } th scope="col" class="n" { "Sent" } th scope="col" class="n" { "Waiting" }
                th scope="col" class="n" { "Failed" } th scope="col" class="n" { "Asked us to slow down" } th scope="col" { "Pace" }
            } }
            tbody {
                @for p in &providers {
                    tr {
                        td data-label="Provider" { (p.provider) }
                        td class="n" data-label="Sent" { (thousands(p.counts.sent)) }
                        td class="n" data-label="Waiting" { (thousands(p.counts.queued + p.counts.sending)) }
                        td class="n" data-label="Failed" { (thousands(p.counts.failed)) }
                        td class="n" data-label="Asked us to slow down" { (thousands(p.throttled)) }
                        td data-label="Pace" { (p.rate.map_or("no limit of its own".to_string(), |r| format!("{r:.1} a second"))) }
                    }
                }
            }
        } }))
        h2 { "Top failure reasons" }
        @if reasons.is_empty() { p { "None." } } @else {
            (scroll("Top failure reasons", html! { table class="cards" {
                thead { tr { th scope="col" class="n" { "Readers" } th scope="col" { "What the receiving server said" } } }
                tbody { @for (r, n) in &reasons { tr { td class="n" data-label="Readers" { (thousands(*n)) } td data-label="What the receiving server said" { (without_addresses(r)) } } } }
            } }))
        }
    };
    admin_page(
        &state,
        Some(&signed),
        &format!("Issue {}", c.issue_number),
        body,
    )
    .into_response()
}

/// `GET /admin/bounces`: the bounce log of the last 30 days with its evidence (admins only).
pub async fn bounces(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
) -> Response {
    if let Some(refused) = admins_only(&state, &signed, "bounces").await {
        return refused;
    }
    let since = crate::domain::unix_now() - 30 * 86_400;
    let log = match state.store.bounces(since, None, 500).await {
        Ok(l) => l,
        Err(e) => return unavailable(e),
    };
    let body = html! {
        @if log.is_empty() { p { "No bounce or complaint in the last 30 days." } } @else {
            p { "Messages that came back, and readers who reported an issue as spam, in the last 30 days, newest first." }
            (scroll("Bounces and complaints", html! { table class="cards" {
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Address" } th scope="col" { "What happened" }
                    th scope="col" { "Details" }
                } }
                tbody {
                    @for b in &log {
                        tr {
                            td data-label="When" { (when(&state, b.received_at)) }
                            td data-label="Address" {
                                @if let Some(id) = b.subscriber_id {
                                    a href={ "/admin/subscribers/" (id) } { (b.email.as_deref().unwrap_or("(erased)")) }
                                } @else { (b.email.as_deref().unwrap_or("-")) }
                            }
                            td data-label="What happened" {
                                strong { (bounce_class(b.kind)) }
                                @if let Some(r) = b.reason {
                                    ": " (r.explain())
                                    @if r.is_sender_side() { "; about us, so nobody was suppressed" }
                                }
                            }
                            td data-label="Details" {
                                details {
                                    summary { "Evidence" }
                                    p { "We learnt it from " (bounce_source(b.source)) ", and knew whose it was from "
                                        (attribution(b.attribution)) "." }
                                    @if let Some(d) = &b.diagnostic { p { "The server said: " (d) } }
                                    p { small {
                                        "Technical: class " code { (b.kind.as_str()) }
                                        @if let Some(r) = b.reason { ", reason " code { (r.as_str()) } }
                                        @if let Some(st) = &b.status { ", status " code { (st) } }
                                        ", source " code { (b.source.as_str()) }
                                        ", attribution " code { (b.attribution.as_str()) }
                                        @if let Some(e) = &b.evidence { ", decided by " (e) }
                                        "."
                                    } }
                                }
                            }
                        }
                    }
                }
            } }))
        }
    };
    admin_page(&state, Some(&signed), "Bounces and complaints", body).into_response()
}

/// `text` with every e-mail address replaced by `<recipient>`: `a@b.example`, `<a@b.example>`,
/// `"john.smith"@corp.example`, `"john smith" at corp.example`, `john.smith at corp.example`.
/// Failure reasons are shown to editors, who may not see subscriber data.
pub(super) fn without_addresses(text: &str) -> String {
    let spelled = mask_pass(text, "@", false);
    mask_pass(&spelled, " at ", true)
}

/// Replaces each `LOCAL SEP DOMAIN` in `text`. With `strict`, the local part must be quoted or
/// look like one (`.`, `_`, `+`, `-`, a digit), because " at " is also an English word.
fn mask_pass(text: &str, sep: &str, strict: bool) -> String {
    const MARK: &str = "<recipient>";
    let is_domain_char = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '[' | ']');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_ascii_ci(rest, sep) {
        let (before, after) = (&rest[..at], &rest[at + sep.len()..]);
        // The local part: a quoted string (spaces allowed), or the word before the separator.
        let start = if let Some(quoted) = before.strip_suffix('"') {
            quoted.rfind('"')
        } else {
            let s = before
                .rfind(|c: char| {
                    c.is_whitespace() || matches!(c, '<' | '(' | '[' | ':' | ';' | ',')
                })
                .map_or(0, |i| {
                    i + before[i..].chars().next().map_or(1, char::len_utf8)
                });
            (s < before.len()).then_some(s)
        };
        let local = start.map_or("", |s| &before[s..]);
        let domain_len = after
            .char_indices()
            .find(|(_, c)| !is_domain_char(*c))
            .map_or(after.len(), |(i, _)| i);
        let domain = after[..domain_len].trim_end_matches(['.', '-']);
        let looks_local = !strict
            || local.starts_with('"')
            || local
                .chars()
                .any(|c| matches!(c, '.' | '_' | '+' | '-') || c.is_ascii_digit());
        let ok = start.is_some()
            && looks_local
            && !domain.is_empty()
            && (!strict || (domain.contains('.') && domain.split('.').all(|l| !l.is_empty())));
        match (ok, start) {
            (true, Some(s)) => {
                out.push_str(&before[..s]);
                out.push_str(MARK);
                rest = &after[domain.len()..];
            }
            _ => {
                out.push_str(&rest[..at + sep.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The byte offset of `needle` (ASCII) in `hay`, ignoring ASCII case.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::without_addresses;

    #[test]
    fn every_written_form_of_an_address_is_masked() {
        for (text, want) in [
            (
                "550 5.1.1 <ana@contoso.example>: Recipient address rejected",
                "550 5.1.1 <<recipient>>: Recipient address rejected",
            ),
            (
                "550 \"john.smith\"@corp.example unknown",
                "550 <recipient> unknown",
            ),
            (
                "550 \"john smith\"@corp.example unknown",
                "550 <recipient> unknown",
            ),
            (
                "550 5.1.1 \"john.smith\" at corp.example does not exist",
                "550 5.1.1 <recipient> does not exist",
            ),
            (
                "user john.smith at corp.example unknown",
                "user <recipient> unknown",
            ),
            (
                "mailbox root@localhost is full",
                "mailbox <recipient> is full",
            ),
            (
                "RCPT TO:<b.o+news@x.example.org>.",
                "RCPT TO:<<recipient>>.",
            ),
        ] {
            assert_eq!(without_addresses(text), want, "{text}");
        }
    }

    #[test]
    fn ordinary_words_stay() {
        for text in [
            "451 4.7.1 Try again at a later time",
            "421 too many connections, retry at 10:00",
            "550 5.7.1 blocked at mx1.example.net by policy",
            "554 Message rejected: Email address is not verified.",
        ] {
            assert_eq!(without_addresses(text), text);
        }
    }
}
