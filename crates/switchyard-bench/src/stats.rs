//! The arithmetic of the report: medians of repeated samples, ratios against a floor, the
//! overhead per step, and the goal.

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
