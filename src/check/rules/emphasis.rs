//! Emphasis with nothing inside: `[****](…)` shows four asterisks where a title should be.

use super::Family;
use crate::check::{Diagnostic, RuleDef, Severity};

/// `empty-emphasis`: bold or italics with nothing inside (`****`, `[****](…)`)
pub const EMPTY_EMPHASIS: RuleDef = RuleDef {
    name: "empty-emphasis",
    severity: Severity::Error,
    summary: "bold or italics with nothing inside (`****`, `[****](…)`), shown as bare asterisks",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&EMPTY_EMPHASIS],
    run: |cx, out| empty_emphasis(cx.code_masked, cx.body, out),
};

fn empty_emphasis(text: &str, from: usize, out: &mut Vec<Diagnostic>) {
    let mut offset = from;
    for line in text[from..].split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let l = line.trim_end_matches('\n');
        // `***`, `* * *`, `____` alone on a line are thematic breaks, not emphasis.
        if l.trim().chars().all(|c| matches!(c, '*' | '_' | '-' | ' ' | '\t')) {
            continue;
        }
        let b = l.as_bytes();
        let mut i = 0;
        while i < b.len() {
            // The next `*` or `_`, by a vectorised search.
            let Some(next) = memchr::memchr2(b'*', b'_', &b[i..]) else {
                break;
            };
            i += next;
            let c = b[i];
            let run = b[i..].iter().take_while(|&&x| x == c).count();
            // `****` or `** **`: an opener and a closer with nothing but spaces between.
            let spaced = run == 2 && {
                let rest = &l[i + 2..];
                let inner = rest.len() - rest.trim_start_matches(' ').len();
                inner > 0 && rest[inner..].starts_with(if c == b'*' { "**" } else { "__" })
            };
            let empty = (run == 4 || run == 6) || spaced;
            // `_` runs inside words (`snake____case`) are not emphasis.
            let word_before = i > 0 && b[i - 1].is_ascii_alphanumeric();
            if empty && !(c == b'_' && word_before) {
                let end = if spaced {
                    let rest = &l[i + 2..];
                    i + 2 + (rest.len() - rest.trim_start_matches(' ').len()) + 2
                } else {
                    i + run
                };
                let in_link = l[..i].ends_with('[') && l[end..].starts_with("](");
                out.push(
                    EMPTY_EMPHASIS
                        .diag(
                            start + i..start + end,
                            format!(
                                "`{}` is emphasis with nothing inside: the e-mail shows the bare {}",
                                &l[i..end],
                                if c == b'*' { "asterisks" } else { "underscores" }
                            ),
                        )
                        .label("empty emphasis")
                        .help(if in_link {
                            "write the title between the asterisks: `[**Title**](…)`"
                        } else {
                            "write the text between the markers, or delete them"
                        }),
                );
                i = end;
                continue;
            }
            i += run;
        }
    }
}
