//! The console's preview: pick a draft from `[admin] drafts`, upload one or paste it; see `check`'s
//! findings, the HTML e-mail at 660 px and 375 px in light and dark, and the plaintext; send a test
//! copy to an address. Editors and admins may use it.
//!
//! The e-mail is shown in sandboxed frames served by `/admin/preview/{id}/html` with a policy of
//! its own: its styles may apply, nothing in it may run, and only the console may frame it. Light
//! and dark are fixed on the server (the e-mail's dark-scheme rules made unconditional, or
//! switched off), so the preview does not depend on the viewer's own setting. The frames load no
//! remote image (`img-src data:`): the author of a draft would otherwise learn who previewed it.
//!
//! A draft obeys the limit `send` obeys ([`MAX_ISSUE_BYTES`]) whichever way it comes: a draft from
//! the folder is read through [`files::read_bounded_async`] (no symlink, FIFO or device, nothing past
//! the limit, off the executor); an upload or a paste stops being kept at the limit. At most
//! [`RENDERS_AT_ONCE`] drafts render at a time, on tokio's blocking pool, and the kept previews are
//! bounded by their total size ([`KEPT_BYTES`]) as well as their number.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::auth::{CarriesCsrf, Posted, Signed, check_csrf, random_token};
use super::flash::{flash, flash_error};
use super::words::quoted;
use super::{page, upload_error};
use crate::check::{FileReport, Severity};
use crate::domain::EmailAddress;
use crate::files::{self, ReadError};
use crate::issue::MAX_ISSUE_BYTES;
use crate::render::{self, Recipient, Rendered};
use crate::send::campaign::{self, CampaignError};
use crate::web::AppState;
use crate::web::pages::{not_found, scroll};

/// Drafts rendering at once; more wait up to [`RENDER_WAIT`], then get a 503. A draft within the
/// limit can still take seconds of CPU (and its render goes on after its request timed out): two
/// leave the server's other work a core on a small machine.
pub const RENDERS_AT_ONCE: usize = 2;

/// How long a preview waits for a turn to render before it is told to try again.
const RENDER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The previews kept in memory, in total (about twice what their HTML and plaintext weigh). The
/// newest is kept even when it alone is larger.
pub const KEPT_BYTES: usize = 64 * 1024 * 1024;

/// Test copies one account may send from the console per hour.
pub const TEST_COPIES_PER_HOUR: u32 = 20;

/// The drafts folder entries looked at, at most, when listing it.
const DRAFTS_SCANNED: usize = 10_000;

/// The largest form field other than the draft itself (the CSRF token, a draft's name).
const SMALL_FIELD: usize = 4096;

static RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(RENDERS_AT_ONCE);

/// One rendered draft.
pub struct Preview {
    id: String,
    name: String,
    /// `check`'s findings: (severity, rule, line, message, help).
    findings: Vec<(Severity, String, usize, String, String)>,
    /// Why the draft could not be rendered, if it could not.
    error: Option<String>,
    rendered: Option<Rendered>,
    html: String,
    text: String,
}

/// What to do with a draft over the upload limit.
pub const TOO_LARGE: &str = "a draft that large cannot be an issue; check the file";

impl Preview {
    /// About what this preview holds in memory, in bytes: its filled HTML and plaintext, the
    /// templates they were filled from, and the findings.
    pub fn weight(&self) -> usize {
        let findings: usize = self
            .findings
            .iter()
            .map(|(_, rule, _, message, help)| rule.len() + message.len() + help.len() + 64)
            .sum();
        let links: usize = self
            .rendered
            .as_ref()
            .map(|r| {
                r.dropped_links
                    .iter()
                    .chain(&r.unsafe_links)
                    .map(|l| l.len() + 24)
                    .sum()
            })
            .unwrap_or(0);
        let templates = if self.rendered.is_some() {
            self.html.len() + self.text.len()
        } else {
            0
        };
        self.html.len() + self.text.len() + templates + findings + links + self.name.len() + 256
    }
}

/// What `send` would say of a draft over [`MAX_ISSUE_BYTES`], and what to do.
fn too_large_message(what: &str) -> String {
    format!(
        "{what} is larger than {MAX_ISSUE_BYTES} bytes (4 MiB), the most an issue may be \
         (as when it is sent from a terminal): split it, or remove what makes it that large (embedded data, pasted logs)."
    )
}

fn findings(report: &FileReport) -> Vec<(Severity, String, usize, String, String)> {
    let starts: Vec<usize> = report.diagnostics.iter().map(|d| d.range.start).collect();
    let at = report.line_cols(&starts);
    report
        .diagnostics
        .iter()
        .zip(at)
        .map(|(d, (line, _))| {
            (
                d.severity,
                format!("{:?}", d.rule),
                line,
                d.message.clone(),
                d.help.clone(),
            )
        })
        .collect()
}

/// Renders and checks a draft as `send` would.
fn prepare(state: &AppState, name: &str, bytes: &[u8]) -> Preview {
    let path = PathBuf::from(name);
    let (findings, error, rendered) = match campaign::prepare_bytes(&state.config, &path, bytes) {
        Ok(p) => (findings(&p.report), None, Some(p.rendered)),
        Err(CampaignError::Invalid { error, report }) => {
            (findings(&report), Some(error.to_string()), None)
        }
        // Not renderable (nested too deep, say): `check` still says where and why.
        Err(e @ CampaignError::Render { .. }) => {
            let report = crate::check::CheckOptions::from_config(&state.config)
                .map(|opts| crate::check::check_bytes(&path, bytes, &opts));
            (
                report.map(|r| findings(&r)).unwrap_or_default(),
                Some(e.to_string()),
                None,
            )
        }
        Err(e) => (Vec::new(), Some(e.to_string()), None),
    };
    let url = render::sample_unsubscribe_url(&state.config.site);
    let r = Recipient {
        unsubscribe_url: &url,
    };
    let (html, text) = rendered
        .as_ref()
        .map(|p| (p.html.fill(&r), p.text.fill(&r)))
        .unwrap_or_default();
    Preview {
        id: random_token(),
        name: name.to_string(),
        findings,
        error,
        rendered,
        html,
        text,
    }
}

/// The drafts in `[admin] drafts`, newest first (at most [`DRAFTS_SCANNED`] entries looked at).
/// Entries are listed as they are (a link or a FIFO too, by its own time, never followed): picking
/// one that is not a regular file says so.
fn list_drafts(dir: &str) -> Vec<String> {
    if dir.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .take(DRAFTS_SCANNED)
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .filter_map(|e| {
            // `DirEntry::metadata` does not follow a symlink.
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.file_name().to_string_lossy().into_owned()))
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found.into_iter().map(|(_, n)| n).collect()
}

/// [`list_drafts`] off the executor: the folder may be large or on a slow disk.
async fn drafts(state: &AppState) -> Vec<String> {
    let dir = state.config.admin.drafts.clone();
    tokio::task::spawn_blocking(move || list_drafts(&dir))
        .await
        .unwrap_or_default()
}

fn draft_form(
    _state: &AppState,
    signed: &Signed,
    drafts: &[String],
    error: Option<&str>,
) -> Markup {
    html! {
        @if let Some(e) = error { (flash_error(html! { (e) })) }
        form method="post" action="/admin/preview" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            p { small { "A draft may be at most 4 MiB, as for any issue sent." } }
            @if !drafts.is_empty() {
                p { label for="draft" { "A draft from the drafts folder" } br;
                    select id="draft" name="draft" {
                        option value="" { "(none)" }
                        @for d in drafts { option value=(d) { (d) } }
                    }
                }
            }
            p { label for="file" { "Or upload a draft (.md)" } br;
                input id="file" name="file" type="file" accept=".md,.markdown,text/markdown,text/plain"; }
            p { label for="text" { "Or paste it" } br;
                textarea id="text" name="text" rows="12" {} }
            p { button type="submit" { "Preview" } }
        }
    }
}

/// `GET /admin/preview`.
pub async fn form(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let drafts = drafts(&state).await;
    let body = draft_form(&state, &signed, &drafts, None);
    page(&state, Some(&signed), "Preview an issue", body).into_response()
}

/// A form field, read in chunks and kept only up to `limit` bytes: past it the rest is read and
/// dropped (so the browser gets the answer rather than a reset connection) and `None` is returned.
async fn read_field(
    field: &mut axum::extract::multipart::Field<'_>,
    limit: usize,
) -> Result<Option<Vec<u8>>, axum::extract::multipart::MultipartError> {
    let mut kept = Some(Vec::new());
    while let Some(chunk) = field.chunk().await? {
        if let Some(k) = &mut kept {
            if k.len() + chunk.len() > limit {
                kept = None;
            } else {
                k.extend_from_slice(&chunk);
            }
        }
    }
    Ok(kept)
}

/// A small field as text; one over [`SMALL_FIELD`] reads as empty (no CSRF token or draft name is
/// that long).
async fn small_field(
    field: &mut axum::extract::multipart::Field<'_>,
) -> Result<String, axum::extract::multipart::MultipartError> {
    Ok(read_field(field, SMALL_FIELD)
        .await?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default())
}

/// The draft form again, with what went wrong, under `status`.
async fn refused(state: &AppState, signed: &Signed, status: StatusCode, why: &str) -> Response {
    let drafts = drafts(state).await;
    let body = draft_form(state, signed, &drafts, Some(why));
    (status, page(state, Some(signed), "Preview an issue", body)).into_response()
}

/// Where the draft comes from, and why it cannot be had.
type Source = Result<(String, Vec<u8>), (StatusCode, String)>;

/// Reads a draft picked from the folder: only a name the folder lists, only a regular file, at
/// most [`MAX_ISSUE_BYTES`], off the executor.
async fn read_draft(state: &AppState, draft: &str) -> Source {
    if !drafts(state).await.iter().any(|d| d == draft) {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("There is no draft {draft} in the drafts folder: pick one from the list."),
        ));
    }
    let path = FsPath::new(&state.config.admin.drafts).join(draft);
    match files::read_bounded_async(path, MAX_ISSUE_BYTES).await {
        Ok(bytes) => Ok((draft.to_string(), bytes)),
        Err(ReadError::TooLarge { .. }) => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            too_large_message(&format!("The draft {draft}")),
        )),
        Err(e @ (ReadError::Symlink { .. } | ReadError::NotRegular { .. })) => Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "The draft cannot be previewed: {e}. Put the draft itself in the drafts folder."
            ),
        )),
        Err(e) => Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The draft cannot be read: {e}. Check the file and its permissions."),
        )),
    }
}

/// `POST /admin/preview` (multipart: csrf and one of draft, file, text).
pub async fn create(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    mut form: Multipart,
) -> Response {
    let limit = usize::try_from(MAX_ISSUE_BYTES).unwrap_or(usize::MAX);
    let (mut csrf, mut draft, mut upload, mut text) = (
        String::new(),
        String::new(),
        None::<(String, Vec<u8>)>,
        String::new(),
    );
    // The first field over the limit, by what the page calls it.
    let mut too_large: Option<String> = None;
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return upload_error(&e, TOO_LARGE),
        };
        let part = field.name().unwrap_or("").to_string();
        let read = match part.as_str() {
            "csrf" => small_field(&mut field).await.map(|v| csrf = v),
            "draft" => small_field(&mut field).await.map(|v| draft = v),
            "text" => read_field(&mut field, limit).await.map(|v| match v {
                Some(b) => text = String::from_utf8_lossy(&b).into_owned(),
                None => {
                    too_large.get_or_insert_with(|| "The pasted draft".to_string());
                }
            }),
            "file" => {
                let name = field.file_name().unwrap_or("upload.md").to_string();
                read_field(&mut field, limit).await.map(|v| match v {
                    Some(b) if !b.is_empty() => upload = Some((name, b)),
                    Some(_) => {}
                    None => {
                        too_large.get_or_insert_with(|| format!("The uploaded draft {name}"));
                    }
                })
            }
            _ => read_field(&mut field, 0).await.map(|_| ()),
        };
        if let Err(e) = read {
            return upload_error(&e, TOO_LARGE);
        }
    }
    if let Err(refused) = check_csrf(&state, &signed, &csrf).await {
        return refused;
    }
    let source: Source = if let Some(what) = too_large {
        Err((StatusCode::PAYLOAD_TOO_LARGE, too_large_message(&what)))
    } else if let Some(u) = upload {
        Ok(u)
    } else if !text.trim().is_empty() {
        Ok(("pasted.md".to_string(), text.into_bytes()))
    } else if !draft.is_empty() {
        read_draft(&state, &draft).await
    } else {
        Err((
            StatusCode::BAD_REQUEST,
            "Pick a draft, upload one or paste one.".to_string(),
        ))
    };
    let (name, bytes) = match source {
        Ok(s) => s,
        Err((status, why)) => return refused(&state, &signed, status, &why).await,
    };
    let Ok(Ok(permit)) = tokio::time::timeout(RENDER_WAIT, RENDERS.acquire()).await else {
        let mut r = refused(
            &state,
            &signed,
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{RENDERS_AT_ONCE} drafts are rendering already; try again in a few seconds."),
        )
        .await;
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    };
    let worker_state = state.clone();
    let shown = name.clone();
    // The permit goes with the render: a request that times out does not free its turn while its
    // render still runs.
    let rendered = tokio::task::spawn_blocking(move || {
        let _turn = permit;
        prepare(&worker_state, &name, &bytes)
    })
    .await;
    let preview = match rendered {
        Ok(p) => Arc::new(p),
        Err(e) => {
            tracing::error!(error = %e, draft = %shown, "preview: rendering crashed");
            return refused(
                &state,
                &signed,
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "The draft {shown} could not be rendered: the renderer stopped on it. \
                     Checking the file from a terminal (newsletter check) shows where."
                ),
            )
            .await;
        }
    };
    signed
        .audit(&state, "previewed a draft", Some(&preview.name))
        .await;
    let id = preview.id.clone();
    let weight = preview.weight();
    state.previews.add_sized(&id, preview, weight);
    Redirect::to(&format!("/admin/preview/{id}")).into_response()
}

/// The preview page's policy: the console's, plus frames from the console itself.
fn page_policy() -> HeaderValue {
    let policy = crate::web::pages::content_security_policy().replace(
        "default-src 'none';",
        "default-src 'none'; frame-src 'self';",
    );
    HeaderValue::from_str(&policy).expect("the policy is ASCII")
}

/// `GET /admin/preview/{id}`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let Some(p) = state.previews.get(&id) else {
        return not_found(&state);
    };
    // A draft that cannot be rendered is shown with its findings, as unprocessable.
    let status = if p.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    preview_page(&state, &signed, &p, status, None)
}

/// The preview's page, with its own policy (frames from the console itself).
fn preview_page(
    state: &AppState,
    signed: &Signed,
    p: &Preview,
    status: StatusCode,
    sent: Option<Result<String, String>>,
) -> Response {
    let body = preview_body(p, signed, sent);
    let title = format!("Preview of {}", p.name);
    let mut r = (status, page(state, Some(signed), &title, body)).into_response();
    r.headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, page_policy());
    r
}

fn preview_body(p: &Preview, signed: &Signed, sent: Option<Result<String, String>>) -> Markup {
    let errors = p.findings.iter().filter(|f| f.0 == Severity::Error).count();
    html! {
        @if let Some(result) = &sent {
            @match result {
                Ok(m) => (flash(html! { p { strong { (m) } } })),
                Err(m) => (flash_error(html! { (m) })),
            }
        }
        h2 { "Check" }
        @if let Some(e) = &p.error { (flash_error(html! { "this draft cannot be rendered: " (quoted(e)) })) }
        @if p.findings.is_empty() { p { "No findings." } } @else {
            p { (errors) " error(s), " (p.findings.len() - errors) " other finding(s). Errors block the send." }
            (scroll("Findings", html! { table class="cards" {
                thead { tr { th scope="col" { "Line" } th scope="col" { "Severity" } th scope="col" { "Finding" } } }
                tbody {
                    @for (sev, rule, line, message, help) in &p.findings {
                        tr {
                            td data-label="Line" { (line) }
                            td data-label="Severity" { (format!("{sev:?}").to_lowercase()) }
                            td data-label="Finding" { (quoted(message)) @if !help.is_empty() { br; small { (quoted(help)) } }
                                 br; small { "Rule: " code { (rule) } } }
                        }
                    }
                }
            } }))
        }
        @if p.rendered.is_some() {
            h2 { "Send a test copy" }
            form method="post" action={ "/admin/preview/" (p.id) "/test" } {
                input type="hidden" name="csrf" value=(signed.session.csrf);
                p { label for="to" { "To" } br; input id="to" name="to" type="email" autocomplete="email" required; " "
                    button type="submit" { "Send a test copy" } }
            }
            h2 { "The e-mail" }
            p { small { "Remote images are not loaded in this preview, so a draft's author cannot \
                learn who looked at it; they load in the e-mail as sent." } }
            @for (width, scheme) in [(660, "light"), (660, "dark"), (375, "light"), (375, "dark")] {
                h3 { (width) " px, " (scheme) }
                (scroll(&format!("The e-mail at {width} px, {scheme}"), html! {
                    iframe src={ "/admin/preview/" (p.id) "/html?scheme=" (scheme) }
                        title={ "The e-mail at " (width) " px, " (scheme) }
                        width=(width) height="600" sandbox="" loading="lazy" {}
                }))
            }
            h2 { "Plaintext" }
            pre tabindex="0" aria-label="The plaintext e-mail" { (p.text) }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct SchemeQuery {
    #[serde(default)]
    scheme: String,
}

/// `GET /admin/preview/{id}/html?scheme=light|dark`: the e-mail itself, for the preview's frames.
pub async fn html(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<SchemeQuery>,
) -> Response {
    let Some(p) = state.previews.get(&id) else {
        return not_found(&state);
    };
    let html = fix_scheme(&p.html, q.scheme == "dark");
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
             frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox",
        ),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    r
}

/// The e-mail with its dark-scheme rules always on (`dark`) or never on.
fn fix_scheme(html: &str, dark: bool) -> String {
    let to = if dark { "@media all" } else { "@media not all" };
    html.replace("@media (prefers-color-scheme: dark)", to)
}

#[derive(serde::Deserialize)]
pub struct TestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

impl CarriesCsrf for TestForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/preview/{id}/test`: one copy to one address, as `send --test-to` sends it.
pub async fn test_copy(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
    Posted(form): Posted<TestForm>,
) -> Response {
    let Some(p) = state.previews.get(&id) else {
        return not_found(&state);
    };
    let Some(rendered) = &p.rendered else {
        return (StatusCode::CONFLICT, "this draft cannot be rendered\n").into_response();
    };
    let result = match EmailAddress::parse(form.to.trim()) {
        Err(e) => Err(format!("{}: {e}", form.to.trim())),
        Ok(_) if !state.console.test_copies.allow(signed.email()) => Err(format!(
            "Not sent: this account has sent {} test copies in the last hour, the most it may. \
             Try again later.",
            TEST_COPIES_PER_HOUR
        )),
        Ok(to) => {
            let config = &state.config;
            match crate::transport::Transport::from_url(
                &config.transport.url,
                1,
                crate::transport::password_from_env().as_deref(),
            ) {
                Err(e) => Err(format!("the transport is not usable: {e}")),
                Ok(transport) => {
                    match campaign::test_copies(
                        config,
                        rendered,
                        &transport,
                        std::slice::from_ref(&to),
                    )
                    .await
                    {
                        Ok(c) => {
                            signed
                                .audit(
                                    &state,
                                    "sent a test copy",
                                    Some(&format!("{} to {}", p.name, to.as_str())),
                                )
                                .await;
                            Ok(format!(
                                "Sent a test copy ({} bytes) to {}.",
                                c.bytes,
                                to.as_str()
                            ))
                        }
                        Err(e) => Err(format!("Not sent: {e}")),
                    }
                }
            }
        }
    };
    let status = if result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    preview_page(&state, &signed, &p, status, Some(result))
}

#[cfg(test)]
mod tests {
    use crate::web::Recent;
    use std::sync::Arc;

    #[test]
    fn kept_previews_are_bounded_by_their_total_size_and_the_newest_stays() {
        let kept = Recent::with_budget(20, 100);
        for id in ["a", "b", "c"] {
            kept.add_sized(id, Arc::new(id.to_string()), 40);
        }
        assert!(
            kept.get("a").is_none(),
            "120 bytes are over 100: the oldest goes"
        );
        assert!(kept.get("b").is_some() && kept.get("c").is_some());
        kept.add_sized("huge", Arc::new("huge".to_string()), 500);
        assert_eq!(kept.newest_first().len(), 1);
        assert!(
            kept.get("huge").is_some(),
            "the newest is kept, however large"
        );
        let counted = Recent::new(2);
        for id in ["a", "b", "c"] {
            counted.add(id, Arc::new(()));
        }
        assert!(counted.get("a").is_none() && counted.get("c").is_some());
    }
}
