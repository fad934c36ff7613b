//! Threshold rules: their conditions, severities and windows, and when one fires.
//! Plain Rust, no I/O.
//!
//! **Windows.** Rollups are daily, so a rule's window is rounded up to whole
//! brand-local days (`ceil(window / 24 h)`: 1 h–24 h is one day, 36 h two) and covers
//! the last that many *complete* days, ending yesterday in the brand's time zone: a
//! rule never judges a day still in progress. CHANGE_* compares it with the same number
//! of days just before.

use chrono::{Days, NaiveDate};

/// The shortest window a rule may have: one hour.
pub const MIN_WINDOW_SECONDS: i64 = 3600;
/// The longest: 90 days.
pub const MAX_WINDOW_SECONDS: i64 = 90 * 86_400;

/// How a rule compares its metric with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Above,
    Below,
    ChangeUp,
    ChangeDown,
}

impl Condition {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Above => "above",
            Condition::Below => "below",
            Condition::ChangeUp => "change_up",
            Condition::ChangeDown => "change_down",
        }
    }

    pub fn parse(name: &str) -> Option<Condition> {
        Some(match name {
            "above" => Condition::Above,
            "below" => Condition::Below,
            "change_up" => Condition::ChangeUp,
            "change_down" => Condition::ChangeDown,
            _ => return None,
        })
    }

    /// Whether it compares two windows.
    pub fn is_change(self) -> bool {
        matches!(self, Condition::ChangeUp | Condition::ChangeDown)
    }
}

/// How serious an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Whole brand days a window of `window_seconds` covers (at least one).
pub fn window_days(window_seconds: i64) -> u64 {
    u64::try_from((window_seconds.max(1) + 86_399) / 86_400).unwrap_or(1)
}

/// The window evaluated on `today` (its last day is yesterday) and the one before it,
/// each as `(first, last)`.
pub fn windows(today: NaiveDate, days: u64) -> ((NaiveDate, NaiveDate), (NaiveDate, NaiveDate)) {
    let last = today - Days::new(1);
    let first = today - Days::new(days);
    let previous_last = first - Days::new(1);
    let previous_first = first - Days::new(days);
    ((first, last), (previous_first, previous_last))
}

/// The relative change from `previous` to `current`; `None` when `previous` is 0.
pub fn change(current: f64, previous: f64) -> Option<f64> {
    (previous != 0.0).then(|| (current - previous) / previous.abs())
}

/// Whether the rule fires: ABOVE/BELOW compare `current` with the threshold; CHANGE_*
/// compare the relative change from `previous` with it (never firing without a
/// previous value to compare with).
pub fn fires(condition: Condition, threshold: f64, current: f64, previous: Option<f64>) -> bool {
    match condition {
        Condition::Above => current > threshold,
        Condition::Below => current < threshold,
        Condition::ChangeUp => previous
            .and_then(|p| change(current, p))
            .is_some_and(|c| c > threshold),
        Condition::ChangeDown => previous
            .and_then(|p| change(current, p))
            .is_some_and(|c| -c > threshold),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).expect("date")
    }

    #[test]
    fn windows_are_whole_complete_days() {
        assert_eq!(window_days(3600), 1);
        assert_eq!(window_days(86_400), 1);
        assert_eq!(window_days(86_401), 2);
        assert_eq!(window_days(7 * 86_400), 7);
        assert_eq!(
            windows(day(15), 1),
            ((day(14), day(14)), (day(13), day(13)))
        );
        assert_eq!(windows(day(15), 7), ((day(8), day(14)), (day(1), day(7))));
    }

    #[test]
    fn conditions() {
        assert!(fires(Condition::Above, 10.0, 11.0, None));
        assert!(!fires(Condition::Above, 10.0, 10.0, None));
        assert!(fires(Condition::Below, 10.0, 9.0, None));
        assert!(fires(Condition::ChangeUp, 0.2, 130.0, Some(100.0)));
        assert!(!fires(Condition::ChangeUp, 0.2, 115.0, Some(100.0)));
        assert!(fires(Condition::ChangeDown, 0.2, 70.0, Some(100.0)));
        assert!(!fires(Condition::ChangeDown, 0.2, 130.0, Some(100.0)));
        assert!(!fires(Condition::ChangeUp, 0.2, 130.0, Some(0.0)));
        assert!(!fires(Condition::ChangeDown, 0.2, 70.0, None));
        assert_eq!(Severity::parse("critical"), Some(Severity::Critical));
        assert_eq!(Condition::parse("change_up"), Some(Condition::ChangeUp));
    }
}
