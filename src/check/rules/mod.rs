//! The rules, one file per family. A family declares its rules (name, severity, one line of help)
//! and one function that reads the prepared [`Context`] and pushes diagnostics. To add a rule, write
//! a file here with its `FAMILY` and add its name to the [`families!`] line below: the registry, the
//! `--allow` names, config validation and `check --help` all come from that list.

use std::path::Path;

use super::{CheckOptions, Diagnostic, RuleDef, Severity};
use crate::check::scan::Lines;
use crate::issue::{Comment, RawHeader};
use crate::render::rawhtml::Tag;

/// What every rule reads: the decoded file and the masked copies of it, all with the same offsets.
pub(crate) struct Context<'a> {
    pub(crate) path: &'a Path,
    /// The decoded file (BOM dropped, CRLF as LF, invalid bytes as U+FFFD).
    pub(crate) text: &'a str,
    pub(crate) raw: &'a RawHeader,
    pub(crate) comments: &'a [Comment],
    /// The text with every comment byte blanked: rules never see editors' notes.
    pub(crate) masked: &'a str,
    /// `masked` with code spans and fenced blocks of the body blanked too.
    pub(crate) code_masked: &'a str,
    /// Where the body starts.
    pub(crate) body: usize,
    /// The body lines of `code_masked`.
    pub(crate) lines: Lines<'a>,
    /// The raw HTML tags CommonMark would read in the body.
    pub(crate) tags: Vec<Tag>,
    pub(crate) opts: &'a CheckOptions,
}

/// A family of rules that share one pass over the file.
pub(crate) struct Family {
    pub(crate) rules: &'static [&'static RuleDef],
    pub(crate) run: fn(&Context<'_>, &mut Vec<Diagnostic>),
}

/// Declares the rule modules and registers their families, in the order they run.
macro_rules! families {
    ($($family:ident),* $(,)?) => {
        $(pub mod $family;)*
        /// Every family, in the order they run.
        pub(crate) static FAMILIES: &[Family] = &[$($family::FAMILY),*];
    };
}

families![
    header,
    header_date,
    conflict,
    comments,
    encoding,
    placeholder,
    todo,
    structure,
    duplicates,
    events,
    stale_date,
    discuss,
    urls,
    links,
    link_syntax,
    emphasis,
    raw_html,
    html,
    size
];

/// Every rule, in registry order.
pub fn all() -> impl Iterator<Item = &'static RuleDef> {
    FAMILIES.iter().flat_map(|f| f.rules.iter().copied())
}

/// The rule list of `check --help`, grouped by severity.
pub fn help() -> String {
    let group = |severity: Severity| {
        all()
            .filter(|r| r.severity == severity)
            .map(|r| r.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!(
        "Rules (errors): {}\nRules (warnings): {}\nRules (notes): {}\n",
        group(Severity::Error),
        group(Severity::Warning),
        group(Severity::Note)
    );
    out.push_str("\nWhat each rule finds:\n");
    for r in all() {
        out.push_str(&format!("  {:<22}{}\n", r.name, r.summary));
    }
    out.push_str(
        "\nExit codes: 0 no errors (warnings allowed), 1 at least one error, 2 a file could not be read.",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_unique_and_kebab_case() {
        let names: Vec<&str> = all().map(|r| r.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "{names:?}");
        assert!(names.iter().all(|n| {
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        }));
    }
}
