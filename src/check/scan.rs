//! Reading helpers the rules share: positions, the masked copies of the file, and its body lines.

use std::ops::Range;

use crate::issue::{Comment, is_heading_line};

pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[start..offset].chars().count() + 1)
}

/// The 1-based line and column of each offset, in one pass over `text` (sorted sweep): a file with
/// 200,000 findings costs one read of the file, not one per finding.
pub(crate) fn line_cols(text: &str, offsets: &[usize]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_by_key(|&i| offsets[i]);
    let mut out = vec![(1, 1); offsets.len()];
    // Where the sweep stands: byte offset, line, column there.
    let (mut at, mut line, mut col) = (0usize, 1usize, 1usize);
    for i in order {
        let mut target = offsets[i].min(text.len());
        while !text.is_char_boundary(target) {
            target -= 1;
        }
        for c in text[at..target].chars() {
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        at = target;
        out[i] = (line, col);
    }
    out
}

/// The nearest char boundary at or before `i`.
pub(crate) fn floor_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub(crate) fn line_range(text: &str, line: usize) -> Range<usize> {
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

/// Comment bytes become spaces; newlines stay, so offsets and lines are unchanged.
pub(crate) fn mask(text: &str, comments: &[Comment]) -> String {
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
pub(crate) fn mask_code(text: &str, from: usize) -> String {
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

/// Body lines with their byte offsets, shared by the structure rules.
pub(crate) struct Lines<'t> {
    pub(crate) items: Vec<(usize, &'t str)>,
}

impl<'t> Lines<'t> {
    pub(crate) fn new(text: &'t str, from: usize) -> Self {
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
    pub(crate) fn headings(&self) -> Vec<(usize, usize, &'t str)> {
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

/// Where each `](` of `line` is (the offset of its `]`), found by a vectorised search for `]`
/// rather than a substring searcher built for every line: what the link rules iterate.
pub(crate) fn link_opens(line: &str) -> impl Iterator<Item = usize> + '_ {
    let b = line.as_bytes();
    memchr::memchr_iter(b']', b).filter(move |&i| b.get(i + 1) == Some(&b'('))
}

pub(crate) fn is_reference_definition(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with('[')
        && t.find("]:")
            .is_some_and(|i| i > 1 && !t[1..i].contains(']'))
}

/// A heading's text without `#`s and link syntax: `### [RFCs](…)` → `RFCs`.
pub(crate) fn plain_heading(line: &str) -> String {
    let t = line.trim().trim_start_matches('#').trim();
    match (t.strip_prefix('['), t.find("](")) {
        (Some(_), Some(i)) if t.ends_with(')') => t[1..i].to_string(),
        _ => t.to_string(),
    }
}

#[cfg(test)]
mod line_cols_tests {
    use super::{line_col, line_cols};

    #[test]
    fn one_pass_agrees_with_one_at_a_time() {
        let text = "ab\ncdé\n\nxyz🦀w\nlast";
        let offsets: Vec<usize> = (0..=text.len())
            .rev()
            .filter(|&o| text.is_char_boundary(o))
            .collect();
        let swept = line_cols(text, &offsets);
        for (o, got) in offsets.iter().zip(swept) {
            assert_eq!(got, line_col(text, *o), "offset {o}");
        }
    }
}
