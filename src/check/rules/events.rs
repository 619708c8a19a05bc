//! Events outside the "Rusty Events between" window, and event dates that are not dates.

use super::Family;
use crate::check::scan::Lines;
use crate::check::{Diagnostic, RuleDef, Severity};
use crate::domain::Date;

/// `event-date`: an event already past, one far beyond the window (a wrong year), or a date that is not one
pub const EVENT_DATE: RuleDef = RuleDef {
    name: "event-date",
    severity: Severity::Warning,
    summary: "an event already past, one far beyond the issue's window (a wrong year), or a date that is not one",
};

/// How far past the window an event may be listed early without a warning (eight weeks).
pub const EARLY_LISTING_DAYS: i64 = 56;

pub(crate) const FAMILY: Family = Family {
    rules: &[&EVENT_DATE],
    run: |cx, out| event_dates(&cx.lines, out),
};

pub(crate) fn event_date(item: &str) -> Option<&str> {
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
            Ok(date) if last.unwrap_or(date) < a => out.push(
                EVENT_DATE.diag(at..at + d.len(),
                    format!("event dated {date} is already past: this issue's window is {a} - {b}"),
                )
                .label("before the window")
                .help("remove the event or correct its date"),
            ),
            // Events listed a few weeks early (a conference just past the window) are deliberate;
            // one far beyond it has the wrong year or month.
            Ok(date) if date.to_unix_days() - b.to_unix_days() > EARLY_LISTING_DAYS => out.push(
                EVENT_DATE.diag(at..at + d.len(),
                    format!(
                        "event dated {date} is {} days after this issue's window {a} - {b}: is the year (or month) right?",
                        date.to_unix_days() - b.to_unix_days()
                    ),
                )
                .label("far after the window")
                .help("correct the date, or list the event nearer the time"),
            ),
            Err(e) => out.push(
                EVENT_DATE.diag(at..at + d.len(),
                    format!("event date: {e}"),
                )
                .label("not a date")
                .help("write the date as YYYY-MM-DD"),
            ),
            _ => {}
        }
    }
}
