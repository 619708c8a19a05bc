//! Calendar dates and times: [`Date`] (`YYYY-MM-DD`, and an issue header's `Date:` as Pelican reads
//! it), RFC 5322 dates for mail headers, and the current UNIX time.

use std::fmt;

use super::error::{ParseError, err};

/// A calendar date (proleptic Gregorian), parsed from `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// `H:MM`, `HH:MM:SS`, `HH:MM:SS.ffffff`, each optionally followed by a zone: `Z`, `UTC`, `GMT`,
/// `+HH:MM`, `+HHMM` or `+HH` (or `-`), with or without a space before it.
fn valid_time_of_day(t: &str) -> bool {
    let field = |t: &str, max: u32| -> Option<usize> {
        let n = t.bytes().take_while(u8::is_ascii_digit).count();
        ((1..=2).contains(&n) && t[..n].parse::<u32>().ok()? <= max).then_some(n)
    };
    let Some(h) = field(t, 23) else { return false };
    let mut rest = &t[h..];
    let Some(r) = rest.strip_prefix(':') else {
        return false;
    };
    if r.bytes().take_while(u8::is_ascii_digit).count() != 2 || field(r, 59).is_none() {
        return false;
    }
    rest = &r[2..];
    if let Some(r) = rest.strip_prefix(':') {
        if r.bytes().take_while(u8::is_ascii_digit).count() != 2 || field(r, 60).is_none() {
            return false;
        }
        rest = &r[2..];
        if let Some(r) = rest.strip_prefix(['.', ',']) {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return false;
            }
            rest = &r[n..];
        }
    }
    let zone = rest.trim_start_matches(' ');
    if zone.is_empty() || matches!(zone, "Z" | "z" | "UTC" | "GMT") {
        return true;
    }
    let Some(offset) = zone.strip_prefix(['+', '-']) else {
        return false;
    };
    let (hh, mm) = match offset.split_once(':') {
        Some((a, b)) => (a, b),
        None if offset.len() == 4 => offset.split_at(2),
        None => (offset, "00"),
    };
    hh.len() == 2
        && mm.len() == 2
        && hh.bytes().chain(mm.bytes()).all(|b| b.is_ascii_digit())
        && hh.parse::<u32>().is_ok_and(|h| h <= 14)
        && mm.parse::<u32>().is_ok_and(|m| m <= 59)
}

impl Date {
    /// Parses a calendar date `YYYY-MM-DD`; the month and day may have one digit (`2020-12-2`).
    /// Dates that do not exist (`2023-02-30`) are refused.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        let shape = || {
            err(format!(
                "`{s}` is not a date in the form YYYY-MM-DD, e.g. `2023-11-22`"
            ))
        };
        let (date, rest) = Self::parse_prefix(s).ok_or_else(shape)?;
        if !rest.is_empty() {
            return Err(shape());
        }
        date
    }

    /// Parses an issue header's `Date:` as Pelican reads it (through `dateutil`): a year-first date
    /// with `-`, `/` or `.` between its parts and unpadded months and days allowed, optionally followed
    /// (after spaces or a `T`) by a time `H:MM`, `H:MM:SS` or `H:MM:SS.ffffff` and a time zone (`Z`,
    /// `UTC`, `+02:00`, `+0200`). The time is checked and then dropped: an issue is dated by its day.
    pub fn parse_pelican(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        let shape = || {
            err(format!(
                "`{s}` is not a date: use YYYY-MM-DD, optionally with a time, e.g. `2023-11-22` or \
                 `2023-11-22 12:00`"
            ))
        };
        let (date, rest) = Self::parse_prefix(s).ok_or_else(shape)?;
        let date = date?;
        let rest = rest.trim_start_matches([' ', '\t']);
        let rest = rest.strip_prefix(['T', 't']).unwrap_or(rest);
        if !rest.is_empty() && !valid_time_of_day(rest.trim_end()) {
            return Err(err(format!(
                "`{s}`: `{rest}` is not a time of day; write it as HH:MM or HH:MM:SS, or leave it out"
            )));
        }
        Ok(date)
    }

    /// `YYYY-M-D` at the start of `s` (separators `-`, `/` or `.`, the same twice), and what follows.
    /// `None` when the start is not shaped like a date; `Some(Err)` when it is, but does not exist.
    fn parse_prefix(s: &str) -> Option<(Result<Self, ParseError>, &str)> {
        let digits = |t: &str| t.bytes().take_while(u8::is_ascii_digit).count();
        let y = digits(s);
        if y == 8 {
            // ISO 8601's basic form, `20231122`.
            let (year, month, day) = (
                s[..4].parse().ok()?,
                s[4..6].parse().ok()?,
                s[6..8].parse().ok()?,
            );
            let date = Self::from_ymd(year, month, day).ok_or_else(|| {
                err(format!(
                    "`{}` is not a real date: check the month and day",
                    &s[..8]
                ))
            });
            return Some((date, &s[8..]));
        }
        if y != 4 {
            return None;
        }
        let sep = *s.as_bytes().get(4)?;
        if !matches!(sep, b'-' | b'/' | b'.') {
            return None;
        }
        let m_start = 5;
        let m = digits(&s[m_start..]);
        if !(1..=2).contains(&m) || s.as_bytes().get(m_start + m) != Some(&sep) {
            return None;
        }
        let d_start = m_start + m + 1;
        let d = digits(&s[d_start..]);
        if !(1..=2).contains(&d) {
            return None;
        }
        let end = d_start + d;
        let year: i32 = s[..4].parse().ok()?;
        let month: u8 = s[m_start..m_start + m].parse().ok()?;
        let day: u8 = s[d_start..end].parse().ok()?;
        let date = Self::from_ymd(year, month, day).ok_or_else(|| {
            err(format!(
                "`{}` is not a real date: check the month and day",
                &s[..end]
            ))
        });
        Some((date, &s[end..]))
    }

    /// Builds a date from its parts, if it exists.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self { year, month, day })
    }

    /// Year, e.g. 2023.
    pub fn year(self) -> i32 {
        self.year
    }
    /// Month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }
    /// Day of the month, 1 to 31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before). Howard Hinnant's civil-date algorithm.
    pub fn to_unix_days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The inverse of [`Date::to_unix_days`].
    pub fn from_unix_days(z: i64) -> Self {
        let z = z + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Self { year, month, day }
    }

    /// Three-letter English month name, e.g. `Nov`.
    pub fn month_abbrev(self) -> &'static str {
        MONTHS[usize::from(self.month - 1)]
    }

    /// Three-letter English weekday name, e.g. `Wed`.
    pub fn weekday_abbrev(self) -> &'static str {
        // 1970-01-01 was a Thursday (index 3).
        WEEKDAYS[(self.to_unix_days() + 3).rem_euclid(7) as usize]
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Formats a UNIX timestamp as an RFC 5322 date in UTC, e.g. `Wed, 22 Nov 2023 09:00:00 +0000`.
pub fn rfc5322_date(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let d = Date::from_unix_days(days);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
        d.weekday_abbrev(),
        d.day(),
        d.month_abbrev(),
        d.year(),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The current time as seconds since the UNIX epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_exist() {
        let d = Date::parse("2023-11-22").unwrap();
        assert_eq!((d.year(), d.month(), d.day()), (2023, 11, 22));
        assert_eq!(d.weekday_abbrev(), "Wed");
        assert!(Date::parse("2023-02-29").is_err());
        assert!(Date::parse("2024-02-29").is_ok());
        assert!(Date::parse("2023-13-01").is_err());
        assert!(Date::parse("22/11/2023").is_err());
        assert_eq!(Date::parse("2023-11-2").unwrap().to_string(), "2023-11-02");
        assert!(
            Date::parse("2023-11-22 12:00").is_err(),
            "a calendar date has no time"
        );
    }

    #[test]
    fn header_dates_read_as_pelican_reads_them() {
        for (given, day) in [
            ("2020-12-2", "2020-12-02"),
            ("2020-1-9", "2020-01-09"),
            ("2015-08-10 12:00", "2015-08-10"),
            ("2015-08-10  9:30", "2015-08-10"),
            ("2015-08-10 12:00:59", "2015-08-10"),
            ("2015-08-10T12:00:00", "2015-08-10"),
            ("2015-08-10T12:00:00.250", "2015-08-10"),
            ("2015-08-10T12:00:00Z", "2015-08-10"),
            ("2015-08-10 12:00+02:00", "2015-08-10"),
            ("2015-08-10 12:00 -0500", "2015-08-10"),
            ("2015/08/10", "2015-08-10"),
            ("2015.8.10", "2015-08-10"),
            ("2023-11-22T", "2023-11-22"),
            ("20231122", "2023-11-22"),
            ("2023-11-22 12:00 UTC", "2023-11-22"),
        ] {
            let d = Date::parse_pelican(given).unwrap_or_else(|e| panic!("{given}: {e}"));
            assert_eq!(d.to_string(), day, "{given}");
        }
        for bad in [
            "22/11/2023",
            "next Wednesday",
            "2023-02-30",
            "2023-11-22 25:00",
            "2023-11-22 12:61",
            "2023-11-22 noon",
            "2023-11/22",
            "Nov 22 2023",
            "2023112",
            "",
        ] {
            assert!(Date::parse_pelican(bad).is_err(), "{bad} should be refused");
        }
        let e = Date::parse_pelican("2023-02-30 10:00").unwrap_err();
        assert!(e.0.contains("not a real date"), "{e}");
        let e = Date::parse_pelican("2023-11-22 noon").unwrap_err();
        assert!(e.0.contains("not a time of day"), "{e}");
    }

    #[test]
    fn unix_days_round_trip() {
        for z in [-800_000, -1, 0, 1, 19_683, 60_000] {
            assert_eq!(Date::from_unix_days(z).to_unix_days(), z);
        }
        assert_eq!(Date::parse("1970-01-01").unwrap().to_unix_days(), 0);
        assert_eq!(
            rfc5322_date(1_700_643_600),
            "Wed, 22 Nov 2023 09:00:00 +0000"
        );
    }
}
