//! The console's list import and export (admins only: see the route table), with the CLI's
//! semantics (`store::csv`, `Store::import`): all or nothing unless the admin asks to skip invalid
//! rows, each bad line listed with its number. An import runs in the background; its page shows
//! how far it has read and reloads itself until it is done (the pages' small script; without it, a
//! link). The export streams every subscriber, or those of one status, as `subscribers export`
//! writes them. Both are audited.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::auth::{Signed, check_csrf, random_token};
use super::flash::flash_error;
use super::words::quoted;
use super::{page, unavailable, upload_error};
use crate::domain::SubscriberStatus;
use crate::store::{ImportOptions, ImportSummary};
use crate::web::AppState;
use crate::web::pages::{auto_refresh, not_found, scroll};

/// What to do with a CSV over the upload limit.
pub const TOO_LARGE: &str =
    "split it into smaller files, or import it from a terminal (newsletter subscribers import)";

/// How many bad lines an import's page lists (all are counted).
const LISTED: usize = 1000;

/// One import: its file, how far it has read, and at the end what it did.
pub struct Job {
    id: String,
    file: String,
    by: String,
    /// Lines in the upload (a CSV's records end at a newline).
    lines: u64,
    read: AtomicU64,
    result: Mutex<Option<Result<ImportSummary, String>>>,
}

/// `GET /admin/import`: the upload form and the recent imports.
pub async fn form(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let recent = state.imports.newest_first();
    let body = html! {
        p { "A CSV file with a header naming an " code { "email" } " column (and optionally "
            code { "name" } "), or addresses in the first column and names in the second. "
            "Everyone imported is active: import only people who asked for the newsletter." }
        form method="post" action="/admin/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            p { label for="file" { "CSV file" } br; input id="file" name="file" type="file" accept=".csv,text/csv" required; }
            p { input id="skip_invalid" name="skip_invalid" type="checkbox" value="1";
                " " label for="skip_invalid" { "Import the valid rows even if some are invalid (otherwise nothing is imported)" } }
            p { input id="resubscribe" name="resubscribe" type="checkbox" value="1";
                " " label for="resubscribe" { "Bring back addresses that unsubscribed, bounced or complained" } }
            p { button type="submit" { "Import" } }
        }
        h2 { "Export" }
        ul { li { a href="/admin/export.csv" { "Export every subscriber as CSV" } }
             li { a href="/admin/export.csv?status=active" { "Export the active ones" } } }
        @if !recent.is_empty() {
            h2 { "Recent imports" }
            ul { @for j in &recent { li { a href={ "/admin/import/" (j.id) } { (j.file) } " by " (j.by) } } }
        }
    };
    page(&state, Some(&signed), "Import subscribers", body).into_response()
}

/// `POST /admin/import` (multipart: csrf, file, skip_invalid, resubscribe): starts the import and
/// sends the browser to its page.
pub async fn start(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    mut form: Multipart,
) -> Response {
    let (mut csrf, mut file, mut name) = (String::new(), None::<Bytes>, String::new());
    let mut options = ImportOptions::default();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return upload_error(&e, TOO_LARGE),
        };
        match field.name().unwrap_or("") {
            "csrf" => csrf = field.text().await.unwrap_or_default(),
            "skip_invalid" => {
                options.skip_invalid = ticked(&field.text().await.unwrap_or_default())
            }
            "resubscribe" => options.resubscribe = ticked(&field.text().await.unwrap_or_default()),
            "file" => {
                name = field.file_name().unwrap_or("upload.csv").to_string();
                match field.bytes().await {
                    Ok(b) => file = Some(b),
                    Err(e) => return upload_error(&e, TOO_LARGE),
                }
            }
            _ => {}
        }
    }
    if let Err(refused) = check_csrf(&state, &signed, &csrf).await {
        return refused;
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        let body = html! { (flash_error(html! { "choose a CSV file to import." })) p { a href="/admin/import" { "Back" } } };
        return (
            StatusCode::BAD_REQUEST,
            page(&state, Some(&signed), "Import subscribers", body),
        )
            .into_response();
    };
    let job = Arc::new(Job {
        id: random_token(),
        file: name,
        by: signed.email().to_string(),
        lines: bytes.iter().filter(|&&b| b == b'\n').count() as u64
            + u64::from(!bytes.ends_with(b"\n")),
        read: AtomicU64::new(0),
        result: Mutex::new(None),
    });
    state.imports.add(&job.id, job.clone());
    signed
        .audit(
            &state,
            "import started",
            Some(&format!("{} ({} bytes)", job.file, bytes.len())),
        )
        .await;
    let task_state = state.clone();
    let task_job = job.clone();
    tokio::spawn(async move {
        let progress = &task_job.read;
        let rows = crate::store::csv::rows(std::io::Cursor::new(bytes)).inspect(|r| {
            progress.store(r.line, Ordering::Relaxed);
        });
        let result = task_state.store.import(rows, &options).await;
        progress.store(task_job.lines, Ordering::Relaxed);
        let detail = match &result {
            Ok(s) if s.rolled_back => format!(
                "{}: nothing imported, {} invalid",
                task_job.file,
                s.invalid.len()
            ),
            Ok(s) => format!(
                "{}: added {}, updated {}, invalid {}",
                task_job.file,
                s.added,
                s.updated,
                s.invalid.len()
            ),
            Err(e) => format!("{}: failed: {e}", task_job.file),
        };
        let _ = task_state
            .store
            .audit(Some(&task_job.by), "import finished", Some(&detail), None)
            .await;
        *task_job.result.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(result.map_err(|e| e.to_string()));
    });
    Redirect::to(&format!("/admin/import/{}", job.id)).into_response()
}

/// `GET /admin/import/{job}`: progress while it runs (reloading every 5 s), then the outcome.
pub async fn job(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let Some(job) = state.imports.get(&id) else {
        return not_found(&state);
    };
    let result = job.result.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let read = job.read.load(Ordering::Relaxed).min(job.lines);
    let body = html! {
        @match &result {
            None => {
                p role="status" { "Importing " (job.file) ": line " (read) " of " (job.lines) "." }
                (auto_refresh())
                p { progress max=(job.lines.max(1)) value=(read) aria-label="Lines read" {} }
            }
            Some(Err(e)) => (flash_error(html! { "the import failed and changed nothing: " (quoted(e)) })),
            Some(Ok(s)) => {
                @if s.rolled_back {
                    div class="flash error" role="alert" { p { strong { "Nothing was imported: " (s.invalid.len()) " invalid row(s)." }
                        " Fix them and import the file again, or tick “import the valid rows”." } }
                } @else {
                    div class="flash" role="status" { p { strong { "Imported." } " Added " (s.added) ", updated " (s.updated) ", skipped "
                        (s.skipped.values().sum::<u64>()) ", invalid " (s.invalid.len()) "." } }
                    @if !s.skipped.is_empty() {
                        ul { @for (why, n) in &s.skipped { li { "skipped " (n) ": " (quoted(why)) } } }
                    }
                }
                @if !s.invalid.is_empty() {
                    h2 { "Invalid rows" }
                    (scroll("Invalid rows", html! { table class="cards" {
                        thead { tr { th scope="col" { "Line" } th scope="col" { "Why" } } }
                        tbody { @for (line, why) in s.invalid.iter().take(LISTED) { tr { td data-label="Line" { (line) } td data-label="Why" { (quoted(why)) } } } }
                    } }))
                    @if s.invalid.len() > LISTED { p { "… and " (s.invalid.len() - LISTED) " more." } }
                }
            }
        }
        p { a href="/admin/import" { "Import another file" } }
    };
    page(
        &state,
        Some(&signed),
        &format!("Import of {}", job.file),
        body,
    )
    .into_response()
}

#[derive(serde::Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    status: String,
}

/// `GET /admin/export.csv?status=`: every subscriber (or those of one status) as CSV, streamed
/// page by page, the same columns as `subscribers export`.
pub async fn export(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(q): Query<ExportQuery>,
) -> Response {
    let status = match q.status.as_str() {
        "" => None,
        s => match SubscriberStatus::parse(s) {
            Ok(s) => Some(s),
            Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
        },
    };
    if let Err(e) = state.store.ping().await {
        return unavailable(e);
    }
    signed
        .audit(
            &state,
            "exported subscribers",
            Some(status.map_or("all", |s| s.as_str())),
        )
        .await;
    let header_sent = false;
    let stream = futures_util::stream::unfold(
        (state.clone(), 0_i64, header_sent, false),
        move |(state, after, header_sent, done)| async move {
            if done {
                return None;
            }
            if !header_sent {
                let chunk = Bytes::from_static(crate::store::csv::EXPORT_HEADER);
                return Some((Ok(chunk), (state, after, true, false)));
            }
            match state.store.page(status, after, 5000).await {
                Ok(page) => {
                    let last = page.last()?.id;
                    let chunk = Bytes::from(crate::store::csv::export(&page));
                    Some((Ok(chunk), (state, last, true, false)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "export stopped: database error");
                    Some((
                        Err(std::io::Error::other(e.to_string())),
                        (state, after, true, true),
                    ))
                }
            }
        },
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"subscribers.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Whether a checkbox's submitted value means ticked: a browser sends the box's `value` ("1" here)
/// only when it is ticked; a hand-made `resubscribe=0` or an empty value is not a tick.
fn ticked(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "on" | "true" | "yes"
    )
}

#[cfg(test)]
mod checkbox_tests {
    use super::ticked;

    #[test]
    fn only_a_ticking_value_ticks() {
        for v in ["1", "on", "ON", "true", "yes"] {
            assert!(ticked(v), "{v}");
        }
        for v in ["0", "", "off", "false", "no", "2"] {
            assert!(!ticked(v), "{v}");
        }
    }
}
