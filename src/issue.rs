//! Reading an issue file: encoding, the Pelican-style header, and the editors' HTML comments.
//!
//! # Comments
//! Editors leave instructions in `<!-- … -->` comments; none of them may reach a subscriber. TWiR also
//! nests pseudo-comments `<!~~ … ~~>` inside comments; those are removed wherever they appear.
//!
//! A comment means what a browser (and CommonMark) makes of it: it runs from `<!--` to the next
//! `-->`, whatever its first line holds and whatever headings or links lie between. Only three
//! accidents, all seen in real drafts, count as **unterminated**:
//! - it has no `-->` at all;
//! - its opening line ends in a bare `>` (`<!-- Remove this section if empty>`) that closes no tag
//!   opened on that line, and the next `-->` is on a later line;
//! - another `<!--` opens before its `-->`.
//!
//! An unterminated comment ends at the end of its own opening line. Its note never reaches a subscriber,
//! and nothing after that line is hidden. A browser would instead hide everything up to the next
//! `-->`; [`Comment::html_end`] keeps that offset so `check` can name what would have been lost.

use std::ops::Range;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::domain::{Date, IssueNumber};

/// Issues larger than this are refused: a TWiR issue is about 40 KB. The limit holds while reading,
/// whatever the file claims to be.
pub const MAX_ISSUE_BYTES: u64 = 4 * 1024 * 1024;

/// How long a read from something that is not a regular file (a pipe, a FIFO, a device) may take.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why an issue file could not be loaded.
#[derive(Debug, Error)]
pub enum IssueError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read the file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is far larger than any issue.
    #[error(
        "{path}: the file is {size} bytes; an issue may be at most {limit} bytes. Is this the right file?"
    )]
    TooLarge {
        path: PathBuf,
        /// At least this many bytes (a stream is not read further than the limit).
        size: String,
        limit: u64,
    },
    /// A pipe or device gave no end of file in time.
    #[error(
        "{path}: no end of input within {secs} s; is something still to write to it? Give a file instead"
    )]
    Timeout { path: PathBuf, secs: u64 },
    /// The bytes are not UTF-8.
    #[error(
        "{path}:{line}:{column}: the file is not valid UTF-8 (byte offset {offset}, byte 0x{byte:02X}). \
         Save it as UTF-8; `newsletter check` shows the exact spot"
    )]
    InvalidUtf8 {
        path: PathBuf,
        line: usize,
        column: usize,
        offset: usize,
        byte: u8,
    },
    /// A header field is missing or invalid.
    #[error("{path}:{line}: header field `{field}`: {problem}")]
    Header {
        path: PathBuf,
        line: usize,
        field: String,
        problem: String,
    },
}

/// One `Key: value` line of the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The key as written, e.g. `Title`.
    pub key: String,
    /// The value, trimmed.
    pub value: String,
    /// 1-based line number.
    pub line: usize,
}

/// A problem found while reading the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderProblem {
    /// 1-based line.
    pub line: usize,
    /// The field concerned (`Title`, `Number`, `Date`, or the raw key).
    pub field: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

/// The header as written, before the required fields are checked.
#[derive(Debug, Clone)]
pub struct RawHeader {
    /// Fields in file order.
    pub fields: Vec<HeaderField>,
    /// Byte offset of the body (after the blank line that ends the header).
    pub body_offset: usize,
    /// 1-based line of the first body line.
    pub body_line: usize,
    /// Lines that are not `Key: value`.
    pub problems: Vec<HeaderProblem>,
}

impl RawHeader {
    /// The first field with this key (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&HeaderField> {
        self.fields.iter().find(|f| f.key.eq_ignore_ascii_case(key))
    }
}

/// The parsed, valid header.
#[derive(Debug, Clone)]
pub struct Header {
    /// `Title:`, e.g. "This Week in Rust 522".
    pub title: String,
    /// `Number:`.
    pub number: IssueNumber,
    /// `Date:`.
    pub date: Date,
    /// `Category:`, if given.
    pub category: Option<String>,
    /// Every field as written, including unknown keys.
    pub fields: Vec<HeaderField>,
}

/// Why a comment is considered unterminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unterminated {
    /// No `-->` anywhere after it.
    NoCloser,
    /// Its line ends with `>` instead of `-->`.
    ClosedWithGt,
    /// Another `<!--` opens before its `-->`.
    NestedOpener,
}

/// An HTML comment (or TWiR `<!~~ ~~>` pseudo-comment) in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Byte range removed from what subscribers see.
    pub span: Range<usize>,
    /// Where an HTML parser would end this comment (after the next `-->`), if it differs from `span.end`.
    pub html_end: Option<usize>,
    /// Set when the comment does not end where its author meant it to.
    pub unterminated: Option<Unterminated>,
    /// True for `<!~~ … ~~>`.
    pub pseudo: bool,
}

/// A loaded issue: valid UTF-8, a valid header, and its comments located.
#[derive(Debug, Clone)]
pub struct Issue {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// The whole file, UTF-8, line endings normalised to `\n`.
    pub source: String,
    /// The header.
    pub header: Header,
    /// Byte offset of the body in `source`.
    pub body_offset: usize,
    /// 1-based line of the first body line.
    pub body_line: usize,
    /// Comments in the body, in order.
    pub comments: Vec<Comment>,
    /// The body with comments removed: what is rendered.
    pub clean_body: String,
    /// For each line of `clean_body` (0-based), the 1-based line in `source` it came from.
    pub clean_line_map: Vec<usize>,
}

impl Issue {
    /// Reads and parses an issue file.
    pub fn load(path: &Path) -> Result<Issue, IssueError> {
        let bytes = read_limited(path)?;
        Issue::parse(path, &bytes)
    }

    /// Parses an issue from bytes; `path` is only used in messages.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Issue, IssueError> {
        let source = decode(path, bytes)?;
        let raw = parse_raw_header(&source);
        let header = validate_header(path, &raw)?;
        let comments = scan_comments(&source, raw.body_offset);
        let (clean_body, clean_line_map) = strip_comments(&source, raw.body_offset, &comments);
        Ok(Issue {
            path: path.to_path_buf(),
            header,
            body_offset: raw.body_offset,
            body_line: raw.body_line,
            comments,
            clean_body,
            clean_line_map,
            source,
        })
    }

    /// The body as written (comments included).
    pub fn body(&self) -> &str {
        &self.source[self.body_offset..]
    }

    /// SHA-256 of the source, hex: identifies this exact content.
    pub fn content_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.source.as_bytes());
        crate::domain::hex(&digest)
    }
}

/// Reads a file, refusing anything larger than [`MAX_ISSUE_BYTES`]. The limit is enforced while
/// reading (a file's reported size is not trusted: `/dev/zero` reports 0, a pipe nothing at all), a
/// FIFO without a writer does not block the open, and a pipe or device that gives no end of input
/// within [`READ_TIMEOUT`] is an error rather than a hang.
pub fn read_limited(path: &Path) -> Result<Vec<u8>, IssueError> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let io = |source| IssueError::Io {
        path: path.to_path_buf(),
        source,
    };
    let too_large = |size: String| IssueError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit: MAX_ISSUE_BYTES,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() && meta.len() > MAX_ISSUE_BYTES {
        return Err(too_large(meta.len().to_string()));
    }
    let regular = meta.is_file();
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    if meta.file_type().is_fifo() {
        // Opening a FIFO blocks until someone opens it for writing; non-blocking, it does not.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    if meta.file_type().is_fifo() {
        // Back to blocking reads; with no writer, a read then simply ends.
        use std::os::fd::AsRawFd;
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let fd = file.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    let read = move || -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        file.take(MAX_ISSUE_BYTES + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let bytes = if regular {
        read().map_err(io)?
    } else {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read());
        });
        match rx.recv_timeout(READ_TIMEOUT) {
            Ok(r) => r.map_err(io)?,
            Err(_) => {
                return Err(IssueError::Timeout {
                    path: path.to_path_buf(),
                    secs: READ_TIMEOUT.as_secs(),
                });
            }
        }
    };
    if bytes.len() as u64 > MAX_ISSUE_BYTES {
        return Err(too_large(format!("more than {MAX_ISSUE_BYTES}")));
    }
    Ok(bytes)
}

/// The position of the first invalid UTF-8 byte: (line, column, byte offset, byte).
pub fn utf8_error_position(bytes: &[u8]) -> Option<(usize, usize, usize, u8)> {
    let e = std::str::from_utf8(bytes).err()?;
    let offset = e.valid_up_to();
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&bytes[line_start..offset])
        .chars()
        .count()
        + 1;
    Some((line, column, offset, bytes[offset]))
}

/// Decodes UTF-8 (dropping a BOM) and normalises CRLF and lone CR to LF.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<String, IssueError> {
    if let Some((line, column, offset, byte)) = utf8_error_position(bytes) {
        return Err(IssueError::InvalidUtf8 {
            path: path.to_path_buf(),
            line,
            column,
            offset,
            byte,
        });
    }
    let text = std::str::from_utf8(bytes).unwrap_or_default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\r') {
        Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Ok(text.to_string())
    }
}

/// Reads `Key: value` lines up to the first blank line, recording lines that do not fit.
pub fn parse_raw_header(source: &str) -> RawHeader {
    let mut fields: Vec<HeaderField> = Vec::new();
    let mut problems = Vec::new();
    let mut offset = 0;
    let mut line_no = 0;
    for line in source.split_inclusive('\n') {
        line_no += 1;
        offset += line.len();
        let content = line.trim_end_matches('\n');
        if content.trim().is_empty() {
            return RawHeader {
                fields,
                body_offset: offset,
                body_line: line_no + 1,
                problems,
            };
        }
        if content.starts_with([' ', '\t'])
            && let Some(last) = fields.last_mut()
        {
            last.value.push(' ');
            last.value.push_str(content.trim());
            continue;
        }
        match content.split_once(':') {
            Some((key, value))
                if !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                fields.push(HeaderField {
                    key: key.to_string(),
                    value: value.trim().to_string(),
                    line: line_no,
                });
            }
            _ => problems.push(HeaderProblem {
                line: line_no,
                field: "header".into(),
                problem: format!(
                    "`{}` is not a `Key: value` line. The header ends at the first blank line; \
                     add one between the header and the body",
                    truncate(content, 60)
                ),
            }),
        }
    }
    // No blank line: the whole file is header.
    RawHeader {
        fields,
        body_offset: source.len(),
        body_line: line_no + 1,
        problems,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// Every problem with the required fields (`Title`, `Number`, `Date`); empty when the header is valid.
pub fn header_problems(raw: &RawHeader) -> Vec<HeaderProblem> {
    let mut problems = raw.problems.clone();
    let end_line = raw.fields.last().map_or(1, |f| f.line);
    let mut seen: Vec<&HeaderField> = Vec::new();
    for f in &raw.fields {
        if let Some(first) = seen.iter().find(|s| s.key.eq_ignore_ascii_case(&f.key)) {
            problems.push(HeaderProblem {
                line: f.line,
                field: f.key.clone(),
                problem: format!("given twice (first on line {}); keep one", first.line),
            });
        } else {
            seen.push(f);
        }
    }
    let examples = [
        ("Title", "Title: This Week in Rust 522"),
        ("Number", "Number: 522"),
        ("Date", "Date: 2023-11-22"),
    ];
    for (key, example) in examples {
        match raw.get(key) {
            None => problems.push(HeaderProblem {
                line: end_line,
                field: key.into(),
                problem: format!(
                    "missing: the header (lines 1-{end_line}) needs a line such as `{example}`"
                ),
            }),
            Some(f) => {
                let result = match key {
                    "Title" if f.value.is_empty() => Err("is empty; give the issue a title".into()),
                    "Number" => IssueNumber::parse(&f.value).map(|_| ()).map_err(|e| e.0),
                    "Date" => Date::parse_pelican(&f.value).map(|_| ()).map_err(|e| e.0),
                    _ => Ok(()),
                };
                if let Err(problem) = result {
                    problems.push(HeaderProblem {
                        line: f.line,
                        field: key.into(),
                        problem,
                    });
                }
            }
        }
    }
    problems.sort_by_key(|p| p.line);
    problems
}

fn validate_header(path: &Path, raw: &RawHeader) -> Result<Header, IssueError> {
    if let Some(p) = header_problems(raw).into_iter().next() {
        return Err(IssueError::Header {
            path: path.to_path_buf(),
            line: p.line,
            field: p.field,
            problem: p.problem,
        });
    }
    let value = |k: &str| raw.get(k).map(|f| f.value.clone()).unwrap_or_default();
    Ok(Header {
        title: value("Title"),
        number: IssueNumber::parse(&value("Number"))
            .map_err(|e| header_err(path, raw, "Number", e.0))?,
        date: Date::parse_pelican(&value("Date"))
            .map_err(|e| header_err(path, raw, "Date", e.0))?,
        category: raw.get("Category").map(|f| f.value.clone()),
        fields: raw.fields.clone(),
    })
}

fn header_err(path: &Path, raw: &RawHeader, field: &str, problem: String) -> IssueError {
    IssueError::Header {
        path: path.to_path_buf(),
        line: raw.get(field).map_or(1, |f| f.line),
        field: field.into(),
        problem,
    }
}

/// True for an ATX heading line (`## Title`), allowing up to three spaces of indent.
pub fn is_heading_line(line: &str) -> bool {
    let t = line.trim_start_matches(' ');
    if line.len() - t.len() > 3 {
        return false;
    }
    let hashes = t.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes)
        && t[hashes..]
            .chars()
            .next()
            .is_none_or(|c| c == ' ' || c == '\t')
}

fn fence_marker(line: &str) -> Option<(u8, usize)> {
    let t = line.trim_start_matches(' ');
    if line.len() - t.len() > 3 {
        return None;
    }
    let c = *t.as_bytes().first()?;
    if c != b'`' && c != b'~' {
        return None;
    }
    let n = t.bytes().take_while(|&b| b == c).count();
    (n >= 3).then_some((c, n))
}

/// Finds every comment in `source[from..]`, skipping fenced code blocks and inline code spans.
pub fn scan_comments(source: &str, from: usize) -> Vec<Comment> {
    let mut comments = Vec::new();
    let mut pos = from;
    let mut fence: Option<(u8, usize)> = None;
    while pos < source.len() {
        let eol = source[pos..].find('\n').map_or(source.len(), |i| pos + i);
        let line_start = source[..pos].rfind('\n').map_or(0, |i| i + 1);
        let line = &source[line_start..eol];
        // Only whole lines open or close fences; `pos` is at a line start whenever fence state matters.
        if pos == line_start {
            if let Some((c, n)) = fence {
                if fence_marker(line).is_some_and(|(c2, n2)| c2 == c && n2 >= n) {
                    fence = None;
                }
                pos = eol + 1;
                continue;
            }
            if let Some(m) = fence_marker(line) {
                fence = Some(m);
                pos = eol + 1;
                continue;
            }
        }
        let rest = &source[pos..eol];
        let r = rest.as_bytes();
        let next = memchr::memchr_iter(b'<', r)
            .find(|&i| r[i..].starts_with(b"<!--") || r[i..].starts_with(b"<!~~"));
        let Some(rel) = next else {
            pos = eol + 1;
            continue;
        };
        let start = pos + rel;
        if in_code_span(&source[line_start..start]) {
            pos = start + 4;
            continue;
        }
        let comment = if source[start..].starts_with("<!~~") {
            let end = source[start..eol]
                .find("~~>")
                .map_or(eol, |i| start + i + 3);
            Comment {
                span: start..end,
                html_end: None,
                unterminated: None,
                pseudo: true,
            }
        } else {
            classify_comment(source, start, eol)
        };
        pos = comment.span.end;
        comments.push(comment);
    }
    comments
}

fn in_code_span(line_before: &str) -> bool {
    line_before.bytes().filter(|&b| b == b'`').count() % 2 == 1
}

/// True when a comment's opening line (after `<!--`) ends in a `>` meant to close the comment: not
/// `-->` (that closes it), and not the end of a tag opened on the same line (`<!-- use <br>`).
fn closed_with_bare_gt(opener_rest: &str) -> bool {
    let Some(before) = opener_rest.strip_suffix('>') else {
        return false;
    };
    if before.ends_with("--") {
        return false;
    }
    match (before.rfind('<'), before.rfind('>')) {
        (Some(lt), Some(gt)) => gt > lt,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

fn classify_comment(source: &str, start: usize, eol: usize) -> Comment {
    let closer = source[start + 4..].find("-->").map(|i| start + 4 + i + 3);
    if let Some(end) = closer
        && end <= eol
    {
        return Comment {
            span: start..end,
            html_end: None,
            unterminated: None,
            pseudo: false,
        };
    }
    let opener_rest = source[start + 4..eol].trim();
    let between = closer.map(|end| &source[eol..end - 3]);
    let reason = match between {
        None => Some(Unterminated::NoCloser),
        Some(_) if closed_with_bare_gt(opener_rest) => Some(Unterminated::ClosedWithGt),
        Some(b) if b.contains("<!--") => Some(Unterminated::NestedOpener),
        Some(_) => None,
    };
    match reason {
        Some(reason) => Comment {
            span: start..eol,
            html_end: closer,
            unterminated: Some(reason),
            pseudo: false,
        },
        None => Comment {
            span: start..closer.unwrap_or(eol),
            html_end: None,
            unterminated: None,
            pseudo: false,
        },
    }
}

/// Removes comments from the body. A comment alone on its lines takes those lines with it, so that a note
/// between two list items does not split the list. Returns the text and, per output line, its source line.
pub fn strip_comments(
    source: &str,
    body_offset: usize,
    comments: &[Comment],
) -> (String, Vec<usize>) {
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(source.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |offset: usize| line_starts.partition_point(|&s| s <= offset);

    let mut removals: Vec<Range<usize>> = Vec::with_capacity(comments.len());
    for c in comments {
        let mut r = c.span.clone();
        let line_start = source[..r.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[r.end..]
            .find('\n')
            .map_or(source.len(), |i| r.end + i);
        let alone = source[line_start..r.start].trim().is_empty()
            && source[r.end..line_end].trim().is_empty();
        if alone && line_start >= body_offset {
            r = line_start..(line_end + 1).min(source.len());
        }
        match removals.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => removals.push(r),
        }
    }

    let mut out = String::with_capacity(source.len() - body_offset);
    let mut map = vec![line_of(body_offset)];
    let copy = |from: usize, to: usize, out: &mut String, map: &mut Vec<usize>| {
        let seg = &source[from..to];
        for (i, _) in seg.match_indices('\n') {
            map.push(line_of(from + i + 1));
        }
        out.push_str(seg);
    };
    let mut pos = body_offset;
    for r in &removals {
        if r.start > pos {
            copy(pos, r.start, &mut out, &mut map);
        }
        pos = pos.max(r.end);
        if let Some(last) = map.last_mut()
            && (out.is_empty() || out.ends_with('\n'))
        {
            *last = line_of(pos.min(source.len().saturating_sub(1)).max(body_offset));
        }
    }
    if pos < source.len() {
        copy(pos, source.len(), &mut out, &mut map);
    }
    (out, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Issue, IssueError> {
        Issue::parse(Path::new("t.md"), text.as_bytes())
    }

    const HEAD: &str =
        "Title: This Week in Rust 1\nNumber: 1\nDate: 2023-11-22\nCategory: This Week in Rust\n\n";

    #[test]
    fn header_fields_and_unknown_keys_are_kept() {
        let i = parse(&format!("{HEAD}Hello\n")).unwrap();
        assert_eq!(i.header.title, "This Week in Rust 1");
        assert_eq!(i.header.number.get(), 1);
        assert_eq!(i.header.category.as_deref(), Some("This Week in Rust"));
        assert_eq!(i.body_line, 6);
        assert_eq!(i.clean_body, "Hello\n");
        let i = parse("Title: T 2\nNumber: 2\nDate: 2023-11-22\nAuthor: Ferris\n\nx").unwrap();
        assert!(
            i.header
                .fields
                .iter()
                .any(|f| f.key == "Author" && f.value == "Ferris")
        );
    }

    #[test]
    fn header_errors_name_field_and_line() {
        let e = parse("Title: T\nDate: 2023-11-22\n\nBody").unwrap_err();
        assert!(
            matches!(&e, IssueError::Header { field, line: 2, .. } if field == "Number"),
            "{e}"
        );
        let e = parse("Title: T\nNumber: 5x\nDate: 2023-11-22\n\nBody").unwrap_err();
        assert!(matches!(&e, IssueError::Header { field, line: 2, .. } if field == "Number"));
        let e = parse("Title: T\nNumber: 5\nDate: 2023-02-30\n\nBody").unwrap_err();
        assert!(e.to_string().contains("t.md:3: header field `Date`"), "{e}");
        let e = parse("").unwrap_err();
        assert!(matches!(&e, IssueError::Header { field, .. } if field == "Title"));
    }

    #[test]
    fn invalid_utf8_names_line_and_offset() {
        let mut bytes = b"Title: T\nNumber: 1\nDate: 2023-11-22\n\nN".to_vec();
        bytes.extend([0xFC, b'r', b'n']);
        let e = Issue::parse(Path::new("x.md"), &bytes).unwrap_err();
        match e {
            IssueError::InvalidUtf8 {
                line,
                column,
                offset,
                byte,
                ..
            } => assert_eq!((line, column, offset, byte), (5, 2, 38, 0xFC)),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn crlf_and_bom_are_normalised() {
        let text = format!("\u{feff}{}", HEAD.replace('\n', "\r\n")) + "Body\r\n";
        let i = parse(&text).unwrap();
        assert_eq!(i.clean_body, "Body\n");
    }

    #[test]
    fn well_formed_comments_are_removed_with_their_lines() {
        let i = parse(&format!(
            "{HEAD}* a\n<!-- note -->\n* b <!-- inline --> c\n"
        ))
        .unwrap();
        assert_eq!(i.clean_body, "* a\n* b  c\n");
        assert_eq!(i.clean_line_map, vec![6, 8, 9]);
        assert!(i.comments.iter().all(|c| c.unterminated.is_none()));
    }

    #[test]
    fn block_comment_with_heading_is_honoured() {
        let body = "<!--\n### [MCP](https://x.example)\n<!~~ nested ~~>\n-->\n### Next\n";
        let i = parse(&format!("{HEAD}{body}")).unwrap();
        assert_eq!(i.clean_body, "### Next\n");
        assert!(i.comments[0].unterminated.is_none());
    }

    #[test]
    fn gt_closed_comment_ends_at_its_line() {
        let body = "### A\n<!-- Remove this section if empty>\n\n### B\n<!-- Remove this section if empty>\n\n### C\n\n<!-- real -->\n";
        let i = parse(&format!("{HEAD}{body}")).unwrap();
        assert_eq!(i.comments[0].unterminated, Some(Unterminated::ClosedWithGt));
        assert!(i.comments[0].html_end.is_some());
        assert_eq!(i.clean_body, "### A\n\n### B\n\n### C\n\n");
    }

    #[test]
    fn comment_without_closer_hides_nothing_else() {
        let i = parse(&format!("{HEAD}before\n<!-- oops\nafter\n")).unwrap();
        assert_eq!(i.comments[0].unterminated, Some(Unterminated::NoCloser));
        assert_eq!(i.clean_body, "before\nafter\n");
    }

    #[test]
    fn a_multi_line_comment_hides_its_headings_whatever_its_first_line_says() {
        // The shapes of TWiR's FCP template and of its "hanging around" notes.
        let body = "#### Tracking Issues & PRs\n\
            <!-- Either remove the group from the \"No Items\" section\n     and add the item(s):\n\
            ##### [Group](Group URL)\n* [Item title](Item URL)\n  - for `disposition-merge` items\n-->\n\
            ##### [Rust](https://github.com/rust-lang/rust)\n* [An item](https://x.example/1)\n\
            <!-- These items have been hanging around for several weeks.  Ok to delete when they disappear online.\n\
            ##### Rust RFCs\n* [Old item](https://x.example/2)\n-->\n";
        let i = parse(&format!("{HEAD}{body}")).unwrap();
        assert!(
            i.comments.iter().all(|c| c.unterminated.is_none()),
            "{:?}",
            i.comments
        );
        assert_eq!(
            i.clean_body,
            "#### Tracking Issues & PRs\n##### [Rust](https://github.com/rust-lang/rust)\n* [An item](https://x.example/1)\n"
        );
    }

    #[test]
    fn a_gt_that_closes_a_tag_is_not_the_accident() {
        for opener in [
            "<!-- Use <br>",
            "<!-- e.g. <Feature name>",
            "<!-- a <b>bold</b> note",
        ] {
            let i = parse(&format!("{HEAD}{opener}\nhidden\n-->\nshown\n")).unwrap();
            assert!(i.comments[0].unterminated.is_none(), "{opener}");
            assert_eq!(i.clean_body, "shown\n", "{opener}");
        }
        for opener in [
            "<!-- Remove this section if empty>",
            "<!-- note ->",
            "<!-- a <b>c</b> d>",
        ] {
            let i = parse(&format!("{HEAD}{opener}\nshown\n-->\n")).unwrap();
            assert_eq!(
                i.comments[0].unterminated,
                Some(Unterminated::ClosedWithGt),
                "{opener}"
            );
        }
    }

    #[test]
    fn comments_in_code_are_text() {
        let body = "```html\n<!-- kept -->\n```\nUse `<!--` to open.\n";
        let i = parse(&format!("{HEAD}{body}")).unwrap();
        assert!(i.comments.is_empty());
        assert_eq!(i.clean_body, body);
    }

    #[test]
    fn heading_lines() {
        assert!(is_heading_line("## A"));
        assert!(is_heading_line("#####"));
        assert!(!is_heading_line("#hashtag"));
        assert!(!is_heading_line("    # code"));
        assert!(!is_heading_line("####### seven"));
    }
}
