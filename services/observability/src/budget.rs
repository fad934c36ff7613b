//! Cost budgets: periods, thresholds, and the over-cap decision. No tonic, no SQL (the
//! enums map to the text columns they are stored in).

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

/// `cost_budgets.period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Period {
    Daily,
    Monthly,
}

/// `cost_budgets.enforcement`: what happens at the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Enforcement {
    WarnOnly,
    Block,
}

/// `budget_alerts.threshold`: which line spend has crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Threshold {
    Warning,
    Limit,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Monthly => "monthly",
        }
    }

    /// [start, end) of the period containing `now` (UTC).
    pub fn bounds(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        match self {
            Period::Daily => {
                let start = Utc
                    .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
                    .single()
                    .unwrap_or(now);
                (start, start + Duration::days(1))
            }
            Period::Monthly => {
                let start = Utc
                    .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
                    .single()
                    .unwrap_or(now);
                let (year, month) = if now.month() == 12 {
                    (now.year() + 1, 1)
                } else {
                    (now.year(), now.month() + 1)
                };
                let end = Utc
                    .with_ymd_and_hms(year, month, 1, 0, 0, 0)
                    .single()
                    .unwrap_or(now);
                (start, end)
            }
        }
    }
}

/// Thresholds that `spent` has reached, for alerting: `warning` at
/// `warning_ratio × limit`, `limit` at the limit.
pub fn reached(spent: i64, limit: i64, warning_ratio: f64) -> Vec<Threshold> {
    let mut reached = Vec::new();
    if spent as f64 >= warning_ratio * limit as f64 {
        reached.push(Threshold::Warning);
    }
    if spent >= limit {
        reached.push(Threshold::Limit);
    }
    reached
}

/// Whether a call costing `estimated` may go ahead.
pub fn allowed(spent: i64, estimated: i64, limit: i64, enforcement: Enforcement) -> bool {
    enforcement == Enforcement::WarnOnly || spent.saturating_add(estimated) <= limit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_thresholds() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 31, 15, 0, 0)
            .single()
            .expect("date");
        let (start, end) = Period::Monthly.bounds(now);
        assert_eq!((start.month(), end.year(), end.month()), (12, 2027, 1));
        let (start, end) = Period::Daily.bounds(now);
        assert_eq!(end - start, Duration::days(1));
        assert_eq!(reached(79, 100, 0.8), Vec::<Threshold>::new());
        assert_eq!(reached(80, 100, 0.8), vec![Threshold::Warning]);
        assert_eq!(
            reached(100, 100, 0.8),
            vec![Threshold::Warning, Threshold::Limit]
        );
        assert!(allowed(90, 10, 100, Enforcement::Block));
        assert!(!allowed(90, 11, 100, Enforcement::Block));
        assert!(
            allowed(500, 10, 100, Enforcement::WarnOnly),
            "warn-only never blocks"
        );
    }
}
