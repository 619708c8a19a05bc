//! Links written so that they do not work: a misspelled scheme, a target with no scheme, text and
//! target swapped, a target never closed, and shapes that are not links at all (`[text] (url)`,
//! `(text)(url)`).

use super::Family;
use super::placeholder::is_template_target;
use super::todo::is_note_target;
use crate::check::scan::is_reference_definition;
use crate::check::{Diagnostic, RuleDef, Severity};
use crate::render::markdown::{BLOCKED_SCHEMES, scheme};

/// `link-syntax`: a link that goes nowhere: a misspelled scheme, no scheme, text and target swapped, never closed, or not a link at all
pub const LINK_SYNTAX: RuleDef = RuleDef {
    name: "link-syntax",
    severity: Severity::Error,
    summary: "a link that goes nowhere: a misspelled scheme, no scheme, text and target swapped, never closed, or not a link at all",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&LINK_SYNTAX],
    run: |cx, out| {
        let markers = &cx.opts.placeholders;
        link_syntax(cx.code_masked, cx.body, markers, out)
    },
};

/// Schemes a TWiR link uses. A scheme that is none of these but is one or two letters away from
/// `http`/`https` is a typo (`hhttps`, `htps`).
const KNOWN_SCHEMES: &[&str] = &[
    "https", "http", "mailto", "irc", "ircs", "ftp", "ftps", "tel", "news", "git", "ssh", "xmpp",
    "matrix", "magnet", "webcal", "geo", "sms",
];

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The end of a link destination starting at `target[0]`: at whitespace or at the `)` that closes
/// it, counting balanced parentheses as CommonMark does.
fn destination_end(target: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in target.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return i,
            ')' => depth -= 1,
            c if c.is_whitespace() => return i,
            _ => {}
        }
    }
    target.len()
}

/// How far back the text of a link (or of a `(text)`) is looked for: longer is not a link's text,
/// and the bound keeps a line of thousands of brackets linear.
const MAX_LABEL: usize = 1024;

/// The `[` that opens the link text ending at `close` (the `]`), brackets balanced.
fn label_start(line: &str, close: usize) -> Option<usize> {
    let mut depth = 0usize;
    let from = crate::check::scan::floor_char(line, close.saturating_sub(MAX_LABEL));
    for (i, c) in line[from..close].char_indices().rev() {
        let i = from + i;
        match c {
            ']' => depth += 1,
            '[' if depth == 0 => return Some(i),
            '[' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Looks like a web address without its scheme: `crates.io/crates/x`, `github.com/o/r`.
fn looks_like_host(target: &str) -> bool {
    let host = target.split(['/', '?', '#']).next().unwrap_or("");
    let tld = host.rsplit('.').next().unwrap_or("");
    host.contains('.')
        && !host.starts_with('.')
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

fn is_web_url(s: &str) -> bool {
    let s = s.trim().trim_matches(['*', '_', '`']);
    (s.starts_with("https://") || s.starts_with("http://")) && !s.contains(char::is_whitespace)
}

/// What is wrong with a link target, if anything: (message, help, replacement for the target).
fn target_problem(target: &str) -> Option<(String, String, Option<String>)> {
    match scheme(target) {
        Some(s) if BLOCKED_SCHEMES.contains(&s.as_str()) => None,
        Some(s) if KNOWN_SCHEMES.contains(&s.as_str()) => {
            let s = s.as_str();
            // After the `:` as written (the scheme parser skips leading control characters).
            let rest = target.find(':').map_or("", |i| &target[i + 1..]);
            if (s == "http" || s == "https") && !rest.starts_with("//") {
                let fixed = format!("{s}://{}", rest.trim_start_matches('/'));
                Some((
                    format!("link target `{target}` lacks the `//` after `{s}:`"),
                    format!("write `{fixed}`"),
                    Some(fixed),
                ))
            } else {
                None
            }
        }
        Some(s) => {
            let s = s.as_str();
            let (to_https, to_http) = (edit_distance(s, "https"), edit_distance(s, "http"));
            let best = if to_https <= to_http { "https" } else { "http" };
            if to_https.min(to_http) > 2 || s.len() < 3 {
                return None;
            }
            let fixed = format!("{best}{}", target.find(':').map_or("", |i| &target[i..]));
            Some((
                format!("link target `{target}` has the scheme `{s}:`, a misspelling of `{best}:`"),
                format!("write `{fixed}`"),
                Some(fixed),
            ))
        }
        None => {
            if target.starts_with('/') {
                return None; // resolved against the site
            }
            for s in ["https", "http"] {
                if let Some(rest) = target.strip_prefix(s).and_then(|r| r.strip_prefix("//")) {
                    let fixed = format!("{s}://{rest}");
                    return Some((
                        format!("link target `{target}` lacks the `:` after `{s}`"),
                        format!("write `{fixed}`"),
                        Some(fixed),
                    ));
                }
            }
            let fixed = looks_like_host(target).then(|| format!("https://{target}"));
            Some((
                format!(
                    "link target `{target}` has no scheme: in an e-mail a relative link goes nowhere, and the e-mail drops it"
                ),
                match &fixed {
                    Some(f) => format!("write the full address: `{f}`"),
                    None => "write the full address, starting with `https://`".to_string(),
                },
                fixed,
            ))
        }
    }
}

fn skip_target(target: &str, markers: &[String]) -> bool {
    // Script and data targets, however written, are `unsafe-link`'s.
    let blocked = |t: &str| scheme(t).is_some_and(|s| BLOCKED_SCHEMES.contains(&s.as_str()));
    target.is_empty()
        || blocked(target)
        || (target.contains('&') && blocked(&crate::render::rawhtml::decode_entities(target)))
        || target.starts_with('<')
        || is_template_target(target)
        || is_note_target(target)
        || markers.iter().any(|m| contains(target, m.trim_end_matches('*')))
}

/// `needle` (not empty) occurs in `hay`: a target is a few dozen bytes, too short to pay for
/// building a substring searcher, so only where its first byte is is it compared.
fn contains(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else {
        return false;
    };
    memchr::memchr_iter(first, h).any(|i| h[i..].starts_with(n))
}

fn link_syntax(text: &str, from: usize, markers: &[String], out: &mut Vec<Diagnostic>) {
    let mut offset = from;
    for line in text[from..].split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let l = line.trim_end_matches('\n');
        if is_reference_definition(l) {
            let t = l.trim_start();
            let colon = t.find("]:").unwrap_or(0) + 2;
            let rest = &t[colon..];
            let target = rest.trim_start();
            let target = &target[..target.find(char::is_whitespace).unwrap_or(target.len())];
            let at = start + (l.len() - t.len()) + colon + (rest.len() - rest.trim_start().len());
            if !skip_target(target, markers)
                && let Some((message, help, fix)) = target_problem(target)
            {
                let mut d = LINK_SYNTAX
                    .diag(at..at + target.len(), message)
                    .label("broken link")
                    .help(help);
                if let Some(f) = fix {
                    d = d.fix(at..at + target.len(), f);
                }
                out.push(d);
            }
            continue;
        }
        // Most lines have no brackets at all: one vectorised byte search each tells.
        let lb = l.as_bytes();
        if memchr::memchr(b']', lb).is_some() {
            inline_links(start, l, markers, out);
            not_links(start, l, out);
        } else if memchr::memchr(b')', lb).is_some() {
            not_links(start, l, out);
        }
    }
}

/// `[text](target)` links of one line.
fn inline_links(start: usize, l: &str, markers: &[String], out: &mut Vec<Diagnostic>) {
    for close in crate::check::scan::link_opens(l) {
        let Some(open) = label_start(l, close) else {
            continue;
        };
        // An image's target is the renderer's business as a link's is.
        let label = &l[open + 1..close];
        let t0 = close + 2;
        let lead = l[t0..].len() - l[t0..].trim_start().len();
        let ts = t0 + lead;
        let rest = &l[ts..];
        let end = destination_end(rest);
        let target = &rest[..end];
        // The whole text up to `)`: a template's `(Item URL)` has a space in it.
        let up_to_paren = rest[..rest.find(')').unwrap_or(rest.len())].trim();
        if is_web_url(label) && scheme(up_to_paren).is_none() && !up_to_paren.is_empty() {
            // `[https://…](Name)`: text and target swapped; swapping back is certain.
            let whole = start + open..start + ts + up_to_paren.len() + 1;
            let fixed = format!("[{up_to_paren}]({})", label.trim());
            out.push(
                LINK_SYNTAX
                    .diag(
                        whole.clone(),
                        format!(
                            "link text and target are swapped: the text is the address `{}` and the target is `{up_to_paren}`",
                            label.trim()
                        ),
                    )
                    .label("text and target swapped")
                    .help(format!("write `{fixed}`"))
                    .fix(whole, fixed),
            );
            continue;
        }
        if skip_target(target, markers)
            || (up_to_paren != target && skip_target(up_to_paren, markers))
        {
            continue;
        }
        let after = rest[end..].trim_start();
        let closed = after.starts_with(')') || after.starts_with(['"', '\'', '(']);
        let range = start + ts..start + ts + end;
        if !closed {
            let unclosed_text: String = after.chars().take(40).collect();
            let message = if after.is_empty() {
                format!("link `{}` is never closed: its target has no `)`", short(&l[open..]))
            } else {
                format!(
                    "link target `{target}` is not closed by `)`: `{unclosed_text}` follows it, so the whole link is shown as text"
                )
            };
            out.push(
                LINK_SYNTAX
                    .diag(range.clone(), message)
                    .label("unclosed link")
                    .help(format!(
                        "close the target right after the address: `[{label}]({target})`"
                    ))
                    .fix(range.end..range.end, ")"),
            );
            continue;
        }
        let Some((message, help, fix)) = target_problem(target) else {
            continue;
        };
        let mut d = LINK_SYNTAX.diag(range.clone(), message).label("broken link").help(help);
        if let Some(f) = fix {
            d = d.fix(range, f);
        }
        out.push(d);
    }
}

/// `[text] (https://…)` (a space between) and `(text)(https://…)` / `(text)[https://…]`: Markdown
/// reads neither as a link.
fn not_links(start: usize, l: &str, out: &mut Vec<Diagnostic>) {
    let lb = l.as_bytes();
    for close in memchr::memchr_iter(b']', lb) {
        let after = &l[close + 1..];
        let gap = after.len() - after.trim_start_matches([' ', '\t']).len();
        if gap == 0 || !after[gap..].starts_with('(') {
            continue;
        }
        let t = &after[gap + 1..];
        let Some(end) = t.find(')') else {
            continue;
        };
        if !is_web_url(&t[..end]) {
            continue;
        }
        let Some(open) = label_start(l, close) else {
            continue;
        };
        let whole = start + open..start + close + 1 + gap + 1 + end + 1;
        let fixed = format!("{}({})", &l[open..=close], &t[..end]);
        out.push(
            LINK_SYNTAX
                .diag(
                    whole.clone(),
                    "a space between `]` and `(` makes this text, not a link".to_string(),
                )
                .label("not a link")
                .help(format!("remove the space: `{fixed}`"))
                .fix(whole, fixed),
        );
    }
    let pairs = memchr::memchr_iter(b')', lb).filter(|&i| matches!(lb.get(i + 1), Some(b'(' | b'[')));
    for mid in pairs {
        let t = &l[mid + 2..];
        let closer = if l[mid + 1..].starts_with('(') { ')' } else { ']' };
        let Some(end) = t.find(closer) else {
            continue;
        };
        if !is_web_url(&t[..end]) {
            continue;
        }
        // The `(` that opens the text, parentheses balanced.
        let mut depth = 0usize;
        let mut open = None;
        let from = crate::check::scan::floor_char(l, mid.saturating_sub(MAX_LABEL));
        for (i, c) in l[from..mid].char_indices().rev() {
            let i = from + i;
            match c {
                ')' => depth += 1,
                '(' if depth == 0 => {
                    open = Some(i);
                    break;
                }
                '(' => depth -= 1,
                _ => {}
            }
        }
        let Some(open) = open else { continue };
        // `[a](b)(c)`: the first group is a link's target, not text.
        if l[..open].ends_with(']') {
            continue;
        }
        let text = &l[open + 1..mid];
        let whole = start + open..start + mid + 2 + end + 1;
        let fixed = format!("[{text}]({})", &t[..end]);
        out.push(
            LINK_SYNTAX
                .diag(
                    whole.clone(),
                    format!(
                        "`{}` is not a link: the text goes in square brackets",
                        short(&l[open..mid + 2 + end + 1])
                    ),
                )
                .label("not a link")
                .help(format!("write `{fixed}`"))
                .fix(whole, fixed),
        );
    }
}

fn short(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
