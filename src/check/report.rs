//! Printing check results: rustc-style for people, one JSON document for tools.

use std::path::PathBuf;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;
use serde_json::{Value, json};

use super::{FileReport, Severity};

/// Writes every diagnostic of every report, rustc-style, then one summary line per file.
pub fn human(reports: &[FileReport], out: &mut dyn termcolor::WriteColor) -> std::io::Result<()> {
    let config = term::Config::default();
    for report in reports {
        let file = SimpleFile::new(report.path.display().to_string(), report.text.as_str());
        for d in &report.diagnostics {
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
            let diag = base
                .with_code(d.rule.name())
                .with_message(&d.message)
                .with_labels(vec![
                    Label::primary((), d.range.clone()).with_message(&d.label),
                ])
                .with_notes(notes);
            term::emit_to_write_style(out, &config, &file, &diag).map_err(std::io::Error::other)?;
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

/// One JSON document for the whole run.
pub fn json(reports: &[FileReport], unreadable: &[(PathBuf, String)]) -> Value {
    let files: Vec<Value> = reports
        .iter()
        .map(|r| {
            let diagnostics: Vec<Value> = r
                .diagnostics
                .iter()
                .map(|d| {
                    let (line, column) = r.line_col(d.range.start);
                    let (end_line, end_column) = r.line_col(d.range.end);
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
