//! The plaintext e-mail, written from the Markdown AST (never by stripping HTML).
//!
//! - Headings are underlined: `=` for level 1, `-` for level 2, `~` below.
//! - Lists keep `*` (or `1.`), nested lists are indented by four spaces.
//! - A link becomes `text [n]`; the numbered URLs are listed at the end of each top-level section
//!   (before the next `#` or `##` heading), so a reader finds them near the text. A URL keeps its
//!   number throughout the issue.
//! - Lines wrap at 72 columns and a URL is never broken.

use std::collections::HashMap;

use comrak::nodes::{AstNode, ListType, NodeValue, TableAlignment};

use super::rawhtml;
use unicode_width::UnicodeWidthStr;

/// Column at which prose wraps.
pub const WIDTH: usize = 72;

/// Renders a prepared tree (see [`super::markdown::parse`]) as plaintext.
pub fn to_text<'a>(root: &'a AstNode<'a>) -> String {
    let mut w = Writer::default();
    for child in root.children() {
        if let NodeValue::Heading(h) = &child.data().value
            && h.level <= 2
        {
            w.flush_links();
        }
        w.block(child, "", "", false);
    }
    w.flush_links();
    let mut out = w.out;
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[derive(Default)]
struct Writer {
    out: String,
    numbers: HashMap<String, usize>,
    urls: Vec<String>,
    pending: Vec<usize>,
}

impl Writer {
    fn blank(&mut self) {
        if self.out.is_empty() || self.out.ends_with("\n\n") {
            return;
        }
        if !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.out.push('\n');
    }

    fn link_number(&mut self, url: &str) -> usize {
        let n = match self.numbers.get(url) {
            Some(&n) => n,
            None => {
                self.urls.push(url.to_string());
                let n = self.urls.len();
                self.numbers.insert(url.to_string(), n);
                n
            }
        };
        if !self.pending.contains(&n) {
            self.pending.push(n);
        }
        n
    }

    fn flush_links(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.blank();
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable();
        for n in pending {
            self.out.push_str(&format!("[{n}] {}\n", self.urls[n - 1]));
        }
        self.out.push('\n');
    }

    fn wrap(&mut self, text: &str, first: &str, rest: &str) {
        let mut prefix = first;
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                prefix = rest;
            }
            let opts = textwrap::Options::new(WIDTH)
                .initial_indent(prefix)
                .subsequent_indent(rest)
                .break_words(false)
                .word_separator(textwrap::WordSeparator::AsciiSpace)
                .word_splitter(textwrap::WordSplitter::NoHyphenation);
            let line = line.trim();
            if line.is_empty() {
                self.out.push_str(prefix.trim_end());
                self.out.push('\n');
                continue;
            }
            for l in textwrap::wrap(line, &opts) {
                self.out.push_str(l.trim_end());
                self.out.push('\n');
            }
        }
    }

    fn block<'a>(&mut self, node: &'a AstNode<'a>, first: &str, rest: &str, tight: bool) {
        let value = node.data().value.clone();
        match value {
            NodeValue::Paragraph => {
                let text = self.inlines(node);
                if text.trim().is_empty() {
                    return;
                }
                self.wrap(&text, first, rest);
                if !tight {
                    self.blank();
                }
            }
            NodeValue::Heading(h) => {
                self.blank();
                let text = self.inlines(node);
                let text = text.trim();
                let underline = match h.level {
                    1 => '=',
                    2 => '-',
                    _ => '~',
                };
                let before = self.out.len();
                self.wrap(text, first, rest);
                let width = self.out[before..]
                    .lines()
                    .map(UnicodeWidthStr::width)
                    .max()
                    .unwrap_or(0)
                    .max(3);
                self.out.push_str(&underline.to_string().repeat(width));
                self.out.push('\n');
                self.blank();
            }
            NodeValue::List(list) => {
                let mut number = list.start;
                for item in node.children() {
                    let marker = match list.list_type {
                        ListType::Bullet => "* ".to_string(),
                        ListType::Ordered => {
                            number += 1;
                            format!("{}. ", number - 1)
                        }
                    };
                    let item_first = format!("{rest}{marker}");
                    let item_rest = format!("{rest}{}", " ".repeat(marker.len()));
                    let nested = format!("{rest}    ");
                    for (i, child) in item.children().enumerate() {
                        let is_list = matches!(child.data().value, NodeValue::List(_));
                        match (i, is_list) {
                            (0, _) => self.block(child, &item_first, &item_rest, list.tight),
                            (_, true) => self.block(child, &nested, &nested, list.tight),
                            (_, false) => self.block(child, &item_rest, &item_rest, list.tight),
                        }
                    }
                    if item.children().next().is_none() {
                        self.out.push_str(item_first.trim_end());
                        self.out.push('\n');
                    }
                    if !list.tight {
                        self.blank();
                    }
                }
                if rest.is_empty() {
                    self.blank();
                }
            }
            NodeValue::BlockQuote | NodeValue::MultilineBlockQuote(_) => {
                let first = format!("{first}> ");
                let rest = format!("{rest}> ");
                for (i, child) in node.children().enumerate() {
                    let f = if i == 0 {
                        first.as_str()
                    } else {
                        rest.as_str()
                    };
                    self.block(child, f, &rest, true);
                    if child.next_sibling().is_some() {
                        self.out.push_str(rest.trim_end());
                        self.out.push('\n');
                    }
                }
                self.blank();
            }
            NodeValue::CodeBlock(code) => {
                for line in code.literal.trim_end_matches('\n').split('\n') {
                    self.out.push_str(format!("{rest}    {line}").trim_end());
                    self.out.push('\n');
                }
                self.blank();
            }
            NodeValue::HtmlBlock(html) => {
                let text = self.raw_html(&html.literal);
                if !text.trim().is_empty() {
                    self.wrap(text.trim(), first, rest);
                    self.blank();
                }
            }
            NodeValue::ThematicBreak => {
                self.blank();
                self.out.push_str(&format!("{rest}----\n"));
                self.blank();
            }
            NodeValue::Table(table) => {
                let rows: Vec<Vec<String>> = node
                    .children()
                    .map(|row| {
                        row.children()
                            .map(|c| {
                                // A `<br>` or hard break inside a cell must not break the row.
                                self.inlines(c)
                                    .split_whitespace()
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                            .collect()
                    })
                    .collect();
                self.table(&rows, &table.alignments, rest);
                self.blank();
            }
            _ => {
                for child in node.children() {
                    self.block(child, first, rest, tight);
                }
            }
        }
    }

    /// A table: its columns aligned as the author aligned them, or, when that is wider than the
    /// line, one block per row with each cell under its column's heading.
    fn table(&mut self, rows: &[Vec<String>], align: &[TableAlignment], indent: &str) {
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let width = |s: &str| UnicodeWidthStr::width(s);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                rows.iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| width(s))
                    .max()
                    .unwrap_or(0)
                    .max(3)
            })
            .collect();
        let total = widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1) + width(indent);
        if total <= WIDTH {
            for (i, row) in rows.iter().enumerate() {
                let cells: Vec<String> = (0..columns)
                    .map(|c| {
                        let cell = row.get(c).map_or("", String::as_str);
                        let pad = widths[c] - width(cell);
                        match align.get(c) {
                            Some(TableAlignment::Right) => format!("{}{cell}", " ".repeat(pad)),
                            Some(TableAlignment::Center) => {
                                format!(
                                    "{}{cell}{}",
                                    " ".repeat(pad / 2),
                                    " ".repeat(pad - pad / 2)
                                )
                            }
                            _ => format!("{cell}{}", " ".repeat(pad)),
                        }
                    })
                    .collect();
                self.out
                    .push_str(format!("{indent}{}", cells.join("  ")).trim_end());
                self.out.push('\n');
                if i == 0 {
                    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                    self.out.push_str(&format!("{indent}{}\n", rule.join("  ")));
                }
            }
            return;
        }
        let (header, body) = rows
            .split_first()
            .map_or((&[][..], rows), |(h, b)| (h.as_slice(), b));
        let nested = format!("{indent}    ");
        for row in body {
            self.blank();
            let mut cells = row.iter().enumerate().filter(|(_, c)| !c.is_empty());
            if let Some((_, title)) = cells.next() {
                self.wrap(title, indent, indent);
            }
            for (c, cell) in cells {
                let line = match header.get(c).filter(|h| !h.is_empty()) {
                    Some(h) => format!("{h}: {cell}"),
                    None => cell.clone(),
                };
                self.wrap(&line, &nested, &format!("{nested}  "));
            }
        }
    }

    /// Raw HTML as text: `<br>` is a line break, an image keeps its alt text (an emoji image is just
    /// its alt; another image is `[image: alt]` with its URL numbered like a link), other tags go.
    fn raw_html(&mut self, html: &str) -> String {
        let mut out = String::new();
        let mut pos = 0;
        for tag in rawhtml::tags(html, 0) {
            out.push_str(&rawhtml::decode_entities(&html[pos..tag.range.start]));
            pos = tag.range.end;
            let name = tag.name.to_ascii_lowercase();
            match name.as_str() {
                "br" if !tag.closing => out.push('\n'),
                "img" if !tag.closing => {
                    let alt = rawhtml::decode_entities(tag.attribute("alt").unwrap_or(""))
                        .trim()
                        .to_string();
                    let emoji = tag.attribute("class").is_some_and(|c| {
                        c.split_whitespace()
                            .any(|w| w.eq_ignore_ascii_case("emoji"))
                    });
                    let src = tag
                        .attribute("src")
                        .map(rawhtml::decode_entities)
                        .filter(|u| rawhtml::scheme(u).is_some());
                    if emoji && !alt.is_empty() {
                        out.push_str(&alt);
                    } else {
                        let label = if alt.is_empty() {
                            "[image]".to_string()
                        } else {
                            format!("[image: {alt}]")
                        };
                        out.push_str(&label);
                        if let Some(src) = src {
                            let n = self.link_number(&src);
                            out.push_str(&format!(" [{n}]"));
                        }
                    }
                }
                "p" | "div" | "li" | "tr" if tag.closing => out.push('\n'),
                _ => {}
            }
        }
        out.push_str(&rawhtml::decode_entities(&html[pos..]));
        out
    }

    fn inlines<'a>(&mut self, node: &'a AstNode<'a>) -> String {
        let mut s = String::new();
        for child in node.children() {
            self.inline(child, &mut s);
        }
        s
    }

    fn inline<'a>(&mut self, node: &'a AstNode<'a>, s: &mut String) {
        let value = node.data().value.clone();
        match value {
            NodeValue::Text(t) => s.push_str(&t),
            NodeValue::Code(c) => {
                s.push('`');
                s.push_str(&c.literal);
                s.push('`');
            }
            NodeValue::SoftBreak => s.push(' '),
            NodeValue::LineBreak => s.push('\n'),
            NodeValue::HtmlInline(html) => s.push_str(&self.raw_html(&html)),
            NodeValue::Link(link) => {
                let text = self.inlines(node);
                let bare = link.url.strip_prefix("mailto:").unwrap_or(&link.url);
                if text.trim() == link.url || text.trim() == bare {
                    s.push_str(&text);
                } else {
                    let n = self.link_number(&link.url);
                    s.push_str(&text);
                    s.push_str(&format!(" [{n}]"));
                }
            }
            NodeValue::Image(img) => {
                let alt = self.inlines(node);
                let n = self.link_number(&img.url);
                s.push_str(&format!("[image: {}] [{n}]", alt.trim()));
            }
            _ => {
                for child in node.children() {
                    self.inline(child, s);
                }
            }
        }
    }
}

/// Removes anything that looks like a tag (`<small>`, `</div>`) from raw HTML, keeping the text.
pub fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let looks_like_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
        match (looks_like_tag, after.find('>')) {
            (true, Some(j)) => rest = &after[j + 1..],
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::super::markdown;
    use super::*;

    fn text(md: &str) -> String {
        let arena = comrak::Arena::new();
        let o = markdown::options();
        let (root, _) = markdown::parse(&arena, md, "https://site.example", &o);
        to_text(root)
    }

    #[test]
    fn headings_are_underlined_and_links_numbered_per_section() {
        let t = text(
            "## Updates\n\n### [Official](https://blog.example)\n* [Rust 1.74](https://r.example/1.74)\n\n## Next\n\nAgain [Rust](https://r.example/1.74).\n",
        );
        let expected = "Updates\n-------\n\nOfficial [1]\n~~~~~~~~~~~~\n\n* Rust 1.74 [2]\n\n[1] https://blog.example\n[2] https://r.example/1.74\n\nNext\n----\n\nAgain Rust [2].\n\n[2] https://r.example/1.74\n";
        assert_eq!(t, expected);
    }

    #[test]
    fn nested_lists_keep_stars() {
        let t = text(
            "* 2023-11-23 | Virtual | [Group](https://g.example)\n    * [**Talk**](https://t.example)\n",
        );
        assert!(
            t.starts_with("* 2023-11-23 | Virtual | Group [1]\n    * Talk [2]\n"),
            "{t}"
        );
    }

    #[test]
    fn wraps_at_72_and_never_breaks_urls() {
        let long = "word ".repeat(40);
        let url = format!("https://example.org/{}", "x".repeat(90));
        let t = text(&format!("{long}{url} end\n"));
        for line in t.lines() {
            assert!(line.len() <= 72 || line.contains(&url), "too long: {line}");
        }
        assert!(t.contains(&url));
    }

    #[test]
    fn no_tags_survive() {
        let t = text("<small>[Discuss](https://d.example)</small>\n\n<div>block <b>x</b></div>\n");
        assert!(!t.contains('<'), "{t}");
        assert!(t.contains("Discuss [1]"));
    }

    #[test]
    fn tables_line_up_and_br_never_breaks_a_row() {
        let t = text(
            "| (instructions:u) | mean | range | count |\n|:---:|:---:|:---:|:---:|\n\
             | Regressions ❌ <br /> (primary) | 0.4% | [0.2%, 0.5%] | 6 |\n\
             | All ❌✅ (primary) | -0.5% | [-1.7%, 0.5%] | 172 |\n",
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[2].starts_with("Regressions ❌ (primary)"), "{t}");
        // Every cell lies within the display columns of its column's rule.
        let mut spans = Vec::new();
        let mut at = 0;
        for dashes in lines[1].split("  ") {
            spans.push(at..at + dashes.len());
            at += dashes.len() + 2;
        }
        for (row, cells) in [
            (
                lines[2],
                ["Regressions ❌ (primary)", "0.4%", "[0.2%, 0.5%]", "6"],
            ),
            (
                lines[3],
                ["All ❌✅ (primary)", "-0.5%", "[-1.7%, 0.5%]", "172"],
            ),
        ] {
            for (cell, span) in cells.iter().zip(&spans) {
                let start = UnicodeWidthStr::width(&row[..row.find(cell).unwrap()]);
                let end = start + UnicodeWidthStr::width(*cell);
                assert!(
                    span.start <= start && end <= span.end,
                    "{cell} in {span:?}:\n{t}"
                );
            }
        }
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "{t}");
    }

    #[test]
    fn wide_tables_become_one_block_per_row() {
        let long = "a fairly long description of the benchmark that was measured";
        let t = text(&format!(
            "| name | what | result |\n|---|---|---|\n| first | {long} | ok |\n| second | {long} | fail |\n"
        ));
        assert!(t.contains("first\n    what: a fairly long"), "{t}");
        assert!(t.contains("    result: fail"), "{t}");
        assert!(t.lines().all(|l| UnicodeWidthStr::width(l) <= WIDTH), "{t}");
    }

    #[test]
    fn raw_images_keep_their_alt_text() {
        let t = text(
            "> <img src=\"https://x.example/shot.png\" alt=\"A screenshot\"> and \
             <img class=\"emoji\" alt=\"🦀\" src=\"https://x.example/1f980.png\" width=\"20\">\n",
        );
        assert_eq!(
            t,
            "> [image: A screenshot] [1] and 🦀\n\n[1] https://x.example/shot.png\n"
        );
    }

    #[test]
    fn strip_tags_keeps_comparisons() {
        assert_eq!(strip_tags("a < b and <i>c</i>"), "a < b and c");
    }
}
