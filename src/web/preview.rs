//! The console's preview: pick a draft from `[admin] drafts`, upload one or paste it; see `check`'s
//! findings, the HTML e-mail at 660 px and 375 px in light and dark, and the plaintext; send a test
//! copy to an address. Editors and admins may use it.
//!
//! The e-mail is shown in sandboxed frames served by `/admin/preview/{id}/html` with a policy of
//! its own: its styles may apply, nothing in it may run, and only the console may frame it. Light
//! and dark are fixed on the server (the e-mail's dark-scheme rules made unconditional, or
//! switched off), so the preview does not depend on the viewer's own setting.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::AppState;
use super::admin::{Signed, admin_page, forbidden, random_token};
use super::admin_list::upload_error;
use crate::check::{FileReport, Severity};
use crate::domain::EmailAddress;
use crate::render::{self, Recipient, Rendered};
use crate::send::campaign::{self, CampaignError};

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
const DRAFT_TOO_LARGE: &str = "a draft that large cannot be an issue; check the file";

fn findings(report: &FileReport) -> Vec<(Severity, String, usize, String, String)> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.severity,
                format!("{:?}", d.rule),
                report.line_col(d.range.start).0,
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

/// The drafts in `[admin] drafts`, newest first.
fn drafts(state: &AppState) -> Vec<String> {
    let dir = &state.config.admin.drafts;
    if dir.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.file_name().to_string_lossy().into_owned()))
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found.into_iter().map(|(_, n)| n).collect()
}

fn draft_form(state: &AppState, signed: &Signed, error: Option<&str>) -> Markup {
    let drafts = drafts(state);
    html! {
        @if let Some(e) = error { p role="alert" { strong { (e) } } }
        form method="post" action="/admin/preview" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            @if !drafts.is_empty() {
                p { label for="draft" { "A draft from " code { (state.config.admin.drafts) } } br;
                    select id="draft" name="draft" {
                        option value="" { "(none)" }
                        @for d in &drafts { option value=(d) { (d) } }
                    }
                }
            }
            p { label for="file" { "Or upload a draft (.md)" } br;
                input id="file" name="file" type="file" accept=".md,.markdown,text/markdown,text/plain"; }
            p { label for="text" { "Or paste it" } br;
                textarea id="text" name="text" rows="12" cols="60" {} }
            p { button type="submit" { "Preview" } }
        }
    }
}

/// `GET /admin/preview`.
pub async fn form(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
) -> Response {
    let body = draft_form(&state, &signed, None);
    admin_page(&state, Some(&signed), "Preview an issue", body).into_response()
}

/// `POST /admin/preview` (multipart: csrf and one of draft, file, text).
pub async fn create(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    mut form: Multipart,
) -> Response {
    let (mut csrf, mut draft, mut upload, mut text) = (
        String::new(),
        String::new(),
        None::<(String, Vec<u8>)>,
        String::new(),
    );
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return upload_error(&e, DRAFT_TOO_LARGE),
        };
        match field.name().unwrap_or("") {
            "csrf" => csrf = field.text().await.unwrap_or_default(),
            "draft" => draft = field.text().await.unwrap_or_default(),
            "text" => text = field.text().await.unwrap_or_default(),
            "file" => {
                let name = field.file_name().unwrap_or("upload.md").to_string();
                match field.bytes().await {
                    Ok(b) if !b.is_empty() => upload = Some((name, b.to_vec())),
                    Ok(_) => {}
                    Err(e) => return upload_error(&e, DRAFT_TOO_LARGE),
                }
            }
            _ => {}
        }
    }
    if !signed.csrf_ok(&csrf) {
        return forbidden();
    }
    let source = if let Some(u) = upload {
        Ok(u)
    } else if !text.trim().is_empty() {
        Ok(("pasted.md".to_string(), text.into_bytes()))
    } else if !draft.is_empty() {
        // Only a name the folder lists: nothing outside it can be read.
        if drafts(&state).contains(&draft) {
            std::fs::read(FsPath::new(&state.config.admin.drafts).join(&draft))
                .map(|b| (draft.clone(), b))
                .map_err(|e| format!("cannot read the draft {draft}: {e}"))
        } else {
            Err(format!("there is no draft {draft}"))
        }
    } else {
        Err("Pick a draft, upload one or paste one.".to_string())
    };
    let (name, bytes) = match source {
        Ok(s) => s,
        Err(e) => {
            let body = draft_form(&state, &signed, Some(&e));
            return (
                StatusCode::BAD_REQUEST,
                admin_page(&state, Some(&signed), "Preview an issue", body),
            )
                .into_response();
        }
    };
    let worker_state = state.clone();
    let preview =
        match tokio::task::spawn_blocking(move || prepare(&worker_state, &name, &bytes)).await {
            Ok(p) => Arc::new(p),
            Err(e) => {
                tracing::error!(error = %e, "preview: rendering crashed");
                return super::pages::unavailable(&state);
            }
        };
    let _ = state
        .store
        .audit(
            Some(signed.email()),
            "previewed a draft",
            Some(&preview.name),
            None,
        )
        .await;
    let id = preview.id.clone();
    state.previews.add(&id, preview);
    Redirect::to(&format!("/admin/preview/{id}")).into_response()
}

/// The preview page's policy: the console's, plus frames from the console itself.
fn page_policy() -> HeaderValue {
    let policy = super::pages::content_security_policy().replace(
        "default-src 'none';",
        "default-src 'none'; frame-src 'self';",
    );
    HeaderValue::from_str(&policy).expect("the policy is ASCII")
}

/// `GET /admin/preview/{id}`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    Path(id): Path<String>,
) -> Response {
    let Some(p) = state.previews.get(&id) else {
        return super::pages::not_found(&state);
    };
    preview_page(&state, &signed, &p, StatusCode::OK, None)
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
    let mut r = (status, admin_page(state, Some(signed), &title, body)).into_response();
    r.headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, page_policy());
    r
}

fn preview_body(p: &Preview, signed: &Signed, sent: Option<Result<String, String>>) -> Markup {
    let errors = p.findings.iter().filter(|f| f.0 == Severity::Error).count();
    html! {
        @if let Some(result) = &sent {
            @match result {
                Ok(m) => p role="status" { strong { (m) } },
                Err(m) => p role="alert" { strong { (m) } },
            }
        }
        h2 { "Check" }
        @if let Some(e) = &p.error { p role="alert" { "This draft cannot be rendered: " (e) } }
        @if p.findings.is_empty() { p { "No findings." } } @else {
            p { (errors) " error(s), " (p.findings.len() - errors) " other finding(s). Errors block the send." }
            table {
                thead { tr { th scope="col" { "Line" } th scope="col" { "Severity" } th scope="col" { "Rule" } th scope="col" { "Finding" } } }
                tbody {
                    @for (sev, rule, line, message, help) in &p.findings {
                        tr {
                            td { (line) }
                            td { (format!("{sev:?}").to_lowercase()) }
                            td { (rule) }
                            td { (message) @if !help.is_empty() { br; small { (help) } } }
                        }
                    }
                }
            }
        }
        @if p.rendered.is_some() {
            h2 { "Send a test copy" }
            form method="post" action={ "/admin/preview/" (p.id) "/test" } {
                input type="hidden" name="csrf" value=(signed.session.csrf);
                p { label for="to" { "To" } br; input id="to" name="to" type="email" autocomplete="email" required; " "
                    button type="submit" { "Send a test copy" } }
            }
            h2 { "The e-mail" }
            @for (width, scheme) in [(660, "light"), (660, "dark"), (375, "light"), (375, "dark")] {
                h3 { (width) " px, " (scheme) }
                iframe src={ "/admin/preview/" (p.id) "/html?scheme=" (scheme) }
                    title={ "The e-mail at " (width) " px, " (scheme) }
                    width=(width) height="600" sandbox="" loading="lazy" {}
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
        return super::pages::not_found(&state);
    };
    let html = fix_scheme(&p.html, q.scheme == "dark");
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; \
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

/// `POST /admin/preview/{id}/test`: one copy to one address, as `send --test-to` sends it.
pub async fn test_copy(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    Path(id): Path<String>,
    Form(form): Form<TestForm>,
) -> Response {
    if !signed.csrf_ok(&form.csrf) {
        return forbidden();
    }
    let Some(p) = state.previews.get(&id) else {
        return super::pages::not_found(&state);
    };
    let Some(rendered) = &p.rendered else {
        return (StatusCode::CONFLICT, "this draft cannot be rendered\n").into_response();
    };
    let result = match EmailAddress::parse(form.to.trim()) {
        Err(e) => Err(format!("{}: {e}", form.to.trim())),
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
                            let _ = state
                                .store
                                .audit(
                                    Some(signed.email()),
                                    "sent a test copy",
                                    Some(&format!("{} to {}", p.name, to.as_str())),
                                    None,
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
