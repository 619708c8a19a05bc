//! What the renderer refuses or takes out: nesting deeper than it allows, and raw HTML its
//! sanitizer drops (the same lists: [`crate::render::sanitize`], [`crate::render::depth`]).

use super::Family;
use crate::check::{Diagnostic, RuleDef, Severity};
use crate::render::{depth, sanitize};

/// `nesting`: blockquotes, lists, emphasis or raw HTML nested deeper than the renderer allows
pub const NESTING: RuleDef = RuleDef {
    name: "nesting",
    severity: Severity::Error,
    summary: "blockquotes, lists, emphasis or raw HTML nested deeper than the renderer allows",
};

/// `unsafe-html`: raw HTML the e-mail drops because script could run there (`<script>`, `<noscript>`…)
pub const UNSAFE_HTML: RuleDef = RuleDef {
    name: "unsafe-html",
    severity: Severity::Error,
    summary: "raw HTML the e-mail drops because script could run there (`<script>`, `<noscript>`…)",
};

/// `dropped-html`: a raw HTML element or attribute the e-mail drops (`style=`, `<video>`…)
pub const DROPPED_HTML: RuleDef = RuleDef {
    name: "dropped-html",
    severity: Severity::Warning,
    summary: "a raw HTML element or attribute the e-mail drops (`style=`, `<video>`…)",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&NESTING, &UNSAFE_HTML, &DROPPED_HTML],
    run: |cx, out| {
        nesting(cx.masked, cx.body, out);
        dropped(cx.code_masked, &cx.tags, out);
    },
};

fn nesting(text: &str, from: usize, out: &mut Vec<Diagnostic>) {
    let Err(e) = depth::check(&text[from..]) else {
        return;
    };
    let start = from + e.offset;
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    out.push(
        NESTING
            .diag(
                start..end,
                // `render`'s own words (RenderError::TooDeep), so an editor sees one message.
                format!("{e}; flatten the structure (or put the text in a code block)"),
            )
            .label("nested too deep: `render` refuses the issue")
            .help("flatten the structure, or put the text in a code block if it is an example"),
    );
}

fn dropped(text: &str, tags: &[crate::render::rawhtml::Tag], out: &mut Vec<Diagnostic>) {
    for tag in tags {
        if tag.closing || tag.is_not_markup(&text[..tag.range.start]) {
            continue;
        }
        let name = tag.name.to_ascii_lowercase();
        let written = &text[tag.range.clone()];
        if !sanitize::allows_tag(&name) {
            let d = if sanitize::is_script_tag(&name) {
                UNSAFE_HTML
                    .diag(
                        tag.range.clone(),
                        format!(
                            "raw HTML `<{name}>` is not allowed in an e-mail: script could run there, or it makes mail clients read the markup around it differently; the e-mail shows it as text or drops it"
                        ),
                    )
                    .label("not allowed in an e-mail")
                    .help(format!(
                        "remove `<{name}>` (and its closing tag); write the content in Markdown"
                    ))
            } else {
                DROPPED_HTML
                    .diag(
                        tag.range.clone(),
                        format!(
                            "raw HTML `<{name}>` is dropped from the e-mail (its text is kept)"
                        ),
                    )
                    .label("dropped")
                    .help(format!(
                        "the e-mail keeps only {}; use one of those or Markdown",
                        allowed_summary()
                    ))
            };
            out.push(d);
            continue;
        }
        for (attr, _) in &tag.attributes {
            if sanitize::allows_attribute(&name, attr) {
                continue;
            }
            // Event handlers and script targets are `unsafe-link`'s findings.
            if tag.is_active()
                && (attr.starts_with("on") || ["href", "src"].contains(&attr.as_str()))
            {
                continue;
            }
            let why = if attr == "style" {
                "inline style is dropped; the look comes from the stylesheet"
            } else {
                "the e-mail does not carry it"
            };
            out.push(
                DROPPED_HTML
                    .diag(
                        tag.range.clone(),
                        format!("attribute `{attr}` of `<{name}>` is dropped: {why}"),
                    )
                    .label(format!("`{attr}` dropped"))
                    .help(format!("remove `{attr}` from `{}`", shorten(written))),
            );
        }
    }
}

fn allowed_summary() -> String {
    format!(
        "these elements: {}",
        sanitize::ALLOWED_TAGS
            .iter()
            .map(|t| format!("<{t}>"))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
