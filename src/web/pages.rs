//! The one HTML shell every page shares (the public pages, and the console's, wide), and the pages
//! that answer a miss or an outage the same way everywhere.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::AppState;

/// The pages' stylesheet: high contrast (WCAG AA) in both schemes, readable without any script,
/// and no page wider than a 375 px phone: tables and the e-mail's frames scroll inside their own
/// box (`.scroll`), long words wrap, and every control is at least 44 px tall.
pub const PAGE_CSS: &str = "*,*::before,*::after{box-sizing:border-box}\
body{margin:0;font:18px/1.5 system-ui,sans-serif;background:#fff;color:#1d1f21;overflow-wrap:break-word}\
main{max-width:34rem;margin:1.5rem auto 3rem;padding:0 1rem}main.wide{max-width:72rem}\
h1{font-size:1.75rem;line-height:1.2;margin:.5rem 0 1rem}h2{font-size:1.3rem;margin:2rem 0 .5rem}h3{font-size:1.1rem}\
.site{margin:0}.site a{color:#1d1f21;font-weight:bold}a{color:#8a3210}\
button,.button{display:inline-block;font:inherit;min-height:44px;padding:.5rem 1.1rem;border:2px solid #8a3210;border-radius:6px;\
background:#8a3210;color:#fff;cursor:pointer;text-decoration:none;line-height:1.4;text-align:center}\
button.quiet,.button.quiet{background:transparent;color:#8a3210}\
button.danger{background:#a3161a;border-color:#a3161a;color:#fff}\
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible,[tabindex]:focus-visible\
{outline:3px solid #1d1f21;outline-offset:2px}\
input,select,textarea{font:inherit;min-height:44px;max-width:100%;padding:.35rem .6rem;border:1px solid #5f6366;border-radius:4px;\
background:#fff;color:#1d1f21}input[type=checkbox]{min-height:0;width:1.4rem;height:1.4rem;vertical-align:middle}\
input[type=search],input[type=email],input[type=password],input[type=datetime-local]{width:22rem}textarea{width:100%}\
nav.console{display:flex;flex-wrap:wrap;align-items:center;gap:0 1.1rem;padding:.25rem 0;margin-bottom:.5rem;border-bottom:1px solid #c6c9cc}\
nav.console a{display:inline-block;padding:.55rem 0;min-height:44px}nav.console a[aria-current]{font-weight:bold;color:#1d1f21}\
nav.console form{margin:0 0 0 auto}nav.console button{font-size:.85rem;padding:.3rem .7rem;background:transparent;color:#8a3210;border-width:1px}\
.scroll{overflow-x:auto;max-width:100%;margin:.75rem 0}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.4rem .6rem;border-bottom:1px solid #c6c9cc}\
thead th{border-bottom:2px solid #5f6366;white-space:nowrap}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2rem 1rem}dl.facts dt{font-weight:bold}dl.facts dd{margin:0}\
.flash{padding:.7rem 1rem;margin:1rem 0;border-left:6px solid #1e6b37;background:#e8f4ec;border-radius:4px}\
.flash.error{border-left-color:#a3161a;background:#fbe9e9;color:#5e0b0d}.flash p{margin:.2rem 0}\
.flash form{display:inline-block;margin:.3rem 0 0}\
.actions{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin:.75rem 0}.actions form,.actions p{margin:0}\
@media (max-width:40rem){table.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}table.cards,table.cards tbody,table.cards tr,table.cards td{display:block}table.cards tr{padding:.5rem 0;border-bottom:1px solid #c6c9cc}table.cards td{border:0;padding:.1rem 0;text-align:left}table.cards td[data-label]::before{content:attr(data-label) \": \";font-weight:bold}}details{margin:.4rem 0}summary{cursor:pointer;padding:.5rem 0;min-height:44px}\
iframe{border:1px solid #c6c9cc;background:#fff;display:block}\
pre{white-space:pre-wrap;overflow-wrap:anywhere}code{overflow-wrap:anywhere}progress{max-width:100%}\
@media (prefers-color-scheme:dark){body{background:#111213;color:#eee}.site a,nav.console a[aria-current]{color:#eee}a{color:#ffb38a}\
button,.button{background:#ffb38a;border-color:#ffb38a;color:#111213}button.quiet,.button.quiet,nav.console button{background:transparent;color:#ffb38a}\
button.danger{background:#ff9c9c;border-color:#ff9c9c;color:#111213}\
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible,[tabindex]:focus-visible{outline-color:#eee}\
input,select,textarea{background:#1c1e20;color:#eee;border-color:#9a9ea2}\
nav.console,th,td,table.cards tr{border-color:#44484c}thead th{border-bottom-color:#9a9ea2}\
.flash{background:#13291b;border-left-color:#5fd08a;color:#eee}.flash.error{background:#2f1213;border-left-color:#ff8a8a;color:#ffe0e0}}";

/// The pages' one script, an enhancement: on a page with live figures it reloads the page every
/// 5 s while its "Refresh every 5 seconds" box is ticked (the box is shown only where scripts run,
/// and unticking it stops the reloads for the rest of the visit, as WCAG 2.2.1 asks). It does not
/// reload while a form field has the focus (a new time being typed for a scheduled issue). Without
/// scripts the page has a "Refresh now" link.
pub const PAGE_JS: &str = "document.addEventListener('DOMContentLoaded',function(){\
var p=document.getElementById('auto-refresh');if(!p)return;var c=p.querySelector('input'),k='nl-auto-refresh';\
p.hidden=false;c.checked=sessionStorage.getItem(k)!=='off';\
c.addEventListener('change',function(){sessionStorage.setItem(k,c.checked?'on':'off')});\
setInterval(function(){var f=document.activeElement;\
if(c.checked&&!(f&&f!==c&&/^(INPUT|SELECT|TEXTAREA)$/.test(f.tagName)))location.reload()},5000)});";

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

/// A table (or a frame) in a box of its own that scrolls sideways when the screen is narrower than
/// it, so the page itself never does. The box can take the keyboard's focus, to be scrolled
/// without a mouse, and is named for screen readers.
pub fn scroll(label: &str, inner: Markup) -> Markup {
    html! { div class="scroll" tabindex="0" role="region" aria-label=(label) { (inner) } }
}

/// `n` with a comma between thousands, as people write counts: 1,716.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_separated() {
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1716, "1,716"),
            (1234567, "1,234,567"),
            (-20000, "-20,000"),
        ] {
            assert_eq!(thousands(n), want);
        }
    }
}
