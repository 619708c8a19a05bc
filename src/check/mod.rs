//! `check`: the pre-send rules. Sits above `issue` and `render` (the size rule asks the renderer).
//!
//! The rules ([`rules`], one file per family) read a *masked* copy of the file in which every comment
//! byte is a space (newlines kept), so they never see editors' notes, and every offset they report
//! is an offset in the file. [`fix`] applies the machine fixes and writes the file back as it was
//! encoded (BOM, CRLF).

pub mod fix;
pub mod mojibake;
pub mod report;
pub mod rules;
mod scan;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::issue::{self, Issue};
use crate::render::{self, Theme};
use rules::{Context, FAMILIES};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks `send` (unless `--force`); exit code 1.
    Error,
    /// Worth a look; does not block.
    Warning,
    /// A suggestion.
    Note,
}

/// What a rule is: its name (used in output, config and `--allow`), how serious its findings are,
/// and one line for `--help`.
#[derive(Debug)]
pub struct RuleDef {
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

impl RuleDef {
    /// A finding of this rule.
    pub(crate) fn diag(
        &'static self,
        range: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::new(Rule(self), range, message)
    }
}

/// A rule, by reference to its definition in [`rules`].
#[derive(Clone, Copy)]
pub struct Rule(pub &'static RuleDef);

impl Rule {
    /// The rule's name, e.g. `unterminated-comment`.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// How serious the rule's findings are.
    pub fn severity(self) -> Severity {
        self.0.severity
    }

    /// Looks a rule up by name.
    pub fn from_name(name: &str) -> Option<Rule> {
        rules::all().find(|r| r.name == name).map(Rule)
    }

    /// Every rule, in registry order.
    pub fn all() -> impl Iterator<Item = Rule> {
        rules::all().map(Rule)
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Rule {}

impl std::hash::Hash for Rule {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.name.hash(h);
    }
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}

/// A machine-applicable edit: replace `range` with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    #[serde(skip)]
    pub range: Range<usize>,
    pub replacement: String,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub rule: Rule,
    pub severity: Severity,
    /// Byte range in the checked text.
    #[serde(skip)]
    pub range: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// A short label under the highlighted text.
    pub label: String,
    /// The concrete fix, for people.
    pub help: String,
    /// Set when the fix is unambiguous: `--fix` applies it.
    pub fix: Option<Fix>,
}

impl Diagnostic {
    pub(crate) fn new(rule: Rule, range: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            rule,
            severity: rule.severity(),
            range,
            message: message.into(),
            label: String::new(),
            help: String::new(),
            fix: None,
        }
    }
    pub(crate) fn label(mut self, s: impl Into<String>) -> Self {
        self.label = s.into();
        self
    }
    pub(crate) fn help(mut self, s: impl Into<String>) -> Self {
        self.help = s.into();
        self
    }
    pub(crate) fn fix(mut self, range: Range<usize>, replacement: impl Into<String>) -> Self {
        self.fix = Some(Fix {
            range,
            replacement: replacement.into(),
        });
        self
    }
}

/// What the rules need to know besides the file.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Leftover template markers (`placeholder` rule), wherever they stand.
    pub placeholders: Vec<String>,
    /// Generic words (`TODO`, `TBD`) that are leftovers only where they stand in place of content.
    pub placeholder_words: Vec<String>,
    /// HTML size budget in bytes (`size-budget` rule).
    pub budget: usize,
    /// Rules whose findings are dropped.
    pub allow: Vec<Rule>,
    /// The look, to measure the rendered size; `None` skips the size rule.
    pub theme: Option<Theme>,
    /// Other issues of the archive (number and date), for `header-date`'s weekly sequence. Empty:
    /// that comparison is skipped.
    pub archive: Vec<ArchiveEntry>,
}

/// One issue of the archive, as its header says: what `header-date` compares a Date with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    pub path: PathBuf,
    pub number: crate::domain::IssueNumber,
    pub date: crate::domain::Date,
}

impl ArchiveEntry {
    /// The entry of an issue file from its header, if it has a valid `Number:` and `Date:`.
    pub fn from_text(path: &Path, text: &str) -> Option<Self> {
        let raw = issue::parse_raw_header(text);
        Some(Self {
            path: path.to_path_buf(),
            number: crate::domain::IssueNumber::parse(&raw.get("Number")?.value).ok()?,
            date: crate::domain::Date::parse_pelican(&raw.get("Date")?.value).ok()?,
        })
    }

    /// The archive around `files`: the files themselves and the issues beside them in their folders
    /// (files named `YYYY-MM-DD-….md`), each read only as far as its header (4 KiB).
    pub fn around(files: &[PathBuf]) -> Vec<Self> {
        use std::io::Read;
        // Only regular files, not followed through symlinks: a FIFO or a device given to `check` is
        // read (with its limits) by the check itself, never opened here.
        let regular = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file());
        let mut paths: Vec<PathBuf> = files.iter().filter(|f| regular(f)).cloned().collect();
        let mut dirs: Vec<PathBuf> = Vec::new();
        for f in files {
            let dir = match f.parent() {
                Some(d) if d.as_os_str().is_empty() => PathBuf::from("."),
                Some(d) => d.to_path_buf(),
                None => continue,
            };
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                let dated = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.ends_with(".md") && rules::header_date::file_date(n).is_some()
                });
                if dated && regular(&p) && !paths.contains(&p) {
                    paths.push(p);
                }
            }
        }
        let mut out = Vec::new();
        for p in paths {
            let Ok(f) = std::fs::File::open(&p) else {
                continue;
            };
            let mut head = Vec::with_capacity(4096);
            if f.take(4096).read_to_end(&mut head).is_err() {
                continue;
            }
            let text = String::from_utf8_lossy(&head);
            let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n");
            // An issue whose Date disagrees with its own file name says nothing sure about the
            // sequence (it is `header-date`'s finding in its own check).
            let named = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(rules::header_date::file_date);
            if let Some(entry) = Self::from_text(&p, &text)
                && named.is_none_or(|d| d == entry.date)
            {
                out.push(entry);
            }
        }
        out
    }
}

impl CheckOptions {
    /// Options from config (`[check]`, `[theme]`).
    pub fn from_config(config: &crate::config::Config) -> Result<Self, crate::config::ConfigError> {
        let mut allow = Vec::new();
        for name in &config.check.allow {
            allow.push(Rule::from_name(name).ok_or_else(|| {
                crate::config::ConfigError::Invalid {
                    layer: "[check] allow".into(),
                    message: format!("unknown rule `{name}`; the rules are: {}", rule_names()),
                }
            })?);
        }
        Ok(Self {
            placeholders: config.check.placeholders.clone(),
            placeholder_words: config.check.placeholder_words.clone(),
            budget: config.theme.size_budget,
            allow,
            theme: Some(Theme::from_config(config)?),
            archive: Vec::new(),
        })
    }
}

/// All rule names, comma-separated.
pub fn rule_names() -> String {
    rules::all().map(|r| r.name).collect::<Vec<_>>().join(", ")
}

/// One checked file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: PathBuf,
    /// The text the diagnostics point into (BOM dropped, CRLF as LF, invalid bytes as U+FFFD).
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
    /// The file started with a UTF-8 BOM.
    pub had_bom: bool,
    /// The file used CRLF line ends.
    pub had_crlf: bool,
    /// The file was valid UTF-8 (fixes can be written back without loss).
    pub valid_utf8: bool,
}

impl FileReport {
    /// How many diagnostics have this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// The text with every machine fix applied (overlapping fixes: the first wins), and how many.
    pub fn fixed_text(&self) -> (String, usize) {
        let mut fixes: Vec<&Fix> = self
            .diagnostics
            .iter()
            .filter_map(|d| d.fix.as_ref())
            .collect();
        fixes.sort_by_key(|f| f.range.start);
        let mut out = String::with_capacity(self.text.len());
        let (mut pos, mut applied) = (0, 0);
        for f in fixes {
            if f.range.start < pos {
                continue;
            }
            out.push_str(&self.text[pos..f.range.start]);
            out.push_str(&f.replacement);
            pos = f.range.end;
            applied += 1;
        }
        out.push_str(&self.text[pos..]);
        (out, applied)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        scan::line_col(&self.text, offset)
    }

    /// The line and column of each offset, in one pass over the text (for many at once).
    pub fn line_cols(&self, offsets: &[usize]) -> Vec<(usize, usize)> {
        scan::line_cols(&self.text, offsets)
    }
}

/// Checks a file's bytes. Never fails: problems with the bytes themselves are diagnostics.
pub fn check_bytes(path: &Path, bytes: &[u8], opts: &CheckOptions) -> FileReport {
    let had_bom = bytes.starts_with(b"\xEF\xBB\xBF");
    let body = if had_bom { &bytes[3..] } else { bytes };
    let had_crlf = body.windows(2).any(|w| w == b"\r\n");
    let normalized: Vec<u8> = if had_crlf {
        let mut v = Vec::with_capacity(body.len());
        for (i, &b) in body.iter().enumerate() {
            if !(b == b'\r' && body.get(i + 1) == Some(&b'\n')) {
                v.push(b);
            }
        }
        v
    } else {
        body.to_vec()
    };
    let mut diagnostics = Vec::new();
    let mut text = String::with_capacity(normalized.len());
    let mut valid_utf8 = true;
    for chunk in normalized.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            valid_utf8 = false;
            let at = text.len();
            text.push('\u{FFFD}');
            if diagnostics.len() < 20 {
                diagnostics.push(rules::encoding::invalid_utf8(
                    bytes,
                    &text,
                    at,
                    chunk.invalid(),
                ));
            }
        }
    }
    diagnostics.extend(check_text(path, &text, opts));
    diagnostics.retain(|d| !opts.allow.contains(&d.rule));
    diagnostics.sort_by_key(|d| (d.range.start, d.severity));
    FileReport {
        path: path.to_path_buf(),
        text,
        diagnostics,
        had_bom,
        had_crlf,
        valid_utf8,
    }
}

/// The rules over decoded text: the file is read once into a [`Context`], then every family runs.
fn check_text(path: &Path, text: &str, opts: &CheckOptions) -> Vec<Diagnostic> {
    let raw = issue::parse_raw_header(text);
    let comments = issue::scan_comments(text, raw.body_offset);
    let masked = scan::mask(text, &comments);
    let code_masked = scan::mask_code(&masked, raw.body_offset);
    let cx = Context {
        path,
        text,
        raw: &raw,
        comments: &comments,
        masked: &masked,
        code_masked: &code_masked,
        body: raw.body_offset,
        lines: scan::Lines::new(&code_masked, raw.body_offset),
        tags: render::rawhtml::tags(&code_masked, raw.body_offset),
        opts,
    };
    let mut out = Vec::new();
    for family in FAMILIES {
        (family.run)(&cx, &mut out);
    }
    out
}

/// Checks a loaded issue against its rendering: what `send` runs, so the issue is not rendered a
/// second time for the size rule. `site` gives the unsubscribe URL the size is measured with.
pub fn check(
    issue: &Issue,
    rendered: &render::Rendered,
    site: &crate::config::Site,
    opts: &CheckOptions,
) -> FileReport {
    let mut o = opts.clone();
    o.theme = None;
    let mut report = check_bytes(&issue.path, issue.source.as_bytes(), &o);
    let size = rendered.html_len(&render::sample_unsubscribe_url(site));
    if size > opts.budget && !opts.allow.contains(&Rule(&rules::size::SIZE_BUDGET)) {
        report
            .diagnostics
            .push(rules::size::budget_diag(&issue.source, size, opts.budget));
    }
    report
}
