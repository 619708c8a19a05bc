//! The campaign's circuit breaker: when a mailbox provider refuses us (not the readers) often enough,
//! the campaign pauses itself instead of going on into a block list.
//!
//! Per provider, the breaker keeps the last `window` attempts, each an acceptance, a refusal about
//! the sender ([`BounceReason::is_sender_side`]: block list, reputation, authentication, identity,
//! rate, relaying) or something else (a reader's address gone, a retry). It trips when the refusals
//! about us in the window are at least `percent` % of the attempts there and at least
//! `min_refusals`, or when `in_a_row` of them come in a row. It is pure: the engine feeds it and
//! acts on the [`Trip`].

use std::collections::{HashMap, VecDeque};
use std::fmt;

use crate::config::BreakerSettings;
use crate::domain::{BounceReason, ProviderName};

/// What one attempt at a provider came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The provider took the message.
    Accepted,
    /// Refused for a reason about us; `reply` is the provider's answer (one line, addresses masked).
    SenderRefused { reason: BounceReason, reply: String },
    /// Anything else that was an attempt (a reader's refusal, a temporary failure).
    Other,
}

/// Why the breaker tripped: one provider, how many refusals about us in how many attempts, and a
/// sample of what it said.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    pub provider: ProviderName,
    /// Refusals about us counted (in the window, or in the row).
    pub refusals: usize,
    /// Attempts in the window (equal to `refusals` when `in_a_row`).
    pub attempts: usize,
    /// Tripped by refusals in a row rather than by their share of the window.
    pub in_a_row: bool,
    /// The most frequent reason among the refusals in the window.
    pub reason: BounceReason,
    /// The last refusal's reply.
    pub sample: String,
}

impl fmt::Display for Trip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.in_a_row {
            write!(
                f,
                "{} refused {} messages in a row for a reason about us, not the readers ({})",
                self.provider, self.refusals, self.reason
            )?;
        } else {
            write!(
                f,
                "{} refused {} of the last {} messages ({:.0}%) for a reason about us, not the readers ({})",
                self.provider,
                self.refusals,
                self.attempts,
                100.0 * self.refusals as f64 / self.attempts.max(1) as f64,
                self.reason
            )?;
        }
        write!(f, "; last reply: \"{}\"", self.sample)
    }
}

/// One provider's recent attempts.
#[derive(Debug, Default)]
struct Window {
    /// `Some(reason)` for a refusal about us, `None` for any other attempt; newest last.
    recent: VecDeque<Option<BounceReason>>,
    refusals: usize,
    in_a_row: usize,
    sample: String,
}

/// The breaker of one campaign run.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    providers: HashMap<ProviderName, Window>,
    tripped: bool,
}

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            providers: HashMap::new(),
            tripped: false,
        }
    }

    /// Whether it has tripped (it trips once; later attempts change nothing).
    pub fn tripped(&self) -> bool {
        self.tripped
    }

    /// Counts one attempt at `provider`; returns the trip the first time a threshold is passed.
    pub fn record(&mut self, provider: &ProviderName, attempt: Attempt) -> Option<Trip> {
        if !self.settings.enabled || self.tripped {
            return None;
        }
        let size = self.settings.window.max(1);
        let w = self.providers.entry(provider.clone()).or_default();
        let entry = match attempt {
            Attempt::Accepted => {
                w.in_a_row = 0;
                None
            }
            Attempt::Other => None,
            Attempt::SenderRefused { reason, reply } => {
                w.in_a_row += 1;
                w.refusals += 1;
                w.sample = reply;
                Some(reason)
            }
        };
        w.recent.push_back(entry);
        while w.recent.len() > size {
            if w.recent.pop_front().flatten().is_some() {
                w.refusals -= 1;
            }
        }
        let attempts = w.recent.len();
        let in_a_row = self.settings.in_a_row > 0 && w.in_a_row >= self.settings.in_a_row;
        let share = w.refusals >= self.settings.min_refusals.max(1)
            && w.refusals as f64 * 100.0 >= self.settings.percent * attempts as f64;
        if !(in_a_row || share) {
            return None;
        }
        self.tripped = true;
        Some(Trip {
            provider: provider.clone(),
            refusals: if in_a_row { w.in_a_row } else { w.refusals },
            attempts: if in_a_row { w.in_a_row } else { attempts },
            in_a_row,
            reason: most_frequent(&w.recent),
            sample: w.sample.clone(),
        })
    }
}

/// The reason most refusals in the window gave (the latest on a tie).
fn most_frequent(recent: &VecDeque<Option<BounceReason>>) -> BounceReason {
    let mut counts: Vec<(BounceReason, usize)> = Vec::new();
    for r in recent.iter().flatten() {
        match counts.iter_mut().find(|(x, _)| x == r) {
            Some((_, n)) => *n += 1,
            None => counts.push((*r, 1)),
        }
    }
    let mut best: Option<(BounceReason, usize)> = None;
    for (r, n) in counts {
        if best.is_none_or(|(_, b)| n >= b) {
            best = Some((r, n));
        }
    }
    best.map_or(BounceReason::PolicyRefused, |(r, _)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings::default()
    }

    fn gmail() -> ProviderName {
        ProviderName::parse("google").unwrap()
    }

    fn refused() -> Attempt {
        Attempt::SenderRefused {
            reason: BounceReason::BadReputation,
            reply: "550 5.7.1 blocked using a reputation list".into(),
        }
    }

    #[test]
    fn trips_on_the_share_of_the_window_once_enough_refusals() {
        let mut b = Breaker::new(settings());
        let p = gmail();
        // One refusal in five: 20 % of the window, but the tenth refusal is what trips it.
        let mut trip = None;
        for i in 0..100 {
            let a = if i % 5 == 4 {
                refused()
            } else {
                Attempt::Accepted
            };
            if let Some(t) = b.record(&p, a) {
                trip = Some((i, t));
                break;
            }
        }
        let (i, t) = trip.expect("tripped");
        assert_eq!(i, 49, "the tenth refusal");
        assert_eq!((t.refusals, t.attempts, t.in_a_row), (10, 50, false));
        assert_eq!(t.reason, BounceReason::BadReputation);
        let s = t.to_string();
        assert!(
            s.contains("google refused 10 of the last 50 messages (20%)")
                && s.contains("bad-reputation")
                && s.contains("reputation list"),
            "{s}"
        );
        assert!(b.tripped());
        assert_eq!(b.record(&p, refused()), None, "trips once");
    }

    #[test]
    fn below_the_share_it_does_not_trip() {
        let mut b = Breaker::new(settings());
        let p = gmail();
        // One in 25 is 4 %: under 5 % however long it goes.
        for i in 0..2000 {
            let a = if i % 25 == 0 {
                refused()
            } else {
                Attempt::Accepted
            };
            assert_eq!(b.record(&p, a), None, "attempt {i}");
        }
    }

    #[test]
    fn old_refusals_leave_the_window() {
        let mut s = settings();
        s.window = 100;
        let mut b = Breaker::new(s);
        let p = gmail();
        for _ in 0..9 {
            assert_eq!(b.record(&p, refused()), None);
        }
        for _ in 0..100 {
            assert_eq!(b.record(&p, Attempt::Accepted), None);
        }
        // The nine are gone: nine more make nine, not eighteen.
        for _ in 0..9 {
            assert_eq!(b.record(&p, refused()), None);
        }
        assert!(b.record(&p, refused()).is_some(), "the tenth in the window");
    }

    #[test]
    fn refusals_in_a_row_trip_it_even_under_the_share() {
        let mut s = settings();
        s.percent = 50.0;
        s.min_refusals = 1000;
        let mut b = Breaker::new(s);
        let p = gmail();
        for _ in 0..400 {
            b.record(&p, Attempt::Accepted);
        }
        for i in 0..19 {
            assert_eq!(b.record(&p, refused()), None, "{i}");
        }
        let t = b.record(&p, refused()).expect("the twentieth in a row");
        assert!(t.in_a_row);
        assert!(
            t.to_string()
                .starts_with("google refused 20 messages in a row"),
            "{t}"
        );
    }

    #[test]
    fn a_success_breaks_the_row_and_readers_refusals_do_not_count() {
        let mut s = settings();
        s.min_refusals = 1000;
        let mut b = Breaker::new(s);
        let p = gmail();
        for _ in 0..3 {
            for _ in 0..19 {
                assert_eq!(b.record(&p, refused()), None);
            }
            assert_eq!(b.record(&p, Attempt::Accepted), None);
        }
        // A reader's own refusal (user unknown) is neither.
        for _ in 0..500 {
            assert_eq!(b.record(&p, Attempt::Other), None);
        }
    }

    #[test]
    fn providers_are_counted_apart() {
        let mut s = settings();
        s.min_refusals = 1000;
        let mut b = Breaker::new(s);
        let other = ProviderName::other();
        for i in 0..19 {
            assert_eq!(b.record(&gmail(), refused()), None, "{i}");
            assert_eq!(b.record(&other, Attempt::Accepted), None);
        }
        // Another provider's successes do not break gmail's row: the 20th there trips it.
        let t = b.record(&gmail(), refused()).unwrap();
        assert_eq!(t.provider, gmail());
    }

    #[test]
    fn disabled_never_trips() {
        let mut s = settings();
        s.enabled = false;
        let mut b = Breaker::new(s);
        for _ in 0..1000 {
            assert_eq!(b.record(&gmail(), refused()), None);
        }
    }

    #[test]
    fn the_reason_is_the_most_frequent() {
        let mut s = settings();
        s.min_refusals = 1000;
        let mut b = Breaker::new(s);
        let p = gmail();
        for i in 0..20 {
            let reason = if i < 15 {
                BounceReason::AuthFailure
            } else {
                BounceReason::RateLimited
            };
            let t = b.record(
                &p,
                Attempt::SenderRefused {
                    reason,
                    reply: "x".into(),
                },
            );
            if i == 19 {
                assert_eq!(t.unwrap().reason, BounceReason::AuthFailure);
            }
        }
    }
}
