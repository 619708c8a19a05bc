//! The Pelican header: required fields, a real date, and a title that agrees with `Number:`.

use super::Family;
use crate::check::scan::line_range;
use crate::check::{Diagnostic, RuleDef, Severity};
use crate::issue;

/// `header`: a missing or malformed header field, or a title whose number disagrees with `Number:`
pub const HEADER: RuleDef = RuleDef {
    name: "header",
    severity: Severity::Error,
    summary: "a missing or malformed header field, or a title whose number disagrees with `Number:`",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&HEADER],
    run: |cx, out| header_rule(cx.text, cx.raw, out),
};

fn header_rule(text: &str, raw: &issue::RawHeader, out: &mut Vec<Diagnostic>) {
    for p in issue::header_problems(raw) {
        let range = line_range(text, p.line);
        out.push(
            HEADER.diag(range,
                format!("header field `{}`: {}", p.field, p.problem),
            )
            .label(format!("`{}`", p.field))
            .help(match p.field.as_str() {
                "Title" => "the header needs `Title: This Week in Rust 522`".to_string(),
                "Number" => "the header needs `Number: 522`".to_string(),
                "Date" => {
                    "the header needs `Date: YYYY-MM-DD`, a real date, e.g. `Date: 2023-11-22`"
                        .to_string()
                }
                _ => "fix the header line (`Key: value`) or end the header with a blank line"
                    .to_string(),
            }),
        );
    }
    let (Some(title), Some(number)) = (raw.get("Title"), raw.get("Number")) else {
        return;
    };
    let trailing: String = title
        .value
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if !trailing.is_empty() && trailing != number.value.trim() && !number.value.trim().is_empty() {
        let range = line_range(text, title.line);
        let fixed = format!(
            "{}{}",
            &title.value[..title.value.len() - trailing.len()],
            number.value.trim()
        );
        out.push(
            HEADER.diag(range,
                format!(
                    "the title says {trailing} but `Number:` (line {}) says {}",
                    number.line,
                    number.value.trim()
                ),
            )
            .label("title number")
            .help(format!("make them agree, e.g. `Title: {fixed}`")),
        );
    }
}
