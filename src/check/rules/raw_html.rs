//! Code that CommonMark reads as an HTML tag (`Vec<u8>`), which a browser would hide.

use super::Family;
use crate::check::{Diagnostic, RuleDef, Severity};

/// `raw-html`: text read as an HTML tag that is not one, with the backtick fix
pub const RAW_HTML: RuleDef = RuleDef {
    name: "raw-html",
    severity: Severity::Warning,
    summary: "text read as an HTML tag that is not one, with the backtick fix",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&RAW_HTML],
    run: |cx, out| raw_html(cx.code_masked, &cx.tags, out),
};

/// Text that CommonMark reads as a raw HTML tag but that is not markup (`impl TryFrom<u8>`,
/// `Box<T>`): the web version swallows it, and the e-mail shows it only because the renderer
/// turns it back into text.
fn raw_html(text: &str, tags: &[crate::render::rawhtml::Tag], out: &mut Vec<Diagnostic>) {
    for tag in tags {
        let before = &text[..tag.range.start];
        if !tag.is_not_markup(before) {
            continue;
        }
        let word_start = before
            .rfind(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | ':' | '&' | '\'')))
            .map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
        let code = &text[word_start..tag.range.end];
        out.push(
            RAW_HTML.diag(tag.range.clone(),
                format!(
                    "`{}` is not an HTML tag: a web page or mail client reading the issue as HTML hides it",
                    &text[tag.range.clone()]
                ),
            )
            .label("read as a tag")
            .help(format!("put the code in backticks: `` `{code}` ``")),
        );
    }
}
