//! Wire ⇄ domain conversions: UUIDs, money, times, request ids, and the builder
//! that collects every field violation of a request before answering.

use chrono::{DateTime, Utc};
use pp_error::{ApiError, FieldViolation};
use pp_proto::common::Money;
use uuid::Uuid;

/// The longest idempotency key (`request_id`) a client may send.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// Collects field violations so a client learns every bad field in one answer.
///
/// ```ignore
/// let mut v = Violations::new();
/// let brand_id = v.uuid("brand_id", &request.brand_id);
/// v.request_id("request_id", &request.request_id);
/// v.finish()?; // INVALID_ARGUMENT naming each bad field, or Ok
/// ```
#[derive(Debug, Default)]
#[must_use = "call finish() to turn the violations into an error"]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Violations::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// A required UUID; `None` (and a violation) when empty or malformed.
    pub fn uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        self.take(crate::parse_uuid(field, value))
    }

    /// An optional UUID: empty is `None` without a violation.
    pub fn optional_uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        if value.is_empty() {
            return None;
        }
        self.uuid(field, value)
    }

    /// An idempotency key: optional, at most [`MAX_REQUEST_ID_CHARS`] characters.
    pub fn request_id(&mut self, field: &str, value: &str) {
        if value.chars().count() > MAX_REQUEST_ID_CHARS {
            self.add(
                field,
                format!("must have at most {MAX_REQUEST_ID_CHARS} characters"),
            );
        }
    }

    /// A timestamp, `None` (with a violation) when out of range.
    pub fn time(&mut self, field: &str, value: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
        let converted = from_timestamp(value);
        if converted.is_none() {
            self.add(field, "must be a valid timestamp");
        }
        converted
    }

    /// A calendar date (`pulsepoint.common.v1.Date`), required.
    pub fn date(
        &mut self,
        field: &str,
        value: Option<&pp_proto::common::Date>,
    ) -> Option<chrono::NaiveDate> {
        let parsed = value.and_then(|d| {
            chrono::NaiveDate::from_ymd_opt(
                d.year,
                d.month.try_into().ok()?,
                d.day.try_into().ok()?,
            )
        });
        if parsed.is_none() {
            self.add(field, "must be a valid calendar date");
        }
        parsed
    }

    /// Keeps the value of `result`, or its field violations.
    pub fn take<T>(&mut self, result: Result<T, ApiError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(ApiError::InvalidArgument(violations)) => {
                self.0.extend(violations);
                None
            }
            Err(other) => {
                self.add("", other.to_string());
                None
            }
        }
    }

    /// The list itself, for validators that push onto a `Vec<FieldViolation>`.
    pub fn list(&mut self) -> &mut Vec<FieldViolation> {
        &mut self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was wrong, else `INVALID_ARGUMENT` naming every field.
    pub fn finish(self) -> Result<(), ApiError> {
        ApiError::check(self.0)
    }

    pub fn into_inner(self) -> Vec<FieldViolation> {
        self.0
    }
}

impl From<Vec<FieldViolation>> for Violations {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Violations(violations)
    }
}

/// A database time as a protobuf `Timestamp`.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// Unix seconds as a protobuf `Timestamp`.
pub fn unix_timestamp(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

/// A protobuf `Timestamp` as a time, `None` when out of range or malformed.
pub fn from_timestamp(value: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    u32::try_from(value.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .and_then(|nanos| DateTime::from_timestamp(value.seconds, nanos))
}

/// Milliseconds as a protobuf `Duration`.
pub fn duration_ms(ms: f64) -> prost_types::Duration {
    let nanos = (ms * 1_000_000.0).round() as i64;
    prost_types::Duration {
        seconds: nanos / 1_000_000_000,
        nanos: (nanos % 1_000_000_000) as i32,
    }
}

/// An amount in micros of `currency` as `Money` (units + nanos, same sign).
pub fn money(currency: &str, micros: i64) -> Money {
    Money {
        currency_code: currency.to_owned(),
        units: micros / 1_000_000,
        nanos: ((micros % 1_000_000) * 1_000) as i32,
    }
}

/// `Money` as micros (sub-micro nanos are truncated; saturates at the i64 range).
pub fn micros(value: &Money) -> i64 {
    value
        .units
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(value.nanos) / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_round_trips_through_micros() {
        for amount in [0, 1, 999_999, 1_000_000, 12_345_678, -2_500_000, -1] {
            assert_eq!(micros(&money("USD", amount)), amount, "{amount}");
        }
        let m = money("EUR", -2_500_000);
        assert_eq!((m.units, m.nanos), (-2, -500_000_000));
    }

    #[test]
    fn violations_collect_every_field() {
        let mut v = Violations::new();
        assert_eq!(v.uuid("brand_id", "nope"), None);
        assert_eq!(v.optional_uuid("user_id", ""), None);
        v.request_id("request_id", &"x".repeat(129));
        assert!(
            v.time(
                "at",
                &prost_types::Timestamp {
                    seconds: 0,
                    nanos: -1
                }
            )
            .is_none()
        );
        let status = tonic::Status::from(v.finish().expect_err("invalid"));
        assert_eq!(
            pp_error::field_violations(&status),
            vec!["brand_id", "request_id", "at"]
        );
        assert!(Violations::new().finish().is_ok());
    }
}
