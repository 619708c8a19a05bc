//! Double opt-in. `POST /subscribe` checks the form and the per-IP limit, queues the request and
//! answers at once, the same way whatever the address: the database work and the mail happen in
//! one background task, so the answer's timing says nothing about who is on the list. That task
//! applies the per-address limit (keyed by the address in lowercase, so changing the case of the
//! local part does not multiply mails), asks the store for the confirmation token (a known one is
//! reused: links already mailed stay valid), and mails the link. `GET /confirm/{token}` shows a
//! button; `POST` activates.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use tokio::sync::mpsc;

use super::AppState;
use super::metrics::Metrics;
use super::pages::{not_found, page, unavailable};
use super::rate_limit::RateLimiter;
use crate::domain::{EmailAddress, SubscriberName, UnsubscribeToken};
use crate::store::SubscribeOutcome;

/// Sign-ups waiting for the background task at most; beyond, the form answers 503 to everyone.
const QUEUE: usize = 1024;

/// One sign-up to process.
pub struct Request {
    email: EmailAddress,
    name: Option<SubscriberName>,
}

/// What double opt-in needs.
pub struct Signup {
    pub transport: crate::transport::Transport,
    pub mail: crate::config::Mail,
    /// Public URL prefix of the confirmation link; the token is appended.
    pub confirm_url: String,
    /// Sign-up attempts per client IP.
    pub per_ip: RateLimiter,
    /// Confirmation mails per address.
    pub per_address: RateLimiter,
    queue: mpsc::Sender<Request>,
    pending: std::sync::Mutex<Option<mpsc::Receiver<Request>>>,
}

impl Signup {
    /// Double opt-in through `transport`, with the limits of `[subscribe]`.
    pub fn new(config: &crate::config::Config, transport: crate::transport::Transport) -> Self {
        let window = Duration::from_secs(config.subscribe.window_secs);
        let (queue, rx) = mpsc::channel(QUEUE);
        Self {
            transport,
            mail: config.mail.clone(),
            confirm_url: config.subscribe.confirm_url.clone(),
            per_ip: RateLimiter::new(config.subscribe.per_ip, window),
            per_address: RateLimiter::new(config.subscribe.per_address, window),
            queue,
            pending: std::sync::Mutex::new(Some(rx)),
        }
    }
}

/// Starts the task that processes sign-ups (once; later calls do nothing).
pub fn start(state: &Arc<AppState>) {
    let rx = state
        .signup
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(mut rx) = rx {
        let state = state.clone();
        tokio::spawn(async move {
            while let Some(req) = rx.recv().await {
                process(&state, req).await;
                Metrics::count(&state.metrics.signups_processed);
            }
        });
    }
}

/// The database work and the mail of one sign-up. Errors are logged: the person already has their
/// answer, and /health reports a database that is down.
async fn process(state: &AppState, req: Request) {
    let key = req.email.as_str().to_lowercase();
    // Within the limit only, and before any token is made or changed: the form cannot mail-bomb
    // anyone, nor spend the links already sent.
    if !state.signup.per_address.allow(&key) {
        tracing::info!("sign-up over the per-address limit; nothing sent");
        return;
    }
    let token = match state
        .store
        .request_subscription(&req.email, req.name.as_ref())
        .await
    {
        Ok(SubscribeOutcome::Confirm(token)) => token,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(error = %e, "sign-up failed");
            return;
        }
    };
    let link = format!("{}{}", state.signup.confirm_url, token.expose());
    let text = format!(
        "Someone, hopefully you, asked to receive {name} at this address.\n\n\
         To confirm, open this link and press the button:\n\n{link}\n\n\
         If it was not you, ignore this e-mail: you will not be subscribed.\n",
        name = state.site_name
    );
    let subject = format!("Confirm your subscription to {}", state.site_name);
    let message = crate::mail::simple_message(
        &state.signup.mail,
        &req.email,
        &subject,
        &text,
        crate::domain::unix_now(),
    );
    let file = format!("confirm-{}", UnsubscribeToken::generate().expose());
    let sender = format!("bounces@{}", state.signup.mail.bounce_domain);
    if let Err(e) = state
        .signup
        .transport
        .deliver(&sender, &req.email, &file, &message)
        .await
    {
        tracing::error!(error = %e, "confirmation mail not sent");
    }
}

/// GET /subscribe: the form.
pub async fn form(State(state): State<Arc<AppState>>) -> Response {
    let body = html! {
        p { "Get " (state.site_name) " in your inbox. We will send you a link to confirm." }
        form method="post" action="/subscribe" {
            p { label for="email" { "E-mail address" } br; input id="email" name="email" type="email" required autocomplete="email"; }
            p { label for="name" { "Name (optional)" } br; input id="name" name="name" type="text" autocomplete="name" maxlength=(SubscriberName::MAX_CHARS); }
            button type="submit" { "Subscribe" }
        }
    };
    page(&state, "Subscribe", body).into_response()
}

#[derive(serde::Deserialize)]
pub struct SubscribeForm {
    email: String,
    name: Option<String>,
}

/// POST /subscribe. The answer is the same, and as quick, whether or not the address is on the list.
pub async fn post(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SubscribeForm>,
) -> Response {
    let client = state.proxies.client_ip(peer, &headers);
    if !state.signup.per_ip.allow(&client.to_string()) {
        let body =
            html! { p { "Too many sign-up attempts from your network. Please try again later." } };
        return (
            StatusCode::TOO_MANY_REQUESTS,
            page(&state, "Please wait", body),
        )
            .into_response();
    }
    let Ok(email) = EmailAddress::parse(&form.email) else {
        let body = html! {
            p { "That does not look like an e-mail address. Please check it and try again." }
            p { a href="/subscribe" { "Back to the form" } }
        };
        return (
            StatusCode::BAD_REQUEST,
            page(&state, "Check the address", body),
        )
            .into_response();
    };
    let Ok(name) = form.name.as_deref().map(SubscriberName::parse).transpose() else {
        let body = html! {
            p { "That name is too long. Please shorten it and try again." }
            p { a href="/subscribe" { "Back to the form" } }
        };
        return (
            StatusCode::BAD_REQUEST,
            page(&state, "Check the name", body),
        )
            .into_response();
    };
    let req = Request {
        email,
        name: name.flatten(),
    };
    if state.signup.queue.try_send(req).is_err() {
        Metrics::count(&state.metrics.signups_refused);
        return unavailable(&state);
    }
    Metrics::count(&state.metrics.signups_queued);
    let body = html! {
        p { "Thank you. If this address can receive " (state.site_name) ", a confirmation link is on its way." }
        p { "Open it to start receiving the newsletter." }
    };
    page(&state, "Check your inbox", body).into_response()
}

fn confirm_token(token: Result<Path<String>, PathRejection>) -> Option<UnsubscribeToken> {
    let Path(token) = token.ok()?;
    UnsubscribeToken::parse(&token).ok()
}

/// GET /confirm/{token}: a button; confirms nothing.
pub async fn confirm_page(
    State(state): State<Arc<AppState>>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(token) = confirm_token(token) else {
        return not_found(&state);
    };
    match state.store.find_by_confirm_token(&token).await {
        Ok(Some(_)) => {
            let body = html! {
                p { "Press the button to start receiving " (state.site_name) "." }
                form method="post" { button type="submit" { "Confirm my subscription" } }
            };
            page(&state, "Confirm your subscription", body).into_response()
        }
        Ok(None) => not_found(&state),
        Err(e) => {
            tracing::error!(error = %e, "confirm lookup failed");
            unavailable(&state)
        }
    }
}

/// POST /confirm/{token}: activates; the link is then spent.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(token) = confirm_token(token) else {
        return not_found(&state);
    };
    match state.store.confirm(&token).await {
        Ok(Some(_)) => {
            let body =
                html! { p { "You will receive " (state.site_name) " from the next issue on." } };
            page(&state, "You are subscribed", body).into_response()
        }
        Ok(None) => not_found(&state),
        Err(e) => {
            tracing::error!(error = %e, "confirm failed");
            unavailable(&state)
        }
    }
}
