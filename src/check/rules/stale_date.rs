//! Deadlines already past: a call for proposals that closed before the issue goes out.

use super::Family;
use super::events::event_date;
use super::header_date::window;
use crate::check::scan::{Lines, is_reference_definition, plain_heading};
use crate::check::{Diagnostic, RuleDef, Severity};
use crate::domain::Date;
use crate::issue::is_heading_line;

/// `stale-date`: a deadline (a CFP closing date, "submissions until …") already past at the issue's date
pub const STALE_DATE: RuleDef = RuleDef {
    name: "stale-date",
    severity: Severity::Warning,
    summary: "a deadline (a CFP closing date, \"submissions until …\") already past at the issue's date",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&STALE_DATE],
    run: |cx, out| {
        if let Some(date) = cx
            .raw
            .get("Date")
            .and_then(|f| Date::parse_pelican(&f.value).ok())
        {
            stale_dates(&cx.lines, date, out);
        }
    },
};

/// Words of a sentence that gives a deadline.
const DEADLINE_WORDS: &[&str] = &[
    "close",
    "closes",
    "closing",
    "closed",
    "deadline",
    "due",
    "until",
    "submit",
    "submission",
    "submissions",
    "cfp",
    "cfps",
    "apply by",
    "register by",
];

/// A heading of the calls for proposals, where every date is a closing date or an event's.
fn is_cfp_heading(h: &str) -> bool {
    let h = h.to_ascii_lowercase();
    h.contains("cfp") || h.contains("call for proposals") || h.contains("call for papers")
}

fn has_deadline_word(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    DEADLINE_WORDS.iter().any(|w| {
        l.match_indices(w).any(|(i, _)| {
            let before = l[..i].chars().next_back();
            let after = l[i + w.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    })
}

/// Byte ranges of the line that are URLs: link targets and bare `http(s)://…` (dates there are
/// part of an address, e.g. a triage report's file name).
fn url_ranges(line: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    for (i, _) in line.match_indices("](") {
        let end = line[i..].find(')').map_or(line.len(), |j| i + j);
        out.push(i..end);
    }
    for (i, _) in line.match_indices("://") {
        let start = line[..i]
            .rfind(|c: char| !c.is_ascii_alphanumeric())
            .map_or(0, |j| j + 1);
        let end = line[i..]
            .find(|c: char| c.is_whitespace() || c == ')' || c == '>')
            .map_or(line.len(), |j| i + j);
        out.push(start..end);
    }
    out
}

/// True when the line holds something shaped like `YYYY-MM-DD`.
fn has_date_shape(line: &str) -> bool {
    // Only where a `-` is can a `YYYY-MM-DD` be: look there (a vectorised search), not everywhere.
    let b = line.as_bytes();
    memchr::memchr_iter(b'-', b).any(|dash| {
        let Some(w) = dash.checked_sub(4).and_then(|s| b.get(s..s + 10)) else {
            return false;
        };
        w[7] == b'-' && w[..4].iter().chain(&w[5..7]).chain(&w[8..]).all(u8::is_ascii_digit)
    })
}

/// Every `YYYY-MM-DD` of a line that stands as a word outside URLs: (offset, date).
pub(crate) fn dates_in(line: &str) -> Vec<(usize, Date)> {
    let mut urls = url_ranges(line);
    urls.sort_by_key(|r| r.start);
    // URL ranges passed so far, as a sweep: the furthest end among those that start at or before `i`.
    let (mut next_url, mut covered_to) = (0usize, 0usize);
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 10 <= b.len() {
        let is_date = b[i..i + 10].iter().enumerate().all(|(k, &c)| {
            if k == 4 || k == 7 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
        let boundary = (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b.get(i + 10).is_none_or(|c| !c.is_ascii_digit());
        while next_url < urls.len() && urls[next_url].start <= i {
            covered_to = covered_to.max(urls[next_url].end);
            next_url += 1;
        }
        if is_date && boundary && i >= covered_to {
            if let Ok(d) = Date::parse(&line[i..i + 10]) {
                out.push((i, d));
            }
            i += 10;
        } else {
            i += 1;
        }
    }
    out
}

/// The sentences of `line`, split after `. `, `; `, `! ` and `? `, in order.
fn sentences(line: &str) -> Vec<std::ops::Range<usize>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..b.len().saturating_sub(1) {
        if matches!(b[i], b'.' | b';' | b'!' | b'?') && b[i + 1] == b' ' {
            out.push(start..i + 1);
            start = i + 2;
        }
    }
    out.push(start.min(line.len())..line.len());
    out
}

fn stale_dates(lines: &Lines<'_>, issue: Date, out: &mut Vec<Diagnostic>) {
    let mut in_cfp = false;
    let mut cfp_level = 0;
    // The events list (from its window line to the next heading of its section's level or
    // higher) is `event-date`'s.
    let mut in_events = false;
    for &(start, line) in &lines.items {
        if is_heading_line(line) {
            let level = line.trim_start().bytes().take_while(|&b| b == b'#').count();
            if in_cfp && level <= cfp_level {
                in_cfp = false;
            }
            if is_cfp_heading(&plain_heading(line)) {
                in_cfp = true;
                cfp_level = level;
            }
            if level <= 2 {
                in_events = false;
            }
            continue;
        }
        // A window line has dates: the cheap byte test first.
        if has_date_shape(line) && window(line).is_some() {
            in_events = true;
            continue;
        }
        // Most lines hold no date at all: that is looked at first, byte by byte, without allocating.
        if in_events
            || !has_date_shape(line)
            || event_date(line).is_some()
            || is_reference_definition(line)
            || !(in_cfp || has_deadline_word(line))
        {
            continue;
        }
        let sentences = if in_cfp { Vec::new() } else { sentences(line) };
        let mut k = 0;
        for (at, d) in dates_in(line) {
            // Outside the calls for proposals, only a date in the sentence that gives the
            // deadline is one ("closes on 2024-01-19"; not "Rust 1.0 came out on 2015-05-15").
            while k + 1 < sentences.len() && sentences[k].end <= at {
                k += 1;
            }
            let in_deadline = in_cfp || sentences.get(k).is_some_and(|s| has_deadline_word(&line[s.clone()]));
            if d >= issue || !in_deadline {
                continue;
            }
            let ago = issue.to_unix_days() - d.to_unix_days();
            out.push(
                STALE_DATE
                    .diag(
                        start + at..start + at + 10,
                        format!(
                            "{d} is already past when this issue goes out ({issue}, {ago} days later): a deadline that has closed"
                        ),
                    )
                    .label("already past")
                    .help("remove the call if it has closed, or correct the date (is the year right?)"),
            );
        }
    }
}
