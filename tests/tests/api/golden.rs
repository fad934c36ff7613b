//! The golden question set (`tests/golden/questions.json`): questions written the way
//! store owners ask them, with periods relative to a fixed today, asked of the
//! built-in planner (AskQuestion) about a fixed demo store. Every expected figure is
//! computed here by the independent SQL (`independent.rs`) over `commerce`, never by
//! the engine or its rollups. An answerable question is right when every expected
//! figure is in the answer with the same metric, period, filters and value (extra
//! figures are allowed); a probe is right when it is refused with no figures.
//!
//! `golden_questions_are_answered` prints the score and every miss and asserts the
//! bar (≥ 95 % of the answerable questions, every probe). The ignored
//! `golden_expectations_by_sql` prints the expectations alone, to check them by hand.
//!
//! `golden_holdout_questions_are_scored` does the same for the holdout set
//! (`tests/golden/holdout.json`), written later without reading the parser; measured at
//! 68.9 % before the planner was fixed for what it revealed (tests/golden/README.md),
//! now held to the same bar. In both, an INTERNAL error or a crashed call fails.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::{Datelike, Days, Months, NaiveDate};
use futures::StreamExt;
use pp_commerce::Platform;
use pp_commerce::demo::{DemoConfig, OrderVolume};
use pp_proto::insights::AskQuestionRequest;
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::independent::{Scope, independent_value, platform_column, platform_wire};
use crate::insights::refresh;
use crate::support::*;

/// The sets, read at compile time so a change to them rebuilds the test.
const QUESTIONS: &str = include_str!("../../golden/questions.json");
/// The holdout set: phrasings written from `docs/answers.md`, not tuned against.
const HOLDOUT: &str = include_str!("../../golden/holdout.json");

/// The fixed store: same seed, same store on every machine.
const STORE_SEED: u64 = 2026;
const STORE_HISTORY_DAYS: u32 = 700;
const STORE_ORDERS_PER_DAY: f64 = 15.0;
const STORE_CURRENCY: &str = "USD";
const STORE_TIME_ZONE: &str = "UTC";
const BRAND_NAME: &str = "Northwind Outdoors";

/// The bar: share of answerable questions exactly right; every probe refused.
const REQUIRED_ACCURACY: f64 = 0.95;
const MIN_QUESTIONS: usize = 150;
const MIN_PROBES: usize = 30;
/// The holdout's bar, the main set's since the planner was fixed for what it revealed.
const HOLDOUT_FLOOR: f64 = 0.95;
const HOLDOUT_MIN_QUESTIONS: usize = 80;
const HOLDOUT_MIN_PROBES: usize = 20;
const CATEGORIES: [&str; 5] = ["revenue", "marketing", "inventory", "products", "customers"];
/// Days of sales history the stock questions' velocity is averaged over.
const VELOCITY_WINDOW_DAYS: u64 = 28;

// === The set, as written ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoldenSet {
    /// The day the planner treats as today (`PULSEPOINT_INSIGHTS_TODAY`).
    today: NaiveDate,
    questions: Vec<GoldenQuestion>,
    probes: Vec<Probe>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoldenQuestion {
    id: String,
    category: String,
    question: String,
    /// The id of an earlier entry this one follows up on.
    #[serde(default)]
    parent: Option<String>,
    expect: Vec<Expect>,
    /// Why the expectation is what it is, where the rule is not obvious.
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

/// A question that must be refused (answerable = false, no figures).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Probe {
    id: String,
    question: String,
    #[serde(default)]
    parent: Option<String>,
    /// Why it must be refused.
    #[allow(dead_code)]
    why: String,
}

/// One expectation: a figure (`metric`, `start`/`end`, `filters`), a breakdown of it
/// (`by`), a ranking (`by` + `top` + `order`), or the stock-out list
/// (`stock_horizon_days`). Filters name campaigns, products and SKUs as the owner
/// does (`campaign`, `product`, `sku`: resolved to ids by SQL) or by id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    start: Option<NaiveDate>,
    #[serde(default)]
    end: Option<NaiveDate>,
    #[serde(default)]
    filters: BTreeMap<String, String>,
    /// platform, campaign_id, product_id, variant_id, sales_channel, day, week, month.
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    top: Option<usize>,
    /// `desc` (top, best) or `asc` (worst, bottom).
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    stock_horizon_days: Option<u64>,
}

// === Expected figures, by SQL ===

/// One figure the answer must contain.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    metric: String,
    /// `None` for a point-in-time figure (on hand).
    period: Option<(NaiveDate, NaiveDate)>,
    filters: BTreeSet<(String, String)>,
    value: f64,
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {}", self.metric, shown(&self.metric, self.value))?;
        match self.period {
            Some((start, end)) => write!(f, " [{start}..{end}]")?,
            None => write!(f, " [now]")?,
        }
        for (dimension, value) in &self.filters {
            write!(f, " {dimension}={value}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Money,
    Count,
    Number,
}

fn kind(metric: &str) -> Kind {
    if metric == "on_hand" {
        return Kind::Count;
    }
    match pp_metrics::Metric::from_id(metric).map(|m| m.unit()) {
        Some(pp_metrics::Unit::Currency) => Kind::Money,
        Some(pp_metrics::Unit::Count) => Kind::Count,
        Some(_) => Kind::Number,
        None => panic!("golden set names an unknown metric {metric:?}"),
    }
}

/// A value as the owner would read it: money in major units, as micros besides.
fn shown(metric: &str, value: f64) -> String {
    match kind(metric) {
        Kind::Money => format!("{:.2} ({} micros)", value / 1e6, value as i64),
        Kind::Count => format!("{value}"),
        Kind::Number => format!("{value:.6}"),
    }
}

/// The brand and database the expectations are computed against.
struct Store<'a> {
    superuser: &'a PgPool,
    brand_id: Uuid,
    today: NaiveDate,
}

impl Store<'_> {
    async fn value(&self, metric: &str, period: (NaiveDate, NaiveDate), scope: &Scope) -> f64 {
        independent_value(
            self.superuser,
            self.brand_id,
            metric,
            period.0,
            period.1,
            scope,
        )
        .await
        .unwrap_or_else(|| {
            panic!("golden set bug: {metric} {period:?} {scope:?} has no value in the store")
        })
    }

    /// The one id whose name matches (case-insensitively, in part); anything else is a
    /// bug in the set.
    async fn one_id(&self, sql: &str, name: &str) -> String {
        let ids: Vec<String> = sqlx::query_scalar(sql)
            .bind(self.brand_id)
            .bind(name)
            .fetch_all(self.superuser)
            .await
            .expect("resolve name");
        assert_eq!(ids.len(), 1, "golden set bug: {name:?} matches {ids:?}");
        ids.into_iter().next().expect("one")
    }

    /// The engine scope and the figure's filters of the written filters.
    async fn resolve(
        &self,
        written: &BTreeMap<String, String>,
    ) -> (Scope, BTreeSet<(String, String)>) {
        let mut scope = Scope::default();
        let mut filters = BTreeSet::new();
        for (key, value) in written {
            let (dimension, id) = match key.as_str() {
                "platform" => {
                    let column = platform_column(value)
                        .unwrap_or_else(|| panic!("golden set bug: platform {value}"));
                    scope.platform = Some(column.into());
                    ("platform", value.clone())
                }
                "campaign" | "campaign_id" => {
                    let id = if key == "campaign" {
                        self.one_id(
                            "select platform_campaign_id from commerce.campaigns
                             where brand_id = $1 and name ilike '%' || $2 || '%'",
                            value,
                        )
                        .await
                    } else {
                        value.clone()
                    };
                    scope.campaign_id = Some(id.clone());
                    ("campaign_id", id)
                }
                "product" | "product_id" => {
                    let id = if key == "product" {
                        self.one_id(
                            "select platform_product_id from commerce.products
                             where brand_id = $1 and title ilike '%' || $2 || '%'",
                            value,
                        )
                        .await
                    } else {
                        value.clone()
                    };
                    scope.product_id = Some(id.clone());
                    ("product_id", id)
                }
                "sku" | "variant_id" => {
                    let id = if key == "sku" {
                        self.one_id(
                            "select platform_variant_id from commerce.variants
                             where brand_id = $1 and sku = $2",
                            value,
                        )
                        .await
                    } else {
                        value.clone()
                    };
                    scope.variant_id = Some(id.clone());
                    ("variant_id", id)
                }
                "sales_channel" => {
                    scope.sales_channel = Some(value.clone());
                    ("sales_channel", value.clone())
                }
                other => panic!("golden set bug: unknown filter {other}"),
            };
            filters.insert((dimension.to_owned(), id));
        }
        (scope, filters)
    }

    /// Every key of `by` with data in the period (within the scope's platform or
    /// product, when given).
    async fn keys(&self, by: &str, period: (NaiveDate, NaiveDate), scope: &Scope) -> Vec<String> {
        const COUNTED: &str = "with b as (select * from brands.brands where brand_id = $1),
            o as (select o.* from commerce.orders o join b on b.brand_id = o.brand_id
                  where not o.test and o.cancelled_at is null and o.currency_code = b.currency_code)";
        let line_keys = |column: &str| {
            format!(
                "{COUNTED}
                 select l.{column} from o join commerce.order_lines l on l.order_id = o.order_id join b on true
                  where (o.processed_at at time zone b.time_zone)::date between $2 and $3
                    and l.{column} is not null and ($4::text is null or l.platform_product_id = $4)
                 union
                 select l.{column} from commerce.refunds r join o on o.order_id = r.order_id
                   join commerce.refund_lines rl on rl.order_id = r.order_id and rl.platform_refund_id = r.platform_refund_id
                   join commerce.order_lines l on l.order_id = rl.order_id and l.platform_line_id = rl.platform_line_id
                   join b on true
                  where (r.refunded_at at time zone b.time_zone)::date between $2 and $3
                    and l.{column} is not null and ($4::text is null or l.platform_product_id = $4)
                 order by 1"
            )
        };
        let sql = match by {
            "platform" | "campaign_id" => format!(
                "select distinct {} from commerce.ad_spend_daily a
                   join brands.brands b on b.brand_id = a.brand_id
                  where a.brand_id = $1 and a.currency_code = b.currency_code
                    and a.spend_date between $2 and $3 and ($4::text is null or a.platform = $4)
                  order by 1",
                if by == "platform" { "a.platform" } else { "a.platform_campaign_id" }
            ),
            "product_id" => line_keys("platform_product_id"),
            "variant_id" => line_keys("platform_variant_id"),
            "sales_channel" => format!(
                "{COUNTED}
                 select coalesce(nullif(o.source_name, ''), 'unknown') from o join b on true
                  where (o.processed_at at time zone b.time_zone)::date between $2 and $3
                    and $4::text is null
                 union
                 select coalesce(nullif(o.source_name, ''), 'unknown') from commerce.refunds r
                   join o on o.order_id = r.order_id
                   join commerce.refund_lines rl on rl.order_id = r.order_id and rl.platform_refund_id = r.platform_refund_id
                   join b on true
                  where (r.refunded_at at time zone b.time_zone)::date between $2 and $3
                 order by 1"
            ),
            other => panic!("golden set bug: no breakdown by {other}"),
        };
        let narrowing = match by {
            "platform" | "campaign_id" => scope.platform.clone(),
            "variant_id" => scope.product_id.clone(),
            _ => None,
        };
        let keys: Vec<String> = sqlx::query_scalar(&sql)
            .bind(self.brand_id)
            .bind(period.0)
            .bind(period.1)
            .bind(narrowing)
            .fetch_all(self.superuser)
            .await
            .unwrap_or_else(|err| panic!("keys by {by}: {err}"));
        if by == "platform" {
            keys.iter().map(|k| platform_wire(k).to_owned()).collect()
        } else {
            keys
        }
    }

    /// The scope and figure filters of one breakdown key added to the query's.
    fn with_key(
        by: &str,
        key: &str,
        scope: &Scope,
        filters: &BTreeSet<(String, String)>,
    ) -> (Scope, BTreeSet<(String, String)>) {
        let mut scope = scope.clone();
        let mut filters = filters.clone();
        match by {
            "platform" => scope.platform = platform_column(key).map(Into::into),
            "campaign_id" => scope.campaign_id = Some(key.into()),
            "product_id" => scope.product_id = Some(key.into()),
            "variant_id" => scope.variant_id = Some(key.into()),
            "sales_channel" => scope.sales_channel = Some(key.into()),
            other => panic!("golden set bug: no key dimension {other}"),
        }
        filters.insert((by.to_owned(), key.to_owned()));
        (scope, filters)
    }

    /// Every figure `expect` stands for.
    async fn expand(&self, expect: &Expect) -> Vec<Expected> {
        if let Some(horizon) = expect.stock_horizon_days {
            return self.running_out(horizon).await;
        }
        let metric = expect.metric.clone().expect("golden set bug: no metric");
        let (scope, filters) = self.resolve(&expect.filters).await;
        if metric == "on_hand" {
            assert!(
                expect.start.is_none() && expect.by.is_none(),
                "golden set bug: on_hand has no period"
            );
            let value = self.value(&metric, (self.today, self.today), &scope).await;
            return vec![Expected {
                metric,
                period: None,
                filters,
                value,
            }];
        }
        let period = (
            expect.start.expect("golden set bug: no start"),
            expect.end.expect("golden set bug: no end"),
        );
        assert!(period.0 <= period.1, "golden set bug: {period:?}");
        let Some(by) = expect.by.as_deref() else {
            let value = self.value(&metric, period, &scope).await;
            return vec![Expected {
                metric,
                period: Some(period),
                filters,
                value,
            }];
        };
        if matches!(by, "day" | "week" | "month") {
            assert!(expect.top.is_none(), "golden set bug: ranked sub-periods");
            let mut figures = Vec::new();
            for sub in sub_periods(by, period) {
                figures.push(Expected {
                    metric: metric.clone(),
                    period: Some(sub),
                    filters: filters.clone(),
                    value: self.value(&metric, sub, &scope).await,
                });
            }
            return figures;
        }
        let mut figures = Vec::new();
        for key in self.keys(by, period, &scope).await {
            let (key_scope, key_filters) = Self::with_key(by, &key, &scope, &filters);
            if expect.top.is_some()
                && matches!(metric.as_str(), "platform_roas")
                && self.value("ad_spend", period, &key_scope).await == 0.0
            {
                // Campaigns (and platforms) ranked by a ratio are those with spend.
                continue;
            }
            figures.push((
                key,
                Expected {
                    metric: metric.clone(),
                    period: Some(period),
                    filters: key_filters,
                    value: self.value(&metric, period, &key_scope).await,
                },
            ));
        }
        if let Some(top) = expect.top {
            let ascending = match expect.order.as_deref() {
                Some("asc") => true,
                Some("desc") | None => false,
                Some(other) => panic!("golden set bug: order {other}"),
            };
            figures.sort_by(|(a_key, a), (b_key, b)| {
                let by_value = if ascending {
                    a.value.total_cmp(&b.value)
                } else {
                    b.value.total_cmp(&a.value)
                };
                by_value.then_with(|| a_key.cmp(b_key))
            });
            if figures.len() > top && figures[top - 1].1.value == figures[top].1.value {
                println!(
                    "golden: {metric} by {by} {period:?}: a tie at place {top} ({} and {}), broken by key",
                    figures[top - 1].0,
                    figures[top].0
                );
            }
            figures.truncate(top);
        }
        assert!(
            !figures.is_empty(),
            "golden set bug: {expect:?} has no keys"
        );
        figures.into_iter().map(|(_, figure)| figure).collect()
    }

    /// "What will run out in the next N days": every variant whose days of cover over
    /// the velocity window is below the horizon, by SQL.
    async fn running_out(&self, horizon: u64) -> Vec<Expected> {
        let window = (
            self.today - Days::new(VELOCITY_WINDOW_DAYS),
            self.today - Days::new(1),
        );
        let variants: Vec<String> = sqlx::query_scalar(
            "select platform_variant_id from commerce.variants where brand_id = $1 order by 1",
        )
        .bind(self.brand_id)
        .fetch_all(self.superuser)
        .await
        .expect("variants");
        let mut figures = Vec::new();
        for variant in variants {
            let scope = Scope {
                variant_id: Some(variant.clone()),
                ..Scope::default()
            };
            let cover = independent_value(
                self.superuser,
                self.brand_id,
                "days_of_cover",
                window.0,
                window.1,
                &scope,
            )
            .await;
            if let Some(days) = cover.filter(|days| *days < horizon as f64) {
                figures.push(Expected {
                    metric: "days_of_cover".into(),
                    period: Some(window),
                    filters: BTreeSet::from([("variant_id".to_owned(), variant)]),
                    value: days,
                });
            }
        }
        assert!(
            !figures.is_empty(),
            "golden set bug: nothing runs out within {horizon} days; pick another horizon"
        );
        figures
    }
}

/// The days, Monday–Sunday weeks or calendar months of `period`, cut to it.
fn sub_periods(by: &str, (start, end): (NaiveDate, NaiveDate)) -> Vec<(NaiveDate, NaiveDate)> {
    let mut subs = Vec::new();
    let mut first = start;
    while first <= end {
        let next = match by {
            "day" => first + Days::new(1),
            "week" => {
                let monday = first - Days::new(u64::from(first.weekday().num_days_from_monday()));
                monday + Days::new(7)
            }
            "month" => {
                let first_of_month = first.with_day(1).expect("day 1");
                first_of_month + Months::new(1)
            }
            other => panic!("golden set bug: no sub-period {other}"),
        };
        let last = (next - Days::new(1)).min(end);
        subs.push((first, last));
        first = next;
    }
    subs
}

// === The answers ===

/// A figure as the answer gave it.
#[derive(Debug, Clone)]
struct Got {
    metric: String,
    period: Option<(NaiveDate, NaiveDate)>,
    filters: BTreeSet<(String, String)>,
    value: f64,
    micros: Option<i64>,
    display: String,
}

fn date_of(date: &Option<pp_proto::common::Date>) -> Option<NaiveDate> {
    date.as_ref()
        .and_then(|d| NaiveDate::from_ymd_opt(d.year, d.month as u32, d.day as u32))
}

impl From<&pp_proto::insights::Figure> for Got {
    fn from(figure: &pp_proto::insights::Figure) -> Got {
        let period = figure
            .period
            .as_ref()
            .and_then(|range| Some((date_of(&range.start_date)?, date_of(&range.end_date)?)));
        Got {
            metric: figure.metric.clone(),
            period,
            filters: figure
                .filters
                .iter()
                .map(|f| (f.dimension.clone(), f.value.clone()))
                .collect(),
            value: figure.value,
            micros: figure
                .money
                .as_ref()
                .map(|m| m.units * 1_000_000 + i64::from(m.nanos) / 1_000),
            display: figure.display_value.clone(),
        }
    }
}

impl std::fmt::Display for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {}", self.metric, self.value)?;
        if let Some(micros) = self.micros {
            write!(f, " ({micros} micros)")?;
        }
        write!(f, " {:?}", self.display)?;
        match self.period {
            Some((start, end)) => write!(f, " [{start}..{end}]")?,
            None => write!(f, " [no period]")?,
        }
        for (dimension, value) in &self.filters {
            write!(f, " {dimension}={value}")?;
        }
        Ok(())
    }
}

fn value_matches(expected: &Expected, got: &Got) -> bool {
    match kind(&expected.metric) {
        Kind::Money => got.micros == Some(expected.value.round() as i64),
        Kind::Count => got.value == expected.value,
        Kind::Number => {
            (got.value - expected.value).abs() <= 1e-9 * expected.value.abs().max(1e-12)
        }
    }
}

fn present(expected: &Expected, answer: &[Got]) -> bool {
    answer.iter().any(|got| {
        got.metric == expected.metric
            && got.period == expected.period
            && got.filters == expected.filters
            && value_matches(expected, got)
    })
}

/// What came back for one question.
enum Reply {
    Answer {
        question_id: String,
        category: String,
        answerable: bool,
        text: String,
        figures: Vec<Got>,
    },
    Failed(String),
}

async fn ask(
    stack: &Stack,
    token: &str,
    brand_id: &str,
    text: &str,
    parent: Option<&str>,
) -> Reply {
    let mut client = match stack.insights().await {
        Ok(client) => client,
        Err(err) => return Reply::Failed(format!("client: {err}")),
    };
    let response = client
        .ask_question(authed(
            token,
            AskQuestionRequest {
                brand_id: brand_id.into(),
                text: text.into(),
                date_range: None,
                parent_question_id: parent.unwrap_or_default().into(),
                request_id: Uuid::new_v4().to_string(),
            },
        ))
        .await;
    let question = match response {
        Ok(response) => response.into_inner().question,
        Err(status) => {
            return Reply::Failed(format!("{:?}: {}", status.code(), status.message()));
        }
    };
    let Some(question) = question else {
        return Reply::Failed("no question in the response".into());
    };
    let Some(answer) = question.answer else {
        return Reply::Failed(format!("no answer (state {})", question.state));
    };
    Reply::Answer {
        question_id: question.question_id,
        category: question.category,
        answerable: answer.answerable,
        text: answer.text,
        figures: answer.figures.iter().map(Got::from).collect(),
    }
}

// === Setup ===

struct Golden {
    stack: Stack,
    tenant: Tenant,
    brand_id: String,
    superuser: PgPool,
    set: GoldenSet,
}

/// A set as written, checked: unique ids, parents earlier answerable questions, known
/// categories (each present), at least `min_questions` questions and `min_probes` probes.
fn golden_set(json: &str, file: &str, min_questions: usize, min_probes: usize) -> GoldenSet {
    let set: GoldenSet = serde_json::from_str(json).unwrap_or_else(|err| panic!("{file}: {err}"));
    let mut ids = BTreeSet::new();
    for (id, parent) in set
        .questions
        .iter()
        .map(|q| (&q.id, &q.parent))
        .chain(set.probes.iter().map(|p| (&p.id, &p.parent)))
    {
        if let Some(parent) = parent {
            assert!(
                ids.contains(parent) && set.questions.iter().any(|q| &q.id == parent),
                "{file}: {id}: its parent {parent} must be an earlier answerable question"
            );
        }
        assert!(ids.insert(id.clone()), "{file}: duplicate id {id}");
    }
    for question in &set.questions {
        assert!(
            CATEGORIES.contains(&question.category.as_str()),
            "{file}: {}: category {}",
            question.id,
            question.category
        );
        assert!(
            !question.expect.is_empty(),
            "{file}: {}: expects nothing",
            question.id
        );
    }
    for category in CATEGORIES {
        assert!(
            set.questions.iter().any(|q| q.category == category),
            "{file}: no {category} question"
        );
    }
    assert!(
        set.questions.len() >= min_questions,
        "{file}: at least {min_questions} questions"
    );
    assert!(
        set.probes.len() >= min_probes,
        "{file}: at least {min_probes} probes"
    );
    set
}

fn main_set() -> GoldenSet {
    golden_set(
        QUESTIONS,
        "tests/golden/questions.json",
        MIN_QUESTIONS,
        MIN_PROBES,
    )
}

fn holdout_set() -> GoldenSet {
    golden_set(
        HOLDOUT,
        "tests/golden/holdout.json",
        HOLDOUT_MIN_QUESTIONS,
        HOLDOUT_MIN_PROBES,
    )
}

/// One stack whose insights' today is the set's, one tenant, one brand with the fixed
/// demo store loaded through the integrations' upsert path (Shopify, Meta and Google
/// Ads connected; TikTok not), rollups refreshed; `set` is asked of it.
async fn golden_store(set: GoldenSet) -> Golden {
    let stack = spawn_stack(StackOptions {
        insights_today: Some(set.today),
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let tenant = sign_up(&stack, "Northwind").await;
    let brand = brand_with(
        &stack,
        &tenant.admin_token,
        BRAND_NAME,
        STORE_CURRENCY,
        STORE_TIME_ZONE,
    )
    .await;
    let tenant_id = pp_types::TenantId(tenant.tenant_id.parse().expect("tenant"));
    let loaded = pulsepoint_integrations::demo_load::load(
        &stack.integrations.pool,
        tenant_id,
        brand.brand_id.parse().expect("brand"),
        DemoConfig {
            seed: STORE_SEED,
            history_days: STORE_HISTORY_DAYS,
            end_date: set.today,
            currency: STORE_CURRENCY.into(),
            // The brand's zone is UTC: the store's days are the brand's days.
            utc_offset_minutes: 0,
            orders: OrderVolume::PerDay(STORE_ORDERS_PER_DAY),
            platforms: vec![Platform::Shopify, Platform::Meta, Platform::GoogleAds],
        },
        1000,
        &|_| {},
    )
    .await
    .expect("load the demo store");
    assert!(loaded.orders > 0);
    // The probes about TikTok rest on this: the brand has Shopify, Meta and Google Ads
    // connected, and not TikTok Ads.
    let mut connected: Vec<i32> = stack
        .integrations()
        .await
        .expect("integrations client")
        .list_integrations(authed(
            &tenant.admin_token,
            pp_proto::integrations::ListIntegrationsRequest {
                brand_id: brand.brand_id.clone(),
                status: pp_proto::integrations::IntegrationStatus::Connected as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("list integrations")
        .into_inner()
        .integrations
        .iter()
        .map(|i| i.platform)
        .collect();
    connected.sort_unstable();
    assert_eq!(
        connected,
        [
            pp_proto::common::Platform::Shopify as i32,
            pp_proto::common::Platform::MetaAds as i32,
            pp_proto::common::Platform::GoogleAds as i32
        ],
        "Shopify, Meta and Google Ads connected; TikTok not"
    );
    refresh(&stack, &tenant.tenant_id, &brand.brand_id).await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    // Fresh tables have no statistics yet; without them the independent queries'
    // plans take seconds each instead of milliseconds.
    sqlx::raw_sql("analyze commerce.orders, commerce.order_lines, commerce.refunds, commerce.refund_lines, commerce.customers, commerce.ad_spend_daily, commerce.variants, commerce.inventory_levels")
        .execute(&superuser)
        .await
        .expect("analyze");
    Golden {
        stack,
        tenant,
        brand_id: brand.brand_id,
        superuser,
        set,
    }
}

/// Every question's expected figures, in set order.
async fn expectations(golden: &Golden) -> Vec<Vec<Expected>> {
    let store = Store {
        superuser: &golden.superuser,
        brand_id: golden.brand_id.parse().expect("brand"),
        today: golden.set.today,
    };
    let store = &store;
    futures::stream::iter(golden.set.questions.iter())
        .map(|question| async move {
            let mut all = Vec::new();
            for expect in &question.expect {
                all.extend(store.expand(expect).await);
            }
            assert!(
                !all.is_empty(),
                "golden set bug: {} expects no figure",
                question.id
            );
            all
        })
        .buffered(2)
        .collect()
        .await
}

// === The tests ===

/// A failed call that means the service broke (an INTERNAL error, a panic that dropped
/// or reset the call, a question stored without an answer), not a planner's miss.
fn broke(why: &str) -> bool {
    [
        "Internal",
        "Unknown",
        "Unavailable",
        "Cancelled",
        "client:",
        "no question",
        "no answer",
    ]
    .iter()
    .any(|start| why.starts_with(start))
}

/// The score of one set, asked of its store.
struct Score {
    right: usize,
    total: usize,
    refused: usize,
    probes: usize,
    /// Calls answered UNIMPLEMENTED.
    unimplemented: usize,
    /// Calls that broke (`broke`), questions and probes alike.
    broken: Vec<String>,
    /// The score, per category, and the timings.
    report: String,
}

impl Score {
    fn accuracy(&self) -> f64 {
        self.right as f64 / self.total as f64
    }
}

/// Asks every question (a follow-up after its parent) and every probe of `golden`'s set,
/// prints the score per category and every miss, and returns the score. `label` names
/// the set in the report.
async fn score(golden: &Golden, label: &str, started: std::time::Instant) -> Score {
    let expected = expectations(golden).await;
    let prepared = started.elapsed();

    let token = &golden.tenant.admin_token;
    let mut asked: HashMap<&str, String> = HashMap::new();
    let mut misses = String::new();
    let mut unimplemented = 0usize;
    let mut broken = Vec::new();
    let mut by_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut right = 0usize;
    for (question, expected) in golden.set.questions.iter().zip(&expected) {
        let parent = question
            .parent
            .as_deref()
            .map(|p| asked.get(p).map(String::as_str));
        let reply = match parent {
            Some(None) => Reply::Failed("its parent was not answered".into()),
            Some(Some(parent_id)) => {
                ask(
                    &golden.stack,
                    token,
                    &golden.brand_id,
                    &question.question,
                    Some(parent_id),
                )
                .await
            }
            None => {
                ask(
                    &golden.stack,
                    token,
                    &golden.brand_id,
                    &question.question,
                    None,
                )
                .await
            }
        };
        let tally = by_category.entry(question.category.as_str()).or_default();
        tally.1 += 1;
        let miss = match &reply {
            Reply::Failed(why) => {
                if why.starts_with("Unimplemented") {
                    unimplemented += 1;
                }
                if broke(why) {
                    broken.push(format!("{}: {why}", question.id));
                }
                Some(format!("  error: {why}\n"))
            }
            Reply::Answer {
                question_id,
                answerable,
                text,
                figures,
                category,
            } => {
                asked.insert(question.id.as_str(), question_id.clone());
                let missing: Vec<&Expected> =
                    expected.iter().filter(|e| !present(e, figures)).collect();
                if *answerable && missing.is_empty() {
                    None
                } else {
                    let mut why = String::new();
                    if !answerable {
                        let _ = writeln!(why, "  refused (answerable = false)");
                    }
                    let _ = writeln!(why, "  category given: {category}");
                    for e in &missing {
                        let _ = writeln!(why, "  missing: {e}");
                    }
                    for got in figures {
                        let _ = writeln!(why, "  got:     {got}");
                    }
                    let _ = writeln!(why, "  text: {}", text.replace('\n', "\n        "));
                    Some(why)
                }
            }
        };
        match miss {
            None => {
                right += 1;
                tally.0 += 1;
            }
            Some(why) => {
                let _ = writeln!(
                    misses,
                    "MISS {} [{}] {:?}{}\n{why}",
                    question.id,
                    question.category,
                    question.question,
                    question
                        .parent
                        .as_deref()
                        .map(|p| format!(" (follow-up of {p})"))
                        .unwrap_or_default()
                );
            }
        }
    }

    let mut refused = 0usize;
    for probe in &golden.set.probes {
        let parent = probe
            .parent
            .as_deref()
            .map(|p| asked.get(p).map(String::as_str));
        let reply = match parent {
            Some(None) => Reply::Failed("its parent was not answered".into()),
            Some(Some(parent_id)) => {
                ask(
                    &golden.stack,
                    token,
                    &golden.brand_id,
                    &probe.question,
                    Some(parent_id),
                )
                .await
            }
            None => {
                ask(
                    &golden.stack,
                    token,
                    &golden.brand_id,
                    &probe.question,
                    None,
                )
                .await
            }
        };
        match reply {
            Reply::Answer {
                answerable: false,
                ref figures,
                ..
            } if figures.is_empty() => refused += 1,
            Reply::Answer {
                answerable,
                text,
                figures,
                ..
            } => {
                let _ = writeln!(
                    misses,
                    "MISS PROBE {} {:?}\n  answerable = {answerable}, {} figure(s)\n  text: {text}\n",
                    probe.id,
                    probe.question,
                    figures.len()
                );
            }
            Reply::Failed(why) => {
                if why.starts_with("Unimplemented") {
                    unimplemented += 1;
                }
                if broke(&why) {
                    broken.push(format!("{}: {why}", probe.id));
                }
                let _ = writeln!(
                    misses,
                    "MISS PROBE {} {:?}\n  error: {why}\n",
                    probe.id, probe.question
                );
            }
        }
    }

    let total = golden.set.questions.len();
    let probes = golden.set.probes.len();
    let mut report = format!(
        "{label}: {right}/{total} answerable questions exactly right ({:.1} %), {refused}/{probes} probes refused \
         (store and expectations {:.1} s, all {:.1} s)\n",
        right as f64 / total as f64 * 100.0,
        prepared.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    for (category, (ok, of)) in &by_category {
        let _ = writeln!(report, "  {category}: {ok}/{of}");
    }
    println!("{report}\n{misses}");
    Score {
        right,
        total,
        refused,
        probes,
        unimplemented,
        broken,
        report,
    }
}

/// What every scored set must show: the planner is implemented and nothing broke.
fn assert_scorable(score: &Score) {
    assert!(
        score.unimplemented == 0,
        "AskQuestion is not implemented: {} question(s) answered UNIMPLEMENTED; \
         the set cannot be scored\n{}",
        score.unimplemented,
        score.report
    );
    assert!(
        score.broken.is_empty(),
        "INTERNAL errors or broken calls (a panic?):\n  {}\n{}",
        score.broken.join("\n  "),
        score.report
    );
}

/// Loads the set's store, asks every question and holds the score to `bar`: at least
/// that share of the answerable questions exactly right, every probe refused.
async fn assert_set_scores(set: GoldenSet, label: &str, bar: f64) {
    let started = std::time::Instant::now();
    let golden = golden_store(set).await;
    let score = score(&golden, label, started).await;
    assert_scorable(&score);
    assert!(
        score.accuracy() >= bar,
        "the planner got {:.1} % of the {label} questions right, below {:.0} %\n{}",
        score.accuracy() * 100.0,
        bar * 100.0,
        score.report
    );
    assert_eq!(
        score.refused, score.probes,
        "every {label} probe must be refused\n{}",
        score.report
    );
}

#[tokio::test]
async fn golden_questions_are_answered() {
    assert_set_scores(main_set(), "golden", REQUIRED_ACCURACY).await;
}

/// The holdout set: phrasings written without reading the parser (first measured at
/// 68.9 % untuned; tests/golden/README.md), held to the main set's bar since.
#[tokio::test]
async fn golden_holdout_questions_are_scored() {
    assert_set_scores(holdout_set(), "holdout", HOLDOUT_FLOOR).await;
}

/// Prints every question's expectations as the independent SQL computes them, and
/// the store's names, without asking anything: for checking the set by hand.
/// `cargo nextest run -p pulsepoint-e2e -E 'test(/golden_expectations/)' --run-ignored only --no-capture`
#[tokio::test]
#[ignore = "prints the golden expectations for checking by hand"]
async fn golden_expectations_by_sql() {
    print_expectations(main_set()).await;
}

/// The same for the holdout set.
/// `cargo nextest run -p pulsepoint-e2e -E 'test(/golden_holdout_expectations/)' --run-ignored only --no-capture`
#[tokio::test]
#[ignore = "prints the holdout expectations for checking by hand"]
async fn golden_holdout_expectations_by_sql() {
    print_expectations(holdout_set()).await;
}

async fn print_expectations(set: GoldenSet) {
    let golden = golden_store(set).await;
    let brand_id: Uuid = golden.brand_id.parse().expect("brand");
    let names: Vec<(String, String, String)> = sqlx::query_as(
        "select 'campaign', platform || ' ' || platform_campaign_id, name from commerce.campaigns where brand_id = $1
         union all
         select 'product', platform_product_id, title from commerce.products where brand_id = $1
         union all
         select 'variant', v.platform_variant_id || ' ' || v.platform_product_id, coalesce(v.sku, '') || ' ' || v.title
           from commerce.variants v where v.brand_id = $1
         order by 1, 2",
    )
    .bind(brand_id)
    .fetch_all(&golden.superuser)
    .await
    .expect("names");
    for (kind, id, name) in names {
        println!("{kind:8} {id:40} {name}");
    }
    let first_day: Option<NaiveDate> = sqlx::query_scalar(
        "select min((processed_at at time zone 'UTC')::date) from commerce.orders where brand_id = $1",
    )
    .bind(brand_id)
    .fetch_one(&golden.superuser)
    .await
    .expect("first day");
    println!("first order day: {first_day:?}");
    let today = golden.set.today;
    let stock: Vec<(String, i64, i64)> = sqlx::query_as(
        "select v.sku, (select coalesce(sum(greatest(il.available, 0)), 0) from commerce.inventory_levels il
                         where il.brand_id = v.brand_id and il.platform_inventory_item_id = v.platform_inventory_item_id)::int8,
                (select coalesce(sum(l.quantity), 0) from commerce.order_lines l join commerce.orders o on o.order_id = l.order_id
                  where l.platform_variant_id = v.platform_variant_id and o.brand_id = v.brand_id
                    and not o.test and o.cancelled_at is null
                    and (o.processed_at at time zone 'UTC')::date between $2 - 28 and $2 - 1)::int8
         from commerce.variants v where v.brand_id = $1 order by 1",
    )
    .bind(brand_id)
    .bind(today)
    .fetch_all(&golden.superuser)
    .await
    .expect("stock");
    for (sku, on_hand, sold) in stock {
        let cover = (sold > 0).then(|| on_hand as f64 / (sold as f64 / 28.0));
        println!(
            "stock {sku:14} on hand {on_hand:5} sold in 28 days {sold:4} days of cover {cover:?}"
        );
    }
    let started = std::time::Instant::now();
    let expected = expectations(&golden).await;
    println!(
        "expectations computed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (question, figures) in golden.set.questions.iter().zip(&expected) {
        println!(
            "{} [{}] {:?}",
            question.id, question.category, question.question
        );
        for figure in figures {
            println!("    {figure}");
        }
    }
}

/// The scoring rules on hand-made figures: exact micros for money, the same period and
/// filter set, ratios within 1e-9 relative, no period for on hand.
#[test]
fn scoring_takes_only_the_exact_figure() {
    use pp_proto::common::{Date, DateRange, Money};
    use pp_proto::insights::{Figure, MetricFilter};
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).expect("date");
    let wire = |date: NaiveDate| Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    };
    let figure = |metric: &str,
                  micros: i64,
                  value: f64,
                  period: Option<(u32, u32)>,
                  filters: &[(&str, &str)]| {
        Got::from(&Figure {
            metric: metric.into(),
            value,
            money: (micros != 0).then(|| Money {
                currency_code: "USD".into(),
                units: micros / 1_000_000,
                nanos: ((micros % 1_000_000) * 1_000) as i32,
            }),
            period: period.map(|(start, end)| DateRange {
                start_date: Some(wire(day(start))),
                end_date: Some(wire(day(end))),
            }),
            filters: filters
                .iter()
                .map(|(dimension, value)| MetricFilter {
                    dimension: (*dimension).into(),
                    value: (*value).into(),
                })
                .collect(),
            ..Default::default()
        })
    };
    let expected =
        |metric: &str, value: f64, period: Option<(u32, u32)>, filters: &[(&str, &str)]| Expected {
            metric: metric.into(),
            period: period.map(|(start, end)| (day(start), day(end))),
            filters: filters
                .iter()
                .map(|(d, v)| ((*d).to_owned(), (*v).to_owned()))
                .collect(),
            value,
        };
    let net = expected(
        "net_revenue",
        -1_234_567.0,
        Some((9, 15)),
        &[("platform", "META_ADS")],
    );
    let exact = figure(
        "net_revenue",
        -1_234_567,
        -1.234567,
        Some((9, 15)),
        &[("platform", "META_ADS")],
    );
    assert!(
        present(&net, std::slice::from_ref(&exact)),
        "negative money, units and nanos"
    );
    let off_by_a_micro = figure(
        "net_revenue",
        -1_234_568,
        -1.234568,
        Some((9, 15)),
        &[("platform", "META_ADS")],
    );
    assert!(!present(&net, &[off_by_a_micro]));
    let other_period = figure(
        "net_revenue",
        -1_234_567,
        -1.234567,
        Some((9, 16)),
        &[("platform", "META_ADS")],
    );
    assert!(!present(&net, &[other_period]));
    let extra_filter = figure(
        "net_revenue",
        -1_234_567,
        -1.234567,
        Some((9, 15)),
        &[("platform", "META_ADS"), ("campaign_id", "c")],
    );
    assert!(!present(&net, std::slice::from_ref(&extra_filter)));
    assert!(
        present(&net, &[extra_filter, exact]),
        "extra figures are allowed"
    );

    let roas = expected("blended_roas", 3.2, Some((1, 18)), &[]);
    assert!(present(
        &roas,
        &[figure(
            "blended_roas",
            0,
            3.2 * (1.0 + 1e-12),
            Some((1, 18)),
            &[]
        )]
    ));
    assert!(!present(
        &roas,
        &[figure("blended_roas", 0, 3.2001, Some((1, 18)), &[])]
    ));
    assert!(!present(
        &roas,
        &[figure("platform_roas", 0, 3.2, Some((1, 18)), &[])]
    ));

    let on_hand = expected("on_hand", 127.0, None, &[("variant_id", "v")]);
    assert!(present(
        &on_hand,
        &[figure("on_hand", 0, 127.0, None, &[("variant_id", "v")])]
    ));
    assert!(!present(
        &on_hand,
        &[figure(
            "on_hand",
            0,
            127.0,
            Some((18, 18)),
            &[("variant_id", "v")]
        )]
    ));

    assert_eq!(
        sub_periods("week", (day(1), day(18))),
        [
            (day(1), day(1)),
            (day(2), day(8)),
            (day(9), day(15)),
            (day(16), day(18))
        ],
        "Monday–Sunday weeks cut to the period (1 November 2026 is a Sunday)"
    );
}
