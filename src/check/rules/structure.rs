//! The shape of the issue: sections with nothing in them.

use super::Family;
use crate::check::scan::{Lines, is_reference_definition, plain_heading};
use crate::check::{Diagnostic, RuleDef, Severity};

/// `empty-section`: a heading with nothing under it
pub const EMPTY_SECTION: RuleDef = RuleDef {
    name: "empty-section",
    severity: Severity::Warning,
    summary: "a heading with nothing under it",
};
pub(crate) const FAMILY: Family = Family {
    rules: &[&EMPTY_SECTION],
    run: |cx, out| empty_sections(&cx.lines, out),
};

fn empty_sections(lines: &Lines<'_>, out: &mut Vec<Diagnostic>) {
    let headings = lines.headings();
    for (k, &(idx, level, line)) in headings.iter().enumerate() {
        let next_same = headings[k + 1..]
            .iter()
            .find(|&&(_, l, _)| l <= level)
            .map_or(lines.items.len(), |&(i, _, _)| i);
        let has_content = lines.items[idx + 1..next_same]
            .iter()
            .any(|&(_, l)| !l.trim().is_empty() && !is_reference_definition(l));
        if !has_content {
            let start = lines.items[idx].0;
            let title = plain_heading(line);
            out.push(
                EMPTY_SECTION.diag(start..start + line.len(),
                    format!("section `{title}` is empty"),
                )
                .label("nothing under this heading")
                .help("add its items, write \"*No … this week.*\", or remove the heading"),
            );
        }
    }
}
