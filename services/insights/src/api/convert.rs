//! Engine values ⇄ wire messages, and the request checks every RPC shares.

use chrono::{Datelike, NaiveDate};
use pp_metrics::{Definition, Metric, Source, Unit};
use pp_proto::common::{Date, DateRange, Platform};
use pp_proto::insights as pb;
use pp_types::Violations;
use pp_types::convert::money;

use crate::engine::{Figure, Value};

pub fn unit(unit: Unit) -> pb::MetricUnit {
    match unit {
        Unit::Currency => pb::MetricUnit::Currency,
        Unit::Count => pb::MetricUnit::Count,
        Unit::Ratio => pb::MetricUnit::Ratio,
        Unit::Percent => pb::MetricUnit::Percent,
        Unit::Days => pb::MetricUnit::Days,
    }
}

fn platform(source: Source) -> Platform {
    match source {
        Source::Shopify => Platform::Shopify,
        Source::Meta => Platform::MetaAds,
        Source::Tiktok => Platform::TiktokAds,
        Source::GoogleAds => Platform::GoogleAds,
    }
}

pub fn definition(definition: &Definition) -> pb::MetricDefinition {
    pb::MetricDefinition {
        metric: definition.id.to_owned(),
        display_name: definition.display_name.to_owned(),
        description: definition.description.to_owned(),
        formula: definition.formula.to_owned(),
        unit: unit(definition.unit) as i32,
        sources: definition
            .sources
            .iter()
            .map(|s| platform(*s) as i32)
            .collect(),
    }
}

pub fn definitions(metrics: &[Metric]) -> Vec<pb::MetricDefinition> {
    metrics
        .iter()
        .map(|m| definition(&m.definition()))
        .collect()
}

pub fn date(day: NaiveDate) -> Date {
    Date {
        year: day.year(),
        month: day.month() as i32,
        day: day.day() as i32,
    }
}

pub fn date_range(start: NaiveDate, end: NaiveDate) -> DateRange {
    DateRange {
        start_date: Some(date(start)),
        end_date: Some(date(end)),
    }
}

pub fn figure(figure: &Figure) -> pb::Figure {
    let unit = figure.metric.unit();
    pb::Figure {
        metric: figure.metric.id().to_owned(),
        value: figure.value.as_f64(),
        unit: self::unit(unit) as i32,
        money: figure
            .value
            .micros()
            .map(|micros| money(&figure.currency_code, micros)),
        // On-hand stock is a point in time: no period.
        period: (figure.metric != Metric::OnHand).then(|| date_range(figure.start, figure.end)),
        filters: figure
            .filters
            .iter()
            .map(|f| pb::MetricFilter {
                dimension: f.dimension.name().to_owned(),
                value: f.value.clone(),
            })
            .collect(),
        display_value: display(figure.value, unit, &figure.currency_code),
    }
}

/// The value for people: `$1,234.56`, `1,234.56 EUR`, `3.20×`, `25.0%`, `12.5 days`.
pub fn display(value: Value, unit: Unit, currency: &str) -> String {
    match (value, unit) {
        (Value::Unset, _) => "n/a".to_owned(),
        (Value::Money(micros), _) => {
            // Rounded half away from zero to the cent, for display only.
            let cents = (micros + micros.signum() * 5_000) / 10_000;
            let sign = if cents < 0 { "-" } else { "" };
            let cents = cents.abs();
            let amount = format!("{}.{:02}", group(cents / 100), cents % 100);
            match currency {
                "USD" => format!("{sign}${amount}"),
                "EUR" => format!("{sign}€{amount}"),
                "GBP" => format!("{sign}£{amount}"),
                other => format!("{sign}{amount} {other}"),
            }
        }
        (Value::Count(count), _) => {
            let sign = if count < 0 { "-" } else { "" };
            format!("{sign}{}", group(count.abs()))
        }
        (Value::Number(number), Unit::Ratio) => format!("{number:.2}×"),
        (Value::Number(number), Unit::Percent) => format!("{:.1}%", number * 100.0),
        (Value::Number(number), Unit::Days) => format!("{number:.1} days"),
        (Value::Number(number), _) => format!("{number:.2}"),
    }
}

fn group(value: i64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A `DateRange` field: both dates valid, the end not before the start, at most
/// `max_days` days. `None` (and no violation) when absent and not `required`.
pub fn range(
    violations: &mut Violations,
    field: &str,
    value: Option<&DateRange>,
    required: bool,
    max_days: i64,
) -> Option<(NaiveDate, NaiveDate)> {
    let Some(value) = value else {
        if required {
            violations.add(field, "is required");
        }
        return None;
    };
    let start = violations.date(&format!("{field}.start_date"), value.start_date.as_ref());
    let end = violations.date(&format!("{field}.end_date"), value.end_date.as_ref());
    let (start, end) = (start?, end?);
    if end < start {
        violations.add(format!("{field}.end_date"), "must not be before start_date");
        return None;
    }
    if (end - start).num_days() >= max_days {
        violations.add(field, format!("must span at most {max_days} days"));
        return None;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_values() {
        assert_eq!(
            display(Value::Money(1_234_565_000), Unit::Currency, "USD"),
            "$1,234.57"
        );
        assert_eq!(
            display(Value::Money(-5_000), Unit::Currency, "JPY"),
            "-0.01 JPY"
        );
        assert_eq!(
            display(Value::Count(1_000_000), Unit::Count, ""),
            "1,000,000"
        );
        assert_eq!(display(Value::Number(3.2), Unit::Ratio, ""), "3.20×");
        assert_eq!(display(Value::Number(0.25), Unit::Percent, ""), "25.0%");
        assert_eq!(display(Value::Unset, Unit::Days, ""), "n/a");
    }
}
