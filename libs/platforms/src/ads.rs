//! What the Meta, TikTok and Google Ads clients share: reading provider numbers
//! exactly (strings or JSON numbers, never through float arithmetic), splitting date
//! ranges, and the retry budget for a platform's own throttle signals (which arrive
//! as 200s or 400s that the shared [`Http`](crate::Http) sender hands back).

use std::time::Duration;

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{PlatformError, RetryPolicy};

/// Exact micros of a decimal that a provider sent as a string (`"12.34"`) or as a JSON
/// number (`12.34`). A number is converted from its shortest round-trip text, the
/// text the provider most likely wrote, so `12.34` is 12 340 000 and never
/// 12 339 999 from float multiplication.
pub fn micros(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => pp_commerce::decimal_to_micros(text),
        Value::Number(number) => {
            pp_commerce::decimal_to_micros(&plain_decimal(&number.to_string())?)
        }
        _ => None,
    }
}

/// An integer count sent as a string (`"10234"`, Meta, TikTok, Google `int64`) or a number.
pub fn count(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    }
}

/// A possibly fractional count (conversions) sent as a string or a number.
pub fn fractional(value: &Value) -> Option<f64> {
    match value {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.as_f64(),
        _ => None,
    }
}

/// A field that may be absent or null: zero. Present but unreadable: an error naming
/// the field (not its value).
pub fn micros_field(row: &Value, field: &str, platform: &str) -> Result<i64, PlatformError> {
    optional(row, field).map_or(Ok(0), |v| {
        micros(v).ok_or_else(|| unreadable(platform, field))
    })
}

pub fn count_field(row: &Value, field: &str, platform: &str) -> Result<i64, PlatformError> {
    optional(row, field).map_or(Ok(0), |v| {
        count(v).ok_or_else(|| unreadable(platform, field))
    })
}

pub fn fractional_field(row: &Value, field: &str, platform: &str) -> Result<f64, PlatformError> {
    optional(row, field).map_or(Ok(0.0), |v| {
        fractional(v).ok_or_else(|| unreadable(platform, field))
    })
}

fn optional<'a>(row: &'a Value, field: &str) -> Option<&'a Value> {
    row.get(field).filter(|v| !v.is_null())
}

pub fn unreadable(platform: &str, field: &str) -> PlatformError {
    PlatformError::Invalid {
        message: format!("{platform} sent an unreadable {field}"),
    }
}

/// `serde_json` prints very large or small floats in exponent form (`1e-7`,
/// `1.5e21`); `decimal_to_micros` wants plain digits.
fn plain_decimal(text: &str) -> Option<String> {
    let Some((mantissa, exponent)) = text.split_once(['e', 'E']) else {
        return Some(text.to_owned());
    };
    let exponent: i32 = exponent.parse().ok()?;
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    // Position of the decimal point within `digits` after shifting.
    let point = i32::try_from(whole.len()).ok()? + exponent;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(usize::try_from(-point).ok()?))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    Some(if negative { format!("-{body}") } else { body })
}

/// Splits `start..=end` into consecutive inclusive windows of at most `max_days` days
/// (TikTok allows 30 days per daily report request). Empty when `end < start`.
pub fn date_windows(
    start: NaiveDate,
    end: NaiveDate,
    max_days: u32,
) -> Vec<(NaiveDate, NaiveDate)> {
    let span = chrono::Days::new(u64::from(max_days.max(1)) - 1);
    let mut windows = Vec::new();
    let mut from = start;
    while from <= end {
        let to = from.checked_add_days(span).map_or(end, |d| d.min(end));
        windows.push((from, to));
        match to.succ_opt() {
            Some(next) => from = next,
            None => break,
        }
    }
    windows
}

/// Inclusive day count of `start..=end`.
pub fn days_in(start: NaiveDate, end: NaiveDate) -> i64 {
    (end - start).num_days() + 1
}

/// How long to wait before retrying after a platform throttle signal, or the
/// `RateLimited` error when the budget is spent or the platform asks for a wait
/// longer than `max_retry_after`. `attempt` is 0-based.
pub fn throttle_wait(
    retry: &RetryPolicy,
    attempt: u32,
    hint: Option<Duration>,
) -> Result<Duration, PlatformError> {
    if attempt + 1 >= retry.max_attempts || hint.is_some_and(|d| d > retry.max_retry_after) {
        return Err(PlatformError::RateLimited { retry_after: hint });
    }
    Ok(hint
        .filter(|d| !d.is_zero())
        .unwrap_or_else(|| retry.backoff(attempt)))
}

/// Reads a response body as JSON without ever putting the body or the URL (which
/// may carry a client secret) into the error.
pub async fn read_json<T: DeserializeOwned>(
    response: reqwest::Response,
    platform: &str,
) -> Result<T, PlatformError> {
    let bytes = response.bytes().await.map_err(|error| {
        tracing::warn!(error = %error.without_url(), platform, "reading platform response failed");
        PlatformError::Unavailable {
            message: format!("{platform} closed the connection mid-answer"),
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|error| {
        tracing::warn!(%error, platform, "platform response did not parse");
        PlatformError::Invalid {
            message: format!("{platform} sent a response that does not parse"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_numbers_convert_from_their_shortest_text() {
        // 0.1 + 0.2 style values would drift under float multiplication.
        assert_eq!(micros(&json!(12.34)), Some(12_340_000));
        assert_eq!(micros(&json!(0.29)), Some(290_000));
        assert_eq!(micros(&json!(1234567.891)), Some(1_234_567_891_000));
        assert_eq!(micros(&json!(7)), Some(7_000_000));
        assert_eq!(micros(&json!("612.30")), Some(612_300_000));
        assert_eq!(micros(&json!(1e-7)), Some(0));
        assert_eq!(micros(&json!(2.5e-6)), Some(3));
        assert_eq!(micros(&json!(1.5e12)), Some(1_500_000_000_000_000_000));
        assert_eq!(micros(&json!(-0.5)), Some(-500_000));
        assert_eq!(micros(&json!(null)), None);
        assert_eq!(micros(&json!("n/a")), None);
    }

    #[test]
    fn plain_decimal_expands_exponents() {
        assert_eq!(plain_decimal("1e-7").as_deref(), Some("0.0000001"));
        assert_eq!(plain_decimal("1.25e2").as_deref(), Some("125"));
        assert_eq!(plain_decimal("1.2345e2").as_deref(), Some("123.45"));
        assert_eq!(plain_decimal("-3e0").as_deref(), Some("-3"));
        assert_eq!(plain_decimal("12.5").as_deref(), Some("12.5"));
    }

    #[test]
    fn counts_accept_strings_and_numbers() {
        assert_eq!(count(&json!("10234")), Some(10_234));
        assert_eq!(count(&json!(311)), Some(311));
        assert_eq!(count(&json!("1.5")), None);
        assert_eq!(fractional(&json!("7")), Some(7.0));
        assert_eq!(fractional(&json!(1.5)), Some(1.5));
    }

    #[test]
    fn date_windows_cover_the_range_without_overlap() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let windows = date_windows(d("2026-01-01"), d("2026-03-05"), 30);
        assert_eq!(
            windows,
            vec![
                (d("2026-01-01"), d("2026-01-30")),
                (d("2026-01-31"), d("2026-03-01")),
                (d("2026-03-02"), d("2026-03-05")),
            ]
        );
        assert!(windows.iter().all(|(a, b)| days_in(*a, *b) <= 30));
        assert_eq!(
            date_windows(d("2026-01-01"), d("2026-01-01"), 30),
            vec![(d("2026-01-01"), d("2026-01-01"))]
        );
        assert_eq!(date_windows(d("2026-01-01"), d("2026-01-30"), 30).len(), 1);
        assert_eq!(date_windows(d("2026-01-01"), d("2026-01-31"), 30).len(), 2);
        assert!(date_windows(d("2026-01-02"), d("2026-01-01"), 30).is_empty());
    }

    #[test]
    fn throttle_wait_gives_up_on_long_hints_and_spent_budgets() {
        let retry = RetryPolicy::fast();
        assert!(throttle_wait(&retry, 0, None).is_ok());
        assert_eq!(
            throttle_wait(&retry, 0, Some(Duration::from_secs(1))).ok(),
            Some(Duration::from_secs(1))
        );
        assert!(matches!(
            throttle_wait(&retry, 0, Some(Duration::from_secs(600))),
            Err(PlatformError::RateLimited { retry_after: Some(d) }) if d == Duration::from_secs(600)
        ));
        assert!(matches!(
            throttle_wait(&retry, retry.max_attempts - 1, None),
            Err(PlatformError::RateLimited { .. })
        ));
    }
}
