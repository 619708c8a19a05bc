//! Editors' comments that do not close the way a browser needs them to.

use super::Family;
use crate::check::scan::{line_col, plain_heading};
use crate::check::{Diagnostic, RuleDef, Severity};
use crate::issue::{Comment, Unterminated, is_heading_line};

/// `unterminated-comment`: a comment closed by a bare `>`, never closed, or with a second `<!--` before its close
pub const UNTERMINATED_COMMENT: RuleDef = RuleDef {
    name: "unterminated-comment",
    severity: Severity::Error,
    summary: "a comment closed by a bare `>`, never closed, or with a second `<!--` before its close",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&UNTERMINATED_COMMENT],
    run: |cx, out| {
        for c in cx.comments.iter().filter(|c| c.unterminated.is_some()) {
            out.push(unterminated(cx.text, c));
        }
    },
};

fn unterminated(text: &str, c: &Comment) -> Diagnostic {
    let reason = c.unterminated.unwrap_or(Unterminated::NoCloser);
    let hidden_end = c.html_end.unwrap_or(text.len());
    let hidden = &text[c.span.end.min(hidden_end)..hidden_end];
    let headings: Vec<String> = hidden
        .lines()
        .filter(|l| is_heading_line(l))
        .map(|l| format!("`{}`", plain_heading(l)))
        .collect();
    let links = hidden.matches("](").count() + hidden.matches("]: ").count();
    let (end_line, _) = line_col(text, hidden_end);
    let what = match (headings.is_empty(), links) {
        (true, 0) => "nothing but notes".to_string(),
        (true, n) => format!("{n} link(s)"),
        (false, n) => format!(
            "{} heading(s) ({}) and {n} link(s)",
            headings.len(),
            headings.join(", ")
        ),
    };
    let where_ = if c.html_end.is_some() {
        format!("a mail client would hide everything up to line {end_line}: {what}")
    } else {
        format!("it never closes: a mail client would hide the rest of the file: {what}")
    };
    let why = match reason {
        Unterminated::ClosedWithGt => "this comment ends with `>` instead of `-->`",
        Unterminated::NestedOpener => "another `<!--` opens before this comment's `-->`",
        Unterminated::NoCloser => "this comment has no `-->`",
    };
    let d = UNTERMINATED_COMMENT.diag(c.span.clone(),
        format!("{why}; {where_}"),
    )
    .label("unterminated comment");
    let line = &text[c.span.clone()];
    if reason == Unterminated::ClosedWithGt {
        let gt = c.span.start + line.trim_end().len() - 1;
        let spaced = text[..gt].ends_with(char::is_whitespace);
        let replacement = if spaced { "-->" } else { " -->" };
        let fixed = format!("{}{replacement}", line.trim_end().trim_end_matches('>'));
        d.help(format!("close it: `{fixed}`"))
            .fix(gt..gt + 1, replacement)
    } else {
        d.help(format!(
            "end the comment with `-->` on this line: `{} -->`",
            line.trim_end()
        ))
    }
}
