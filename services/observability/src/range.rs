//! The time range of a query a client triggers: defaulted when unset, capped when too
//! long, so no request scans the whole history. No tonic, no SQL.

use chrono::{DateTime, Duration, Utc};

/// The default span and the longest span one kind of query may cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeRule {
    pub default: Duration,
    pub max: Duration,
}

/// ListEvents: unset means the last 24 hours (the contract), at most 400 days.
pub const EVENTS: RangeRule = RangeRule {
    default: Duration::hours(24),
    max: Duration::days(400),
};

/// Usage and accuracy summaries: the last 30 days by default, at most 400 days (the
/// contract's cap).
pub const SUMMARIES: RangeRule = RangeRule {
    default: Duration::days(30),
    max: Duration::days(400),
};

/// Latency summaries: the last 30 days by default, at most 31 days (the contract).
pub const LATENCY: RangeRule = RangeRule {
    default: Duration::days(30),
    max: Duration::days(31),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeError {
    /// `end` is not after `start`.
    Empty,
    /// Longer than the rule allows.
    TooLong(Duration),
}

impl RangeError {
    pub fn describe(self) -> String {
        match self {
            RangeError::Empty => "end_time must be after start_time".to_owned(),
            RangeError::TooLong(max) => {
                format!("must span at most {} days", max.num_days())
            }
        }
    }
}

/// [start, end): an unset end is `now`, an unset start is `default` before the end.
pub fn resolve(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    rule: RangeRule,
) -> Result<(DateTime<Utc>, DateTime<Utc>), RangeError> {
    let end = end.unwrap_or(now);
    let start = start.unwrap_or(end - rule.default);
    if end <= start {
        return Err(RangeError::Empty);
    }
    if end - start > rule.max {
        return Err(RangeError::TooLong(rule.max));
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_caps() {
        let now = Utc::now();
        assert_eq!(
            resolve(None, None, now, SUMMARIES),
            Ok((now - Duration::days(30), now))
        );
        let start = now - Duration::days(10);
        assert_eq!(resolve(Some(start), None, now, SUMMARIES), Ok((start, now)));
        assert_eq!(
            resolve(Some(now - Duration::days(401)), None, now, SUMMARIES),
            Err(RangeError::TooLong(Duration::days(400)))
        );
        assert_eq!(
            resolve(Some(now - Duration::days(32)), Some(now), now, LATENCY),
            Err(RangeError::TooLong(Duration::days(31)))
        );
        assert_eq!(
            resolve(Some(now), Some(now), now, EVENTS),
            Err(RangeError::Empty)
        );
    }
}
