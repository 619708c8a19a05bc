//! The "Discuss on r/rust" link must lead to this issue's thread.

use super::Family;
use crate::check::{Diagnostic, RuleDef, Severity};
use crate::domain::IssueNumber;

/// `discuss-link`: a "Discuss" link to the r/rust thread of another issue
pub const DISCUSS_LINK: RuleDef = RuleDef {
    name: "discuss-link",
    severity: Severity::Warning,
    summary: "a \"Discuss\" link to the r/rust thread of another issue",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&DISCUSS_LINK],
    run: |cx, out| {
        if let Some(n) = cx
            .raw
            .get("Number")
            .and_then(|f| IssueNumber::parse(&f.value).ok())
        {
            discuss_links(cx.code_masked, cx.body, n, out);
        }
    },
};

const THREAD: &str = "this_week_in_rust_";
/// The longest link text looked at.
const MAX_LABEL: usize = 512;

/// Links whose text says "Discuss" and whose target is a `this_week_in_rust_NNN` thread. Other
/// links to threads (a quote taken from last week's discussion) are not the issue's own.
fn discuss_links(text: &str, from: usize, number: IssueNumber, out: &mut Vec<Diagnostic>) {
    let body = &text[from..];
    for i in memchr::memmem::find_iter(body.as_bytes(), b"](") {
        // The link text: back to its `[` on the same line, at most a few hundred bytes (the
        // search is bounded so that a line of thousands of links stays linear).
        let from_at = crate::check::scan::floor_char(body, i.saturating_sub(MAX_LABEL));
        let Some(open) = body[from_at..i].rfind('[') else {
            continue;
        };
        let label = &body[from_at + open + 1..i];
        if label.contains('\n') {
            continue;
        }
        if !label
            .as_bytes()
            .windows(7)
            .any(|w| w.eq_ignore_ascii_case(b"discuss"))
        {
            continue;
        }
        let target_start = i + 2;
        let Some(len) = body[target_start..].find([')', '\n', ' ']) else {
            continue;
        };
        let target = &body[target_start..target_start + len];
        let Some(t) = target.find(THREAD) else {
            continue;
        };
        let digits: String = target[t + THREAD.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let Ok(linked) = digits.parse::<u32>() else {
            continue;
        };
        if linked == number.get() {
            continue;
        }
        let at = from + target_start + t + THREAD.len();
        out.push(
            DISCUSS_LINK
                .diag(
                    at..at + digits.len(),
                    format!(
                        "the discussion link leads to the thread of issue {linked}, but this is issue {number}"
                    ),
                )
                .label(format!("issue {linked}'s thread"))
                .help(format!(
                    "link this issue's own r/rust thread (`…/this_week_in_rust_{number}/`), or leave the placeholder until it exists"
                )),
        );
    }
}
