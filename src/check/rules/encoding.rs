//! Text that is not what its author typed: bytes that are not UTF-8, and UTF-8 misread as a legacy
//! encoding (mojibake).

use super::Family;
use crate::check::scan::line_col;
use crate::check::{Diagnostic, RuleDef, Severity, mojibake};

/// `mojibake`: UTF-8 text misread as Windows-1252 or Latin-1, with the repair
pub const MOJIBAKE: RuleDef = RuleDef {
    name: "mojibake",
    severity: Severity::Error,
    summary: "UTF-8 text misread as Windows-1252 or Latin-1, with the repair",
};
/// `invalid-utf8`: bytes that are not UTF-8 (reported while the file is decoded)
pub static INVALID_UTF8: RuleDef = RuleDef {
    name: "invalid-utf8",
    severity: Severity::Error,
    summary: "bytes that are not UTF-8 (reported while the file is decoded)",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&MOJIBAKE, &INVALID_UTF8],
    run: |cx, out| {
        let repairs = mojibake::find(cx.masked);
        let text = cx.text;
        for line in repairs.chunk_by(|a, b| !text[a.range.end..b.range.start].contains('\n')) {
            out.push(mojibake_diag(text, line));
        }
    },
};

pub(crate) fn invalid_utf8(raw: &[u8], text: &str, at: usize, bad: &[u8]) -> Diagnostic {
    let (line, col) = line_col(text, at);
    // Where the byte is in the file as it is on disk (BOM and CR included).
    let mut raw_offset = 0;
    let mut l = 1;
    for (i, &b) in raw.iter().enumerate() {
        if l == line {
            raw_offset = i;
            break;
        }
        if b == b'\n' {
            l += 1;
        }
    }
    let prefix: String = text[text[..at].rfind('\n').map_or(0, |i| i + 1)..at].to_string();
    raw_offset += prefix.len();
    let guess = encoding_rs::WINDOWS_1252.decode(bad).0;
    INVALID_UTF8.diag(at..at + '\u{FFFD}'.len_utf8(),
        // The words `render` refuses the file with (IssueError::InvalidUtf8), then the spot.
        format!(
            "the file is not valid UTF-8 (byte offset {raw_offset}, byte 0x{:02X}): line {line}, column {col}",
            bad[0]
        ),
    )
    .label("not UTF-8")
    .help(format!(
        "save the file as UTF-8; if it was saved as Windows-1252 or Latin-1, this character is probably `{guess}`"
    ))
}

/// One diagnostic for the damaged spans of one line; its fix repairs them all.
fn mojibake_diag(text: &str, spans: &[mojibake::Repair]) -> Diagnostic {
    let (first, last) = (&spans[0], &spans[spans.len() - 1]);
    let range = first.range.start..last.range.end;
    let shifted: Vec<mojibake::Repair> = spans
        .iter()
        .map(|r| mojibake::Repair {
            range: r.range.start - range.start..r.range.end - range.start,
            ..r.clone()
        })
        .collect();
    let repaired = mojibake::apply(&text[range.clone()], &shifted);
    let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[range.end..]
        .find('\n')
        .map_or(text.len(), |i| range.end + i);
    let repaired_line = format!(
        "{}{repaired}{}",
        &text[line_start..range.start],
        &text[range.end..line_end]
    );
    let mut encodings: Vec<&str> = spans.iter().map(|r| r.encoding).collect();
    encodings.dedup();
    let message = if spans.len() == 1 {
        format!(
            "`{}` is UTF-8 text misread as {}: it should be `{}`",
            first.damaged, first.encoding, first.repaired
        )
    } else {
        format!(
            "{} spans on this line are UTF-8 text misread as {}: `{}` should be `{repaired}`",
            spans.len(),
            encodings.join(" and "),
            &text[range.clone()]
        )
    };
    MOJIBAKE.diag(range.clone(), message)
        .label(format!("should be `{repaired}`"))
        .help(format!("repaired line: {}", repaired_line.trim()))
        .fix(range, repaired)
}
