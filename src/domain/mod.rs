//! Small types every stage shares. Each parses at the edge: once you hold one, it is valid.

#[macro_use]
mod vocabulary;
mod ids;
mod provider;
mod reason;
mod smtp;

pub use ids::{MessageId, VERP_PREFIX, Verp, campaign_key};
pub use provider::{
    DomainPattern, ProviderMap, ProviderName, organizational_domain, provider_names,
};
pub use reason::{BounceReason, ReasonGroup};
pub use smtp::{EnhancedStatus, ReplyCode};
pub use vocabulary::{
    AdminRole, Attribution, BounceClass, BounceKind, BounceSource, CampaignState, DeliveryState,
    DsnAction, Source,
};

use std::fmt;

use thiserror::Error;

/// Why a value could not be parsed into a domain type.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
#[error("{0}")]
pub struct ParseError(pub String);

fn err(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

/// The number of an issue, e.g. 522. Always positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct IssueNumber(u32);

impl IssueNumber {
    /// Parses a decimal issue number such as `522`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(format!(
                "`{s}` is not an issue number: use digits only, e.g. `522`"
            )));
        }
        match s.parse::<u32>() {
            Ok(0) => Err(err("the issue number must be 1 or more")),
            Ok(n) => Ok(Self(n)),
            Err(_) => Err(err(format!("`{s}` is too large for an issue number"))),
        }
    }

    /// The number as an integer.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for IssueNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

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

/// A syntactically valid e-mail address with its domain normalised to lowercase ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    value: String,
    at: usize,
}

impl EmailAddress {
    /// Parses an address such as `Ferris@Example.ORG` (stored as `Ferris@example.org`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(err(format!(
                "the address contains a control character (U+{:04X})",
                u32::from(c)
            )));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(err("the address contains a space"));
        }
        let at = s
            .rfind('@')
            .ok_or_else(|| err(format!("`{s}` has no `@`")))?;
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if local.is_empty() {
            return Err(err(format!("`{s}` has nothing before the `@`")));
        }
        if domain.is_empty() {
            return Err(err(format!("`{s}` has nothing after the `@`")));
        }
        if local.len() > 64 {
            return Err(err(format!(
                "the part before `@` is {} characters long; the limit is 64",
                local.len()
            )));
        }
        check_local_part(local)?;
        let domain = normalize_domain(domain)?;
        let value = format!("{local}@{domain}");
        if value.len() > 254 {
            return Err(err(format!(
                "the address is {} characters long; the limit is 254",
                value.len()
            )));
        }
        Ok(Self { value, at })
    }

    /// The whole address.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The part after `@`, lowercase ASCII.
    pub fn domain(&self) -> &str {
        &self.value[self.at + 1..]
    }

    /// The part before `@`, as given.
    pub fn local_part(&self) -> &str {
        &self.value[..self.at]
    }
}

impl PartialEq<str> for EmailAddress {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EmailAddress {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for EmailAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Read from configuration: a string that must parse, or the setting is refused with the reason.
impl<'de> serde::Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EmailAddress::parse(&s)
            .map_err(|e| serde::de::Error::custom(format!("`{s}` is not a valid address: {e}")))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// RFC 5321's dot-atom local part: atoms of `atext` (letters, digits and ``!#$%&'*+-/=?^_`{|}~``)
/// separated by single dots. Quoted local parts and the specials they allow (`< > , " ; : \ ( )`,
/// spaces) are refused, so no header built from an address can carry a second address. Non-ASCII
/// letters, digits and marks are allowed as RFC 6531 does; such an address is delivered only through
/// a relay that offers SMTPUTF8. An RFC 2047 encoded word (`=?utf-8?q?…?=`) is refused too: some
/// clients would decode it into whatever it hides.
fn check_local_part(local: &str) -> Result<(), ParseError> {
    if local.starts_with('"') {
        return Err(err(format!(
            "`{local}`: quoted local parts are not accepted; use an address without quotes"
        )));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(err(format!(
            "`{local}` is not a valid local part: dots may only stand between other characters"
        )));
    }
    if local.contains("=?") && local.contains("?=") {
        return Err(err(format!(
            "`{local}` looks like an encoded word, not a mailbox name"
        )));
    }
    let atext = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~.".contains(c)
            || (!c.is_ascii() && (c.is_alphanumeric() || is_mark(c)))
    };
    if let Some(bad) = local.chars().find(|&c| !atext(c)) {
        return Err(err(format!(
            "`{local}` contains `{bad}`, which an e-mail address may not hold outside quotes"
        )));
    }
    Ok(())
}

/// Combining marks (accents written as separate characters).
fn is_mark(c: char) -> bool {
    matches!(u32::from(c),
        0x300..=0x36F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// A subscriber's name as people type it into a form or a spreadsheet: control and bidirectional
/// formatting characters removed (they could rewrite an administrator's terminal or fake a row of
/// a listing), runs of white space made one space, trimmed, and at most
/// [`SubscriberName::MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriberName(String);

impl SubscriberName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Cleans a name; `Ok(None)` when nothing is left of it, an error when it is too long.
    pub fn parse(s: &str) -> Result<Option<Self>, ParseError> {
        let cleaned: String = s
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .filter(|&c| !c.is_control() && !is_format_control(c))
            .collect();
        let name = cleaned
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let n = name.chars().count();
        if n > Self::MAX_CHARS {
            return Err(err(format!(
                "the name is {n} characters long; the limit is {}",
                Self::MAX_CHARS
            )));
        }
        Ok((!name.is_empty()).then_some(Self(name)))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriberName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Unicode formatting characters that reorder or hide text (bidirectional overrides and isolates,
/// zero-width joiners are kept: emoji and several scripts need them).
fn is_format_control(c: char) -> bool {
    matches!(u32::from(c), 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0x061C | 0xFEFF)
}

/// `s` made safe to print on a terminal: control and bidirectional formatting characters are shown
/// escaped (`\u{1b}`) instead of being acted on.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || is_format_control(c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() || is_format_control(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// A text field made safe for a spreadsheet: one that starts like a formula (`=`, `+`, `-`, `@`, a tab
/// or a carriage return) gets a leading `'`, as OWASP advises, so opening an export never runs it.
pub fn spreadsheet_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The inverse of [`spreadsheet_safe`], for reading an export back in.
pub fn from_spreadsheet(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => s,
    }
}

/// Lowercase ASCII form of a domain; internationalised names become `xn--` labels (IDNA/UTS 46).
fn normalize_domain(domain: &str) -> Result<String, ParseError> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let lower = if domain.is_ascii() {
        domain.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(domain).map_err(|_| {
            err(format!(
                "`{domain}` is not a valid internationalised domain"
            ))
        })?
    };
    if lower.len() > 253 || !lower.contains('.') {
        return Err(err(format!("`{domain}` is not a valid mail domain")));
    }
    for label in lower.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(err(format!("`{domain}` is not a valid mail domain")));
        }
    }
    Ok(lower)
}

/// Where a subscriber is in their life on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberStatus {
    /// Signed up, awaiting confirmation (double opt-in).
    Pending,
    /// Receives the newsletter.
    Active,
    /// Left the list.
    Unsubscribed,
    /// Suppressed after bounces.
    Bounced,
    /// Suppressed after a spam complaint; never mailed again.
    Complained,
}

impl SubscriberStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [SubscriberStatus; 5] = [
        Self::Pending,
        Self::Active,
        Self::Unsubscribed,
        Self::Bounced,
        Self::Complained,
    ];

    /// The stored name, e.g. `active`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Unsubscribed => "unsubscribed",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s.trim())
            .ok_or_else(|| {
                err(format!(
                    "`{s}` is not a status; use one of pending, active, unsubscribed, bounced, complained"
                ))
            })
    }

    /// True for statuses that a plain import must not undo.
    pub fn is_suppressed(self) -> bool {
        matches!(self, Self::Unsubscribed | Self::Bounced | Self::Complained)
    }
}

impl fmt::Display for SubscriberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for SubscriberStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SubscriberStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A subscriber's secret token: 144 bits from the OS CSPRNG, URL-safe base64 (24 characters).
/// Never derived from the address. `Debug` does not print it, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UnsubscribeToken(String);

impl UnsubscribeToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        Self::generate_many(1).pop().expect("one token")
    }

    /// `n` fresh random tokens from a single read of the OS CSPRNG (one syscall, not `n`).
    pub fn generate_many(n: usize) -> Vec<Self> {
        use base64::Engine;
        let mut bytes = vec![0u8; 18 * n];
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        bytes
            .chunks_exact(18)
            .map(|b| Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)))
            .collect()
    }

    /// Parses a token from a URL; anything not shaped like one is rejected before any lookup.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = s.len() == 24
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(err("not a token"))
        }
    }

    /// The token text, for URLs and storage only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The subscriber's own unsubscribe address, `LOCAL+<mailto form>@DOMAIN`, as it appears in
    /// `List-Unsubscribe` (and is recognised again by `bounce::mailto`).
    pub fn mailto_address(&self, local: &str, domain: &str) -> String {
        format!("{local}+{}@{domain}", self.mailto_form())
    }

    /// The same 144 bits as lowercase base32 (29 characters), for the local part of the per-recipient
    /// `List-Unsubscribe` mailto address: a mail system may change the case of a local part, and
    /// base32 survives that where base64 would not.
    pub fn mailto_form(&self) -> String {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.0)
            .unwrap_or_default();
        let mut out = String::with_capacity(29);
        let (mut acc, mut bits) = (0u32, 0);
        for b in bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(BASE32[((acc >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
        }
        out
    }

    /// The token a mailto local part carries, in any case; `None` if it is not one.
    pub fn from_mailto_form(s: &str) -> Option<Self> {
        use base64::Engine;
        if s.len() != 29 {
            return None;
        }
        let mut bytes = Vec::with_capacity(18);
        let (mut acc, mut bits) = (0u32, 0);
        for c in s.bytes() {
            let v = BASE32.iter().position(|&a| a == c.to_ascii_lowercase())? as u32;
            acc = (acc << 5) | v;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        (bytes.len() == 18 && acc == 0)
            .then(|| Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
    }
}

/// RFC 4648 base32, lowercase.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

impl fmt::Debug for UnsubscribeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnsubscribeToken(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_number_rejects_garbage() {
        assert_eq!(IssueNumber::parse(" 522 ").unwrap().get(), 522);
        assert!(IssueNumber::parse("0").is_err());
        assert!(IssueNumber::parse("52a").is_err());
        assert!(IssueNumber::parse("").is_err());
        assert!(IssueNumber::parse("99999999999").is_err());
    }

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

    #[test]
    fn email_addresses() {
        let a = EmailAddress::parse("Ferris@Example.ORG").unwrap();
        assert_eq!(a.as_str(), "Ferris@example.org");
        assert_eq!(a.domain(), "example.org");
        for bad in [
            "no-at-sign",
            "@example.org",
            "ferris@",
            "fer\nris@example.org",
            "ferris@-bad.org",
            "ferris@localhost",
            "a b@example.org",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(65))).is_err());
        // A 64-character local part and a valid 192-character domain: 257 in all.
        let long = format!(
            "{}@{}.{}.{}.eeeee.org",
            "a".repeat(64),
            "b".repeat(60),
            "c".repeat(60),
            "d".repeat(60)
        );
        let e = EmailAddress::parse(&long).unwrap_err();
        assert!(e.0.contains("limit is 254"), "{e}");
    }

    #[test]
    fn local_parts_are_dot_atoms() {
        for ok in [
            "ferris@example.org",
            "first.last+tag@example.org",
            "o'brien@example.org",
            "x!#$%&*/=?^_`{|}~-@example.org",
            "zoë@example.org",
            "用户@example.org",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "x>,<bcc@evil.example.org",
            "\"quoted\"@example.org",
            "a,b@example.org",
            "a;b@example.org",
            "a:b@example.org",
            "a\\b@example.org",
            "a(b)@example.org",
            "a<b@example.org",
            "=?utf-8?q?bcc=40evil.example?=@example.org",
            ".dot@example.org",
            "dot.@example.org",
            "do..t@example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn names_are_cleaned_and_capped() {
        let n = SubscriberName::parse("  Ferris \u{1b}[2J\r\nthe\tCrab\u{202e}  ")
            .unwrap()
            .unwrap();
        assert_eq!(n.as_str(), "Ferris [2J the Crab");
        assert_eq!(SubscriberName::parse(" \r\n ").unwrap(), None);
        assert!(SubscriberName::parse(&"x".repeat(201)).is_err());
        assert!(SubscriberName::parse(&"é".repeat(200)).unwrap().is_some());
        assert_eq!(terminal_safe("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(
            spreadsheet_safe("=cmd|' /C calc'!A0"),
            "'=cmd|' /C calc'!A0"
        );
        assert_eq!(spreadsheet_safe("+SUM(1)"), "'+SUM(1)");
        assert_eq!(spreadsheet_safe("Ferris"), "Ferris");
        assert_eq!(from_spreadsheet("'=cmd"), "=cmd");
        assert_eq!(from_spreadsheet("'quoted'"), "'quoted'");
    }

    #[test]
    fn internationalised_domains_are_normalised() {
        let a = EmailAddress::parse("Jürgen@Bücher.Example").unwrap();
        assert_eq!(a.as_str(), "Jürgen@xn--bcher-kva.example");
        assert!(EmailAddress::parse("x@exa mple.org").is_err());
        assert!(EmailAddress::parse("x@bad_domain.org").is_err());
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (UnsubscribeToken::generate(), UnsubscribeToken::generate());
        assert_ne!(a, b);
        let many = UnsubscribeToken::generate_many(1000);
        let distinct: std::collections::HashSet<_> =
            many.iter().map(UnsubscribeToken::expose).collect();
        assert_eq!(distinct.len(), 1000);
        assert_eq!(a.expose().len(), 24);
        assert!(UnsubscribeToken::parse(a.expose()).is_ok());
        assert!(UnsubscribeToken::parse("../etc/passwd").is_err());
        assert!(!format!("{a:?}").contains(a.expose()));
        // The mailto form carries the same token in any case, and nothing else is one.
        let m = a.mailto_form();
        assert_eq!(m.len(), 29);
        assert_eq!(UnsubscribeToken::from_mailto_form(&m), Some(a.clone()));
        assert_eq!(
            UnsubscribeToken::from_mailto_form(&m.to_uppercase()),
            Some(a.clone())
        );
        assert_eq!(UnsubscribeToken::from_mailto_form(&m[1..]), None);
        assert_eq!(UnsubscribeToken::from_mailto_form(&"1".repeat(29)), None);
    }
}
