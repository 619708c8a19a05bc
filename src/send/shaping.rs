//! Shaping per mailbox provider: each provider has its own connections and pace, a throttling reply
//! halves that provider's pace (and only its), and the pace grows back by a fixed step per second
//! while it accepts (additive increase, multiplicative decrease). Also the warm-up's daily cap and
//! the reading of `send --at`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::config::SendSettings;
use crate::domain::{DomainPattern, EnhancedStatus, ProviderMap, ProviderName, ReplyCode};

/// A shaping setting that cannot be used.
#[derive(Debug, Error)]
#[error("[send] {0}")]
pub struct ShapingError(pub String);

/// One provider's limits from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub connections: usize,
    /// Messages per second to start at and never exceed; `None`: no limit until it throttles.
    pub rate: Option<f64>,
}

/// The provider table and each provider's limits.
#[derive(Debug, Clone)]
pub struct Shapes {
    pub map: ProviderMap,
    shapes: BTreeMap<ProviderName, Shape>,
    default: Shape,
}

impl Shapes {
    /// Reads `[send.providers.*]`.
    pub fn from_settings(send: &SendSettings) -> Result<Self, ShapingError> {
        let concurrency = send.concurrency.max(1);
        let builtin: Vec<&str> = crate::domain::provider_names();
        let mut extra = Vec::new();
        let mut shapes = BTreeMap::new();
        for (name, p) in &send.providers {
            let provider =
                ProviderName::parse(name).map_err(|e| ShapingError(format!("providers: {e}")))?;
            let mut patterns = Vec::new();
            for d in &p.domains {
                patterns.push(
                    DomainPattern::parse(d)
                        .map_err(|e| ShapingError(format!("providers.{name}.domains: {e}")))?,
                );
            }
            if patterns.is_empty() && !builtin.contains(&name.as_str()) {
                return Err(ShapingError(format!(
                    "providers.{name} has no domains: list them, e.g. domains = [\"example.com\"]"
                )));
            }
            if !patterns.is_empty() {
                extra.push((provider.clone(), patterns));
            }
            let rate = match p.rate {
                Some(r) if !(r >= 0.0 && r.is_finite()) => {
                    return Err(ShapingError(format!(
                        "providers.{name}.rate must be messages per second, 0 for no limit"
                    )));
                }
                Some(r) if r > 0.0 => Some(r),
                _ => None,
            };
            let connections = match p.connections {
                Some(0) => {
                    return Err(ShapingError(format!(
                        "providers.{name}.connections must be at least 1"
                    )));
                }
                Some(c) => c.min(concurrency),
                None => concurrency,
            };
            shapes.insert(provider, Shape { connections, rate });
        }
        Ok(Self {
            map: ProviderMap::new(&extra),
            shapes,
            default: Shape {
                connections: concurrency,
                rate: None,
            },
        })
    }

    /// The limits of one provider (a provider the configuration does not name gets `other`'s, or
    /// every connection and no rate).
    pub fn shape(&self, provider: &ProviderName) -> Shape {
        self.shapes
            .get(provider)
            .or_else(|| self.shapes.get(&ProviderName::other()))
            .unwrap_or(&self.default)
            .clone()
    }
}

/// Whether a temporary failure is the provider asking us to slow down, rather than a problem of one
/// message or mailbox. Greylisting and per-mailbox limits (4.2.x) are not: they say nothing about
/// the rate towards the provider. A bare "try again later" is throttling only from a 421 (the server
/// closing the connection on us) or with 4.7.0; with a recipient-level 451 it is as often greylisting.
pub fn is_throttling(reply: &str) -> bool {
    let text = reply.to_ascii_lowercase();
    if text.contains("greylist") || text.contains("graylist") {
        return false;
    }
    let status = EnhancedStatus::find_in(reply).map(|s| s.to_string());
    if status.as_deref().is_some_and(|s| s.starts_with("4.2.")) {
        return false;
    }
    const SIGNS: &[&str] = &[
        "rate limit",
        "ratelimit",
        "rate-limit",
        "throttl",
        "too many",
        "temporarily deferred",
        "unusual rate",
        "unexpected volume",
        "slow down",
        "[ts0",
        "[tss0",
        "rp-00",
    ];
    if SIGNS.iter().any(|s| text.contains(s)) {
        return true;
    }
    let code = ReplyCode::find_in(reply).map(ReplyCode::get);
    match status.as_deref() {
        Some("4.7.650" | "4.7.28") => true,
        Some("4.7.0") => matches!(code, Some(421 | 451)),
        _ => code == Some(421) && (text.contains("try again later") || text.contains("try later")),
    }
}

/// One provider's pace, as it adapts.
#[derive(Debug)]
pub struct Pace {
    /// The configured limit (also the starting pace).
    ceiling: Option<f64>,
    /// Messages per second now; `None`: no limit.
    rate: Option<f64>,
    /// The next free slot.
    next: Instant,
    /// Step of the additive increase, per second, set at each decrease.
    step: f64,
    last_change: Instant,
    last_decrease: Option<Instant>,
    /// Accepted messages in the last few seconds, to find a starting pace when an unlimited
    /// provider first throttles.
    recent: std::collections::VecDeque<Instant>,
    pub throttled: u64,
}

/// The slowest pace a throttling provider is pushed down to.
const MIN_RATE: f64 = 0.1;
/// How far back accepted messages are counted.
const WINDOW: Duration = Duration::from_secs(2);

impl Pace {
    pub fn new(ceiling: Option<f64>) -> Self {
        let now = Instant::now();
        Self {
            ceiling,
            rate: ceiling,
            next: now,
            step: 0.0,
            last_change: now,
            last_decrease: None,
            recent: Default::default(),
            throttled: 0,
        }
    }

    /// Messages per second now; `None` for no limit.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// Takes the next slot: how long to wait before sending.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let Some(rate) = self.rate else {
            return Duration::ZERO;
        };
        let slot = self.next.max(now);
        self.next = slot + Duration::from_secs_f64(1.0 / rate);
        slot - now
    }

    /// An accepted message: once a second, the pace grows by its step.
    pub fn accepted(&mut self, now: Instant) {
        self.recent.push_back(now);
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            self.recent.pop_front();
        }
        let Some(rate) = self.rate else { return };
        let elapsed = now.duration_since(self.last_change).as_secs_f64();
        if elapsed >= 1.0 && self.step > 0.0 {
            let mut grown = rate + self.step * elapsed.floor();
            if let Some(c) = self.ceiling {
                grown = grown.min(c);
            }
            self.rate = Some(grown);
            self.last_change = now;
        }
    }

    /// A throttling reply: halve the pace, once per round of messages that were already on their way,
    /// and hold the next slot back by one interval. Returns the pace now.
    pub fn throttled(&mut self, now: Instant) -> f64 {
        self.throttled += 1;
        let current = match self.rate {
            Some(r) => r,
            // Never limited before: start from what it accepted lately, over the time it took (at
            // least half a second, so a burst at the start does not read as a huge rate).
            None => {
                let span = self
                    .recent
                    .front()
                    .map_or(WINDOW, |t| now.duration_since(*t))
                    .clamp(Duration::from_millis(500), WINDOW);
                (self.recent.len() as f64 / span.as_secs_f64()).max(MIN_RATE * 2.0)
            }
        };
        // Replies to messages sent before the last decrease say nothing new.
        let fresh = self
            .last_decrease
            .is_none_or(|t| now.duration_since(t).as_secs_f64() >= (2.0 / current).max(1.0));
        if fresh {
            let halved = (current / 2.0).max(MIN_RATE);
            self.rate = Some(halved);
            // Grow back to where it was in about ten seconds of clean acceptance.
            self.step = (current - halved) / 10.0;
            self.last_decrease = Some(now);
            self.last_change = now;
            self.next = self.next.max(now) + Duration::from_secs_f64(1.0 / halved);
        }
        self.rate.unwrap_or(MIN_RATE)
    }
}

/// The warm-up's cap on messages for the day that `day` is (days since `start`, 0 on the first).
pub fn warmup_cap(first_day: u64, growth: f64, day: i64) -> u64 {
    if day < 0 {
        return 0;
    }
    let cap = first_day as f64 * growth.max(1.0).powi(day.min(400) as i32);
    if cap >= u64::MAX as f64 {
        u64::MAX
    } else {
        cap as u64
    }
}

/// Today in the warm-up: (days since its start, the UNIX time the day started, the UNIX time the next
/// one starts), in the configured time zone.
pub fn warmup_day(start: &str, tz: &str, now: i64) -> Result<(i64, i64, i64), ShapingError> {
    let zone = time_zone(tz)?;
    let start: jiff::civil::Date = start.trim().parse().map_err(|e| {
        ShapingError(format!(
            "warmup.start `{start}` is not a date (YYYY-MM-DD): {e}"
        ))
    })?;
    let now = jiff::Timestamp::from_second(now)
        .map_err(|e| ShapingError(e.to_string()))?
        .to_zoned(zone.clone());
    let today = now.date();
    let days = i64::from(
        start
            .until((jiff::Unit::Day, today))
            .map_err(|e| ShapingError(e.to_string()))?
            .get_days(),
    );
    let begin = today
        .to_zoned(zone.clone())
        .map_err(|e| ShapingError(e.to_string()))?
        .timestamp()
        .as_second();
    let end = today
        .tomorrow()
        .and_then(|d| d.to_zoned(zone))
        .map_err(|e| ShapingError(e.to_string()))?
        .timestamp()
        .as_second();
    Ok((days, begin, end))
}

fn time_zone(tz: &str) -> Result<jiff::tz::TimeZone, ShapingError> {
    jiff::tz::TimeZone::get(tz).map_err(|e| {
        ShapingError(format!(
            "time_zone `{tz}` is not a known time zone ({e}); use an IANA name such as `Europe/Berlin`, or `UTC`"
        ))
    })
}

/// A UNIX time as the operator reads it: in the configured time zone, with UTC beside it when the
/// zone is not UTC (`Wed, 2 Dec 2026 09:00 Europe/Berlin (08:00 UTC)`). Falls back to UTC when the
/// zone is unknown.
pub fn local_time(at: i64, tz: &str) -> String {
    let Ok(t) = jiff::Timestamp::from_second(at) else {
        return at.to_string();
    };
    let utc = t.strftime("%a, %-d %b %Y %H:%M UTC").to_string();
    match time_zone(tz) {
        Ok(zone) if !matches!(tz.trim(), "UTC" | "Etc/UTC" | "utc" | "") => {
            let z = t.to_zoned(zone);
            format!(
                "{} {tz} ({} UTC)",
                z.strftime("%a, %-d %b %Y %H:%M"),
                t.strftime("%H:%M")
            )
        }
        _ => utc,
    }
}

/// Reads `send --at`: RFC 3339 (`2026-12-02T09:00:00+01:00`, `…Z`), or a local date and time
/// (`2026-12-02 09:00`, `2026-12-02T09:00:30`) in the configured time zone. Returns UNIX seconds.
pub fn parse_at(text: &str, tz: &str) -> Result<i64, ShapingError> {
    let text = text.trim();
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t.as_second());
    }
    let zone = time_zone(tz)?;
    let local: jiff::civil::DateTime = text.parse().map_err(|_| {
        ShapingError(format!(
            "--at `{text}` is not a time: write RFC 3339 (`2026-12-02T09:00:00Z`, `2026-12-02T09:00:00+01:00`) or a local time in {tz} (`2026-12-02 09:00`)"
        ))
    })?;
    let zoned = local
        .to_zoned(zone)
        .map_err(|e| ShapingError(format!("--at `{text}`: {e}")))?;
    Ok(zoned.timestamp().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_replies_of_the_big_providers_are_recognised() {
        for reply in [
            "transient error (421): 4.7.0 Try again later, closing connection. (EHLO) x.example",
            "transient error (421): 4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address",
            "transient error (421): 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints",
            "transient error (451): 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation",
            "transient error (421): RP-001 (BAY004-MC1F23) Unfortunately, some messages from 192.0.2.1 weren't sent. Please try again. The mail server IP connecting to Outlook.com server has exceeded the rate limit",
            "transient error (421): Too many concurrent SMTP connections from this IP address; please try again later",
            "transient error (450): 4.7.1 Connection throttled",
            "transient error (451): Ratelimit exceeded for sender domain",
            "transient error (421): 4.7.0 [TS01] Messages from 192.0.2.1 temporarily deferred",
        ] {
            assert!(is_throttling(reply), "{reply}");
        }
    }

    #[test]
    fn other_temporary_failures_are_not_throttling() {
        for reply in [
            "transient error (450): 4.2.0 <a@example.org>: Recipient address rejected: Greylisted, see https://postgrey.schweikert.ch/help/example.org.html",
            "transient error (451): 4.7.1 Greylisting in action, please come back later",
            "transient error (452): 4.2.2 The email account that you tried to reach is over quota",
            "transient error (450): 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later point",
            "transient error (451): 4.3.0 Error: queue file write error",
            "transient error (451): 4.4.1 No answer from host",
            "connection refused",
            "timed out: no answer within 30 s",
            "transient error (450): 4.1.8 <bounce@example.org>: Sender address rejected: Domain not found",
            "transient error (421): 4.3.2 Service shutting down",
            "transient error (451): 4.7.1 <a@example.org>: Try again later",
            "transient error (452): 4.3.1 Insufficient system storage, quota exceeded",
        ] {
            assert!(!is_throttling(reply), "{reply}");
        }
    }

    #[test]
    fn a_throttled_pace_halves_once_per_round_and_grows_back() {
        let t0 = Instant::now();
        let mut p = Pace::new(Some(40.0));
        assert_eq!(p.rate(), Some(40.0));
        assert_eq!(p.throttled(t0), 20.0);
        // Replies to messages already on their way do not halve it again.
        assert_eq!(p.throttled(t0 + Duration::from_millis(100)), 20.0);
        assert_eq!(p.throttled, 2);
        // Ten seconds of acceptance bring it back to the ceiling, never above.
        for s in 1..=15 {
            p.accepted(t0 + Duration::from_secs(s));
        }
        assert_eq!(p.rate(), Some(40.0));
        // A second throttle after the round halves again.
        assert_eq!(p.throttled(t0 + Duration::from_secs(16)), 20.0);
    }

    #[test]
    fn an_unlimited_provider_starts_from_what_it_accepted() {
        let t0 = Instant::now();
        let mut p = Pace::new(None);
        assert_eq!(p.reserve(t0), Duration::ZERO);
        for i in 0..100 {
            p.accepted(t0 + Duration::from_millis(i * 10));
        }
        // 100 accepted in the last second: 100/s, halved.
        let r = p.throttled(t0 + Duration::from_secs(1));
        assert_eq!(r, 50.0);
        let now = t0 + Duration::from_secs(1);
        let first = p.reserve(now);
        let second = p.reserve(now);
        assert!(second > first, "slots are spaced: {first:?} {second:?}");
        let gap = (second - first).as_secs_f64();
        assert!(gap > 0.019 && gap < 0.021, "{gap}");
    }

    #[test]
    fn warmup_grows_by_day() {
        assert_eq!(warmup_cap(500, 1.5, 0), 500);
        assert_eq!(warmup_cap(500, 1.5, 1), 750);
        assert_eq!(warmup_cap(500, 1.5, 2), 1125);
        assert_eq!(warmup_cap(500, 1.5, -1), 0);
        assert_eq!(warmup_cap(500, 2.0, 10_000), u64::MAX);
        // 2026-11-30 12:00 UTC is day 2 of a warm-up that started on 2026-11-28.
        let (day, begin, end) = warmup_day("2026-11-28", "UTC", 1_796_040_000).unwrap();
        assert_eq!(day, 2);
        assert_eq!(end - begin, 86_400);
        assert!(begin <= 1_796_040_000 && 1_796_040_000 < end);
        assert!(warmup_day("28.11.2026", "UTC", 0).is_err());
        assert!(warmup_day("2026-11-28", "Mars/Olympus", 0).is_err());
    }

    #[test]
    fn at_reads_rfc3339_and_local_times() {
        assert_eq!(
            parse_at("2026-12-02T09:00:00Z", "UTC").unwrap(),
            1_796_202_000
        );
        assert_eq!(
            parse_at("2026-12-02T10:00:00+01:00", "UTC").unwrap(),
            1_796_202_000
        );
        assert_eq!(
            parse_at("2026-12-02 10:00", "Europe/Berlin").unwrap(),
            1_796_202_000
        );
        assert_eq!(parse_at("2026-12-02T09:00", "UTC").unwrap(), 1_796_202_000);
        let e = parse_at("next wednesday", "UTC").unwrap_err().to_string();
        assert!(e.contains("RFC 3339"), "{e}");
        assert!(parse_at("2026-12-02 10:00", "Nowhere/Void").is_err());
    }
}
