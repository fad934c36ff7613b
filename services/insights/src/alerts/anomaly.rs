//! The anomaly detector: a day's value against the same weekday of previous weeks,
//! robustly (median and MAD, so one odd week in the baseline does not hide or fake an
//! anomaly). Plain arithmetic, no I/O.
//!
//! A value `x` is anomalous when `|x − median| > K · σ`, where
//! `σ = max(1.4826 · MAD, RELATIVE_FLOOR · |median|)`: 1.4826 · MAD estimates the
//! standard deviation of normally distributed data, and the floor keeps a very steady
//! baseline (MAD near or at 0) from flagging a small wobble. With σ = 0 (every baseline
//! value 0) nothing is judged. Fewer than [`MIN_BASELINE_WEEKS`] usable weeks: not
//! judged either.

/// Same weekdays looked back at.
pub const BASELINE_WEEKS: u64 = 8;
/// Usable baseline weeks needed before a day is judged.
pub const MIN_BASELINE_WEEKS: usize = 4;
/// How many robust standard deviations away counts as an anomaly.
pub const K: f64 = 3.0;
/// Scales the MAD to a standard deviation for normal data.
pub const MAD_SCALE: f64 = 1.4826;
/// The smallest σ, as a fraction of the median: 5 %.
pub const RELATIVE_FLOOR: f64 = 0.05;

/// Which way a value left its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    High,
    Low,
}

/// What the detector concluded about one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Detection {
    /// Too little baseline (or a baseline of zeros): no verdict.
    NotJudged,
    /// Within `median ± K·σ`.
    Normal { median: f64, sigma: f64 },
    /// Outside it.
    Anomalous(Anomaly),
}

/// How far out an anomalous value is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anomaly {
    pub median: f64,
    pub sigma: f64,
    /// `(x − median) / σ`.
    pub score: f64,
    pub direction: Direction,
}

/// The median of `values` (not empty; NaN-free).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// The median absolute deviation of `values` around their median.
pub fn mad(values: &[f64]) -> f64 {
    let center = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    median(&deviations)
}

/// Judges `value` against `baseline` (the same weekday of earlier weeks).
pub fn detect(value: f64, baseline: &[f64]) -> Detection {
    let usable: Vec<f64> = baseline.iter().copied().filter(|v| v.is_finite()).collect();
    if usable.len() < MIN_BASELINE_WEEKS || !value.is_finite() {
        return Detection::NotJudged;
    }
    let median = median(&usable);
    let sigma = (MAD_SCALE * mad(&usable)).max(RELATIVE_FLOOR * median.abs());
    if sigma == 0.0 {
        return Detection::NotJudged;
    }
    let score = (value - median) / sigma;
    if score.abs() > K {
        Detection::Anomalous(Anomaly {
            median,
            sigma,
            score,
            direction: if score > 0.0 {
                Direction::High
            } else {
                Direction::Low
            },
        })
    } else {
        Detection::Normal { median, sigma }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_by_hand() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        // |x − 2| = 1, 1, 0, 2, 98 → median 1.
        assert_eq!(mad(&[1.0, 3.0, 2.0, 4.0, 100.0]), 1.0);
    }

    #[test]
    fn a_steady_baseline_flags_a_drop_and_a_spike_but_not_noise() {
        let baseline = [1000.0, 1040.0, 980.0, 1010.0, 990.0, 1020.0, 970.0, 1000.0];
        // median 1000, MAD 15 → 1.4826·15 = 22.2 < floor 50: σ = 50, band 850..1150.
        assert!(matches!(
            detect(1100.0, &baseline),
            Detection::Normal { median, sigma } if median == 1000.0 && sigma == 50.0
        ));
        match detect(400.0, &baseline) {
            Detection::Anomalous(Anomaly {
                direction, score, ..
            }) => {
                assert_eq!(direction, Direction::Low);
                assert!((score + 12.0).abs() < 1e-9, "{score}");
            }
            other => panic!("a 60 % drop is anomalous: {other:?}"),
        }
        assert!(matches!(
            detect(1200.0, &baseline),
            Detection::Anomalous(Anomaly {
                direction: Direction::High,
                ..
            })
        ));
    }

    #[test]
    fn one_odd_week_does_not_move_the_baseline() {
        // A Black-Friday week in the baseline: the median and MAD ignore it.
        let baseline = [100.0, 110.0, 90.0, 105.0, 95.0, 100.0, 900.0, 100.0];
        assert!(matches!(detect(104.0, &baseline), Detection::Normal { .. }));
        assert!(matches!(detect(30.0, &baseline), Detection::Anomalous(_)));
    }

    #[test]
    fn mad_zero_uses_the_floor_and_zeros_are_not_judged() {
        let flat = [200.0; 8];
        // σ = 5 % of 200 = 10: 225 is 2.5σ away (normal), 240 is 4σ (anomalous).
        assert!(matches!(detect(225.0, &flat), Detection::Normal { .. }));
        assert!(matches!(detect(240.0, &flat), Detection::Anomalous(_)));
        assert_eq!(detect(50.0, &[0.0; 8]), Detection::NotJudged);
    }

    #[test]
    fn too_little_baseline_is_not_judged() {
        assert_eq!(detect(0.0, &[100.0, 100.0, 100.0]), Detection::NotJudged);
        assert_eq!(
            detect(0.0, &[100.0, f64::NAN, 100.0, 100.0]),
            Detection::NotJudged
        );
        assert!(matches!(
            detect(0.0, &[100.0, 100.0, 100.0, 100.0]),
            Detection::Anomalous(_)
        ));
    }
}
