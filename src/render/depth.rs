//! How deep an issue nests, measured by a cheap linear scan BEFORE comrak, css-inline or the sanitizer
//! see the text. Every stage after it walks trees whose depth follows the input's, so a few kilobytes
//! of `>>>>…` or `*a *a …a* a*` or `<small><small>…` would otherwise exhaust the stack and abort
//! the whole process (the server with it).
//!
//! The limits are far above what a newsletter uses (TWiR nests event lists three deep):
//! - [`MAX_BLOCK_DEPTH`] blockquotes and list items inside each other;
//! - [`MAX_INLINE_DEPTH`] emphasis, strong and link brackets inside each other;
//! - [`MAX_HTML_DEPTH`] raw HTML elements inside each other.
//!
//! The scan over-estimates rather than under-estimates (an indented list marker counts as deep as
//! its indentation allows), so a text it accepts is safe to hand to the recursive stages.

use thiserror::Error;

use super::rawhtml;

/// Blockquotes and list items, one inside the other.
pub const MAX_BLOCK_DEPTH: usize = 32;
/// Emphasis, strong emphasis and link brackets, one inside the other.
pub const MAX_INLINE_DEPTH: usize = 64;
/// Raw HTML elements, one inside the other.
pub const MAX_HTML_DEPTH: usize = 128;

/// What nests too deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// Blockquotes (`>`) and list items.
    Block,
    /// Emphasis (`*`, `_`) and link brackets (`[`).
    Inline,
    /// Raw HTML elements.
    Html,
}

impl Nesting {
    /// The limit for this kind of nesting.
    pub fn limit(self) -> usize {
        match self {
            Nesting::Block => MAX_BLOCK_DEPTH,
            Nesting::Inline => MAX_INLINE_DEPTH,
            Nesting::Html => MAX_HTML_DEPTH,
        }
    }

    /// What nests, in words.
    pub fn what(self) -> &'static str {
        match self {
            Nesting::Block => "blockquotes (`>`) and list items",
            Nesting::Inline => "emphasis (`*`, `_`) and link brackets (`[…]`)",
            Nesting::Html => "raw HTML elements",
        }
    }
}

/// A text that nests deeper than a limit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "{} nested at least {depth} deep, more than the {} allowed",
    kind.what(),
    kind.limit()
)]
pub struct NestingError {
    pub kind: Nesting,
    /// 1-based line in the scanned text.
    pub line: usize,
    /// Byte offset in the scanned text where the limit was passed.
    pub offset: usize,
    /// The depth reached (at least limit + 1).
    pub depth: usize,
}

/// Scans `text` (Markdown) and fails at the first place that nests deeper than a limit.
/// Linear in the length of the text.
pub fn check(text: &str) -> Result<(), NestingError> {
    let mut s = Scanner::default();
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        s.line(text, offset, i + 1, line.trim_end_matches(['\n', '\r']))?;
        offset += line.len();
    }
    s.end_paragraph(text)?;
    Ok(())
}

#[derive(Default)]
struct Scanner {
    /// The open code fence: its character and length.
    fence: Option<(u8, usize)>,
    /// Inline delimiters of the current paragraph.
    inline: Inline,
    /// Raw HTML elements open now.
    html_depth: usize,
}

#[derive(Default)]
struct Inline {
    /// Openers not matched yet: (delimiter, run length, byte offset).
    stack: Vec<(u8, usize, usize)>,
    /// Matched pairs: (opener offset, closer offset, levels).
    pairs: Vec<(usize, usize, usize)>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Scanner {
    fn line(
        &mut self,
        text: &str,
        start: usize,
        line_no: usize,
        line: &str,
    ) -> Result<(), NestingError> {
        let b = line.as_bytes();
        // Container prefixes: `>` and list markers, with the indentation in front of them.
        let mut i = 0;
        let mut markers = 0usize;
        let mut columns = 0usize;
        let mut indent_before_last = 0usize;
        loop {
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                columns += if b[i] == b'\t' { 4 } else { 1 };
                i += 1;
            }
            if i >= b.len() {
                break;
            }
            if self.fence.is_none() {
                if b[i] == b'>' {
                    markers += 1;
                    indent_before_last = columns;
                    i += 1;
                    continue;
                }
                if let Some(len) = list_marker(&b[i..]) {
                    markers += 1;
                    indent_before_last = columns;
                    i += len;
                    continue;
                }
            } else if b[i] == b'>' {
                // Inside a fence only the fence's own container prefix matters: skip it.
                i += 1;
                continue;
            }
            break;
        }
        let rest = &line[i..];
        if let Some((c, n)) = self.fence {
            let t = rest.trim_start();
            let run = t.bytes().take_while(|&x| x == c).count();
            if run >= n && t[run..].trim().is_empty() {
                self.fence = None;
            }
            return Ok(());
        }
        // Each nesting level by indentation takes at least two columns (`- `).
        let depth = markers + indent_before_last / 2;
        if depth > MAX_BLOCK_DEPTH {
            return Err(NestingError {
                kind: Nesting::Block,
                line: line_no,
                offset: start,
                depth,
            });
        }
        let t = rest.trim_start();
        let fence_char = t.bytes().next().filter(|&c| c == b'`' || c == b'~');
        if let Some(c) = fence_char {
            let run = t.bytes().take_while(|&x| x == c).count();
            if run >= 3 && !(c == b'`' && t[run..].contains('`')) {
                self.end_paragraph(text)?;
                self.fence = Some((c, run));
                return Ok(());
            }
        }
        if rest.trim().is_empty() {
            return self.end_paragraph(text);
        }
        self.inlines(start + i, line_no, rest)
    }

    fn inlines(&mut self, start: usize, line_no: usize, rest: &str) -> Result<(), NestingError> {
        let b = rest.as_bytes();
        let mut i = 0;
        // Backtick run lengths with no closing run further on this line: searched for once.
        let mut unclosed: Vec<usize> = Vec::new();
        while i < b.len() {
            let c = b[i];
            match c {
                b'\\' => i += 2,
                b'`' => {
                    let run = b[i..].iter().take_while(|&&x| x == b'`').count();
                    // A code span ends at the same run of backticks on this line; its content is text.
                    let after = i + run;
                    let close = if unclosed.contains(&run) {
                        None
                    } else {
                        closing_run(&b[after..], run)
                    };
                    match close {
                        Some(j) => i = after + j + run,
                        None => {
                            unclosed.push(run);
                            i = after;
                        }
                    }
                }
                b'*' | b'_' => {
                    let run = b[i..].iter().take_while(|&&x| x == c).count();
                    let prev = rest[..i].chars().next_back();
                    let next = rest[i + run..].chars().next();
                    let (left, right) = flanking(prev, next);
                    let (open, close) = if c == b'_' {
                        (
                            left && (!right || prev.is_some_and(|p| p.is_ascii_punctuation())),
                            right && (!left || next.is_some_and(|n| n.is_ascii_punctuation())),
                        )
                    } else {
                        (left, right)
                    };
                    let at = start + i;
                    let matched = close && self.inline.close(c, run, at);
                    if !matched && open {
                        self.inline.stack.push((c, run, at));
                    }
                    i += run;
                }
                b'[' => {
                    self.inline.stack.push((b'[', 2, start + i));
                    i += 1;
                }
                b']' => {
                    self.inline.close(b'[', 2, start + i);
                    i += 1;
                }
                b'<' => {
                    let window_end = (i + 1024).min(b.len());
                    let window = floor_char_boundary(rest, window_end);
                    if let Some(tag) = rawhtml::tag_at(&rest[i..window]) {
                        self.tag(
                            &tag,
                            &rest[..i],
                            &rest[i..i + tag.range.end],
                            start + i,
                            line_no,
                        )?;
                        i += tag.range.end;
                    } else {
                        i += 1;
                    }
                }
                _ => i += 1,
            }
        }
        Ok(())
    }

    fn tag(
        &mut self,
        tag: &rawhtml::Tag,
        before: &str,
        written: &str,
        at: usize,
        line: usize,
    ) -> Result<(), NestingError> {
        let name = tag.name.to_ascii_lowercase();
        if tag.is_not_markup(before)
            || VOID.contains(&name.as_str())
            || OPTIONAL_END.contains(&name.as_str())
        {
            return Ok(());
        }
        if tag.closing {
            self.html_depth = self.html_depth.saturating_sub(1);
        } else if !written.ends_with("/>") {
            self.html_depth += 1;
            if self.html_depth > MAX_HTML_DEPTH {
                return Err(NestingError {
                    kind: Nesting::Html,
                    line,
                    offset: at,
                    depth: self.html_depth,
                });
            }
        }
        Ok(())
    }

    /// Emphasis and links do not cross paragraphs: measure the finished one and start afresh.
    fn end_paragraph(&mut self, text: &str) -> Result<(), NestingError> {
        let pairs = std::mem::take(&mut self.inline.pairs);
        self.inline.stack.clear();
        if pairs.is_empty() {
            return Ok(());
        }
        // Matched pairs nest properly (they were matched with a stack): sweep their ends in order.
        let mut events: Vec<(usize, isize)> = Vec::with_capacity(pairs.len() * 2);
        for (open, close, levels) in pairs {
            let levels = levels as isize;
            events.push((open, levels));
            events.push((close, -levels));
        }
        events.sort_unstable_by_key(|&(at, d)| (at, d));
        let mut depth = 0isize;
        for (at, d) in events {
            depth += d;
            if depth > MAX_INLINE_DEPTH as isize {
                return Err(NestingError {
                    kind: Nesting::Inline,
                    line: line_of(text, at),
                    offset: at,
                    depth: depth as usize,
                });
            }
        }
        Ok(())
    }
}

impl Inline {
    /// Matches a closer with the nearest opener of the same delimiter; the openers above it are
    /// left unmatched (they become text, as CommonMark does). True when one was found.
    fn close(&mut self, c: u8, run: usize, at: usize) -> bool {
        let Some(k) = self.stack.iter().rposition(|&(d, _, _)| d == c) else {
            return false;
        };
        let (_, open_run, open_at) = self.stack[k];
        self.stack.truncate(k);
        // `**` is one level of strong, `***` emphasis in strong: a level per two delimiters.
        let levels = if c == b'[' {
            1
        } else {
            open_run.min(run).div_ceil(2)
        };
        self.pairs.push((open_at, at, levels));
        true
    }
}

/// Whether a delimiter run between `prev` and `next` is left- and right-flanking (CommonMark).
fn flanking(prev: Option<char>, next: Option<char>) -> (bool, bool) {
    let ws = |c: Option<char>| c.is_none_or(char::is_whitespace);
    let punct = |c: Option<char>| {
        c.is_some_and(|c| c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace()))
    };
    let left = !ws(next) && (!punct(next) || ws(prev) || punct(prev));
    let right = !ws(prev) && (!punct(prev) || ws(next) || punct(next));
    (left, right)
}

/// The length of a list marker (`-`, `*`, `+`, `1.`, `1)`) at the start of `b`, followed by a space,
/// a tab or the end of the line.
fn list_marker(b: &[u8]) -> Option<usize> {
    let len = match b.first()? {
        b'-' | b'*' | b'+' => 1,
        b'0'..=b'9' => {
            let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 9 || !matches!(b.get(digits), Some(b'.' | b')')) {
                return None;
            }
            digits + 1
        }
        _ => return None,
    };
    match b.get(len) {
        None | Some(b' ' | b'\t') => Some(len),
        _ => None,
    }
}

/// Where the next run of exactly `run` backticks starts in `b`.
fn closing_run(b: &[u8], run: usize) -> Option<usize> {
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'`' {
            let n = b[i..].iter().take_while(|&&x| x == b'`').count();
            if n == run {
                return Some(i);
            }
            i += n;
        } else {
            i += 1;
        }
    }
    None
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Elements that never have content.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Elements whose end tag may be left out: the HTML parser closes them itself, so they do not nest.
const OPTIONAL_END: &[&str] = &[
    "p", "li", "dt", "dd", "rb", "rt", "rtc", "rp", "optgroup", "option", "thead", "tbody",
    "tfoot", "tr", "td", "th", "colgroup", "caption", "html", "head", "body",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<(Nesting, usize)> {
        check(text).err().map(|e| (e.kind, e.line))
    }

    #[test]
    fn real_nesting_passes() {
        assert_eq!(kind("> quote\n>> nested\n\n* a\n  * b\n    * c\n"), None);
        assert_eq!(kind("***bold italic*** and _a_ [x](y) [[a]]\n"), None);
        assert_eq!(
            kind("<details><summary>x</summary>\n\n<small>y</small>\n\n</details>\n"),
            None
        );
        assert_eq!(kind(&"<p>para\n".repeat(500)), None);
        assert_eq!(
            kind(&"*a ".repeat(1000)),
            None,
            "openers that never close do not nest"
        );
        assert_eq!(kind(&"snake_case_name ".repeat(1000)), None);
        assert_eq!(
            kind(&format!("```\n{}\n```\n", ">".repeat(100))),
            None,
            "code is text"
        );
    }

    #[test]
    fn deep_nesting_is_refused_with_its_line() {
        assert_eq!(
            kind(&format!("x\n\n{}a\n", ">".repeat(3000))),
            Some((Nesting::Block, 3))
        );
        assert_eq!(
            kind(&format!("x\n{}a\n", "> ".repeat(33))),
            Some((Nesting::Block, 2))
        );
        assert_eq!(
            kind(&format!("{}a\n", "- ".repeat(40))),
            Some((Nesting::Block, 1))
        );
        let indented: String = (0..40)
            .map(|i| format!("{}- x\n", "  ".repeat(i)))
            .collect();
        assert!(matches!(kind(&indented), Some((Nesting::Block, _))));
        let emphasis = format!("t\n\n{}b{}\n", "*a ".repeat(50_000), " a*".repeat(50_000));
        assert_eq!(kind(&emphasis), Some((Nesting::Inline, 3)));
        let brackets = format!("{}x{}\n", "[".repeat(100), "](u)".repeat(100));
        assert_eq!(kind(&brackets), Some((Nesting::Inline, 1)));
        let html = format!("{}x\n", "<small>".repeat(100_000));
        assert_eq!(kind(&html), Some((Nesting::Html, 1)));
        assert_eq!(kind(&"<div>\n".repeat(200)), Some((Nesting::Html, 129)));
    }

    #[test]
    fn the_limits_are_exact_enough() {
        assert_eq!(kind(&format!("{}a\n", ">".repeat(MAX_BLOCK_DEPTH))), None);
        assert!(kind(&format!("{}a\n", ">".repeat(MAX_BLOCK_DEPTH + 1))).is_some());
        let ok = format!(
            "{}b{}\n",
            "*a ".repeat(MAX_INLINE_DEPTH),
            " a*".repeat(MAX_INLINE_DEPTH)
        );
        assert_eq!(kind(&ok), None);
        let html = format!("{}x\n", "<span>".repeat(MAX_HTML_DEPTH));
        assert_eq!(kind(&html), None);
    }
}
