//! Link targets a subscriber must never be sent to, and raw HTML that runs script.

use super::Family;
use crate::check::{Diagnostic, RuleDef, Severity};

/// `unsafe-link`: a `javascript:`, `vbscript:`, `data:` or `file:` target, or raw HTML with script
pub const UNSAFE_LINK: RuleDef = RuleDef {
    name: "unsafe-link",
    severity: Severity::Error,
    summary: "a `javascript:`, `vbscript:`, `data:` or `file:` target, or raw HTML with script",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&UNSAFE_LINK],
    run: |cx, out| unsafe_links(cx.code_masked, cx.body, &cx.tags, out),
};

/// The end of a link destination that starts at `target[0]`: at whitespace, or at the `)` (or `>`)
/// that closes it, counting balanced parentheses as CommonMark does.
fn destination_end(target: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in target.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return i,
            ')' => depth -= 1,
            '>' if depth == 0 => return i,
            c if c.is_whitespace() => return i,
            _ => {}
        }
    }
    target.len()
}

/// Link targets a subscriber must never be sent to (`javascript:`, `data:`): in `[x](…)`, in
/// reference definitions, in autolinks (entities decoded as a browser decodes them), and raw HTML
/// whose attributes carry script.
fn unsafe_links(
    text: &str,
    from: usize,
    tags: &[crate::render::rawhtml::Tag],
    out: &mut Vec<Diagnostic>,
) {
    use crate::render::markdown::{BLOCKED_SCHEMES, scheme};
    use crate::render::rawhtml::decode_entities;
    let blocked =
        |url: &str| scheme(&decode_entities(url)).filter(|s| BLOCKED_SCHEMES.contains(&s.as_str()));
    let body = &text[from..];
    // `](`, `]:` and `<`, found in one vectorised pass.
    let b = body.as_bytes();
    let openers = memchr::memchr2_iter(b']', b'<', b).filter_map(|i| match b[i] {
        b'<' => Some((i, 1)),
        _ if matches!(b.get(i + 1), Some(b'(' | b':')) => Some((i, 2)),
        _ => None,
    });
    for (i, opener) in openers {
        let start = from + i + opener;
        let rest = &text[start..];
        let target_start = start + (rest.len() - rest.trim_start().len());
        let target = &text[target_start..];
        let end = destination_end(target);
        if let Some(s) = blocked(&target[..end]) {
            out.push(
                UNSAFE_LINK.diag(target_start..target_start + end,
                    format!(
                        "link target `{}` uses `{}:`, which runs code or embeds content; the e-mail drops the link",
                        &target[..end],
                        s.as_str()
                    ),
                )
                .label("unsafe link")
                .help("link to an https:// page instead, or remove the link"),
            );
        }
    }
    for tag in tags {
        if !tag.is_active() {
            continue;
        }
        let why = match tag
            .attributes
            .iter()
            .find_map(|(n, v)| blocked(v).map(|s| format!("its `{n}` uses `{}:`", s.as_str())))
        {
            Some(w) => w,
            None => {
                let handler = tag
                    .attributes
                    .iter()
                    .find(|(n, _)| n.starts_with("on"))
                    .map_or("on…", |(n, _)| n.as_str());
                format!("it carries the event handler `{handler}`")
            }
        };
        out.push(
            UNSAFE_LINK.diag(tag.range.clone(),
                format!(
                    "raw HTML `<{}>` runs script: {why}; the e-mail shows it as text",
                    tag.name
                ),
            )
            .label("script in HTML")
            .help("write the link in Markdown with an https:// target, and drop the event handler"),
        );
    }
}
