//! The one HTML shell every page shares (public pages now, the admin console later), and the pages
//! that answer a miss or an outage the same way everywhere.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::AppState;

/// The pages' stylesheet: high contrast (WCAG AA) in both schemes, readable without any script.
pub const PAGE_CSS: &str = "body{margin:0;font:18px/1.5 system-ui,sans-serif;background:#fff;color:#1d1f21}\
main{max-width:34rem;margin:3rem auto;padding:0 1rem}.site a{color:#1d1f21;font-weight:bold}\
a{color:#8a3210}button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:4px;background:#8a3210;color:#fff;cursor:pointer}\
button:focus{outline:3px solid #1d1f21;outline-offset:2px}\
main.wide{max-width:72rem}pre{white-space:pre-wrap;overflow-wrap:anywhere}\
@media (prefers-color-scheme:dark){body{background:#111213;color:#eee}.site a{color:#eee}a{color:#ffb38a}}";

/// The pages' one script, an enhancement: on a page with live figures it reloads the page every
/// 5 s while its "Refresh every 5 seconds" box is ticked (the box is shown only where scripts run,
/// and unticking it stops the reloads for the rest of the visit, as WCAG 2.2.1 asks). Without
/// scripts the page has a "Refresh now" link.
pub const PAGE_JS: &str = "document.addEventListener('DOMContentLoaded',function(){\
var p=document.getElementById('auto-refresh');if(!p)return;var c=p.querySelector('input'),k='nl-auto-refresh';\
p.hidden=false;c.checked=sessionStorage.getItem(k)!=='off';\
c.addEventListener('change',function(){sessionStorage.setItem(k,c.checked?'on':'off')});\
setInterval(function(){if(c.checked)location.reload()},5000)});";

/// The live pages' refresh controls (see [`PAGE_JS`]).
pub fn auto_refresh() -> Markup {
    html! {
        p id="auto-refresh" hidden {
            input id="auto-refresh-on" type="checkbox" checked;
            " " label for="auto-refresh-on" { "Refresh every 5 seconds" }
        }
        p { a href="" { "Refresh now" } }
    }
}

/// The `Content-Security-Policy` of every response: nothing may load or run but the pages' own
/// inline stylesheet and script (by their hashes), forms post only to us, and no one may frame us.
pub fn content_security_policy() -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let hash =
        |s: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        hash(PAGE_CSS),
        hash(PAGE_JS)
    )
}

/// A full page: the site's name, a heading, and `body`.
pub fn page(state: &AppState, title: &str, body: Markup) -> Markup {
    shell(state, title, body, false)
}

/// The same shell, `wide` for the console (tables of many columns, the e-mail at 660 px).
pub fn shell(state: &AppState, title: &str, body: Markup, wide: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · " (state.site_name) }
                style { (PreEscaped(PAGE_CSS)) }
            }
            body {
                main class=[wide.then_some("wide")] {
                    p class="site" { a href=(state.site_url) { (state.site_name) } }
                    h1 { (title) }
                    (body)
                }
                script { (PreEscaped(PAGE_JS)) }
            }
        }
    }
}

/// The one answer to every link that leads nowhere: unknown, malformed, spent or undecodable.
pub fn not_found(state: &AppState) -> Response {
    let body = html! {
        p { "This link is not valid. It may be mistyped, or it may be from an older e-mail." }
        p { "If you want to stop receiving " (state.site_name) ", use the link in the newest issue you received." }
    };
    (StatusCode::NOT_FOUND, page(state, "Link not found", body)).into_response()
}

/// Something failed on our side (the database, the mail relay).
pub fn unavailable(state: &AppState) -> Response {
    let body =
        html! { p { "Something went wrong on our side. Please try again in a few minutes." } };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page(state, "Please try again", body),
    )
        .into_response()
}
