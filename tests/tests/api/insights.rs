//! The insights service: the metric engine against independent SQL, the dashboard
//! against GetPortfolio, rollups kept current by sync events (idempotent by event id),
//! the freshness call carrying the caller's identity, bad input, the per-tenant cache.

use chrono::NaiveDate;
use pp_metrics::Metric;
use pp_proto::brands::GetPortfolioRequest;
use pp_proto::common::{Date, DateRange};
use pp_proto::insights::GetDashboardRequest;
use pulsepoint_insights::engine::{self, Dimension, Filter, Query, Value};
use sqlx::PgPool;
use tonic::Code;
use uuid::Uuid;

use crate::independent::{Scope, independent_value};
use crate::support::*;

pub(crate) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn wire(date: NaiveDate) -> Option<Date> {
    use chrono::Datelike;
    Some(Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    })
}

pub(crate) fn range(start: NaiveDate, end: NaiveDate) -> Option<DateRange> {
    Some(DateRange {
        start_date: wire(start),
        end_date: wire(end),
    })
}

/// Refreshes the brand's rollups as the service does after a sync (all its days the
/// first time, then what changed).
pub(crate) async fn refresh(stack: &Stack, tenant_id: &str, brand_id: &str) {
    let tenant = pp_auth::TenantId::parse("tenant_id", tenant_id).expect("tenant");
    let mut tx = pp_db::TenantTx::begin_for_tenant(&stack.insights.pool, tenant)
        .await
        .expect("tx");
    pulsepoint_insights::rollups::refresh_brand(&mut tx, brand_id.parse().expect("uuid"), None)
        .await
        .expect("refresh");
    tx.commit().await.expect("commit");
}

/// Inserts the crafted edge cases of one brand (CAD, America/Toronto) as the superuser.
/// Everything in March 2026 (DST starts there on Sunday 8 March).
pub(crate) async fn craft(db: &PgPool, tenant: &str, brand: &str) {
    let exec = |sql: &'static str| async move {
        sqlx::query(sql)
            .bind(tenant.parse::<Uuid>().expect("tenant"))
            .bind(brand.parse::<Uuid>().expect("brand"))
            .execute(db)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    };
    exec("insert into commerce.products (tenant_id, brand_id, platform_product_id, title, status, platform_updated_at)
          values ($1, $2, 'p1', 'Tee', 'active', now())").await;
    exec("insert into commerce.variants (tenant_id, brand_id, platform_variant_id, platform_product_id,
              platform_inventory_item_id, sku, title, currency_code, price_micros, unit_cost_micros)
          values ($1, $2, 'v1', 'p1', 'i1', 'TEE-S', 'S', 'CAD', 50000000, 20000000),
                 ($1, $2, 'v2', 'p1', 'i2', 'TEE-M', 'M', 'CAD', 80000000, 30000000),
                 ($1, $2, 'v3', 'p1', 'i3', 'TEE-L', 'L', 'CAD', 80000000, null)").await;
    exec(
        "insert into commerce.inventory_levels (tenant_id, brand_id, platform_inventory_item_id,
              platform_location_id, location_name, available, platform_updated_at)
          values ($1, $2, 'i1', 'a', 'A', 10, now()), ($1, $2, 'i1', 'b', 'B', -2, now()),
                 ($1, $2, 'i2', 'a', 'A', 7, now()), ($1, $2, 'i3', 'a', 'A', 4, now())",
    )
    .await;
    // (id, processed_at, currency, subtotal, discounts, test, cancelled, customer, channel)
    exec("insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id, processed_at,
              currency_code, total_micros, subtotal_micros, discounts_micros, test, cancelled_at,
              platform_customer_id, source_name)
          select $1, $2, ('00000000-0000-0000-0000-00000000000' || n)::uuid, 'o' || n, at::timestamptz,
                 cur, sub + 5000000, sub, disc, test, cancelled::timestamptz, customer, channel
          from (values
            -- 10:00 local on 2 March
            (1, '2026-03-02 15:00:00+00', 'CAD', 100000000, 10000000, false, null, 'c1', 'web'),
            -- 23:30 local on 5 March (EST) = 04:30 UTC on 6 March
            (2, '2026-03-06 04:30:00+00', 'CAD', 80000000, 0, false, null, 'c2', 'pos'),
            -- 8 March (DST day): 01:30 EST and 23:30 EDT
            (3, '2026-03-08 06:30:00+00', 'CAD', 50000000, 5000000, false, null, 'c1', 'web'),
            (4, '2026-03-09 03:30:00+00', 'CAD', 120000000, 20000000, false, null, 'c3', ''),
            -- cancelled (its refund does not count either), test, another currency
            (5, '2026-03-03 15:00:00+00', 'CAD', 999000000, 0, false, '2026-03-04 10:00:00+00', 'c5', 'web'),
            (6, '2026-03-03 16:00:00+00', 'CAD', 777000000, 0, true, null, 'c6', 'web'),
            (7, '2026-03-04 16:00:00+00', 'USD', 555000000, 0, false, null, 'c7', 'web'),
            -- February, refunded on 10 March
            (8, '2026-02-20 15:00:00+00', 'CAD', 60000000, 0, false, null, 'c4', 'web')
          ) as t(n, at, cur, sub, disc, test, cancelled, customer, channel)").await;
    exec(
        "insert into commerce.order_lines (tenant_id, brand_id, order_id, platform_line_id,
              platform_product_id, platform_variant_id, sku, title, quantity, unit_price_micros,
              discount_micros)
          select $1, $2, ('00000000-0000-0000-0000-00000000000' || n)::uuid, 'l' || n || v, 'p1', v,
                 'SKU-' || v, 'Tee', q, price, disc
          from (values
            (1, 'v1', 2, 50000000, 10000000), (2, 'v2', 1, 80000000, 0),
            (3, 'v1', 1, 50000000, 5000000), (4, 'v2', 1, 80000000, 20000000),
            (4, 'v3', 1, 40000000, 0), (5, 'v2', 9, 111000000, 0), (6, 'v1', 3, 259000000, 0),
            (7, 'v1', 1, 555000000, 0), (8, 'v1', 1, 60000000, 0)
          ) as t(n, v, q, price, disc)",
    )
    .await;
    exec("insert into commerce.refunds (tenant_id, brand_id, order_id, platform_refund_id,
              refunded_at, currency_code, amount_micros)
          select $1, $2, ('00000000-0000-0000-0000-00000000000' || n)::uuid, r, at::timestamptz, 'CAD', amount
          from (values
            (8, 'r8', '2026-03-10 15:00:00+00', 33000000),
            (1, 'r1', '2026-03-12 15:00:00+00', 50000000),
            (2, 'r2', '2026-03-11 15:00:00+00', 10000000),
            (5, 'r5', '2026-03-04 15:00:00+00', 999000000)
          ) as t(n, r, at, amount)").await;
    exec("insert into commerce.refund_lines (tenant_id, order_id, platform_refund_id, platform_line_id,
              quantity, subtotal_micros)
          select $1, ('00000000-0000-0000-0000-00000000000' || n)::uuid, r, l, q, sub
          from (values (8, 'r8', 'l8v1', 1, 30000000), (1, 'r1', 'l1v1', 1, 45000000),
                       (5, 'r5', 'l5v2', 9, 999000000)) as t(n, r, l, q, sub)
          where $2::uuid is not null").await;
    exec(
        "insert into commerce.customers (tenant_id, brand_id, platform_customer_id, first_order_at)
          values ($1, $2, 'c1', '2026-03-02 15:00:00+00'), ($1, $2, 'c2', '2026-03-06 04:30:00+00'),
                 ($1, $2, 'c3', '2026-03-09 03:30:00+00'), ($1, $2, 'c4', '2026-02-20 15:00:00+00'),
                 ($1, $2, 'c5', '2026-03-03 15:00:00+00')",
    )
    .await;
    exec("insert into commerce.ad_spend_daily (tenant_id, brand_id, platform, platform_campaign_id,
              spend_date, currency_code, spend_micros, impressions, clicks, conversions,
              conversion_value_micros)
          values ($1, $2, 'meta', 'm1', '2026-03-02', 'CAD', 40000000, 1000, 50, 2, 150000000),
                 ($1, $2, 'meta', 'm1', '2026-03-08', 'CAD', 20000000, 500, 20, 0, 0),
                 ($1, $2, 'google_ads', 'g1', '2026-03-05', 'CAD', 30000000, 800, 40, 1.5, 60000000),
                 ($1, $2, 'tiktok', 't1', '2026-03-05', 'USD', 99000000, 100, 1, 1, 99000000)").await;
}

fn engine_number(value: Value) -> Option<f64> {
    match value {
        Value::Money(micros) => Some(micros as f64),
        Value::Count(count) => Some(count as f64),
        Value::Number(number) => Some(number),
        Value::Unset => None,
    }
}

/// Every catalogue metric, engine vs independent SQL, for one brand and period.
async fn check_every_metric(
    stack: &Stack,
    superuser: &PgPool,
    tenant_id: &str,
    brand_id: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> std::collections::BTreeMap<Metric, Option<f64>> {
    let tenant = pp_auth::TenantId::parse("tenant_id", tenant_id).expect("tenant");
    let mut tx = pp_db::TenantTx::begin_for_tenant(&stack.insights.pool, tenant)
        .await
        .expect("tx");
    let brand = pulsepoint_insights::store::brand(&mut tx, brand_id.parse().expect("uuid"))
        .await
        .expect("brand")
        .expect("brand exists");
    let mut seen = std::collections::BTreeMap::new();
    for metric in Metric::ALL {
        let figures = engine::compute(
            &mut tx,
            &brand,
            &Query {
                metric,
                start,
                end,
                filters: Vec::new(),
                breakdown: None,
            },
        )
        .await
        .expect("compute");
        assert_eq!(figures.len(), 1, "{metric:?}");
        let figure = &figures[0];
        assert_eq!((figure.start, figure.end), (start, end));
        let got = engine_number(figure.value);
        let expected = independent_value(
            superuser,
            brand.brand_id,
            metric.id(),
            start,
            end,
            &Scope::default(),
        )
        .await;
        match (got, expected) {
            (Some(got), Some(expected)) => assert!(
                (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                "{metric:?} {start}..{end}: engine {got}, sql {expected}"
            ),
            (None, None) => {}
            other => panic!("{metric:?} {start}..{end}: engine/sql {other:?}"),
        }
        if figure.metric.unit() == pp_metrics::Unit::Currency {
            assert_eq!(figure.currency_code, brand.currency_code);
        }
        seen.insert(metric, got);
    }
    tx.commit().await.expect("commit");
    seen
}

#[tokio::test]
async fn every_catalogue_metric_equals_independent_sql() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let crafted = brand_with(
        &stack,
        &tenant.admin_token,
        "Maple",
        "CAD",
        "America/Toronto",
    )
    .await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    craft(&superuser, &tenant.tenant_id, &crafted.brand_id).await;
    refresh(&stack, &tenant.tenant_id, &crafted.brand_id).await;

    let march = check_every_metric(
        &stack,
        &superuser,
        &tenant.tenant_id,
        &crafted.brand_id,
        day(2026, 3, 1),
        day(2026, 3, 14),
    )
    .await;
    // Hand-checked, so the SQL above is not merely agreeing with itself.
    let hand = |m: Metric| march[&m].expect("value");
    assert_eq!(hand(Metric::GrossSales), 350_000_000.0, "o1+o2+o3+o4 only");
    assert_eq!(hand(Metric::Discounts), 35_000_000.0);
    assert_eq!(
        hand(Metric::Refunds),
        75_000_000.0,
        "February's order refunded in March counts; the cancelled order's refund and the shipping-only refund do not"
    );
    assert_eq!(hand(Metric::NetRevenue), 240_000_000.0);
    assert_eq!(hand(Metric::Orders), 4.0);
    assert_eq!(hand(Metric::AverageOrderValue), 78_750_000.0);
    assert_eq!(
        hand(Metric::AdSpend),
        90_000_000.0,
        "the USD row is left out"
    );
    assert_eq!(hand(Metric::NewCustomers), 3.0);
    assert_eq!(hand(Metric::ReturningCustomers), 1.0);
    assert_eq!(hand(Metric::Cac), 30_000_000.0);
    assert_eq!(
        hand(Metric::Cogs),
        80_000_000.0,
        "2×20 + 30 + 20 + 30 + 0 − (20 + 20)"
    );

    // 23:30 local on 5 March is 5 March, not 6 March (UTC).
    let fifth = check_every_metric(
        &stack,
        &superuser,
        &tenant.tenant_id,
        &crafted.brand_id,
        day(2026, 3, 5),
        day(2026, 3, 5),
    )
    .await;
    assert_eq!(fifth[&Metric::Orders], Some(1.0));
    let sixth = check_every_metric(
        &stack,
        &superuser,
        &tenant.tenant_id,
        &crafted.brand_id,
        day(2026, 3, 6),
        day(2026, 3, 6),
    )
    .await;
    assert_eq!(sixth[&Metric::Orders], Some(0.0));
    // The 23-hour DST day holds both of its orders.
    let dst = check_every_metric(
        &stack,
        &superuser,
        &tenant.tenant_id,
        &crafted.brand_id,
        day(2026, 3, 8),
        day(2026, 3, 8),
    )
    .await;
    assert_eq!(dst[&Metric::Orders], Some(2.0));
    // An empty period: zeros, and no days of cover.
    let empty = check_every_metric(
        &stack,
        &superuser,
        &tenant.tenant_id,
        &crafted.brand_id,
        day(2026, 1, 1),
        day(2026, 1, 31),
    )
    .await;
    assert_eq!(empty[&Metric::NetRevenue], Some(0.0));
    assert_eq!(empty[&Metric::DaysOfCover], None);

    // The generated demo store (refunds on later days, discounts, cancellations, test
    // orders), USD and UTC, over its last 30 days.
    let demo = create_brand(&stack, &tenant.admin_token, "Demo").await;
    let (_, run) = connect_demo(&stack, &tenant.admin_token, &demo.brand_id, 30).await;
    let finished = wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    assert_eq!(
        finished.state,
        pp_proto::integrations::SyncRunState::Succeeded as i32
    );
    refresh(&stack, &tenant.tenant_id, &demo.brand_id).await;
    let today = chrono::Utc::now().date_naive();
    let demo_figures = check_every_metric(
        &stack,
        &superuser,
        &tenant.tenant_id,
        &demo.brand_id,
        today - chrono::Days::new(29),
        today,
    )
    .await;
    assert!(demo_figures[&Metric::Orders].expect("orders") > 0.0);
    assert!(demo_figures[&Metric::Refunds].expect("refunds") > 0.0);
}

#[tokio::test]
async fn breakdowns_and_filters_add_up() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = brand_with(
        &stack,
        &tenant.admin_token,
        "Maple",
        "CAD",
        "America/Toronto",
    )
    .await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    craft(&superuser, &tenant.tenant_id, &brand.brand_id).await;
    refresh(&stack, &tenant.tenant_id, &brand.brand_id).await;
    let tenant_id = pp_auth::TenantId::parse("tenant_id", &tenant.tenant_id).expect("tenant");
    let mut tx = pp_db::TenantTx::begin_for_tenant(&stack.insights.pool, tenant_id)
        .await
        .expect("tx");
    let info = pulsepoint_insights::store::brand(&mut tx, brand.brand_id.parse().expect("uuid"))
        .await
        .expect("brand")
        .expect("exists");
    let query = |metric, filters: Vec<Filter>, breakdown| Query {
        metric,
        start: day(2026, 3, 1),
        end: day(2026, 3, 14),
        filters,
        breakdown,
    };
    let micros = |figures: &[engine::Figure]| -> Vec<i64> {
        figures.iter().filter_map(|f| f.value.micros()).collect()
    };
    let daily = engine::compute(
        &mut tx,
        &info,
        &query(Metric::NetRevenue, vec![], Some(Dimension::Day)),
    )
    .await
    .expect("daily");
    assert_eq!(daily.len(), 14, "every day, zeros included");
    assert_eq!(micros(&daily).iter().sum::<i64>(), 240_000_000);
    assert_eq!(daily[4].value, Value::Money(80_000_000), "5 March");
    assert_eq!(
        daily[11].value,
        Value::Money(-45_000_000),
        "12 March: only a refund"
    );
    let by_channel = engine::compute(
        &mut tx,
        &info,
        &query(Metric::NetRevenue, vec![], Some(Dimension::SalesChannel)),
    )
    .await
    .expect("by channel");
    let channels: Vec<&str> = by_channel
        .iter()
        .map(|f| f.filters[0].value.as_str())
        .collect();
    assert_eq!(channels, ["pos", "unknown", "web"]);
    assert_eq!(micros(&by_channel).iter().sum::<i64>(), 240_000_000);
    let web = engine::compute(
        &mut tx,
        &info,
        &query(
            Metric::Orders,
            vec![Filter {
                dimension: Dimension::SalesChannel,
                value: "web".into(),
            }],
            None,
        ),
    )
    .await
    .expect("web");
    assert_eq!(web[0].value, Value::Count(2));
    let by_platform = engine::compute(
        &mut tx,
        &info,
        &query(Metric::AdSpend, vec![], Some(Dimension::Platform)),
    )
    .await
    .expect("platforms");
    let platforms: Vec<(&str, i64)> = by_platform
        .iter()
        .map(|f| (f.filters[0].value.as_str(), f.value.micros().unwrap_or(-1)))
        .collect();
    assert_eq!(
        platforms,
        [("GOOGLE_ADS", 30_000_000), ("META_ADS", 60_000_000)]
    );
    let meta_roas = engine::compute(
        &mut tx,
        &info,
        &query(
            Metric::PlatformRoas,
            vec![Filter {
                dimension: Dimension::Platform,
                value: "META_ADS".into(),
            }],
            None,
        ),
    )
    .await
    .expect("meta roas");
    assert_eq!(meta_roas[0].value, Value::Number(2.5));
    let units = engine::compute(
        &mut tx,
        &info,
        &query(Metric::Units, vec![], Some(Dimension::VariantId)),
    )
    .await
    .expect("units by variant");
    let per_variant: Vec<(&str, f64)> = units
        .iter()
        .map(|f| (f.filters[0].value.as_str(), f.value.as_f64()))
        .collect();
    assert_eq!(per_variant, [("v1", 3.0), ("v2", 2.0), ("v3", 1.0)]);
    let cover = engine::compute(
        &mut tx,
        &info,
        &query(
            Metric::DaysOfCover,
            vec![Filter {
                dimension: Dimension::VariantId,
                value: "v1".into(),
            }],
            None,
        ),
    )
    .await
    .expect("cover");
    // 10 on hand (−2 counts zero) over 3 units / 14 days.
    let expected = 10.0 / (3.0 / 14.0);
    assert!((cover[0].value.as_f64() - expected).abs() < 1e-9);
    // A dimension the metric does not have is refused before anything is read.
    let refused = engine::compute(
        &mut tx,
        &info,
        &query(Metric::BlendedRoas, vec![], Some(Dimension::Platform)),
    )
    .await;
    assert!(matches!(
        refused,
        Err(engine::EngineError::Query(engine::QueryError::Dimension {
            field: "breakdown",
            ..
        }))
    ));
    tx.commit().await.expect("commit");
}

/// GetDashboard's KPIs in micros: (net revenue, orders, AOV).
async fn dashboard_sales(
    stack: &Stack,
    token: &str,
    brand_id: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> (i64, i64, i64) {
    let dashboard = stack
        .insights()
        .await
        .expect("client")
        .get_dashboard(authed(
            token,
            GetDashboardRequest {
                brand_id: brand_id.into(),
                date_range: range(start, end),
                comparison_range: None,
            },
        ))
        .await
        .expect("dashboard")
        .into_inner();
    let kpi = |id: &str| {
        dashboard
            .kpis
            .iter()
            .find(|k| k.current.as_ref().is_some_and(|c| c.metric == id))
            .and_then(|k| k.current.clone())
            .unwrap_or_else(|| panic!("kpi {id}"))
    };
    let money = |id: &str| pp_types::convert::micros(kpi(id).money.as_ref().expect("money"));
    (
        money("net_revenue"),
        kpi("orders").value as i64,
        money("aov"),
    )
}

#[tokio::test]
async fn portfolio_and_dashboard_agree_to_the_micro() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let crafted = brand_with(
        &stack,
        &tenant.admin_token,
        "Maple",
        "CAD",
        "America/Toronto",
    )
    .await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    craft(&superuser, &tenant.tenant_id, &crafted.brand_id).await;
    refresh(&stack, &tenant.tenant_id, &crafted.brand_id).await;
    let demo = create_brand(&stack, &tenant.admin_token, "Demo").await;
    let (_, run) = connect_demo(&stack, &tenant.admin_token, &demo.brand_id, 30).await;
    wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    refresh(&stack, &tenant.tenant_id, &demo.brand_id).await;

    let today = chrono::Utc::now().date_naive();
    let ranges = [
        (day(2026, 3, 1), day(2026, 3, 14)),
        (day(2026, 3, 5), day(2026, 3, 8)),
        (day(2026, 1, 1), day(2026, 1, 31)),
        (today - chrono::Days::new(29), today),
        (today - chrono::Days::new(6), today),
    ];
    let mut brands = stack.brands().await.expect("client");
    for (start, end) in ranges {
        let portfolio = brands
            .get_portfolio(authed(
                &tenant.admin_token,
                GetPortfolioRequest {
                    date_range: range(start, end),
                },
            ))
            .await
            .expect("portfolio")
            .into_inner();
        for brand in [&crafted, &demo] {
            let row = portfolio
                .brands
                .iter()
                .find(|b| b.brand_id == brand.brand_id)
                .expect("brand in portfolio");
            let from_portfolio = (
                pp_types::convert::micros(row.net_revenue.as_ref().expect("revenue")),
                row.order_count,
                pp_types::convert::micros(row.average_order_value.as_ref().expect("aov")),
            );
            let from_dashboard =
                dashboard_sales(&stack, &tenant.admin_token, &brand.brand_id, start, end).await;
            assert_eq!(
                from_portfolio, from_dashboard,
                "{} {start}..{end}",
                brand.name
            );
        }
    }
    let march = dashboard_sales(
        &stack,
        &tenant.admin_token,
        &crafted.brand_id,
        day(2026, 3, 1),
        day(2026, 3, 14),
    )
    .await;
    assert_eq!(march, (240_000_000, 4, 78_750_000));
}

#[tokio::test]
async fn dashboard_has_comparison_series_channels_and_definitions() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = brand_with(
        &stack,
        &tenant.admin_token,
        "Maple",
        "CAD",
        "America/Toronto",
    )
    .await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    craft(&superuser, &tenant.tenant_id, &brand.brand_id).await;
    refresh(&stack, &tenant.tenant_id, &brand.brand_id).await;
    let dashboard = stack
        .insights()
        .await
        .expect("client")
        .get_dashboard(authed(
            &tenant.admin_token,
            GetDashboardRequest {
                brand_id: brand.brand_id.clone(),
                date_range: range(day(2026, 3, 8), day(2026, 3, 14)),
                comparison_range: None,
            },
        ))
        .await
        .expect("dashboard")
        .into_inner();
    let ids: Vec<&str> = dashboard
        .kpis
        .iter()
        .map(|k| k.current.as_ref().expect("current").metric.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "net_revenue",
            "orders",
            "aov",
            "ad_spend",
            "blended_roas",
            "cac",
            "contribution_margin"
        ]
    );
    // 8–14 March against 1–7 March: net 170 − 25 − 75 = 70 vs 180 − 10 = 170 (CAD).
    let net = &dashboard.kpis[0];
    let current = net.current.as_ref().expect("current");
    let previous = net.previous.as_ref().expect("previous");
    assert_eq!(current.money.as_ref().expect("money").currency_code, "CAD");
    assert_eq!(
        pp_types::convert::micros(current.money.as_ref().expect("money")),
        70_000_000
    );
    assert_eq!(
        pp_types::convert::micros(previous.money.as_ref().expect("money")),
        170_000_000
    );
    let period = previous.period.as_ref().expect("period");
    assert_eq!(period.start_date, wire(day(2026, 3, 1)));
    assert_eq!(period.end_date, wire(day(2026, 3, 7)));
    let change = net.change_ratio.expect("change");
    assert!((change - (70.0 - 170.0) / 170.0).abs() < 1e-12);
    assert_eq!(dashboard.series.len(), 3);
    assert!(dashboard.series.iter().all(|s| s.points.len() == 7));
    let meta = dashboard
        .channels
        .iter()
        .find(|c| c.platform == pp_proto::common::Platform::MetaAds as i32)
        .expect("meta");
    assert_eq!(
        pp_types::convert::micros(meta.spend.as_ref().expect("spend")),
        20_000_000
    );
    assert!((meta.spend_share - 1.0).abs() < 1e-12);
    for definition in &dashboard.definitions {
        assert!(!definition.description.is_empty() && !definition.formula.is_empty());
    }
    assert!(
        dashboard
            .definitions
            .iter()
            .any(|d| d.metric == "blended_roas" && d.formula == "net_revenue / ad_spend")
    );
    assert!(dashboard.compute_time.is_some());
    // No integration is connected: no freshness to report.
    assert!(dashboard.data_freshness.is_empty());
}

#[tokio::test]
async fn dashboard_bad_input_names_the_field_and_other_tenants_see_nothing() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Northwind").await;
    let mut insights = stack.insights().await.expect("client");
    let request = |brand_id: &str, date_range, comparison_range| GetDashboardRequest {
        brand_id: brand_id.into(),
        date_range,
        comparison_range,
    };
    let march = range(day(2026, 3, 1), day(2026, 3, 31));
    for (req, field) in [
        (
            request(
                &brand.brand_id,
                range(day(2026, 3, 5), day(2026, 3, 1)),
                None,
            ),
            "date_range.end_date",
        ),
        (
            request(
                &brand.brand_id,
                range(day(2025, 1, 1), day(2026, 3, 1)),
                None,
            ),
            "date_range",
        ),
        (request(&brand.brand_id, None, None), "date_range"),
        (
            request(
                &brand.brand_id,
                Some(DateRange {
                    start_date: Some(Date {
                        year: 2026,
                        month: 2,
                        day: 30,
                    }),
                    end_date: wire(day(2026, 3, 1)),
                }),
                None,
            ),
            "date_range.start_date",
        ),
        (
            request(
                &brand.brand_id,
                march,
                range(day(2026, 2, 9), day(2026, 2, 1)),
            ),
            "comparison_range.end_date",
        ),
        (request("not-a-uuid", march, None), "brand_id"),
        (request("", march, None), "brand_id"),
    ] {
        assert_invalid(
            insights
                .get_dashboard(authed(&tenant.admin_token, req))
                .await,
            field,
        );
    }
    // A brand of nobody, and another tenant's brand: the same NOT_FOUND.
    let other = sign_up(&stack, "Other").await;
    let theirs = create_brand(&stack, &other.admin_token, "Theirs").await;
    for brand_id in [Uuid::new_v4().to_string(), theirs.brand_id.clone()] {
        let status = assert_code(
            insights
                .get_dashboard(authed(&tenant.admin_token, request(&brand_id, march, None)))
                .await,
            Code::NotFound,
        );
        assert_eq!(status.message(), "not found");
    }
    // A question needs its text.
    assert_invalid(
        insights
            .ask_question(authed(
                &tenant.admin_token,
                pp_proto::insights::AskQuestionRequest {
                    brand_id: brand.brand_id.clone(),
                    ..Default::default()
                },
            ))
            .await,
        "text",
    );
    assert_invalid(
        insights
            .ask_question(authed(
                &tenant.admin_token,
                pp_proto::insights::AskQuestionRequest {
                    brand_id: "x".into(),
                    ..Default::default()
                },
            ))
            .await,
        "brand_id",
    );
}

#[tokio::test]
async fn freshness_comes_from_integrations_with_the_callers_identity() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Demo").await;
    let (integration, run) = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 7).await;
    wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;

    // Through the RPC: the service forwards the caller's token.
    let dashboard = stack
        .insights()
        .await
        .expect("client")
        .get_dashboard(authed(
            &tenant.admin_token,
            GetDashboardRequest {
                brand_id: brand.brand_id.clone(),
                date_range: range(day(2026, 1, 1), day(2026, 1, 7)),
                comparison_range: None,
            },
        ))
        .await
        .expect("dashboard")
        .into_inner();
    let shopify = dashboard
        .data_freshness
        .iter()
        .find(|f| f.integration_id == integration.integration_id)
        .expect("the Shopify integration's freshness");
    assert_eq!(shopify.platform, pp_proto::common::Platform::Shopify as i32);
    assert!(shopify.data_as_of_time.is_some());
    assert!(!shopify.stale);

    // The same client without a caller: no identity to forward, and integrations refuses.
    let refused =
        pulsepoint_insights::freshness::for_brand(&stack.insights.integrations, &brand.brand_id)
            .await;
    assert_eq!(
        refused.expect_err("no identity").code(),
        Code::Unauthenticated
    );
    // With the caller's context it works, and only within the caller's tenant.
    let context = |token: &str| pp_auth::context::CallContext {
        authorization: Some(format!("Bearer {token}").parse().expect("header")),
        request_id: None,
        traceparent: None,
    };
    let allowed = pp_auth::context::scope(
        context(&tenant.admin_token),
        pulsepoint_insights::freshness::for_brand(&stack.insights.integrations, &brand.brand_id),
    )
    .await
    .expect("with identity");
    assert!(!allowed.is_empty());
    let other = sign_up(&stack, "Other").await;
    let as_other = pp_auth::context::scope(
        context(&other.admin_token),
        pulsepoint_insights::freshness::for_brand(&stack.insights.integrations, &brand.brand_id),
    )
    .await
    .expect("other tenant");
    assert!(as_other.is_empty(), "another tenant sees none of it");
}

#[tokio::test]
async fn rollups_follow_sync_events_once_per_event() {
    let emulator = tokio::task::spawn_blocking(pp_testkit::PubSubEmulator::start)
        .await
        .expect("join")
        .expect("emulator");
    let stack = spawn_stack(StackOptions {
        pubsub_emulator: Some(emulator.host()),
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Demo").await;
    let brand_id: Uuid = brand.brand_id.parse().expect("uuid");
    let (_, run) = connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 45).await;
    wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
    let today = chrono::Utc::now().date_naive();
    let (start, end) = (today - chrono::Days::new(44), today);
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    let raw_net = |pool: PgPool| async move {
        independent_value(
            &pool,
            brand_id,
            "net_revenue",
            start,
            end,
            &Scope::default(),
        )
        .await
        .expect("raw") as i64
    };
    let expected = raw_net(superuser.clone()).await;
    assert!(expected > 0);
    // The sync's data.sync_completed travels outbox → relay → Pub/Sub → insights.
    let mut seen = 0;
    for _ in 0..300 {
        seen = dashboard_sales(&stack, &tenant.admin_token, &brand.brand_id, start, end)
            .await
            .0;
        if seen == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, expected, "rollups refreshed by the sync event");

    // A refund arrives 20 days after its order: the sync rewrites the order (and its
    // refunds); its event refreshes the old day and the refund's day.
    let order: (Uuid, String) = sqlx::query_as(
        "select o.order_id, o.platform_order_id from commerce.orders o
         where o.brand_id = $1 and not o.test and o.cancelled_at is null
           and o.processed_at < now() - interval '30 days'
           and not exists (select 1 from commerce.refunds r where r.order_id = o.order_id)
         order by o.processed_at limit 1",
    )
    .bind(brand_id)
    .fetch_one(&superuser)
    .await
    .expect("an old order");
    let line: String = sqlx::query_scalar(
        "select platform_line_id from commerce.order_lines where order_id = $1 limit 1",
    )
    .bind(order.0)
    .fetch_one(&superuser)
    .await
    .expect("line");
    sqlx::query(
        "with r as (insert into commerce.refunds (tenant_id, brand_id, order_id, platform_refund_id,
                        refunded_at, currency_code, amount_micros)
                    select tenant_id, brand_id, order_id, 'late-refund',
                           processed_at + interval '20 days', currency_code, 12345678
                    from commerce.orders where order_id = $1 returning tenant_id, order_id)
         insert into commerce.refund_lines (tenant_id, order_id, platform_refund_id, platform_line_id,
             quantity, subtotal_micros)
         select tenant_id, order_id, 'late-refund', $2, 1, 12345678 from r",
    )
    .bind(order.0)
    .bind(&line)
    .execute(&superuser)
    .await
    .expect("late refund");
    sqlx::query("update commerce.orders set synced_at = now() where order_id = $1")
        .bind(order.0)
        .execute(&superuser)
        .await
        .expect("touch");
    let event = pp_events::EventEnvelope::new(
        tenant.tenant_id.parse().expect("uuid"),
        pulsepoint_insights::rollups::SYNC_COMPLETED,
        serde_json::json!({"sync_run_id": Uuid::new_v4(), "platform": "shopify", "state": "succeeded"}),
    )
    .with_brand(brand_id);
    assert!(
        pulsepoint_insights::rollups::handle_event(&stack.insights.pool, &event)
            .await
            .expect("handle")
    );
    let after_refund = raw_net(superuser.clone()).await;
    assert_eq!(after_refund, expected - 12_345_678);
    assert_eq!(
        dashboard_sales(&stack, &tenant.admin_token, &brand.brand_id, start, end)
            .await
            .0,
        after_refund,
        "the dashboard equals the raw-SQL answer after the late refund"
    );

    // The same event delivered again changes nothing, even though the data changed
    // meanwhile; a new event picks the change up.
    sqlx::query("update commerce.refund_lines set subtotal_micros = 2345678 where platform_refund_id = 'late-refund'")
        .execute(&superuser)
        .await
        .expect("edit");
    sqlx::query("update commerce.orders set synced_at = now() where order_id = $1")
        .bind(order.0)
        .execute(&superuser)
        .await
        .expect("touch");
    assert!(
        !pulsepoint_insights::rollups::handle_event(&stack.insights.pool, &event)
            .await
            .expect("duplicate")
    );
    assert_eq!(
        dashboard_sales(&stack, &tenant.admin_token, &brand.brand_id, start, end)
            .await
            .0,
        after_refund,
        "a duplicate delivery changes nothing"
    );
    let again = pp_events::EventEnvelope::new(
        tenant.tenant_id.parse().expect("uuid"),
        pulsepoint_insights::rollups::SYNC_COMPLETED,
        serde_json::json!({}),
    )
    .with_brand(brand_id);
    assert!(
        pulsepoint_insights::rollups::handle_event(&stack.insights.pool, &again)
            .await
            .expect("handle")
    );
    assert_eq!(
        dashboard_sales(&stack, &tenant.admin_token, &brand.brand_id, start, end)
            .await
            .0,
        raw_net(superuser.clone()).await
    );

    // The sweep refreshes brands it has seen: a change without any event is picked up.
    sqlx::query("update commerce.refund_lines set subtotal_micros = 1000000 where platform_refund_id = 'late-refund'")
        .execute(&superuser)
        .await
        .expect("edit");
    sqlx::query("update commerce.orders set synced_at = now() where order_id = $1")
        .bind(order.0)
        .execute(&superuser)
        .await
        .expect("touch");
    let swept = pulsepoint_insights::rollups::sweep(&stack.insights.pool, 35)
        .await
        .expect("sweep");
    assert!(swept >= 1);
    assert_eq!(
        dashboard_sales(&stack, &tenant.admin_token, &brand.brand_id, start, end)
            .await
            .0,
        raw_net(superuser).await
    );
}

#[tokio::test]
async fn dashboards_are_cached_per_tenant() {
    let stack = spawn_stack(StackOptions {
        insights_cache_ttl: std::time::Duration::from_secs(60),
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = brand_with(
        &stack,
        &tenant.admin_token,
        "Maple",
        "CAD",
        "America/Toronto",
    )
    .await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    craft(&superuser, &tenant.tenant_id, &brand.brand_id).await;
    refresh(&stack, &tenant.tenant_id, &brand.brand_id).await;
    let (start, end) = (day(2026, 3, 1), day(2026, 3, 14));
    let first = dashboard_sales(&stack, &tenant.admin_token, &brand.brand_id, start, end).await;
    assert_eq!(first.0, 240_000_000);
    // The entry lives under the tenant's namespace.
    let cache = pp_cache::Cache::new(&pp_testkit::redis_url());
    let tenant_id = pp_auth::TenantId::parse("tenant_id", &tenant.tenant_id).expect("tenant");
    let key = pp_cache::TenantKey::new(
        tenant_id,
        format_args!(
            "dashboard:{}:{start}:{end}:2026-02-15:2026-02-28",
            brand.brand_id
        ),
    );
    assert!(
        key.as_str()
            .starts_with(&format!("t:{}:", tenant.tenant_id))
    );
    assert!(
        cache.get(&key).await.is_some(),
        "cached under {}",
        key.as_str()
    );
    // Within its lifetime the cached figures are served, even after the rollups change.
    sqlx::query("delete from commerce.refunds where platform_refund_id = 'r1'")
        .execute(&superuser)
        .await
        .expect("delete");
    let tx_tenant = tenant_id;
    let mut tx = pp_db::TenantTx::begin_for_tenant(&stack.insights.pool, tx_tenant)
        .await
        .expect("tx");
    pulsepoint_insights::store::rollups::refresh(
        &mut tx,
        brand.brand_id.parse().expect("uuid"),
        start,
        end,
    )
    .await
    .expect("refresh");
    tx.commit().await.expect("commit");
    assert_eq!(
        dashboard_sales(&stack, &tenant.admin_token, &brand.brand_id, start, end).await,
        first
    );
    // Another tenant naming this brand does not reach the entry: NOT_FOUND.
    let other = sign_up(&stack, "Other").await;
    assert_code(
        stack
            .insights()
            .await
            .expect("client")
            .get_dashboard(authed(
                &other.admin_token,
                GetDashboardRequest {
                    brand_id: brand.brand_id.clone(),
                    date_range: range(start, end),
                    comparison_range: None,
                },
            ))
            .await,
        Code::NotFound,
    );
    // Once the entry is gone the new figures show.
    assert!(cache.delete(&key).await || cache.get(&key).await.is_none());
    assert_eq!(
        dashboard_sales(&stack, &tenant.admin_token, &brand.brand_id, start, end)
            .await
            .0,
        285_000_000
    );
}

#[tokio::test]
async fn inventory_forecast_by_hand() {
    use pp_proto::insights::{GetInventoryForecastRequest, StockoutRisk};
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = brand_with(&stack, &tenant.admin_token, "Stock", "USD", "UTC").await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    let ids = (
        tenant.tenant_id.parse::<Uuid>().expect("tenant"),
        brand.brand_id.parse::<Uuid>().expect("brand"),
    );
    // va: 2 units on each of the last 28 days, 10 on hand, lead time 7 days.
    // vb: never sold, 4 on hand, no lead time recorded. vc: one unit sold, none left.
    for sql in [
        "insert into commerce.products (tenant_id, brand_id, platform_product_id, title, status, platform_updated_at)
         values ($1, $2, 'p1', 'Mug', 'active', now())",
        "insert into commerce.variants (tenant_id, brand_id, platform_variant_id, platform_product_id,
             platform_inventory_item_id, sku, title, currency_code, price_micros, lead_time_days)
         values ($1, $2, 'va', 'p1', 'ia', 'MUG-A', 'A', 'USD', 10000000, 7),
                ($1, $2, 'vb', 'p1', 'ib', 'MUG-B', 'B', 'USD', 10000000, null),
                ($1, $2, 'vc', 'p1', 'ic', 'MUG-C', 'C', 'USD', 10000000, 3)",
        "insert into commerce.inventory_levels (tenant_id, brand_id, platform_inventory_item_id,
             platform_location_id, location_name, available, platform_updated_at)
         values ($1, $2, 'ia', 'x', 'X', 10, now()), ($1, $2, 'ib', 'x', 'X', 4, now()),
                ($1, $2, 'ic', 'x', 'X', 0, now())",
        "insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id, processed_at,
             currency_code, total_micros, subtotal_micros)
         select $1, $2, md5('o' || n)::uuid, 'o' || n, current_date - n + interval '12 hours', 'USD', 20000000, 20000000
         from generate_series(1, 28) n",
        "insert into commerce.order_lines (tenant_id, brand_id, order_id, platform_line_id,
             platform_product_id, platform_variant_id, sku, title, quantity, unit_price_micros)
         select $1, $2, md5('o' || n)::uuid, 'l' || n, 'p1', 'va', 'MUG-A', 'Mug', 2, 10000000
         from generate_series(1, 28) n",
        "insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id, processed_at,
             currency_code, total_micros, subtotal_micros)
         values ($1, $2, md5('c')::uuid, 'c', current_date - 3 + interval '12 hours', 'USD', 10000000, 10000000)",
        "insert into commerce.order_lines (tenant_id, brand_id, order_id, platform_line_id,
             platform_product_id, platform_variant_id, sku, title, quantity, unit_price_micros)
         values ($1, $2, md5('c')::uuid, 'lc', 'p1', 'vc', 'MUG-C', 'Mug', 1, 10000000)",
    ] {
        sqlx::query(sql)
            .bind(ids.0)
            .bind(ids.1)
            .execute(&superuser)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }
    refresh(&stack, &tenant.tenant_id, &brand.brand_id).await;
    let mut insights = stack.insights().await.expect("client");
    let request =
        |horizon_days, page_size, page_token: &str, at_risk_only| GetInventoryForecastRequest {
            brand_id: brand.brand_id.clone(),
            horizon_days,
            velocity_window_days: 28,
            at_risk_only,
            product_id: String::new(),
            page_size,
            page_token: page_token.into(),
        };
    let all = insights
        .get_inventory_forecast(authed(&tenant.admin_token, request(30, 0, "", false)))
        .await
        .expect("forecast")
        .into_inner();
    let order: Vec<&str> = all.items.iter().map(|i| i.variant_id.as_str()).collect();
    assert_eq!(order, ["vc", "va", "vb"], "soonest stock-out first");
    let today = chrono::Utc::now().date_naive();
    let va = &all.items[1];
    assert_eq!((va.on_hand_units, va.daily_velocity), (10, 2.0));
    assert_eq!(va.days_of_cover, Some(5.0));
    assert_eq!(va.stockout_date, wire(today + chrono::Days::new(5)));
    assert_eq!(
        va.reorder_date,
        wire(today),
        "lead time 7 > 5 days of cover: order today"
    );
    assert_eq!(va.reorder_units, 2 * (30 + 7) - 10);
    assert_eq!(va.risk, StockoutRisk::High as i32);
    assert_eq!(
        (va.lead_time_days, va.title.as_str(), va.sku.as_str()),
        (7, "Mug / A", "MUG-A")
    );
    let vb = &all.items[2];
    assert_eq!(
        (vb.daily_velocity, vb.days_of_cover, vb.stockout_date),
        (0.0, None, None)
    );
    assert_eq!((vb.reorder_units, vb.risk), (0, StockoutRisk::Low as i32));
    assert_eq!(vb.lead_time_days, 14, "the default lead time");
    let vc = &all.items[0];
    assert_eq!(vc.stockout_date, wire(today), "none on hand");
    assert_eq!(vc.risk, StockoutRisk::High as i32);
    assert_eq!(vc.reorder_units, 2, "ceil(37 / 28)");
    assert!(all.definitions.iter().any(|d| d.metric == "days_of_cover"));

    let at_risk = insights
        .get_inventory_forecast(authed(&tenant.admin_token, request(30, 0, "", true)))
        .await
        .expect("at risk")
        .into_inner();
    assert_eq!(at_risk.items.len(), 2);
    // Pages, and a token belongs to its query.
    let first = insights
        .get_inventory_forecast(authed(&tenant.admin_token, request(30, 2, "", false)))
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(first.items.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = insights
        .get_inventory_forecast(authed(
            &tenant.admin_token,
            request(30, 2, &first.next_page_token, false),
        ))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(second.items[0].variant_id, "vb");
    assert!(second.next_page_token.is_empty());
    assert_invalid(
        insights
            .get_inventory_forecast(authed(
                &tenant.admin_token,
                request(60, 2, &first.next_page_token, false),
            ))
            .await,
        "page_token",
    );
    assert_invalid(
        insights
            .get_inventory_forecast(authed(&tenant.admin_token, request(181, 0, "", false)))
            .await,
        "horizon_days",
    );
    let mut bad_window = request(30, 0, "", false);
    bad_window.velocity_window_days = -1;
    assert_invalid(
        insights
            .get_inventory_forecast(authed(&tenant.admin_token, bad_window))
            .await,
        "velocity_window_days",
    );
}

/// The freshness of one brand's dashboard call, as the admin sees it.
async fn freshness_sources(stack: &Stack, token: &str, brand_id: &str) -> usize {
    stack
        .insights()
        .await
        .expect("client")
        .get_dashboard(authed(
            token,
            GetDashboardRequest {
                brand_id: brand_id.into(),
                date_range: range(day(2026, 1, 1), day(2026, 1, 7)),
                comparison_range: None,
            },
        ))
        .await
        .expect("dashboard")
        .into_inner()
        .data_freshness
        .len()
}

#[tokio::test]
async fn a_brands_freshness_is_reused_for_its_ttl_and_asked_again_without_one() {
    for (ttl, reused) in [
        (std::time::Duration::from_secs(300), true),
        (std::time::Duration::ZERO, false),
    ] {
        let stack = spawn_stack(StackOptions {
            insights_freshness_ttl: ttl,
            ..StackOptions::default()
        })
        .await
        .expect("stack");
        let tenant = sign_up(&stack, "Acme").await;
        let brand = create_brand(&stack, &tenant.admin_token, "Demo").await;
        let (integration, run) =
            connect_demo(&stack, &tenant.admin_token, &brand.brand_id, 7).await;
        wait_for_run(&stack, &tenant.admin_token, &run.sync_run_id).await;
        let before = freshness_sources(&stack, &tenant.admin_token, &brand.brand_id).await;
        assert!(before >= 1, "the demo store's sources");
        stack
            .integrations()
            .await
            .expect("client")
            .disconnect_integration(authed(
                &tenant.admin_token,
                pp_proto::integrations::DisconnectIntegrationRequest {
                    integration_id: integration.integration_id.clone(),
                    delete_synced_data: false,
                    request_id: String::new(),
                },
            ))
            .await
            .expect("disconnect");
        assert_eq!(
            freshness_sources(&stack, &tenant.admin_token, &brand.brand_id).await,
            if reused { before } else { before - 1 },
            "ttl {ttl:?}: the disconnected source is gone only when asked again"
        );
    }
}
