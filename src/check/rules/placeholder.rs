//! Leftovers of the draft template: markers, empty or template links, and generic words that stand
//! in place of content.

use super::Family;
use crate::check::{Diagnostic, RuleDef, Severity};

/// `placeholder`: a template marker, an empty or template link, or a generic word standing where content should be
pub const PLACEHOLDER: RuleDef = RuleDef {
    name: "placeholder",
    severity: Severity::Error,
    summary: "a template marker, an empty or template link, or a generic word standing where content should be",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&PLACEHOLDER],
    run: |cx, out| {
        placeholder_rule(
            cx.masked,
            cx.code_masked,
            cx.body,
            &cx.opts.placeholders,
            &cx.opts.placeholder_words,
            out,
        )
    },
};

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True when `marker` occurs at `text[start..end]` as a whole token. A marker ending in `*` is a prefix
/// (`$twir_*` matches `$twir_events_list`), and the token then runs to the end of the identifier.
fn marker_matches(text: &str, from: usize, marker: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let (needle, prefix) = match marker.strip_suffix('*') {
        Some(p) => (p, true),
        None => (marker, false),
    };
    if needle.is_empty() {
        return Vec::new();
    }
    let first_is_word = needle.bytes().next().is_some_and(is_word_byte);
    memchr::memmem::find_iter(&text.as_bytes()[from..], needle.as_bytes())
        .filter_map(|i| {
            let start = from + i;
            let mut end = start + needle.len();
            if prefix {
                end += text[end..].bytes().take_while(|&b| is_word_byte(b)).count();
            }
            let before_ok = start == 0 || !first_is_word || !is_word_byte(bytes[start - 1]);
            let after_ok = end >= bytes.len() || !is_word_byte(bytes[end]);
            (before_ok && after_ok).then_some((start, end))
        })
        .collect()
}

/// A link target that is the template's description of one (`Item URL`, `URL to issue`,
/// `<Feature URL>`) rather than an address: no scheme, not a path, and either words with spaces or a
/// word such as `URL` or `LINK` on its own.
pub(crate) fn is_template_target(target: &str) -> bool {
    let t = target.trim();
    let t = t
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(t);
    if t.is_empty()
        || crate::render::markdown::scheme(t).is_some()
        || t.starts_with(['/', '#', '.', '?'])
    {
        return false;
    }
    if t.contains(char::is_whitespace) {
        return true;
    }
    !t.contains('.')
        && t.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
            ["url", "link", "here"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
        })
}

/// What is left of a line once list markers, quote markers, heading hashes, emphasis and trailing
/// punctuation are taken off: `* **TBD**` → `TBD`.
fn bare_content(line: &str) -> &str {
    let mut t = line.trim();
    loop {
        let before = t;
        t = t.trim_start_matches('>').trim_start();
        if let Some(rest) = t
            .strip_prefix(['*', '-', '+'])
            .filter(|r| r.starts_with(' '))
        {
            t = rest.trim_start();
        }
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            && let Some(rest) = t[digits..]
                .strip_prefix(['.', ')'])
                .filter(|r| r.starts_with(' '))
        {
            t = rest.trim_start();
        }
        if t.starts_with('#') {
            t = t.trim_start_matches('#').trim_start();
        }
        if t == before {
            break;
        }
    }
    t.trim_matches(|c: char| matches!(c, '*' | '_' | '~'))
        .trim_end_matches([':', '.', '!', '?', '…', ' '])
        .trim_matches(|c: char| matches!(c, '*' | '_' | '~'))
}

/// The placeholder rule. Template markers (`INSERT_LINK_HERE`) are leftovers wherever they stand;
/// links with no target, no text, or a template target (`[Item title](Item URL)`) too. A generic word
/// (`TODO`, `TBD`) is a leftover only where it stands in place of content: alone on its line or list
/// item, or opening it as a note (`TODO: add the quote`). Inside a sentence or the text of a real link
/// (`[**Topic TBD**](https://…)`, `[remove FIXME comment](https://…)`) it is content.
///
/// Markers are searched outside code; link text and targets are read with code intact (`[`x`](…)`).
fn placeholder_rule(
    full: &str,
    text: &str,
    from: usize,
    markers: &[String],
    words: &[String],
    out: &mut Vec<Diagnostic>,
) {
    for marker in markers.iter().filter(|m| !m.is_empty()) {
        for (start, end) in marker_matches(text, from, marker) {
            let found = &text[start..end];
            let in_link = text[..start].ends_with("](") || text[..start].ends_with("]: ");
            out.push(
                PLACEHOLDER.diag(start..end,
                    format!("leftover placeholder `{found}`"),
                )
                .label("placeholder")
                .help(if in_link {
                    format!("replace `{found}` with the real URL, or remove the link")
                } else {
                    format!("finish or remove the text marked `{found}`")
                }),
            );
        }
    }
    let mut offset = from;
    for searched in text[from..].split_inclusive('\n') {
        let start = offset;
        offset += searched.len();
        let line = &full[start..offset];
        let before = out.len();
        link_placeholders(start, line, searched, markers, out);
        if out.len() == before {
            generic_word(start, searched, words, out);
        }
    }
}

/// Empty links, links without text, template targets and template bullets such as `* [ - ]()`.
fn link_placeholders(
    start: usize,
    line: &str,
    searched: &str,
    markers: &[String],
    out: &mut Vec<Diagnostic>,
) {
    for close in crate::check::scan::link_opens(searched) {
        let Some(open) = line[..close].rfind('[') else {
            continue;
        };
        let Some(end) = line[close + 2..].find(')') else {
            continue;
        };
        let label = line[open + 1..close].trim();
        let target = line[close + 2..close + 2 + end].trim();
        let link_end = close + 2 + end + 1;
        // A marker in the target has been reported already, by name.
        // `[https://…](Name)` is text and target swapped: `link-syntax` reports it.
        let swapped = label.starts_with("https://") || label.starts_with("http://");
        let template = is_template_target(target)
            && !swapped
            && !markers
                .iter()
                .any(|m| !marker_matches(target, 0, m).is_empty());
        if !target.is_empty() && !label.is_empty() && !template {
            continue;
        }
        let bullet = line.trim_start().starts_with(['*', '-'])
            && (label.is_empty() || label.chars().all(|c| " -|:".contains(c)));
        let (range, message, help) = if bullet && (target.is_empty() || template) {
            (
                start..start + line.trim_end().len(),
                "template bullet left in the issue".to_string(),
                "fill in this item or delete the line".to_string(),
            )
        } else if template {
            (
                start + close + 2..start + close + 2 + end,
                format!("link target `{target}` is the template's placeholder, not a URL"),
                "put in the real URL, or delete the line".to_string(),
            )
        } else if target.is_empty() {
            (
                start + open..start + link_end,
                format!("link `{}` has no target", &line[open..link_end]),
                "add the URL between the parentheses, or remove the link".to_string(),
            )
        } else {
            (
                start + open..start + link_end,
                "link has no text".to_string(),
                "write the link text between the brackets".to_string(),
            )
        };
        out.push(
            PLACEHOLDER.diag(range, message)
                .label(if template { "template" } else { "empty" })
                .help(help),
        );
        if bullet {
            break;
        }
    }
}

/// A generic word standing where content should be: the whole line or item (`* TBD`), or the note
/// that opens it (`TODO: add the quote`). Words are matched case-sensitively: `todo` in prose is not one.
fn generic_word(start: usize, searched: &str, words: &[String], out: &mut Vec<Diagnostic>) {
    let bare = bare_content(searched);
    if bare.is_empty() {
        return;
    }
    for word in words.iter().filter(|w| !w.is_empty()) {
        let alone = bare == word;
        let note = bare.strip_prefix(word.as_str()).is_some_and(|rest| {
            let rest = rest.trim_start_matches(['*', '_']);
            rest.starts_with(':') || rest.starts_with(" -") || rest.starts_with(" –")
        });
        if !(alone || note) {
            continue;
        }
        let at = start + searched.find(bare).unwrap_or(0);
        let range = at..at + word.len();
        out.push(
            PLACEHOLDER.diag(range,
                if alone {
                    format!("`{word}` stands where the content should be")
                } else {
                    format!("an editor's note (`{word}: …`) is left in the issue")
                },
            )
            .label("placeholder")
            .help("write the content, or delete the line"),
        );
        return;
    }
}
