//! GetAttribution on the real stack: crafted orders, touches and spend give the
//! hand-computed rows under LAST_CLICK, LINEAR and POSITION_BASED; under every model the
//! rows plus the unattributed revenue equal the range's net revenue computed by
//! independent SQL; bad input names its field; an analyst may call it; another
//! tenant's brand is NOT_FOUND.

use pp_proto::common::{Platform, Role as ProtoRole};
use pp_proto::insights::{
    AttributionGrouping, AttributionModel, GetAttributionRequest, GetAttributionResponse,
};
use pp_types::convert::micros;
use sqlx::PgPool;
use tonic::Code;
use uuid::Uuid;

use crate::insights::{day, range, refresh};
use crate::support::*;

const M: i64 = 1_000_000;

/// One brand's journeys (CAD, America/Toronto), the range being 1–14 March 2026:
///
/// | order | placed (UTC) | amount in range | customer | touches (UTC) |
/// |---|---|---|---|---|
/// | o1 | 5 Mar 15:00 | 90 − refund 9 (12 Mar) = 81 | c1, first order | meta m1 2 Mar 15:00, google g1 4 Mar 15:00, direct 5 Mar 14:00 |
/// | o2 | 6 Mar 15:00 | 50 − discount 10 = 40 | c2, returning | meta m2 6 Mar 10:00, email 6 Mar 12:00 |
/// | o3 | 7 Mar 15:00 | 30 | c3, first order | none |
/// | o4 | 8 Mar 18:00 | 60 | c4, first order | tiktok t1 20 Feb (16 days before), google g1 8 Mar 17:00 |
/// | o5 | 25 Feb 15:00 | refund 5 (10 Mar) = −5 | c5 | meta m1 24 Feb 15:00 |
/// | o6 | cancelled | — | | meta m1 |
/// | o7 | test order | — | | meta m1 |
///
/// Spend (1–14 March): meta m1 40, meta m2 10, google g1 30, tiktok t1 5; a USD row and
/// a February row are left out.
async fn craft(db: &PgPool, tenant: &str, brand: &str) {
    let exec = |sql: &'static str| async move {
        sqlx::query(sql)
            .bind(tenant.parse::<Uuid>().expect("tenant"))
            .bind(brand.parse::<Uuid>().expect("brand"))
            .execute(db)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    };
    exec("insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id, processed_at,
              currency_code, total_micros, subtotal_micros, discounts_micros, test, cancelled_at,
              platform_customer_id, source_name)
          select $1, $2, ('00000000-0000-0000-0000-0000000000a' || n)::uuid, 'o' || n, at::timestamptz,
                 'CAD', sub, sub, disc, test, cancelled::timestamptz, customer, 'web'
          from (values
            (1, '2026-03-05 15:00:00+00', 90000000, 0, false, null, 'c1'),
            (2, '2026-03-06 15:00:00+00', 50000000, 10000000, false, null, 'c2'),
            (3, '2026-03-07 15:00:00+00', 30000000, 0, false, null, 'c3'),
            (4, '2026-03-08 18:00:00+00', 60000000, 0, false, null, 'c4'),
            (5, '2026-02-25 15:00:00+00', 20000000, 0, false, null, 'c5'),
            (6, '2026-03-09 15:00:00+00', 70000000, 0, false, '2026-03-09 16:00:00+00', 'c6'),
            (7, '2026-03-09 15:00:00+00', 80000000, 0, true, null, 'c7')
          ) as t(n, at, sub, disc, test, cancelled, customer)").await;
    exec(
        "insert into commerce.order_lines (tenant_id, brand_id, order_id, platform_line_id, title,
              quantity, unit_price_micros)
          select $1, $2, ('00000000-0000-0000-0000-0000000000a' || n)::uuid, 'l' || n, 'Tee', 1, sub
          from (values (1, 90000000), (5, 20000000)) as t(n, sub)",
    )
    .await;
    exec("insert into commerce.refunds (tenant_id, brand_id, order_id, platform_refund_id,
              refunded_at, currency_code, amount_micros)
          select $1, $2, ('00000000-0000-0000-0000-0000000000a' || n)::uuid, 'r' || n, at::timestamptz,
                 'CAD', amount
          from (values (1, '2026-03-12 15:00:00+00', 9000000), (5, '2026-03-10 15:00:00+00', 5000000))
               as t(n, at, amount)").await;
    exec("insert into commerce.refund_lines (tenant_id, order_id, platform_refund_id, platform_line_id,
              quantity, subtotal_micros)
          select $1, ('00000000-0000-0000-0000-0000000000a' || n)::uuid, 'r' || n, 'l' || n, 1, amount
          from (values (1, 9000000), (5, 5000000)) as t(n, amount)
          where $2::uuid is not null").await;
    exec(
        "insert into commerce.customers (tenant_id, brand_id, platform_customer_id, first_order_at)
          values ($1, $2, 'c1', '2026-03-05 15:00:00+00'), ($1, $2, 'c2', '2026-01-01 15:00:00+00'),
                 ($1, $2, 'c3', '2026-03-07 15:00:00+00'), ($1, $2, 'c4', '2026-03-08 18:00:00+00'),
                 ($1, $2, 'c5', '2026-02-25 15:00:00+00')",
    )
    .await;
    exec(
        "insert into commerce.touchpoints (tenant_id, brand_id, order_id, position, occurred_at,
              channel, platform, platform_campaign_id)
          select $1, $2, ('00000000-0000-0000-0000-0000000000a' || n)::uuid, pos, at::timestamptz,
                 channel, platform, campaign
          from (values
            (1, 0, '2026-03-02 15:00:00+00', 'paid_social', 'meta', 'm1'),
            (1, 1, '2026-03-04 15:00:00+00', 'paid_search', 'google_ads', 'g1'),
            (1, 2, '2026-03-05 14:00:00+00', 'direct', null, null),
            (2, 0, '2026-03-06 10:00:00+00', 'paid_social', 'meta', 'm2'),
            (2, 1, '2026-03-06 12:00:00+00', 'email', null, null),
            (4, 0, '2026-02-20 18:00:00+00', 'paid_social', 'tiktok', 't1'),
            (4, 1, '2026-03-08 17:00:00+00', 'paid_search', 'google_ads', 'g1'),
            (5, 0, '2026-02-24 15:00:00+00', 'paid_social', 'meta', 'm1'),
            (6, 0, '2026-03-09 14:00:00+00', 'paid_social', 'meta', 'm1'),
            (7, 0, '2026-03-09 14:00:00+00', 'paid_social', 'meta', 'm1')
          ) as t(n, pos, at, channel, platform, campaign)",
    )
    .await;
    exec(
        "insert into commerce.campaigns (tenant_id, brand_id, platform, platform_campaign_id, name)
          values ($1, $2, 'meta', 'm1', 'Spring Sale'), ($1, $2, 'meta', 'm2', 'Retargeting'),
                 ($1, $2, 'google_ads', 'g1', 'Brand Search'), ($1, $2, 'tiktok', 't1', 'UGC')",
    )
    .await;
    exec("insert into commerce.ad_spend_daily (tenant_id, brand_id, platform, platform_campaign_id,
              spend_date, currency_code, spend_micros, impressions, clicks, conversions,
              conversion_value_micros)
          values ($1, $2, 'meta', 'm1', '2026-03-02', 'CAD', 40000000, 1000, 50, 2, 150000000),
                 ($1, $2, 'meta', 'm2', '2026-03-06', 'CAD', 10000000, 100, 5, 1, 30000000),
                 ($1, $2, 'google_ads', 'g1', '2026-03-05', 'CAD', 30000000, 800, 40, 1.5, 60000000),
                 ($1, $2, 'tiktok', 't1', '2026-03-03', 'CAD', 5000000, 100, 1, 0, 0),
                 ($1, $2, 'tiktok', 't1', '2026-03-04', 'USD', 99000000, 100, 1, 1, 99000000),
                 ($1, $2, 'meta', 'm1', '2026-02-27', 'CAD', 77000000, 100, 1, 1, 1000000)").await;
}

/// The range's net revenue, written apart from the service: orders that count on their
/// local day, refund lines on theirs.
async fn independent_net_revenue(db: &PgPool, brand: &str) -> i64 {
    sqlx::query_scalar(
        "with b as (select * from brands.brands where brand_id = $1),
              o as (select o.* from commerce.orders o join b on b.brand_id = o.brand_id
                    where not o.test and o.cancelled_at is null and o.currency_code = b.currency_code),
              sold as (select coalesce(sum(o.subtotal_micros - o.discounts_micros), 0) as v
                    from o join b on true
                    where (o.processed_at at time zone b.time_zone)::date between $2 and $3),
              refunded as (select coalesce(sum(rl.subtotal_micros), 0) as v
                    from commerce.refunds r join o on o.order_id = r.order_id
                    join commerce.refund_lines rl on rl.order_id = r.order_id
                                                  and rl.platform_refund_id = r.platform_refund_id
                    join b on true
                    where (r.refunded_at at time zone b.time_zone)::date between $2 and $3)
         select ((select v from sold) - (select v from refunded))::bigint",
    )
    .bind(brand.parse::<Uuid>().expect("brand"))
    .bind(day(2026, 3, 1))
    .bind(day(2026, 3, 14))
    .fetch_one(db)
    .await
    .expect("independent net revenue")
}

fn request(
    brand_id: &str,
    model: AttributionModel,
    group_by: AttributionGrouping,
) -> GetAttributionRequest {
    GetAttributionRequest {
        brand_id: brand_id.into(),
        date_range: range(day(2026, 3, 1), day(2026, 3, 14)),
        model: model as i32,
        group_by: group_by as i32,
        lookback_window_days: 0,
        half_life_days: 0,
    }
}

async fn attribution(
    stack: &Stack,
    token: &str,
    request: GetAttributionRequest,
) -> GetAttributionResponse {
    stack
        .insights()
        .await
        .expect("client")
        .get_attribution(authed(token, request))
        .await
        .expect("attribution")
        .into_inner()
}

/// A row as (platform, campaign id, attributed revenue in micros).
fn revenue(response: &GetAttributionResponse) -> Vec<(Platform, String, i64)> {
    response
        .rows
        .iter()
        .map(|r| {
            (
                Platform::try_from(r.platform).unwrap_or(Platform::Unspecified),
                r.campaign_id.clone(),
                r.attributed_revenue
                    .as_ref()
                    .map(micros)
                    .unwrap_or(i64::MIN),
            )
        })
        .collect()
}

fn unattributed(response: &GetAttributionResponse) -> i64 {
    response
        .unattributed_revenue
        .as_ref()
        .map(micros)
        .expect("unattributed revenue")
}

fn total(response: &GetAttributionResponse, metric: &str) -> f64 {
    response
        .totals
        .iter()
        .find(|f| f.metric == metric)
        .map(|f| f.money.as_ref().map_or(f.value, |m| micros(m) as f64))
        .unwrap_or_else(|| panic!("total {metric}"))
}

fn row(platform: Platform, campaign: &str, micros: i64) -> (Platform, String, i64) {
    (platform, campaign.to_owned(), micros)
}

#[tokio::test]
async fn attribution_rows_are_hand_computed_and_add_up_to_net_revenue() {
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
    let net = independent_net_revenue(&superuser, &brand.brand_id).await;
    assert_eq!(net, 206 * M, "90 + 40 + 30 + 60 − 9 − 5");
    let token = &tenant.admin_token;
    let id = brand.brand_id.as_str();
    use AttributionGrouping::{Campaign, Platform as ByPlatform};
    use AttributionModel as Model;

    // LAST_CLICK: o1 → google (the direct visit after it does not count), o2 → meta m2,
    // o4 → google (the tiktok touch is 16 days old), o5's refund → meta m1, o3 none.
    let last = attribution(&stack, token, request(id, Model::LastClick, ByPlatform)).await;
    assert_eq!(
        revenue(&last),
        [
            row(Platform::GoogleAds, "", 141 * M),
            row(Platform::MetaAds, "", 35 * M),
            row(Platform::TiktokAds, "", 0),
        ]
    );
    assert_eq!(unattributed(&last), 30 * M);
    let google = &last.rows[0];
    assert_eq!(google.spend.as_ref().map(micros), Some(30 * M));
    assert_eq!(google.attributed_orders, 2.0);
    assert!((google.roas - 141.0 / 30.0).abs() < 1e-12);
    assert_eq!(
        google.cac.as_ref().map(micros),
        Some(15 * M),
        "30 ÷ 2 new customers"
    );
    assert!((google.revenue_share - 141.0 / 176.0).abs() < 1e-12);
    let meta = &last.rows[1];
    assert_eq!(meta.spend.as_ref().map(micros), Some(50 * M));
    assert_eq!(
        meta.attributed_orders, 1.0,
        "the refunded February order is no order of March"
    );
    assert_eq!(meta.cac, None, "o2's customer is returning");
    assert_eq!(last.rows[2].spend.as_ref().map(micros), Some(5 * M));
    // Totals are the dashboard's figures.
    assert_eq!(total(&last, "net_revenue"), (206 * M) as f64);
    assert_eq!(total(&last, "ad_spend"), (85 * M) as f64);
    assert!((total(&last, "blended_roas") - 206.0 / 85.0).abs() < 1e-12);
    assert_eq!(total(&last, "cac"), 28_333_333.0, "85 ÷ 3 new customers");
    for metric in [
        "net_revenue",
        "ad_spend",
        "blended_roas",
        "cac",
        "attributed_revenue",
    ] {
        assert!(
            last.definitions.iter().any(|d| d.metric == metric),
            "{metric}"
        );
    }
    // A lookback of 0 is the default 7 days.
    let mut seven = request(id, Model::LastClick, ByPlatform);
    seven.lookback_window_days = 7;
    assert_eq!(
        revenue(&attribution(&stack, token, seven).await),
        revenue(&last)
    );

    // LINEAR: o1 27 each (direct's third unattributed), o2 20 + 20 (email unattributed).
    let linear = attribution(&stack, token, request(id, Model::Linear, Campaign)).await;
    assert_eq!(
        revenue(&linear),
        [
            row(Platform::GoogleAds, "g1", 87 * M),
            row(Platform::MetaAds, "m1", 22 * M),
            row(Platform::MetaAds, "m2", 20 * M),
            row(Platform::TiktokAds, "t1", 0),
        ]
    );
    assert_eq!(unattributed(&linear), 77 * M);
    let names: Vec<&str> = linear
        .rows
        .iter()
        .map(|r| r.campaign_name.as_str())
        .collect();
    assert_eq!(names, ["Brand Search", "Spring Sale", "Retargeting", "UGC"]);
    assert!((linear.rows[0].attributed_orders - (1.0 + 1.0 / 3.0)).abs() < 1e-12);
    // A 30-day window takes o4's tiktok touch: 30 each to tiktok and google.
    let mut wide = request(id, Model::Linear, ByPlatform);
    wide.lookback_window_days = 30;
    assert_eq!(
        revenue(&attribution(&stack, token, wide).await),
        [
            row(Platform::GoogleAds, "", 57 * M),
            row(Platform::MetaAds, "", 42 * M),
            row(Platform::TiktokAds, "", 30 * M),
        ]
    );

    // POSITION_BASED: o1's 81 → 32.4 (meta) / 16.2 (google) / 32.4 (direct,
    // unattributed); o2 50/50 (meta m2, email); o4 (one touch in the window) 100 %.
    let position = attribution(&stack, token, request(id, Model::PositionBased, ByPlatform)).await;
    assert_eq!(
        revenue(&position),
        [
            row(Platform::GoogleAds, "", 76_200_000),
            row(Platform::MetaAds, "", 47_400_000),
            row(Platform::TiktokAds, "", 0),
        ]
    );
    assert_eq!(unattributed(&position), 82_400_000);

    // Every model and grouping: rows + unattributed = net revenue, to the micro.
    for model in [
        Model::Unspecified,
        Model::LastClick,
        Model::FirstClick,
        Model::Linear,
        Model::LastNonDirectClick,
        Model::TimeDecay,
        Model::PositionBased,
    ] {
        for grouping in [ByPlatform, Campaign] {
            for lookback in [1, 7, 30, 90] {
                let mut req = request(id, model, grouping);
                req.lookback_window_days = lookback;
                req.half_life_days = 3;
                let got = attribution(&stack, token, req).await;
                let rows: i64 = revenue(&got).iter().map(|(_, _, m)| m).sum();
                assert_eq!(
                    rows + unattributed(&got),
                    net,
                    "{model:?} {grouping:?} lookback {lookback}"
                );
            }
        }
    }

    // PLATFORM_REPORTED: the platforms' own conversion values (claiming more than sold).
    let reported = attribution(
        &stack,
        token,
        request(id, Model::PlatformReported, Campaign),
    )
    .await;
    assert_eq!(
        revenue(&reported),
        [
            row(Platform::MetaAds, "m1", 150 * M),
            row(Platform::GoogleAds, "g1", 60 * M),
            row(Platform::MetaAds, "m2", 30 * M),
            row(Platform::TiktokAds, "t1", 0),
        ]
    );
    assert_eq!(unattributed(&reported), 0);
    assert_eq!(reported.rows[1].attributed_orders, 1.5);

    // An analyst reads it too.
    let (_, analyst) = user_with_role(&stack, &tenant, ProtoRole::Analyst).await;
    let seen = attribution(&stack, &analyst, request(id, Model::LastClick, ByPlatform)).await;
    assert_eq!(revenue(&seen), revenue(&last));
}

#[tokio::test]
async fn attribution_bad_input_names_the_field_and_other_tenants_see_nothing() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Northwind").await;
    let mut insights = stack.insights().await.expect("client");
    let base = || {
        request(
            &brand.brand_id,
            AttributionModel::Linear,
            AttributionGrouping::Platform,
        )
    };
    let cases: Vec<(GetAttributionRequest, &str)> = vec![
        (
            GetAttributionRequest {
                date_range: range(day(2026, 3, 5), day(2026, 3, 1)),
                ..base()
            },
            "date_range.end_date",
        ),
        (
            GetAttributionRequest {
                date_range: range(day(2025, 1, 1), day(2026, 3, 1)),
                ..base()
            },
            "date_range",
        ),
        (
            GetAttributionRequest {
                date_range: None,
                ..base()
            },
            "date_range",
        ),
        (
            GetAttributionRequest {
                lookback_window_days: 91,
                ..base()
            },
            "lookback_window_days",
        ),
        (
            GetAttributionRequest {
                lookback_window_days: -1,
                ..base()
            },
            "lookback_window_days",
        ),
        (
            GetAttributionRequest {
                half_life_days: 91,
                ..base()
            },
            "half_life_days",
        ),
        (
            GetAttributionRequest {
                model: 99,
                ..base()
            },
            "model",
        ),
        (
            GetAttributionRequest {
                group_by: 7,
                ..base()
            },
            "group_by",
        ),
        (
            GetAttributionRequest {
                brand_id: "not-a-uuid".into(),
                ..base()
            },
            "brand_id",
        ),
    ];
    for (req, field) in cases {
        assert_invalid(
            insights
                .get_attribution(authed(&tenant.admin_token, req))
                .await,
            field,
        );
    }
    // The edges of the lookback are accepted.
    for lookback in [1, 90] {
        let req = GetAttributionRequest {
            lookback_window_days: lookback,
            ..base()
        };
        insights
            .get_attribution(authed(&tenant.admin_token, req))
            .await
            .expect("lookback at its edge");
    }
    // A brand of nobody, and another tenant's brand: the same NOT_FOUND.
    let other = sign_up(&stack, "Other").await;
    let theirs = create_brand(&stack, &other.admin_token, "Theirs").await;
    for brand_id in [Uuid::new_v4().to_string(), theirs.brand_id.clone()] {
        let status = assert_code(
            insights
                .get_attribution(authed(
                    &tenant.admin_token,
                    GetAttributionRequest { brand_id, ..base() },
                ))
                .await,
            Code::NotFound,
        );
        assert_eq!(status.message(), "not found");
    }
}
