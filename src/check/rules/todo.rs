//! Editors' notes written as code comments (`// TODO …`), and note words used as link targets.

use super::Family;
use crate::check::{Diagnostic, RuleDef, Severity};

/// `todo`: a `// TODO`, `FIXME` or `XXX` note standing as a line, or a note word as a link target
pub const TODO: RuleDef = RuleDef {
    name: "todo",
    severity: Severity::Error,
    summary: "a `// TODO`, `FIXME` or `XXX` note standing as a line, or a note word as a link target",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&TODO],
    run: |cx, out| todo_rule(cx.code_masked, cx.body, out),
};

/// The words of an editor's note. The `placeholder` rule reports them where they open a line
/// (`TODO: …`); this rule adds the shapes it does not see.
pub(crate) const NOTE_WORDS: &[&str] = &["TODO", "FIXME", "XXX"];

/// The note word that `s` starts with, as a whole word (`TODO:`, `TODO(alice)`, `FIXME -`).
fn note_word(s: &str) -> Option<&'static str> {
    NOTE_WORDS.iter().copied().find(|w| {
        s.strip_prefix(w)
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

/// A link target that is a note word (`[x](TODO)`, `[x](<FIXME>)`), in any case.
pub(crate) fn is_note_target(target: &str) -> bool {
    let t = target.trim().trim_start_matches('<').trim_end_matches('>').trim();
    NOTE_WORDS.iter().any(|w| t.eq_ignore_ascii_case(w))
}

fn todo_rule(text: &str, from: usize, out: &mut Vec<Diagnostic>) {
    let mut offset = from;
    for line in text[from..].split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let l = line.trim_end_matches('\n');
        // `// TODO …`, `* // FIXME …`, `/* XXX */`: a code comment standing as the line (or item).
        let t = l.trim_start();
        let t = t
            .strip_prefix(['*', '-', '+'])
            .filter(|r| r.starts_with(' '))
            .map_or(t, str::trim_start);
        if let Some(rest) = t.strip_prefix("//").or_else(|| t.strip_prefix("/*"))
            && let Some(word) = note_word(rest.trim_start())
        {
            let at = start + (l.len() - t.len());
            out.push(
                TODO.diag(
                    at..start + l.trim_end().len(),
                    format!("an editor's note (`// {word} …`) is left in the issue"),
                )
                .label("note")
                .help("do what the note says, then delete the line"),
            );
            continue;
        }
        // `[text](TODO)`: the link was never filled in.
        for i in crate::check::scan::link_opens(l) {
            let open = i + 2;
            let Some(close) = l[open..].find(')') else {
                break;
            };
            let target = &l[open..open + close];
            if is_note_target(target) {
                let at = start + open + (target.len() - target.trim_start().len());
                out.push(
                    TODO.diag(
                        at..at + target.trim().len(),
                        format!("link target `{}` is an editor's note, not a URL", target.trim()),
                    )
                    .label("note")
                    .help("put in the real URL, or remove the link"),
                );
            }
        }
    }
}
