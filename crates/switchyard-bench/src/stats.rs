//! The arithmetic of the reports: medians of repeated samples, percentiles of latencies,
//! ratios against a floor, the overhead per step, and B3's goal.

use serde::Serialize;

/// B3's goal (BENCHMARKS.md): Switchyard's wall time at most this many times the durable floor.
pub const GOAL_RATIO: f64 = 1.2;

/// The median of `samples` (the mean of the two middle ones for an even count); `None` when
/// there are none. NaNs sort last.
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The value at percentile `p` (0 < p ≤ 100) of `sorted` (ascending), by the nearest-rank
/// method: the smallest sample that at least `p` percent of the samples are at or below.
/// `None` when there are no samples or `p` is out of range.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let n = sorted.len();
    // ceil(p / 100 * n), computed so that exact products (p = 50, n = 200) do not round up
    // by a floating-point hair.
    let rank = ((p / 100.0 * n as f64) - 1e-9).ceil().max(1.0) as usize;
    sorted.get(rank.min(n) - 1).copied()
}

/// A latency distribution in milliseconds, as the reports show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Summary {
    /// The distribution of `samples` (milliseconds, any order; NaNs sort last); `None` when
    /// there are none.
    pub fn of_ms(samples: &[f64]) -> Option<Summary> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            count: sorted.len(),
            min_ms: *sorted.first()?,
            p50_ms: percentile(&sorted, 50.0)?,
            p90_ms: percentile(&sorted, 90.0)?,
            p99_ms: percentile(&sorted, 99.0)?,
            max_ms: *sorted.last()?,
            mean_ms: sorted.iter().sum::<f64>() / sorted.len() as f64,
        })
    }

    /// The distribution of `samples` in microseconds, converted to milliseconds.
    pub fn of_micros(samples: &[u32]) -> Option<Summary> {
        let ms: Vec<f64> = samples.iter().map(|&us| f64::from(us) / 1000.0).collect();
        Summary::of_ms(&ms)
    }
}

/// `measured / floor`; `None` when the floor is not a positive time.
pub fn ratio(measured: f64, floor: f64) -> Option<f64> {
    (floor > 0.0).then(|| measured / floor)
}

/// What each step costs beyond the floor: `(measured - floor) / steps`, in the unit of the
/// inputs. Negative when the measured time is below the floor. `None` for zero steps.
pub fn overhead_per_step(measured: f64, floor: f64, steps: usize) -> Option<f64> {
    (steps > 0).then(|| (measured - floor) / steps as f64)
}

/// Whether a ratio meets [`GOAL_RATIO`].
pub fn meets_goal(ratio: f64) -> bool {
    ratio <= GOAL_RATIO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let hundred: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 50.0), Some(50));
        assert_eq!(percentile(&hundred, 99.0), Some(99));
        assert_eq!(percentile(&hundred, 99.5), Some(100));
        assert_eq!(percentile(&hundred, 100.0), Some(100));
        assert_eq!(percentile(&hundred, 0.1), Some(1));
        let three = [10, 20, 30];
        assert_eq!(percentile(&three, 50.0), Some(20));
        assert_eq!(percentile(&three, 90.0), Some(30));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
        assert_eq!(percentile(&three, 0.0), None);
        assert_eq!(percentile(&three, 101.0), None);
    }

    #[test]
    fn a_summary_sorts_its_samples() {
        let s = Summary::of_ms(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.count, 4);
        assert_eq!(s.min_ms, 1.0);
        assert_eq!(s.p50_ms, 2.0);
        assert_eq!(s.p90_ms, 4.0);
        assert_eq!(s.p99_ms, 4.0);
        assert_eq!(s.max_ms, 4.0);
        assert_eq!(s.mean_ms, 2.5);
        assert_eq!(Summary::of_ms(&[]), None);
        let us = Summary::of_micros(&[1500, 500]).unwrap();
        assert_eq!((us.min_ms, us.max_ms), (0.5, 1.5));
    }

    #[test]
    fn ratio_needs_a_positive_floor() {
        assert_eq!(ratio(300.0, 250.0), Some(1.2));
        assert_eq!(ratio(300.0, 0.0), None);
    }

    #[test]
    fn overhead_is_spread_over_the_steps() {
        assert_eq!(overhead_per_step(900.0, 500.0, 200), Some(2.0));
        assert_eq!(overhead_per_step(400.0, 500.0, 100), Some(-1.0));
        assert_eq!(overhead_per_step(400.0, 500.0, 0), None);
    }

    #[test]
    fn the_goal_includes_its_bound() {
        assert!(meets_goal(1.2));
        assert!(meets_goal(0.9));
        assert!(!meets_goal(1.21));
    }
}
