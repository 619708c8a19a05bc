//! Git merge-conflict markers left in the file.

use super::Family;
use crate::check::{Diagnostic, RuleDef, Severity};

/// `conflict-marker`: a git merge-conflict marker (`<<<<<<<`, `=======`, `>>>>>>>`) left in the file
pub const CONFLICT_MARKER: RuleDef = RuleDef {
    name: "conflict-marker",
    severity: Severity::Error,
    summary: "a git merge-conflict marker (`<<<<<<<`, `=======`, `>>>>>>>`) left in the file",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&CONFLICT_MARKER],
    run: |cx, out| conflict_markers(cx.code_masked, out),
};

/// A line that is a marker of `ch`: exactly seven of them, then the end of the line or a space and
/// a label (`<<<<<<< HEAD`, `>>>>>>> patch-15`).
fn is_marker(line: &str, ch: u8) -> bool {
    let b = line.as_bytes();
    b.len() >= 7
        && b[..7].iter().all(|&c| c == ch)
        && b.get(7).is_none_or(|&c| c == b' ' || c == b'\t')
}

/// `<<<<<<<` and `>>>>>>>` lines are markers wherever they stand; `=======` and `|||||||` only
/// after a `<<<<<<<` (alone, `=======` is a Markdown heading underline).
fn conflict_markers(text: &str, out: &mut Vec<Diagnostic>) {
    let mut open = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let l = line.trim_end_matches(['\n', '\r']);
        let which = if is_marker(l, b'<') {
            open = true;
            Some("the start of a conflict (`<<<<<<<`)")
        } else if is_marker(l, b'>') {
            open = false;
            Some("the end of a conflict (`>>>>>>>`)")
        } else if open && is_marker(l, b'=') {
            Some("the middle of a conflict (`=======`)")
        } else if open && is_marker(l, b'|') {
            Some("the common ancestor of a conflict (`|||||||`)")
        } else {
            None
        };
        if let Some(which) = which {
            out.push(
                CONFLICT_MARKER
                    .diag(
                        start..start + l.len(),
                        format!(
                            "git merge-conflict marker `{}`: {which} was committed into the issue",
                            l.trim_end()
                        ),
                    )
                    .label("merge-conflict marker")
                    .help(
                        "keep the text that is right (one side of `=======`, or both merged by hand), then delete the `<<<<<<<`, `=======` and `>>>>>>>` lines",
                    ),
            );
        }
    }
}
