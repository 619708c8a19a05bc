//! The console's bounces (admins only: bounces carry subscribers' addresses; see the route table).
//!
//! - The bounce log: what came back, and who reported an issue as spam, in the last 30 days, each
//!   with its evidence (how we learnt it, how we knew whose it was, what the server said).
//! - The quarantine: the messages `bounces process` could not tie to anyone, each with
//!   `bounces inspect`'s explanation, and the choice to process one again (after an import, a fix
//!   of the VERP key, a new version) or to discard it. The quarantine is a Maildir on the machine
//!   that runs `bounces process` (`[bounces] quarantine`); the console shows it when it runs on the
//!   same machine. No message is parsed to be shown: its stored explanation and its text are.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::auth::{CsrfForm, Posted, Signed};
use super::flash::{Done, DoneQuery, flash, flash_error};
use super::words::{
    attribution, bounce_class, bounce_source, capitalised, stored_bounce_class, when,
};
use super::{page, unavailable};
use crate::bounce::intake::{Explanation, Intake, Quarantine, Tally};
use crate::bounce::{self};
use crate::files;
use crate::web::AppState;
use crate::web::pages::{not_found, scroll};

/// `GET /admin/bounces`: the bounce log of the last 30 days with its evidence.
pub async fn log(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
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
    page(&state, Some(&signed), "Bounces and complaints", body).into_response()
}

/// The most messages the list shows (newest first).
const SHOWN: usize = 200;

/// How much of a message the page shows, as text.
const SHOWN_BYTES: u64 = 65_536;

/// A quarantined message: its file name (the Maildir's unique part), size and time, and the
/// explanation stored beside it when it arrived.
struct Held {
    name: String,
    path: PathBuf,
    size: u64,
    modified: i64,
    why: Option<Explanation>,
}

fn maildir(state: &AppState) -> Quarantine {
    Quarantine::new(PathBuf::from(&state.config.bounces.quarantine))
}

/// A held message, if `path` is a regular file (a symbolic link is never followed).
fn held_at(path: PathBuf) -> Option<Held> {
    let meta = std::fs::symlink_metadata(&path)
        .ok()
        .filter(|m| m.file_type().is_file())?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    Some(Held {
        name: path.file_name()?.to_string_lossy().into_owned(),
        size: meta.len(),
        path,
        modified,
        why: None,
    })
}

/// The messages in the quarantine's `new/` and `cur/`, newest first, and the explanations of the
/// first `SHOWN`. Reads no message.
fn held(q: &Quarantine) -> Vec<Held> {
    let mut all: Vec<Held> = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(q.dir().join(sub)).ok())
        .flatten()
        .filter_map(|e| held_at(e.ok()?.path()))
        .collect();
    all.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.name.cmp(&b.name)));
    for h in all.iter_mut().take(SHOWN) {
        h.why = q.explanation(&h.name);
    }
    all
}

/// One message by its name, in `new/` or `cur/`, with its explanation; a name that is not a plain
/// file name there finds nothing.
fn find(q: &Quarantine, name: &str) -> Option<Held> {
    if name.is_empty() || name.contains('/') || name.contains("..") {
        return None;
    }
    let mut h = ["new", "cur"]
        .iter()
        .find_map(|sub| held_at(q.dir().join(sub).join(name)))?;
    h.why = q.explanation(&h.name);
    Some(h)
}

/// Runs file-system work on the blocking pool, so that the request time limit always applies.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// The intake `bounces process` would use, for processing again.
async fn intake(state: &AppState) -> Result<Intake<'_>, Response> {
    Intake::new(&state.store, &state.config, None)
        .await
        .map_err(unavailable)
}

fn explanation(h: &Held) -> Markup {
    html! {
        @match &h.why {
            None => p { "No explanation was stored with this message (it was put here by an older version, or by hand). "
                "Process it again to have one." },
            Some(w) => {
                p { strong { (capitalised(&w.reason)) } }
                @if w.kind.is_some() && w.recipients.is_empty() { p { "No recipient could be read from it." } }
                @if !w.recipients.is_empty() {
                    ul {
                        @for rc in &w.recipients {
                            li { (rc.email.as_deref().unwrap_or("(no address)")) ": " (stored_bounce_class(&rc.class).map_or(rc.class.clone(), str::to_lowercase)) }
                        }
                    }
                }
                details {
                    summary { "Technical details" }
                    p {
                        @if let Some(k) = &w.kind { "Read as: " (kind_words(k)) }
                        @if let Some(f) = &w.family { " (" (f) ")" }
                        @if let Some(n) = &w.note { ". " (n) }
                    }
                    @if !w.recipients.is_empty() {
                        ul {
                            @for rc in &w.recipients {
                                li {
                                    (rc.email.as_deref().unwrap_or("(no address)")) ": class " code { (rc.class) }
                                    ", status " code { (rc.status.as_deref().unwrap_or("-")) }
                                    ", attributed by " code { (rc.attribution) } ". " (rc.proof) "."
                                    br; "Address from: " (rc.found_in) "; class from: " (rc.evidence) "."
                                    @if let Some(d) = &rc.diagnostic { br; (d) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A message kind as the explanation stores it, in words.
fn kind_words(kind: &str) -> &str {
    match kind {
        "dsn" => "a delivery report",
        "arf" => "a complaint report",
        "non-standard bounce" => "a bounce in a non-standard format",
        "unsubscribe request" => "a request to unsubscribe",
        "auto-reply" => "an automatic reply",
        "not a bounce" => "not a bounce",
        "not an e-mail message" => "not an e-mail message",
        other => other,
    }
}

/// `GET /admin/quarantine`: the stored explanations; no message is read or parsed.
pub async fn quarantine(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(done): Query<DoneQuery>,
) -> Response {
    let q = maildir(&state);
    let Some(all) = blocking(move || held(&q)).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot list the quarantine\n",
        )
            .into_response();
    };
    let body = html! {
        @match done.done() {
            Some(Done::Discarded) => (flash(html! { p { strong { "The message is discarded." } } })),
            Some(Done::Processed) => (flash(html! { p { strong { "The message was processed again" } " and has left the quarantine: it now counts as a bounce of the reader it names." } })),
            _ => {}
        }
        p { "Messages that came back to the bounce address but could not be tied to anyone on the list. "
            "Nobody was changed because of them." }
        p { (all.len()) " message(s) held."
            @if all.len() > SHOWN { " The newest " (SHOWN) " are shown." } }
        @if all.is_empty() { p { "The quarantine is empty." } }
        @for h in all.iter().take(SHOWN) {
            section aria-labelledby={ "m-" (h.name) } {
                h2 id={ "m-" (h.name) } { a href={ "/admin/quarantine/" (h.name) } { (h.name) } }
                p { "Received " (when(&state, h.modified)) ", " (h.size) " bytes" }
                (explanation(h))
            }
        }
    };
    page(&state, Some(&signed), "Quarantine", body).into_response()
}

/// `GET /admin/quarantine/{name}`: the stored explanation, the start of the message's text, and
/// the two actions. The message is not parsed.
pub async fn show(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(name): Path<String>,
) -> Response {
    let q = maildir(&state);
    let Some(found) = blocking(move || {
        let h = find(&q, &name)?;
        // The first 64 KiB, as text: enough to read the headers and the report.
        let head = files::read_prefix(&h.path, SHOWN_BYTES).ok()?;
        Some((h, head))
    })
    .await
    .flatten() else {
        return not_found(&state);
    };
    let (h, head) = found;
    let text = String::from_utf8_lossy(&head).into_owned();
    let csrf = &signed.session.csrf;
    let body = html! {
        p { "Received " (when(&state, h.modified)) ", " (h.size) " bytes" }
        (explanation(&h))
        div class="actions" {
            form method="post" action={ "/admin/quarantine/" (h.name) "/reprocess" } {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Process again" }
            }
            form method="get" action={ "/admin/quarantine/" (h.name) "/discard" } {
                button type="submit" class="quiet" { "Discard…" }
            }
        }
        h2 { "The message" }
        pre tabindex="0" aria-label="The message's text" { (text) }
    };
    page(&state, Some(&signed), "Quarantined message", body).into_response()
}

/// `GET /admin/quarantine/{name}/discard`: the confirmation step.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    if action != "discard" {
        return not_found(&state);
    }
    let q = maildir(&state);
    let Some(h) = blocking(move || find(&q, &name)).await.flatten() else {
        return not_found(&state);
    };
    let body = html! {
        p { "Discarding deletes " strong { (h.name) } " (received " (when(&state, h.modified)) ") for good. "
            "Nobody on the list is changed. This cannot be undone." }
        form method="post" action={ "/admin/quarantine/" (h.name) "/discard" } class="actions" {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            button type="submit" class="danger" { "Discard the message" }
            a href={ "/admin/quarantine/" (h.name) } { "Keep it" }
        }
    };
    page(&state, Some(&signed), "Discard this message?", body).into_response()
}

/// `POST /admin/quarantine/{name}/{reprocess|discard}`.
pub async fn act(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path((name, action)): Path<(String, String)>,
    _: Posted<CsrfForm>,
) -> Response {
    let q = maildir(&state);
    let Some(h) = find(&q, &name) else {
        return not_found(&state);
    };
    let outcome = match action.as_str() {
        "discard" => match std::fs::remove_file(&h.path) {
            Ok(()) => {
                q.forget(&h.name);
                "discarded".to_string()
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot discard a quarantined message");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot remove the file\n",
                )
                    .into_response();
            }
        },
        "reprocess" => {
            let intake = match intake(&state).await {
                Ok(i) => i,
                Err(r) => return r,
            };
            if h.size > intake.max_bytes {
                "still over the size limit: kept".to_string()
            } else {
                let path = h.path.clone();
                let max = intake.max_bytes;
                let Some(Ok(bytes)) = blocking(move || files::read_bounded(&path, max)).await
                else {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n")
                        .into_response();
                };
                let mut tally = Tally::default();
                match intake.handle(&bytes, None, &mut tally).await {
                    Ok(bounce::intake::Fate::Done) => {
                        let _ = std::fs::remove_file(&h.path);
                        q.forget(&h.name);
                        format!("processed: {tally}")
                    }
                    Ok(bounce::intake::Fate::Quarantine(why)) => {
                        let _ = q.re_explain(&h.name, &why);
                        "still proves nothing about anyone: kept".to_string()
                    }
                    Err(e) => return unavailable(e),
                }
            }
        }
        _ => return not_found(&state),
    };
    signed
        .audit(
            &state,
            &format!("quarantine {action}"),
            Some(&format!("{name}: {outcome}")),
        )
        .await;
    if outcome.ends_with("kept") {
        let body = html! {
            (flash_error(html! { (name) ": " (outcome) "." }))
            p { a href={ "/admin/quarantine/" (name) } { "Back to the message" } }
        };
        return page(&state, Some(&signed), "Quarantine", body).into_response();
    }
    let done = if action == "discard" {
        Done::Discarded
    } else {
        Done::Processed
    };
    Redirect::to(&format!("/admin/quarantine?done={}", done.code())).into_response()
}
