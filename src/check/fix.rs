//! `check --fix`: applies the machine fixes of a report and writes the file back as it was encoded.
//! The inverse of [`super::check_bytes`]'s normalisation: a file that had a BOM or CRLF line ends
//! gets them back, so a fix changes only what it fixes.

use std::path::{Path, PathBuf};

use super::FileReport;

/// Why a file was not fixed.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error(
        "{}: not fixed, because {} already exists; move it away and run again",
        path.display(),
        copy.display()
    )]
    CopyExists { path: PathBuf, copy: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What fixing one file did.
#[derive(Debug)]
pub enum Outcome {
    /// No diagnostic had a machine fix.
    Nothing,
    /// Not valid UTF-8: rewriting would lose bytes, so nothing was written.
    NotUtf8,
    Fixed(Fixed),
}

/// A fixed file.
#[derive(Debug)]
pub struct Fixed {
    /// The new bytes, as written.
    pub bytes: Vec<u8>,
    /// How many fixes were applied.
    pub applied: usize,
    /// Where the original was copied (`<file>.orig`).
    pub original_copy: PathBuf,
    /// A unified diff of the change (in the normalised text).
    pub diff: String,
}

/// The fixed text in the file's own encoding: BOM and CRLF as the original had them.
pub fn encode_like(report: &FileReport, text: &str) -> String {
    let mut out = if report.had_crlf {
        text.replace('\n', "\r\n")
    } else {
        text.to_string()
    };
    if report.had_bom {
        out.insert(0, '\u{feff}');
    }
    out
}

/// Applies `report`'s machine fixes to the file at `path` (whose bytes were `original`): copies the
/// original to `<file>.orig` (refusing to overwrite one), then writes the fixed file.
pub fn fix_file(path: &Path, original: &[u8], report: &FileReport) -> Result<Outcome, FixError> {
    if !report.valid_utf8 {
        return Ok(Outcome::NotUtf8);
    }
    let (fixed, applied) = report.fixed_text();
    if applied == 0 {
        return Ok(Outcome::Nothing);
    }
    let text = encode_like(report, &fixed);
    let mut copy = path.as_os_str().to_owned();
    copy.push(".orig");
    let copy = PathBuf::from(copy);
    if copy.exists() {
        return Err(FixError::CopyExists {
            path: path.to_path_buf(),
            copy,
        });
    }
    let write = |p: &Path, bytes: &[u8]| {
        std::fs::write(p, bytes).map_err(|source| FixError::Write {
            path: p.to_path_buf(),
            source,
        })
    };
    write(&copy, original)?;
    write(path, text.as_bytes())?;
    let diff = similar::TextDiff::from_lines(report.text.as_str(), fixed.as_str())
        .unified_diff()
        .context_radius(1)
        .header(&copy.display().to_string(), &path.display().to_string())
        .to_string();
    Ok(Outcome::Fixed(Fixed {
        bytes: text.into_bytes(),
        applied,
        original_copy: copy,
        diff,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckOptions, check_bytes};

    #[test]
    fn a_fix_keeps_the_bom_and_crlf_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issue.md");
        let original = b"\xEF\xBB\xBFTitle: This Week in Rust 1\r\nNumber: 1\r\nDate: 2024-01-03\r\n\r\n<!-- note>\r\nText\r\n<!-- end -->\r\n";
        std::fs::write(&path, original).unwrap();
        let opts = CheckOptions {
            placeholders: Vec::new(),
            placeholder_words: Vec::new(),
            budget: usize::MAX,
            allow: Vec::new(),
            theme: None,
            archive: Vec::new(),
        };
        let report = check_bytes(&path, original, &opts);
        let Outcome::Fixed(f) = fix_file(&path, original, &report).unwrap() else {
            panic!("nothing fixed: {:?}", report.diagnostics)
        };
        assert_eq!(f.applied, 1);
        assert_eq!(std::fs::read(&path).unwrap(), f.bytes);
        assert!(
            f.bytes.starts_with(b"\xEF\xBB\xBF")
                && f.bytes
                    .ends_with(b"<!-- note -->\r\nText\r\n<!-- end -->\r\n")
        );
        assert_eq!(std::fs::read(&f.original_copy).unwrap(), original);
        // A second fix would overwrite the saved original: refused.
        assert!(matches!(
            fix_file(&path, original, &report),
            Err(FixError::CopyExists { .. })
        ));
    }
}
