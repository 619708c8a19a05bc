//! The issue's date against everything else that dates it: the file name, the weekly sequence of
//! the archive, and the events window line.

use super::Family;
use crate::check::scan::line_range;
use crate::check::{ArchiveEntry, Diagnostic, RuleDef, Severity};
use crate::domain::{Date, IssueNumber};

/// `header-date`: a `Date:` that disagrees with the file name, the archive's weekly sequence, or the events window
pub const HEADER_DATE: RuleDef = RuleDef {
    name: "header-date",
    severity: Severity::Error,
    summary: "a `Date:` that disagrees with the file name, the archive's weekly sequence, or the events window",
};

pub(crate) const FAMILY: Family = Family {
    rules: &[&HEADER_DATE],
    run: |cx, out| header_date(cx, out),
};

/// Days a date may drift from the weekly sequence: TWiR moved from Tuesdays to Wednesdays once.
const SEQUENCE_SLACK_DAYS: i64 = 3;
/// How many of the nearest issues of the archive predict the date.
const NEIGHBOURS: usize = 5;
/// Days the events window may start away from the issue's date.
const WINDOW_SLACK_DAYS: i64 = 3;

/// The date a TWiR file name starts with (`2024-01-10-this-week-in-rust.md`).
pub fn file_date(name: &str) -> Option<Date> {
    let d = name.get(..10)?;
    if !d.bytes().enumerate().all(|(i, b)| {
        if i == 4 || i == 7 {
            b == b'-'
        } else {
            b.is_ascii_digit()
        }
    }) {
        return None;
    }
    Date::parse(d).ok()
}

fn days(a: Date, b: Date) -> i64 {
    a.to_unix_days() - b.to_unix_days()
}

/// The window of a `Rusty Events between A - B` line: (offset of A, A, B).
pub(crate) fn window(line: &str) -> Option<(usize, Date, Date)> {
    let i = line.find("Rusty Events between")?;
    let mut found = Vec::new();
    let mut pos = i;
    while found.len() < 2 {
        let rest = &line[pos..];
        let Some(j) = rest.find(|c: char| c.is_ascii_digit()) else {
            break;
        };
        let at = pos + j;
        let Some(word) = line.get(at..at + 10) else {
            break;
        };
        match Date::parse(word) {
            Ok(d) => {
                found.push((at, d));
                pos = at + 10;
            }
            Err(_) => pos = at + 1,
        }
    }
    match found[..] {
        [(at, a), (_, b)] => Some((at, a, b)),
        _ => None,
    }
}

fn header_date(cx: &super::Context<'_>, out: &mut Vec<Diagnostic>) {
    let Some(field) = cx.raw.get("Date") else {
        return;
    };
    let Ok(date) = Date::parse_pelican(&field.value) else {
        return;
    };
    let range = line_range(cx.text, field.line);
    let value_at = range.start + cx.text[range.clone()].find(field.value.trim()).unwrap_or(0);
    let value_range = value_at..value_at + field.value.trim().len();
    let name = cx
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let named = file_date(name);
    let win = cx
        .lines
        .items
        .iter()
        .find_map(|&(start, l)| window(l).map(|(at, a, b)| (start + at, a, b)));
    let number = cx
        .raw
        .get("Number")
        .and_then(|f| IssueNumber::parse(&f.value).ok());

    // What the archive says this issue's date should be: the median of what its nearest issues
    // (by number) predict, so that one misdated neighbour does not decide.
    let expected = number.and_then(|n| {
        let mut near: Vec<&ArchiveEntry> = cx
            .opts
            .archive
            .iter()
            .filter(|e| e.number != n && e.path != cx.path)
            .collect();
        near.sort_by_key(|e| (i64::from(e.number.get()) - i64::from(n.get())).abs());
        near.truncate(NEIGHBOURS);
        let predict = |e: &ArchiveEntry| {
            let weeks = i64::from(n.get()) - i64::from(e.number.get());
            e.date.to_unix_days() + 7 * weeks
        };
        let mut predicted: Vec<i64> = near.iter().map(|e| predict(e)).collect();
        predicted.sort_unstable();
        let median = *predicted.get(predicted.len() / 2)?;
        // Cite the nearest issue that agrees with the median.
        let cited = near
            .iter()
            .find(|e| (predict(e) - median).abs() <= SEQUENCE_SLACK_DAYS)
            .copied()?;
        Some((cited, Date::from_unix_days(median)))
    });

    let named_wrong = named.is_some_and(|f| f != date);
    if let Some(f) = named
        && f != date
    {
        // The fix is certain when something else agrees with the file name.
        let agrees = win.is_some_and(|(_, a, _)| a == f)
            || expected.is_some_and(|(_, e)| days(e, f).abs() <= SEQUENCE_SLACK_DAYS);
        let mut d = HEADER_DATE
            .diag(
                value_range.clone(),
                format!("`Date: {date}` disagrees with the file name `{name}`, which says {f}"),
            )
            .label("not the file's date")
            .help(format!(
                "make them agree: `Date: {f}` if the file name is right, or rename the file"
            ));
        if agrees {
            d = d.fix(value_range.clone(), f.to_string());
        }
        out.push(d);
    } else if let (Some(n), Some((e, want))) = (number, expected)
        && days(date, want).abs() > SEQUENCE_SLACK_DAYS
    {
        let other = e
            .path
            .file_name()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        out.push(
            HEADER_DATE
                .diag(
                    value_range.clone(),
                    format!(
                        "`Date: {date}` is {} days off the weekly sequence: issue {} ({other}) is dated {}, so issue {n} falls on {want}",
                        days(date, want).abs(),
                        e.number,
                        e.date
                    ),
                )
                .label("off the weekly sequence")
                .help(format!("check the year and the day: `Date: {want}`?")),
        );
    }
    // A window that agrees with the file name is the same mistake as the Date, reported once.
    if let Some((at, a, _)) = win
        && days(a, date).abs() > WINDOW_SLACK_DAYS
        && !(named_wrong && named == Some(a))
    {
        out.push(
            HEADER_DATE
                .diag(
                    at..at + 10,
                    format!(
                        "the events window starts on {a}, but the issue is dated {date} (line {})",
                        field.line
                    ),
                )
                .label("not the issue's date")
                .help(format!(
                    "start the window on the issue's date: `Rusty Events between {date} - {}`",
                    Date::from_unix_days(date.to_unix_days() + 28)
                )),
        );
    }
}
