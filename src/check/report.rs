//! Printing check results: rustc-style for people, one JSON document for tools.

use std::path::PathBuf;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use std::ops::Range;

use codespan_reporting::files::{self, Files};
use codespan_reporting::term;
use serde_json::{Value, json};

use super::{FileReport, Severity};

/// At most this many findings of one rule are printed per file; a line says how many more there are.
pub const MAX_PRINTED_PER_RULE: usize = 20;

/// Characters of the line shown on each side of a finding: a finding on a 64 KiB line prints a
/// short excerpt, not the line.
pub const EXCERPT_CHARS: usize = 60;

/// Writes the diagnostics of every report, rustc-style, then one summary line per file. Output is
/// bounded: at most [`MAX_PRINTED_PER_RULE`] findings of a rule per file (then "… and N more"), each
/// with an excerpt of its line of at most ~2 × [`EXCERPT_CHARS`] characters.
pub fn human(reports: &[FileReport], out: &mut dyn termcolor::WriteColor) -> std::io::Result<()> {
    let config = term::Config::default();
    for report in reports {
        let name = report.path.display().to_string();
        let mut printed: Vec<(&'static str, usize)> = Vec::new();
        for d in &report.diagnostics {
            let i = match printed.iter().position(|(r, _)| *r == d.rule.name()) {
                Some(i) => i,
                None => {
                    printed.push((d.rule.name(), 0));
                    printed.len() - 1
                }
            };
            printed[i].1 += 1;
            if printed[i].1 > MAX_PRINTED_PER_RULE {
                continue;
            }
            let base = match d.severity {
                Severity::Error => CsDiagnostic::error(),
                Severity::Warning => CsDiagnostic::warning(),
                Severity::Note => CsDiagnostic::note(),
            };
            let mut notes = Vec::new();
            if !d.help.is_empty() {
                notes.push(format!("help: {}", d.help));
            }
            if d.fix.is_some() {
                notes.push("fix: `newsletter check --fix` applies this".to_string());
            }
            let excerpt = Excerpt::new(&name, &report.text, d.range.clone());
            let diag = base
                .with_code(d.rule.name())
                .with_message(&d.message)
                .with_labels(vec![
                    Label::primary((), excerpt.label.clone()).with_message(&d.label),
                ])
                .with_notes(notes);
            term::emit_to_write_style(out, &config, &excerpt, &diag)
                .map_err(std::io::Error::other)?;
        }
        for (rule, n) in printed {
            if n > MAX_PRINTED_PER_RULE {
                writeln!(
                    out,
                    "… and {} more `{rule}` finding(s) in {name} (`--format json` lists them all)",
                    n - MAX_PRINTED_PER_RULE
                )?;
            }
        }
        writeln!(
            out,
            "{}: {} error(s), {} warning(s), {} note(s)",
            report.path.display(),
            report.count(Severity::Error),
            report.count(Severity::Warning),
            report.count(Severity::Note)
        )?;
    }
    Ok(())
}

/// One finding's line, cut to a window around the finding, as a one-line "file" for
/// codespan-reporting that still reports the real line and column.
struct Excerpt<'a> {
    name: &'a str,
    source: String,
    /// The label's range in `source`.
    label: Range<usize>,
    /// 1-based line of the finding in the file.
    line: usize,
    /// 1-based column (in characters) of the window's first character in the file.
    first_column: usize,
    /// Bytes of the "…" in front of the window (0 when the window starts the line).
    prefix: usize,
}

impl<'a> Excerpt<'a> {
    fn new(name: &'a str, text: &str, range: Range<usize>) -> Self {
        let start = floor(text, range.start.min(text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let end = floor(text, range.end.clamp(start, line_end));
        let back = |from: usize, n: usize, stop: usize| {
            text[stop..from]
                .char_indices()
                .rev()
                .nth(n.saturating_sub(1))
                .map_or(stop, |(i, _)| stop + i)
        };
        let ahead = |from: usize, n: usize, stop: usize| {
            text[from..stop]
                .char_indices()
                .nth(n)
                .map_or(stop, |(i, _)| from + i)
        };
        let window_start = back(start, EXCERPT_CHARS, line_start);
        // A long finding (a 2,000-character URL) is shown by its beginning.
        let end = end.min(ahead(start, 2 * EXCERPT_CHARS, line_end));
        let window_end = ahead(end, EXCERPT_CHARS, line_end);
        let mut source = String::new();
        if window_start > line_start {
            source.push('…');
        }
        let prefix = source.len();
        source.push_str(&text[window_start..window_end]);
        if window_end < line_end {
            source.push('…');
        }
        let (line, first_column) = super::scan::line_col(text, window_start);
        Excerpt {
            name,
            label: prefix + start - window_start..prefix + end - window_start,
            source,
            line,
            first_column,
            prefix,
        }
    }
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl<'f> Files<'f> for Excerpt<'_> {
    type FileId = ();
    type Name = &'f str;
    type Source = &'f str;

    fn name(&'f self, (): ()) -> Result<&'f str, files::Error> {
        Ok(self.name)
    }

    fn source(&'f self, (): ()) -> Result<&'f str, files::Error> {
        Ok(&self.source)
    }

    fn line_index(&'f self, (): (), _byte_index: usize) -> Result<usize, files::Error> {
        Ok(0)
    }

    fn line_number(&'f self, (): (), _line_index: usize) -> Result<usize, files::Error> {
        Ok(self.line)
    }

    fn column_number(
        &'f self,
        (): (),
        _line_index: usize,
        byte_index: usize,
    ) -> Result<usize, files::Error> {
        let i = floor(&self.source, byte_index.min(self.source.len())).max(self.prefix);
        Ok(self.first_column + self.source[self.prefix..i].chars().count())
    }

    fn line_range(&'f self, (): (), _line_index: usize) -> Result<Range<usize>, files::Error> {
        Ok(0..self.source.len())
    }
}

/// One JSON document for the whole run.
pub fn json(reports: &[FileReport], unreadable: &[(PathBuf, String)]) -> Value {
    let files: Vec<Value> = reports
        .iter()
        .map(|r| {
            // Every start and end at once: one pass over the text, not one per diagnostic.
            let offsets: Vec<usize> = r
                .diagnostics
                .iter()
                .flat_map(|d| [d.range.start, d.range.end])
                .collect();
            let at = r.line_cols(&offsets);
            let diagnostics: Vec<Value> = r
                .diagnostics
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let (line, column) = at[2 * i];
                    let (end_line, end_column) = at[2 * i + 1];
                    json!({
                        "rule": d.rule,
                        "severity": d.severity,
                        "line": line,
                        "column": column,
                        "end_line": end_line,
                        "end_column": end_column,
                        "message": d.message,
                        "label": d.label,
                        "help": d.help,
                        "replacement": d.fix.as_ref().map(|f| f.replacement.clone()),
                        "fixable": d.fix.is_some(),
                    })
                })
                .collect();
            json!({
                "path": r.path.display().to_string(),
                "errors": r.count(Severity::Error),
                "warnings": r.count(Severity::Warning),
                "notes": r.count(Severity::Note),
                "diagnostics": diagnostics,
            })
        })
        .collect();
    json!({
        "files": files,
        "unreadable": unreadable.iter().map(|(p, e)| json!({"path": p.display().to_string(), "error": e})).collect::<Vec<_>>(),
        "errors": reports.iter().map(|r| r.count(Severity::Error)).sum::<usize>(),
        "warnings": reports.iter().map(|r| r.count(Severity::Warning)).sum::<usize>(),
    })
}
