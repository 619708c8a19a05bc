//! Items listed twice in one section: the same link, or the same event on the same day.

use super::Family;
use super::events::event_date;
use crate::check::scan::{Lines, line_col, plain_heading};
use crate::check::{Diagnostic, RuleDef, Severity};
use crate::issue::is_heading_line;

/// `duplicate-item`: the same link (or the same event on the same day) listed twice, in one section or in two, or a section repeated
pub const DUPLICATE_ITEM: RuleDef = RuleDef {
    name: "duplicate-item",
    severity: Severity::Warning,
    summary: "the same link (or the same event on the same day) listed twice, in one section or in two, or a section repeated",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&DUPLICATE_ITEM],
    run: |cx, out| {
        duplicate_items(cx.text, &cx.lines, out);
        repeated_headings(cx.text, &cx.lines, out);
    },
};

fn first_link(line: &str) -> Option<&str> {
    let i = crate::check::scan::link_opens(line).next()?;
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

fn duplicate_items(text: &str, lines: &Lines<'_>, out: &mut Vec<Diagnostic>) {
    // Top-level items of one section: (identity, line index, full item range).
    let mut seen: Vec<(String, usize)> = Vec::new();
    // Items of every section so far, events aside: (identity, line index, section heading).
    let mut everywhere: std::collections::HashMap<String, (usize, String)> =
        std::collections::HashMap::new();
    let mut section = String::new();
    let mut in_events = false;
    let items = &lines.items;
    let mut i = 0;
    while i < items.len() {
        let (start, line) = items[i];
        if is_heading_line(line) {
            seen.clear();
            section = plain_heading(line);
            let level = line.trim_start().bytes().take_while(|&b| b == b'#').count();
            if level <= 2 {
                in_events = section.to_ascii_lowercase().contains("events");
            }
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
        let dated = event_date(line);
        let identity = match dated {
            // Events repeat their group's URL by design: an event is its date and its own page.
            Some(date) => items[i + 1..j]
                .iter()
                .find_map(|&(_, l)| first_link(l))
                .or_else(|| first_link(line))
                .map(|u| format!("{date} {}", normalize_url(u))),
            None => first_link(line).map(normalize_url),
        };
        if let Some(id) = identity {
            let event = in_events || dated.is_some();
            let elsewhere = if event {
                None
            } else {
                everywhere.get(&id).filter(|(_, sec)| *sec != section)
            };
            if let Some((first, first_section)) = elsewhere
                && !seen.iter().any(|(s, _)| *s == id)
            {
                let (first_line, _) = line_col(text, items[*first].0);
                out.push(
                    DUPLICATE_ITEM
                        .diag(
                            start..start + line.len(),
                            format!(
                                "this item is already listed on line {first_line}, under `{first_section}`"
                            ),
                        )
                        .label("listed twice")
                        .help("keep it in the section where it belongs and remove the other"),
                );
            }
            if !event && !everywhere.contains_key(&id) {
                everywhere.insert(id.clone(), (i, section.clone()));
            }
            if let Some(&(_, first)) = seen.iter().find(|(s, _)| *s == id) {
                let (first_line, _) = line_col(text, items[first].0);
                let first_end = items[first].0 + items[first].1.len();
                let identical = text[items[first].0..first_end] == text[start..start + line.len()]
                    && j == i + 1;
                let mut d = DUPLICATE_ITEM.diag(start..start + line.len(),
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

/// A heading given twice under the same parent (`## Call for Testing` twice): the section was
/// pasted again.
fn repeated_headings(text: &str, lines: &Lines<'_>, out: &mut Vec<Diagnostic>) {
    // (level, text) of the headings above, and every (path, line index) seen.
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut seen: std::collections::HashMap<Vec<(usize, String)>, usize> =
        std::collections::HashMap::new();
    for (idx, level, line) in lines.headings() {
        while stack.last().is_some_and(|(l, _)| *l >= level) {
            stack.pop();
        }
        stack.push((level, plain_heading(line).to_lowercase()));
        if let Some(first) = seen.get(&stack) {
            let start = lines.items[idx].0;
            let (first_line, _) = line_col(text, lines.items[*first].0);
            out.push(
                DUPLICATE_ITEM
                    .diag(
                        start..start + line.len(),
                        format!(
                            "section `{}` is given twice (first on line {first_line})",
                            plain_heading(line)
                        ),
                    )
                    .label("repeated section")
                    .help("merge the two sections into one, or remove the copy"),
            );
        } else {
            seen.insert(stack.clone(), idx);
        }
    }
}
