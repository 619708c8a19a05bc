//! The console's quarantine: the messages `bounces process` could not tie to anyone, each with
//! `bounces inspect`'s explanation, and the choice to process one again (after an import, a fix of
//! the VERP key, a new version) or to discard it. Admins only: bounces carry subscribers' addresses.
//!
//! The quarantine is a Maildir on the machine that runs `bounces process` (`[bounces] quarantine`);
//! the console shows it when it runs on the same machine.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::AppState;
use super::admin::{CsrfForm, Signed, admin_page, admins_only, forbidden, unavailable};
use crate::bounce::intake::{Intake, Tally};
use crate::bounce::{self, Report};

/// The most messages the list shows (newest first).
const SHOWN: usize = 200;

/// A quarantined message: its file name (the Maildir's unique part), size and time.
struct Held {
    name: String,
    path: PathBuf,
    size: u64,
    modified: i64,
}

fn quarantine_dir(state: &AppState) -> PathBuf {
    PathBuf::from(&state.config.bounces.quarantine)
}

/// A held message, if `path` is a file.
fn held_at(path: PathBuf) -> Option<Held> {
    let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
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
    })
}

/// The messages in the quarantine's `new/` and `cur/`, newest first.
fn held(state: &AppState) -> Vec<Held> {
    let dir = quarantine_dir(state);
    let mut all: Vec<Held> = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
        .flatten()
        .filter_map(|e| held_at(e.ok()?.path()))
        .collect();
    all.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.name.cmp(&b.name)));
    all
}

/// One message by its name, in `new/` or `cur/`; a name that is not a plain file name there finds
/// nothing.
fn find(state: &AppState, name: &str) -> Option<Held> {
    if name.is_empty() || name.contains('/') || name.contains("..") {
        return None;
    }
    let dir = quarantine_dir(state);
    ["new", "cur"]
        .iter()
        .find_map(|sub| held_at(dir.join(sub).join(name)))
}

/// The intake `bounces process` would use, for inspecting and processing again.
async fn intake(state: &AppState) -> Result<Intake<'_>, Response> {
    Intake::new(&state.store, &state.config, None)
        .await
        .map_err(unavailable)
}

/// A message's bytes, unless it is over `[bounces] max_message_bytes` (kept unread, as intake
/// keeps it) or cannot be read.
fn read(state: &AppState, h: &Held) -> Option<Vec<u8>> {
    if h.size > state.config.bounces.max_message_bytes {
        return None;
    }
    std::fs::read(&h.path).ok()
}

/// What `bounces inspect` says of a message read by [`read`], and its proofs.
async fn inspect(
    state: &AppState,
    intake: &Intake<'_>,
    bytes: Option<&[u8]>,
) -> Result<Option<(Report, Vec<bounce::Proof>)>, crate::store::StoreError> {
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    let report = bounce::read(bytes, &intake.context(None));
    let proofs = bounce::proofs(&state.store, &report).await?;
    Ok(Some((report, proofs)))
}

fn explanation(h: &Held, found: &Option<(Report, Vec<bounce::Proof>)>, max: u64) -> Markup {
    html! {
        @match found {
            None if h.size > max => p { "Over the size limit ([bounces] max_message_bytes): kept unread." },
            None => p { "Cannot be read." },
            Some((r, proofs)) => {
                p {
                    strong { (r.kind.as_str()) }
                    @if let Some(f) = &r.family { " (" (f) ")" }
                    @if let Some(n) = &r.note { ": " (n) }
                }
                @if r.recipients.is_empty() { p { "No recipient could be read from it." } }
                ul {
                    @for (rc, proof) in r.recipients.iter().zip(proofs) {
                        li {
                            (rc.email.as_deref().unwrap_or("(no address)")) ": " (rc.class.as_str())
                            ", status " (rc.status.as_deref().unwrap_or("-"))
                            ", attributed by " (rc.attribution.as_str()) ". " (proof.explain()) "."
                            br; "Address from: " (rc.found_in) "; class from: " (rc.evidence) "."
                            @if let Some(d) = &rc.diagnostic { br; (d) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /admin/quarantine`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
) -> Response {
    if let Some(refused) = admins_only(&state, &signed, "the quarantine").await {
        return refused;
    }
    let intake = match intake(&state).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let all = held(&state);
    let mut rows = Vec::new();
    for h in all.iter().take(SHOWN) {
        match inspect(&state, &intake, read(&state, h).as_deref()).await {
            Ok(found) => rows.push((h, found)),
            Err(e) => return unavailable(e),
        }
    }
    let max = state.config.bounces.max_message_bytes;
    let body = html! {
        p { (all.len()) " message(s) in " code { (quarantine_dir(&state).display()) } "."
            @if all.len() > SHOWN { " The newest " (SHOWN) " are shown." } }
        @if rows.is_empty() { p { "The quarantine is empty." } }
        @for (h, found) in &rows {
            section aria-labelledby={ "m-" (h.name) } {
                h2 id={ "m-" (h.name) } { a href={ "/admin/quarantine/" (h.name) } { (h.name) } }
                p { (crate::domain::rfc5322_date(h.modified)) ", " (h.size) " bytes" }
                (explanation(h, found, max))
            }
        }
    };
    admin_page(&state, Some(&signed), "Quarantine", body).into_response()
}

/// `GET /admin/quarantine/{name}`: the explanation, the message's text, and the two actions.
pub async fn show(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    Path(name): Path<String>,
) -> Response {
    if let Some(refused) = admins_only(&state, &signed, "the quarantine").await {
        return refused;
    }
    let Some(h) = find(&state, &name) else {
        return super::pages::not_found(&state);
    };
    let intake = match intake(&state).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let bytes = read(&state, &h);
    let found = match inspect(&state, &intake, bytes.as_deref()).await {
        Ok(f) => f,
        Err(e) => return unavailable(e),
    };
    let max = state.config.bounces.max_message_bytes;
    // The first 64 KiB, as text: enough to read the headers and the report (of a message over the
    // size limit too, which is read only that far).
    let head = match bytes {
        Some(b) => b,
        None => {
            let mut b = Vec::new();
            let _ = std::fs::File::open(&h.path).and_then(|f| {
                std::io::Read::read_to_end(&mut std::io::Read::take(f, 65_536), &mut b)
            });
            b
        }
    };
    let text = String::from_utf8_lossy(&head[..head.len().min(65_536)]).into_owned();
    let csrf = &signed.session.csrf;
    let body = html! {
        p { (crate::domain::rfc5322_date(h.modified)) ", " (h.size) " bytes" }
        (explanation(&h, &found, max))
        form method="post" action={ "/admin/quarantine/" (h.name) "/reprocess" } {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { "Process again" }
        }
        form method="post" action={ "/admin/quarantine/" (h.name) "/discard" } {
            input type="hidden" name="csrf" value=(csrf);
            p { button type="submit" { "Discard" } }
        }
        h2 { "The message" }
        pre tabindex="0" aria-label="The message's text" { (text) }
    };
    admin_page(&state, Some(&signed), "Quarantined message", body).into_response()
}

/// `POST /admin/quarantine/{name}/{reprocess|discard}`.
pub async fn act(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    Path((name, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !signed.csrf_ok(&form.csrf) {
        return forbidden();
    }
    if let Some(refused) = admins_only(&state, &signed, &action).await {
        return refused;
    }
    let Some(h) = find(&state, &name) else {
        return super::pages::not_found(&state);
    };
    let outcome = match action.as_str() {
        "discard" => match std::fs::remove_file(&h.path) {
            Ok(()) => "discarded".to_string(),
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
                let Some(bytes) = read(&state, &h) else {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n")
                        .into_response();
                };
                let mut tally = Tally::default();
                match intake.handle(&bytes, None, &mut tally).await {
                    Ok(bounce::intake::Fate::Done) => {
                        let _ = std::fs::remove_file(&h.path);
                        format!("processed: {tally}")
                    }
                    Ok(bounce::intake::Fate::Quarantine) => {
                        "still proves nothing about anyone: kept".to_string()
                    }
                    Err(e) => return unavailable(e),
                }
            }
        }
        _ => return super::pages::not_found(&state),
    };
    let _ = state
        .store
        .audit(
            Some(signed.email()),
            &format!("quarantine {action}"),
            Some(&format!("{name}: {outcome}")),
            None,
        )
        .await;
    if outcome.ends_with("kept") {
        let body = html! {
            p role="status" { (name) ": " (outcome) "." }
            p { a href={ "/admin/quarantine/" (name) } { "Back to the message" } }
        };
        return admin_page(&state, Some(&signed), "Quarantine", body).into_response();
    }
    Redirect::to("/admin/quarantine").into_response()
}
