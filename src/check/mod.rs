//! `check`: the pre-send rules. Sits above `issue` and `render` (the size rule asks the renderer).
//!
//! The rules read a *masked* copy of the file in which every comment byte is a space (newlines kept),
//! so they never see editors' notes, and every offset they report is an offset in the file.

pub mod mojibake;
pub mod report;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::domain::Date;
use crate::issue::{self, Comment, Issue, Unterminated, is_heading_line};
use crate::render::{self, Theme};

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

/// A rule, by the name used in output, config and `--allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    Placeholder,
    UnterminatedComment,
    Mojibake,
    InvalidUtf8,
    Header,
    EmptySection,
    DuplicateItem,
    EventDate,
    SizeBudget,
    HttpLink,
    BareUrl,
    UnsafeLink,
    RawHtml,
}

impl Rule {
    /// Every rule, in documentation order.
    pub const ALL: [Rule; 13] = [
        Rule::Placeholder,
        Rule::UnterminatedComment,
        Rule::Mojibake,
        Rule::InvalidUtf8,
        Rule::Header,
        Rule::UnsafeLink,
        Rule::EmptySection,
        Rule::DuplicateItem,
        Rule::EventDate,
        Rule::SizeBudget,
        Rule::RawHtml,
        Rule::HttpLink,
        Rule::BareUrl,
    ];

    /// The rule's name, e.g. `unterminated-comment`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Placeholder => "placeholder",
            Rule::UnterminatedComment => "unterminated-comment",
            Rule::Mojibake => "mojibake",
            Rule::InvalidUtf8 => "invalid-utf8",
            Rule::Header => "header",
            Rule::EmptySection => "empty-section",
            Rule::DuplicateItem => "duplicate-item",
            Rule::EventDate => "event-date",
            Rule::SizeBudget => "size-budget",
            Rule::HttpLink => "http-link",
            Rule::BareUrl => "bare-url",
            Rule::UnsafeLink => "unsafe-link",
            Rule::RawHtml => "raw-html",
        }
    }

    /// How serious the rule's findings are.
    pub fn severity(self) -> Severity {
        match self {
            Rule::Placeholder
            | Rule::UnterminatedComment
            | Rule::Mojibake
            | Rule::InvalidUtf8
            | Rule::Header
            | Rule::UnsafeLink => Severity::Error,
            Rule::EmptySection
            | Rule::DuplicateItem
            | Rule::EventDate
            | Rule::SizeBudget
            | Rule::RawHtml => Severity::Warning,
            Rule::HttpLink | Rule::BareUrl => Severity::Note,
        }
    }

    /// Looks a rule up by name.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
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
    fn new(rule: Rule, range: Range<usize>, message: impl Into<String>) -> Self {
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
    fn label(mut self, s: impl Into<String>) -> Self {
        self.label = s.into();
        self
    }
    fn help(mut self, s: impl Into<String>) -> Self {
        self.help = s.into();
        self
    }
    fn fix(mut self, range: Range<usize>, replacement: impl Into<String>) -> Self {
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
        })
    }
}

/// All rule names, comma-separated.
pub fn rule_names() -> String {
    Rule::ALL.map(Rule::name).join(", ")
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
        line_col(&self.text, offset)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[start..offset].chars().count() + 1)
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
                diagnostics.push(invalid_utf8(bytes, &text, at, chunk.invalid()));
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

fn invalid_utf8(raw: &[u8], text: &str, at: usize, bad: &[u8]) -> Diagnostic {
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
    Diagnostic::new(
        Rule::InvalidUtf8,
        at..at + '\u{FFFD}'.len_utf8(),
        format!(
            "invalid UTF-8 at line {line}, column {col} (byte offset {raw_offset}, byte 0x{:02X})",
            bad[0]
        ),
    )
    .label("not UTF-8")
    .help(format!(
        "save the file as UTF-8; if it was saved as Windows-1252 or Latin-1, this character is probably `{guess}`"
    ))
}

/// The rules over decoded text.
fn check_text(path: &Path, text: &str, opts: &CheckOptions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let raw = issue::parse_raw_header(text);
    header_rule(text, &raw, &mut out);
    let comments = issue::scan_comments(text, raw.body_offset);
    for c in comments.iter().filter(|c| c.unterminated.is_some()) {
        out.push(unterminated(text, c));
    }
    let masked = mask(text, &comments);
    let code_masked = mask_code(&masked, raw.body_offset);
    let repairs = mojibake::find(&masked);
    for line in repairs.chunk_by(|a, b| !text[a.range.end..b.range.start].contains('\n')) {
        out.push(mojibake_diag(text, line));
    }
    placeholder_rule(
        &masked,
        &code_masked,
        raw.body_offset,
        &opts.placeholders,
        &opts.placeholder_words,
        &mut out,
    );
    let lines = Lines::new(&code_masked, raw.body_offset);
    empty_sections(&lines, &mut out);
    duplicate_items(text, &lines, &mut out);
    event_dates(&lines, &mut out);
    url_rules(&code_masked, raw.body_offset, &mut out);
    let tags = crate::render::rawhtml::tags(&code_masked, raw.body_offset);
    unsafe_links(&code_masked, raw.body_offset, &tags, &mut out);
    raw_html(&code_masked, &tags, &mut out);
    if let Some(theme) = &opts.theme {
        size_rule(path, text, theme, opts.budget, &mut out);
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
    if size > opts.budget && !opts.allow.contains(&Rule::SizeBudget) {
        report
            .diagnostics
            .push(budget_diag(&issue.source, size, opts.budget));
    }
    report
}

fn line_range(text: &str, line: usize) -> Range<usize> {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len()..text.len(),
        }
    }
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    start..end
}

fn header_rule(text: &str, raw: &issue::RawHeader, out: &mut Vec<Diagnostic>) {
    for p in issue::header_problems(raw) {
        let range = line_range(text, p.line);
        out.push(
            Diagnostic::new(
                Rule::Header,
                range,
                format!("header field `{}`: {}", p.field, p.problem),
            )
            .label(format!("`{}`", p.field))
            .help(match p.field.as_str() {
                "Title" => "the header needs `Title: This Week in Rust 522`".to_string(),
                "Number" => "the header needs `Number: 522`".to_string(),
                "Date" => {
                    "the header needs `Date: YYYY-MM-DD`, a real date, e.g. `Date: 2023-11-22`"
                        .to_string()
                }
                _ => "fix the header line (`Key: value`) or end the header with a blank line"
                    .to_string(),
            }),
        );
    }
    let (Some(title), Some(number)) = (raw.get("Title"), raw.get("Number")) else {
        return;
    };
    let trailing: String = title
        .value
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if !trailing.is_empty() && trailing != number.value.trim() && !number.value.trim().is_empty() {
        let range = line_range(text, title.line);
        let fixed = format!(
            "{}{}",
            &title.value[..title.value.len() - trailing.len()],
            number.value.trim()
        );
        out.push(
            Diagnostic::new(
                Rule::Header,
                range,
                format!(
                    "the title says {trailing} but `Number:` (line {}) says {}",
                    number.line,
                    number.value.trim()
                ),
            )
            .label("title number")
            .help(format!("make them agree, e.g. `Title: {fixed}`")),
        );
    }
}

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
    let d = Diagnostic::new(
        Rule::UnterminatedComment,
        c.span.clone(),
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
    Diagnostic::new(Rule::Mojibake, range.clone(), message)
        .label(format!("should be `{repaired}`"))
        .help(format!("repaired line: {}", repaired_line.trim()))
        .fix(range, repaired)
}

/// Comment bytes become spaces; newlines stay, so offsets and lines are unchanged.
fn mask(text: &str, comments: &[Comment]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for c in comments {
        blank(&mut bytes, c.span.clone());
    }
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

fn blank(bytes: &mut [u8], range: Range<usize>) {
    for b in &mut bytes[range] {
        if *b != b'\n' {
            *b = b' ';
        }
    }
}

/// Also blanks fenced code blocks and inline code spans in the body: markers there are examples.
fn mask_code(text: &str, from: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mut offset = 0;
    let mut fence_start: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if start < from {
            continue;
        }
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            match fence_start.take() {
                Some(s) => blank(&mut bytes, s..offset),
                None => fence_start = Some(start),
            }
            continue;
        }
        if fence_start.is_none() {
            let mut open: Option<usize> = None;
            for (i, b) in line.bytes().enumerate() {
                if b == b'`' {
                    match open.take() {
                        Some(o) => blank(&mut bytes, start + o..start + i + 1),
                        None => open = Some(i),
                    }
                }
            }
        }
    }
    if let Some(s) = fence_start {
        blank(&mut bytes, s..text.len());
    }
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True when `marker` occurs at `text[start..end]` as a whole token. A marker ending in `*` is a prefix
/// (`$twir_*` matches `$twir_events_list`), and the token then runs to the end of the identifier.
fn marker_matches(text: &str, from: usize, marker: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let (needle, prefix) = match marker.strip_suffix('*') {
        Some(p) => (p, true),
        None => (marker, false),
    };
    if needle.is_empty() {
        return Vec::new();
    }
    let first_is_word = needle.bytes().next().is_some_and(is_word_byte);
    text[from..]
        .match_indices(needle)
        .filter_map(|(i, _)| {
            let start = from + i;
            let mut end = start + needle.len();
            if prefix {
                end += text[end..].bytes().take_while(|&b| is_word_byte(b)).count();
            }
            let before_ok = start == 0 || !first_is_word || !is_word_byte(bytes[start - 1]);
            let after_ok = end >= bytes.len() || !is_word_byte(bytes[end]);
            (before_ok && after_ok).then_some((start, end))
        })
        .collect()
}

/// A link target that is the template's description of one (`Item URL`, `URL to issue`,
/// `<Feature URL>`) rather than an address: no scheme, not a path, and either words with spaces or a
/// word such as `URL` or `LINK` on its own.
fn is_template_target(target: &str) -> bool {
    let t = target.trim();
    let t = t
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(t);
    if t.is_empty()
        || crate::render::markdown::scheme(t).is_some()
        || t.starts_with(['/', '#', '.', '?'])
    {
        return false;
    }
    if t.contains(char::is_whitespace) {
        return true;
    }
    !t.contains('.')
        && t.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
            ["url", "link", "here"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
        })
}

/// What is left of a line once list markers, quote markers, heading hashes, emphasis and trailing
/// punctuation are taken off: `* **TBD**` → `TBD`.
fn bare_content(line: &str) -> &str {
    let mut t = line.trim();
    loop {
        let before = t;
        t = t.trim_start_matches('>').trim_start();
        if let Some(rest) = t
            .strip_prefix(['*', '-', '+'])
            .filter(|r| r.starts_with(' '))
        {
            t = rest.trim_start();
        }
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            && let Some(rest) = t[digits..]
                .strip_prefix(['.', ')'])
                .filter(|r| r.starts_with(' '))
        {
            t = rest.trim_start();
        }
        if t.starts_with('#') {
            t = t.trim_start_matches('#').trim_start();
        }
        if t == before {
            break;
        }
    }
    t.trim_matches(|c: char| matches!(c, '*' | '_' | '~'))
        .trim_end_matches([':', '.', '!', '?', '…', ' '])
        .trim_matches(|c: char| matches!(c, '*' | '_' | '~'))
}

/// The placeholder rule. Template markers (`INSERT_LINK_HERE`) are leftovers wherever they stand;
/// links with no target, no text, or a template target (`[Item title](Item URL)`) too. A generic word
/// (`TODO`, `TBD`) is a leftover only where it stands in place of content: alone on its line or list
/// item, or opening it as a note (`TODO: add the quote`). Inside a sentence or the text of a real link
/// (`[**Topic TBD**](https://…)`, `[remove FIXME comment](https://…)`) it is content.
///
/// Markers are searched outside code; link text and targets are read with code intact (`[`x`](…)`).
fn placeholder_rule(
    full: &str,
    text: &str,
    from: usize,
    markers: &[String],
    words: &[String],
    out: &mut Vec<Diagnostic>,
) {
    for marker in markers.iter().filter(|m| !m.is_empty()) {
        for (start, end) in marker_matches(text, from, marker) {
            let found = &text[start..end];
            let in_link = text[..start].ends_with("](") || text[..start].ends_with("]: ");
            out.push(
                Diagnostic::new(
                    Rule::Placeholder,
                    start..end,
                    format!("leftover placeholder `{found}`"),
                )
                .label("placeholder")
                .help(if in_link {
                    format!("replace `{found}` with the real URL, or remove the link")
                } else {
                    format!("finish or remove the text marked `{found}`")
                }),
            );
        }
    }
    let mut offset = from;
    for searched in text[from..].split_inclusive('\n') {
        let start = offset;
        offset += searched.len();
        let line = &full[start..offset];
        let before = out.len();
        link_placeholders(start, line, searched, markers, out);
        if out.len() == before {
            generic_word(start, searched, words, out);
        }
    }
}

/// Empty links, links without text, template targets and template bullets such as `* [ - ]()`.
fn link_placeholders(
    start: usize,
    line: &str,
    searched: &str,
    markers: &[String],
    out: &mut Vec<Diagnostic>,
) {
    let mut search = 0;
    while let Some(i) = searched[search..].find("](") {
        let close = search + i;
        search = close + 2;
        let Some(open) = line[..close].rfind('[') else {
            continue;
        };
        let Some(end) = line[close + 2..].find(')') else {
            continue;
        };
        let label = line[open + 1..close].trim();
        let target = line[close + 2..close + 2 + end].trim();
        let link_end = close + 2 + end + 1;
        // A marker in the target has been reported already, by name.
        let template = is_template_target(target)
            && !markers
                .iter()
                .any(|m| !marker_matches(target, 0, m).is_empty());
        if !target.is_empty() && !label.is_empty() && !template {
            continue;
        }
        let bullet = line.trim_start().starts_with(['*', '-'])
            && (label.is_empty() || label.chars().all(|c| " -|:".contains(c)));
        let (range, message, help) = if bullet && (target.is_empty() || template) {
            (
                start..start + line.trim_end().len(),
                "template bullet left in the issue".to_string(),
                "fill in this item or delete the line".to_string(),
            )
        } else if template {
            (
                start + close + 2..start + close + 2 + end,
                format!("link target `{target}` is the template's placeholder, not a URL"),
                "put in the real URL, or delete the line".to_string(),
            )
        } else if target.is_empty() {
            (
                start + open..start + link_end,
                format!("link `{}` has no target", &line[open..link_end]),
                "add the URL between the parentheses, or remove the link".to_string(),
            )
        } else {
            (
                start + open..start + link_end,
                "link has no text".to_string(),
                "write the link text between the brackets".to_string(),
            )
        };
        out.push(
            Diagnostic::new(Rule::Placeholder, range, message)
                .label(if template { "template" } else { "empty" })
                .help(help),
        );
        if bullet {
            break;
        }
    }
}

/// A generic word standing where content should be: the whole line or item (`* TBD`), or the note
/// that opens it (`TODO: add the quote`). Words are matched case-sensitively: `todo` in prose is not one.
fn generic_word(start: usize, searched: &str, words: &[String], out: &mut Vec<Diagnostic>) {
    let bare = bare_content(searched);
    if bare.is_empty() {
        return;
    }
    for word in words.iter().filter(|w| !w.is_empty()) {
        let alone = bare == word;
        let note = bare.strip_prefix(word.as_str()).is_some_and(|rest| {
            let rest = rest.trim_start_matches(['*', '_']);
            rest.starts_with(':') || rest.starts_with(" -") || rest.starts_with(" –")
        });
        if !(alone || note) {
            continue;
        }
        let at = start + searched.find(bare).unwrap_or(0);
        let range = at..at + word.len();
        out.push(
            Diagnostic::new(
                Rule::Placeholder,
                range,
                if alone {
                    format!("`{word}` stands where the content should be")
                } else {
                    format!("an editor's note (`{word}: …`) is left in the issue")
                },
            )
            .label("placeholder")
            .help("write the content, or delete the line"),
        );
        return;
    }
}

/// Body lines with their byte offsets, shared by the structure rules.
struct Lines<'t> {
    items: Vec<(usize, &'t str)>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str, from: usize) -> Self {
        let mut items = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            if start >= from {
                items.push((start, line.trim_end_matches('\n')));
            }
        }
        Self { items }
    }

    /// (index, level, line) of every heading.
    fn headings(&self) -> Vec<(usize, usize, &'t str)> {
        self.items
            .iter()
            .enumerate()
            .filter(|(_, (_, l))| is_heading_line(l))
            .map(|(i, &(_, l))| {
                (
                    i,
                    l.trim_start().bytes().take_while(|&b| b == b'#').count(),
                    l,
                )
            })
            .collect()
    }
}

fn is_reference_definition(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with('[')
        && t.find("]:")
            .is_some_and(|i| i > 1 && !t[1..i].contains(']'))
}

fn empty_sections(lines: &Lines<'_>, out: &mut Vec<Diagnostic>) {
    let headings = lines.headings();
    for (k, &(idx, level, line)) in headings.iter().enumerate() {
        let next_same = headings[k + 1..]
            .iter()
            .find(|&&(_, l, _)| l <= level)
            .map_or(lines.items.len(), |&(i, _, _)| i);
        let has_content = lines.items[idx + 1..next_same]
            .iter()
            .any(|&(_, l)| !l.trim().is_empty() && !is_reference_definition(l));
        if !has_content {
            let start = lines.items[idx].0;
            let title = plain_heading(line);
            out.push(
                Diagnostic::new(
                    Rule::EmptySection,
                    start..start + line.len(),
                    format!("section `{title}` is empty"),
                )
                .label("nothing under this heading")
                .help("add its items, write \"*No … this week.*\", or remove the heading"),
            );
        }
    }
}

/// A heading's text without `#`s and link syntax: `### [RFCs](…)` → `RFCs`.
fn plain_heading(line: &str) -> String {
    let t = line.trim().trim_start_matches('#').trim();
    match (t.strip_prefix('['), t.find("](")) {
        (Some(_), Some(i)) if t.ends_with(')') => t[1..i].to_string(),
        _ => t.to_string(),
    }
}

fn first_link(line: &str) -> Option<&str> {
    let i = line.find("](")?;
    let rest = &line[i + 2..];
    let end = rest.find(')')?;
    let url = rest[..end].trim();
    (!url.is_empty()).then_some(url)
}

fn normalize_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let url = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    url.to_ascii_lowercase()
}

fn event_date(item: &str) -> Option<&str> {
    let t = item
        .trim_start()
        .strip_prefix(['*', '-', '+'])?
        .trim_start();
    let d = t.get(..10)?;
    (d.as_bytes()[4] == b'-'
        && d.as_bytes()[7] == b'-'
        && d.bytes().filter(u8::is_ascii_digit).count() == 8)
        .then_some(d)
}

fn duplicate_items(text: &str, lines: &Lines<'_>, out: &mut Vec<Diagnostic>) {
    // Top-level items of one section: (identity, line index, full item range).
    let mut seen: Vec<(String, usize)> = Vec::new();
    let items = &lines.items;
    let mut i = 0;
    while i < items.len() {
        let (start, line) = items[i];
        if is_heading_line(line) {
            seen.clear();
            i += 1;
            continue;
        }
        let top = line.starts_with(['*', '-', '+']) && line[1..].starts_with(' ');
        if !top {
            i += 1;
            continue;
        }
        // The item and its nested lines.
        let mut j = i + 1;
        while j < items.len()
            && items[j].1.starts_with([' ', '\t'])
            && !items[j].1.trim().is_empty()
        {
            j += 1;
        }
        let end = items.get(j - 1).map_or(text.len(), |&(s, l)| s + l.len());
        let identity = match event_date(line) {
            // Events repeat their group's URL by design: an event is its date and its own page.
            Some(date) => items[i + 1..j]
                .iter()
                .find_map(|&(_, l)| first_link(l))
                .or_else(|| first_link(line))
                .map(|u| format!("{date} {}", normalize_url(u))),
            None => first_link(line).map(normalize_url),
        };
        if let Some(id) = identity {
            if let Some(&(_, first)) = seen.iter().find(|(s, _)| *s == id) {
                let (first_line, _) = line_col(text, items[first].0);
                let first_end = items[first].0 + items[first].1.len();
                let identical = text[items[first].0..first_end] == text[start..start + line.len()]
                    && j == i + 1;
                let mut d = Diagnostic::new(
                    Rule::DuplicateItem,
                    start..start + line.len(),
                    format!("this item is already listed on line {first_line} of the same section"),
                )
                .label("duplicate")
                .help("remove one of the two items");
                if identical {
                    d = d.fix(start..(end + 1).min(text.len()), "");
                }
                out.push(d);
            } else {
                seen.push((id, i));
            }
        }
        i = j.max(i + 1);
    }
}

fn event_dates(lines: &Lines<'_>, out: &mut Vec<Diagnostic>) {
    let mut window: Option<(Date, Date)> = None;
    for &(start, line) in &lines.items {
        if let Some(i) = line.find("Rusty Events between") {
            let dates: Vec<Date> = line[i..]
                .split(|c: char| !(c.is_ascii_digit() || c == '-'))
                .filter_map(|w| Date::parse(w.trim_matches('-')).ok())
                .collect();
            if let [a, b, ..] = dates[..] {
                window = Some((a, b));
            }
            continue;
        }
        let Some((a, b)) = window else { continue };
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some(d) = event_date(line) else { continue };
        let at = start + line.find(d).unwrap_or(0);
        // A multi-day event (`2026-05-18 - 2026-05-23 | Utrecht`) belongs when its span meets the
        // window.
        let after = &line[line.find(d).unwrap_or(0) + d.len()..];
        let last = after
            .trim_start()
            .strip_prefix(['-', '–', '—'])
            .map(str::trim_start)
            .and_then(|r| r.get(..10))
            .and_then(|e| Date::parse(e).ok());
        match Date::parse(d) {
            Ok(date) if last.unwrap_or(date) < a || date > b => out.push(
                Diagnostic::new(
                    Rule::EventDate,
                    at..at + d.len(),
                    format!("event dated {date} is outside this issue's window {a} - {b}"),
                )
                .label(if date < a {
                    "before the window"
                } else {
                    "after the window"
                })
                .help("remove the event or correct its date"),
            ),
            Err(e) => out.push(
                Diagnostic::new(
                    Rule::EventDate,
                    at..at + d.len(),
                    format!("event date: {e}"),
                )
                .label("not a date")
                .help("write the date as YYYY-MM-DD"),
            ),
            _ => {}
        }
    }
}

fn url_rules(text: &str, from: usize, out: &mut Vec<Diagnostic>) {
    let body = &text[from..];
    for (i, _) in body.match_indices("http").filter(|(i, _)| {
        let r = &body[*i..];
        r.starts_with("http://") || r.starts_with("https://")
    }) {
        let start = from + i;
        let end = start
            + text[start..]
                .find(|c: char| c.is_whitespace() || c == ')' || c == '>')
                .unwrap_or(text.len() - start);
        let url = &text[start..end];
        let before = &text[..start];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let in_syntax = before.ends_with("](")
            || before.ends_with('<')
            || is_reference_definition(&text[line_start..start])
            || before.ends_with("]: ")
            || before.ends_with("]:");
        if url.starts_with("http://") && url.len() > "http://".len() {
            let https = format!("https://{}", &url[7..]);
            out.push(
                Diagnostic::new(Rule::HttpLink, start..end, format!("`{url}` is plain http"))
                    .label("http")
                    .help(format!("use `{https}` if the site serves it")),
            );
        }
        if !in_syntax && !before.ends_with('"') && !before.ends_with('=') {
            out.push(
                Diagnostic::new(Rule::BareUrl, start..end, format!("bare URL `{url}`"))
                    .label("no link text")
                    .help(format!(
                        "write it as a link with a description: `[what it is]({url})`"
                    )),
            );
        }
    }
}

/// The end of a link destination that starts at `target[0]`: at whitespace, or at the `)` (or `>`)
/// that closes it, counting balanced parentheses as CommonMark does.
fn destination_end(target: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in target.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return i,
            ')' => depth -= 1,
            '>' if depth == 0 => return i,
            c if c.is_whitespace() => return i,
            _ => {}
        }
    }
    target.len()
}

/// Link targets a subscriber must never be sent to (`javascript:`, `data:`): in `[x](…)`, in
/// reference definitions, in autolinks (entities decoded as a browser decodes them), and raw HTML
/// whose attributes carry script.
fn unsafe_links(
    text: &str,
    from: usize,
    tags: &[crate::render::rawhtml::Tag],
    out: &mut Vec<Diagnostic>,
) {
    use crate::render::markdown::{BLOCKED_SCHEMES, scheme};
    use crate::render::rawhtml::decode_entities;
    let blocked =
        |url: &str| scheme(&decode_entities(url)).filter(|s| BLOCKED_SCHEMES.contains(&s.as_str()));
    let body = &text[from..];
    for (i, opener) in body
        .match_indices("](")
        .chain(body.match_indices("]:"))
        .chain(body.match_indices('<'))
        .map(|(i, m)| (i, m.len()))
    {
        let start = from + i + opener;
        let rest = &text[start..];
        let target_start = start + (rest.len() - rest.trim_start().len());
        let target = &text[target_start..];
        let end = destination_end(target);
        if let Some(s) = blocked(&target[..end]) {
            out.push(
                Diagnostic::new(
                    Rule::UnsafeLink,
                    target_start..target_start + end,
                    format!(
                        "link target `{}` uses `{}:`, which runs code or embeds content; the e-mail drops the link",
                        &target[..end],
                        s.as_str()
                    ),
                )
                .label("unsafe link")
                .help("link to an https:// page instead, or remove the link"),
            );
        }
    }
    for tag in tags {
        if !tag.is_active() {
            continue;
        }
        let why = match tag
            .attributes
            .iter()
            .find_map(|(n, v)| blocked(v).map(|s| format!("its `{n}` uses `{}:`", s.as_str())))
        {
            Some(w) => w,
            None => {
                let handler = tag
                    .attributes
                    .iter()
                    .find(|(n, _)| n.starts_with("on"))
                    .map_or("on…", |(n, _)| n.as_str());
                format!("it carries the event handler `{handler}`")
            }
        };
        out.push(
            Diagnostic::new(
                Rule::UnsafeLink,
                tag.range.clone(),
                format!(
                    "raw HTML `<{}>` runs script: {why}; the e-mail shows it as text",
                    tag.name
                ),
            )
            .label("script in HTML")
            .help("write the link in Markdown with an https:// target, and drop the event handler"),
        );
    }
}

/// Text that CommonMark reads as a raw HTML tag but that is not markup (`impl TryFrom<u8>`,
/// `Box<T>`): the web version swallows it, and the e-mail shows it only because the renderer
/// turns it back into text.
fn raw_html(text: &str, tags: &[crate::render::rawhtml::Tag], out: &mut Vec<Diagnostic>) {
    for tag in tags {
        let before = &text[..tag.range.start];
        if !tag.is_not_markup(before) {
            continue;
        }
        let word_start = before
            .rfind(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | ':' | '&' | '\'')))
            .map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
        let code = &text[word_start..tag.range.end];
        out.push(
            Diagnostic::new(
                Rule::RawHtml,
                tag.range.clone(),
                format!(
                    "`{}` is not an HTML tag: a web page or mail client reading the issue as HTML hides it",
                    &text[tag.range.clone()]
                ),
            )
            .label("read as a tag")
            .help(format!("put the code in backticks: `` `{code}` ``")),
        );
    }
}

fn budget_diag(text: &str, size: usize, budget: usize) -> Diagnostic {
    let first = line_range(text, 1);
    Diagnostic::new(
        Rule::SizeBudget,
        first,
        format!("the rendered HTML is {size} bytes, over the budget of {budget} bytes; Gmail clips messages above ~102 KB"),
    )
    .label("this issue")
    .help("shorten the issue, or move long lists to the web version and link to it")
}

fn size_rule(path: &Path, text: &str, theme: &Theme, budget: usize, out: &mut Vec<Diagnostic>) {
    let Ok(issue) = Issue::parse(path, text.as_bytes()) else {
        return;
    };
    let Ok(rendered) = render::render(&issue, theme) else {
        return;
    };
    let size = rendered.html_len(&render::sample_unsubscribe_url(&theme.site));
    if size > budget {
        out.push(budget_diag(text, size, budget));
    }
}
