//! How links are written: plain http, and bare URLs without link text.

use super::Family;
use crate::check::scan::is_reference_definition;
use crate::check::{Diagnostic, RuleDef, Severity};

/// `http-link`: a plain http:// link where https:// may work
pub const HTTP_LINK: RuleDef = RuleDef {
    name: "http-link",
    severity: Severity::Note,
    summary: "a plain http:// link where https:// may work",
};
/// `bare-url`: a URL written out without link text
pub const BARE_URL: RuleDef = RuleDef {
    name: "bare-url",
    severity: Severity::Note,
    summary: "a URL written out without link text",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&HTTP_LINK, &BARE_URL],
    run: |cx, out| url_rules(cx.code_masked, cx.body, out),
};

fn url_rules(text: &str, from: usize, out: &mut Vec<Diagnostic>) {
    let body = &text[from..];
    for i in memchr::memmem::find_iter(body.as_bytes(), b"http").filter(|&i| {
        let r = &body[i..];
        // `hhttps://` is a misspelt scheme (`link-syntax`), not a bare URL.
        let glued = body[..i].bytes().next_back().is_some_and(|b| b.is_ascii_alphabetic());
        !glued && (r.starts_with("http://") || r.starts_with("https://"))
    }) {
        let start = from + i;
        let end = start
            + text[start..]
                .find(|c: char| c.is_whitespace() || c == ')' || c == '>')
                .unwrap_or(text.len() - start);
        let url = &text[start..end];
        let before = &text[..start];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let in_syntax = before.ends_with("](")
            || before.ends_with('<')
            || is_reference_definition(&text[line_start..start])
            || before.ends_with("]: ")
            || before.ends_with("]:");
        if url.starts_with("http://") && url.len() > "http://".len() {
            let https = format!("https://{}", &url[7..]);
            out.push(
                HTTP_LINK.diag(start..end, format!("`{url}` is plain http"))
                    .label("http")
                    .help(format!("use `{https}` if the site serves it")),
            );
        }
        if !in_syntax && !before.ends_with('"') && !before.ends_with('=') {
            out.push(
                BARE_URL.diag(start..end, format!("bare URL `{url}`"))
                    .label("no link text")
                    .help(format!(
                        "write it as a link with a description: `[what it is]({url})`"
                    )),
            );
        }
    }
}
