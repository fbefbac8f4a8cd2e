//! Finding the highest sustainable rate: climb a 1-2-5 ladder of rates until one fails, then
//! bisect between the last rate that passed and the first that failed until they are within
//! a given ratio of each other. Pure: the caller runs each probe and records its verdict.

use serde::Serialize;

use crate::stats::Summary;

/// The state of one search.
#[derive(Debug, Clone)]
pub struct RateSearch {
    /// The rungs still to climb, ascending.
    ladder: Vec<f64>,
    /// The highest rate that passed.
    passed: Option<f64>,
    /// The lowest rate that failed.
    failed: Option<f64>,
    /// Stop bisecting once `failed / passed` is at most this.
    precision: f64,
    /// Below this, a rate is not worth probing (when even the first rung fails).
    floor: f64,
}

impl RateSearch {
    /// A search from `start` up to `max` events/s, stopping when the bracket is within
    /// `precision` (e.g. 1.1 for 10 %).
    pub fn new(start: f64, max: f64, precision: f64) -> RateSearch {
        RateSearch {
            ladder: ladder(start, max),
            passed: None,
            failed: None,
            precision: precision.max(1.001),
            floor: (start / 20.0).max(1.0),
        }
    }

    /// The next rate to probe, or `None` when the search is over.
    pub fn next(&self) -> Option<f64> {
        let Some(hi) = self.failed else {
            let above = self.passed.unwrap_or(0.0);
            return self.ladder.iter().copied().find(|&r| r > above);
        };
        let lo = self.passed.unwrap_or(0.0);
        if lo > 0.0 && hi / lo <= self.precision {
            return None;
        }
        if lo == 0.0 && hi <= self.floor {
            return None;
        }
        let mid = round_rate((lo + hi) / 2.0);
        (mid > lo && mid < hi).then_some(mid)
    }

    /// Records the verdict of a probe at `rate`.
    pub fn record(&mut self, rate: f64, passed: bool) {
        if passed {
            if self.passed.is_none_or(|p| rate > p) {
                self.passed = Some(rate);
            }
        } else if self.failed.is_none_or(|f| rate < f) {
            self.failed = Some(rate);
        }
    }

    /// The highest rate that passed so far.
    pub fn best(&self) -> Option<f64> {
        self.passed
    }

    /// Whether the search stopped because the ladder ran out (every rung passed).
    pub fn hit_the_ceiling(&self) -> bool {
        self.failed.is_none() && self.next().is_none()
    }
}

/// `start`, then the 1-2-5 rates above it up to `max` inclusive: 1000, 2000, 5000, 10000, ...
pub fn ladder(start: f64, max: f64) -> Vec<f64> {
    let mut rates = Vec::new();
    if start.is_nan() || start <= 0.0 || start > max {
        return rates;
    }
    rates.push(start);
    let mut decade = 10f64.powf(start.log10().floor());
    'outer: loop {
        for m in [1.0, 2.0, 5.0] {
            let r = decade * m;
            if r > max * (1.0 + 1e-9) {
                break 'outer;
            }
            if r > start * (1.0 + 1e-9) {
                rates.push(r);
            }
        }
        decade *= 10.0;
    }
    rates
}

/// `rate` rounded to two significant digits (12,345 → 12,000; 1,550 → 1,600).
pub fn round_rate(rate: f64) -> f64 {
    if rate.is_nan() || rate <= 0.0 {
        return 0.0;
    }
    let unit = 10f64.powf(rate.log10().floor() - 1.0);
    (rate / unit).round() * unit
}

/// Whether a probe's outcome counts as sustained, and why not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub sustained: bool,
    /// Why not, in words; empty when sustained.
    pub reason: String,
}

/// The counts and latencies a verdict is made from.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// Requests answered with a 2xx.
    pub ok: u64,
    /// Requests answered otherwise, or lost to a connection error or a timeout.
    pub failed: u64,
    /// Requests not sent at all because their time was too long past.
    pub unsent: u64,
    pub latency: Option<&'a Summary>,
}

/// A rate is sustained when every request was sent and answered 2xx and the p99 latency,
/// from each request's scheduled send time, is at most `p99_bound_ms`.
pub fn verdict(outcome: Outcome<'_>, p99_bound_ms: f64) -> Verdict {
    let mut reasons = Vec::new();
    if outcome.failed > 0 {
        reasons.push(format!("{} failed requests", outcome.failed));
    }
    if outcome.unsent > 0 {
        reasons.push(format!(
            "{} requests not sent before the deadline",
            outcome.unsent
        ));
    }
    match outcome.latency {
        Some(l) if l.p99_ms > p99_bound_ms => reasons.push(format!(
            "p99 {:.1} ms above the {p99_bound_ms} ms bound",
            l.p99_ms
        )),
        Some(_) => {}
        None if outcome.ok == 0 => reasons.push("no request succeeded".to_owned()),
        None => {}
    }
    Verdict {
        sustained: reasons.is_empty(),
        reason: reasons.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_is_one_two_five() {
        assert_eq!(
            ladder(1000.0, 60_000.0),
            [1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0, 50_000.0]
        );
        assert_eq!(ladder(2000.0, 10_000.0), [2000.0, 5000.0, 10_000.0]);
        assert_eq!(ladder(3000.0, 10_000.0), [3000.0, 5000.0, 10_000.0]);
        assert_eq!(ladder(4000.0, 4000.0), [4000.0]);
        assert!(ladder(0.0, 10.0).is_empty());
        assert!(ladder(1000.0, 500.0).is_empty());
    }

    #[test]
    fn rates_round_to_two_significant_digits() {
        assert_eq!(round_rate(12_345.0), 12_000.0);
        assert_eq!(round_rate(1550.0), 1600.0);
        assert_eq!(round_rate(75_000.0), 75_000.0);
        assert_eq!(round_rate(0.0), 0.0);
    }

    /// Runs a search against a system that sustains up to `capacity`; the probed rates.
    fn search(capacity: f64, max: f64) -> (Vec<f64>, RateSearch) {
        let mut s = RateSearch::new(1000.0, max, 1.1);
        let mut probed = Vec::new();
        while let Some(rate) = s.next() {
            assert!(probed.len() < 50, "the search does not end: {probed:?}");
            probed.push(rate);
            s.record(rate, rate <= capacity);
        }
        (probed, s)
    }

    #[test]
    fn the_search_climbs_then_bisects() {
        let (probed, s) = search(13_000.0, 1_000_000.0);
        assert_eq!(
            probed,
            [
                1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0, 15_000.0, 13_000.0, 14_000.0
            ]
        );
        assert_eq!(s.best(), Some(13_000.0));
        assert!(!s.hit_the_ceiling());
    }

    #[test]
    fn the_search_stops_at_the_top_of_the_ladder() {
        let (probed, s) = search(f64::INFINITY, 20_000.0);
        assert_eq!(probed, [1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0]);
        assert_eq!(s.best(), Some(20_000.0));
        assert!(s.hit_the_ceiling());
    }

    #[test]
    fn the_search_goes_below_the_first_rung_when_it_fails() {
        let (probed, s) = search(300.0, 100_000.0);
        assert_eq!(probed[0], 1000.0);
        let best = s.best().unwrap();
        assert!((270.0..=300.0).contains(&best), "{best} from {probed:?}");
        let (_, nothing) = search(0.0, 100_000.0);
        assert_eq!(nothing.best(), None);
    }

    #[test]
    fn a_verdict_needs_no_failures_and_a_p99_within_the_bound() {
        let fast = Summary::of_ms(&[1.0, 2.0, 3.0]).unwrap();
        let slow = Summary::of_ms(&[10.0, 200.0]).unwrap();
        let outcome = |failed, unsent, latency| Outcome {
            ok: 3,
            failed,
            unsent,
            latency,
        };
        assert_eq!(
            verdict(outcome(0, 0, Some(&fast)), 50.0),
            Verdict {
                sustained: true,
                reason: String::new()
            }
        );
        assert_eq!(
            verdict(outcome(2, 0, Some(&fast)), 50.0).reason,
            "2 failed requests"
        );
        assert_eq!(
            verdict(outcome(0, 5, Some(&slow)), 50.0).reason,
            "5 requests not sent before the deadline; p99 200.0 ms above the 50 ms bound"
        );
        let none = Outcome {
            ok: 0,
            failed: 0,
            unsent: 0,
            latency: None,
        };
        assert!(!verdict(none, 50.0).sustained);
    }
}
