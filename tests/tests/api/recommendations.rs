//! Recommendations: raised by a crafted data set and not by a normal one, regenerated
//! after each sync without duplicates, never moving budget towards a campaign about to
//! stock out, decided once per request id, and measured afterwards.

use chrono::{Days, NaiveDate, Utc};
use pp_proto::brands::Brand;
use pp_proto::common::Role as ProtoRole;
use pp_proto::insights::recommendation::Action;
use pp_proto::insights::{
    AcceptRecommendationRequest, DismissReason, DismissRecommendationRequest,
    ListRecommendationsRequest, Recommendation, RecommendationPriority, RecommendationState,
    RecommendationType,
};
use sqlx::PgPool;
use tonic::Code;
use uuid::Uuid;

use crate::support::*;

const M: i64 = 1_000_000;

/// A USD brand in UTC (so "yesterday" in SQL and in the brand agree).
async fn brand(stack: &Stack, token: &str, name: &str) -> Brand {
    brand_with(stack, token, name, "USD", "UTC").await
}

/// How a crafted brand looks.
struct Shape {
    /// Units of the fast seller (v1) on hand.
    v1_on_hand: i64,
    /// ROAS of the three campaigns: meta m_low, google g_high, tiktok t_best (whose
    /// orders are all of v1).
    roas: [f64; 3],
}

/// The crafted brand, as the superuser, relative to today (UTC): for each of the last
/// 28 days one order of 3 × v1 touched by tiktok `t_best` and one of 1 × v2 touched by
/// google `g_high`; for the last 14 days spend on three campaigns, alternating between
/// 80 and 120 a day (out of phase for `g_high`), returning `shape.roas`.
async fn craft(db: &PgPool, tenant: &str, brand: &str, shape: &Shape) {
    let tenant: Uuid = tenant.parse().expect("tenant");
    let brand: Uuid = brand.parse().expect("brand");
    let run = |sql: &'static str| sqlx::query(sql).bind(tenant).bind(brand);
    run("insert into commerce.products (tenant_id, brand_id, platform_product_id, title, status, platform_updated_at)
         values ($1, $2, 'p1', 'Linen Shirt', 'active', now())")
    .execute(db)
    .await
    .expect("products");
    run("insert into commerce.variants (tenant_id, brand_id, platform_variant_id, platform_product_id,
             platform_inventory_item_id, sku, title, currency_code, price_micros, unit_cost_micros,
             lead_time_days)
         values ($1, $2, 'v1', 'p1', 'i1', 'LS-M', 'M', 'USD', 50000000, 20000000, 7),
                ($1, $2, 'v2', 'p1', 'i2', 'LS-L', 'L', 'USD', 50000000, 20000000, 7)")
    .execute(db)
    .await
    .expect("variants");
    run(
        "insert into commerce.inventory_levels (tenant_id, brand_id, platform_inventory_item_id,
             platform_location_id, location_name, available, platform_updated_at)
         values ($1, $2, 'i1', 'a', 'A', $3, now()), ($1, $2, 'i2', 'a', 'A', 500, now())",
    )
    .bind(shape.v1_on_hand)
    .execute(db)
    .await
    .expect("inventory");
    run("insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id, processed_at,
             currency_code, total_micros, subtotal_micros)
         select $1, $2, md5($2::text || kind || d)::uuid, kind || d,
                date_trunc('day', now()) - make_interval(days => d) + interval '12 hours',
                'USD', sub, sub
         from generate_series(1, 28) d,
              (values ('a', 150000000), ('b', 50000000)) as k(kind, sub)")
    .execute(db)
    .await
    .expect("orders");
    run("insert into commerce.order_lines (tenant_id, brand_id, order_id, platform_line_id,
             platform_product_id, platform_variant_id, sku, title, quantity, unit_price_micros)
         select $1, $2, o.order_id, 'l', 'p1', case when o.platform_order_id like 'a%' then 'v1' else 'v2' end,
                'sku', 'Linen Shirt', case when o.platform_order_id like 'a%' then 3 else 1 end, 50000000
         from commerce.orders o where o.brand_id = $2")
    .execute(db)
    .await
    .expect("lines");
    run(
        "insert into commerce.touchpoints (tenant_id, brand_id, order_id, position, occurred_at,
             channel, platform, platform_campaign_id)
         select $1, $2, o.order_id, 0, o.processed_at - interval '1 hour',
                case when o.platform_order_id like 'a%' then 'paid_social' else 'paid_search' end,
                case when o.platform_order_id like 'a%' then 'tiktok' else 'google_ads' end,
                case when o.platform_order_id like 'a%' then 't_best' else 'g_high' end
         from commerce.orders o where o.brand_id = $2",
    )
    .execute(db)
    .await
    .expect("touchpoints");
    run(
        "insert into commerce.campaigns (tenant_id, brand_id, platform, platform_campaign_id, name)
         values ($1, $2, 'meta', 'm_low', 'Meta prospecting'),
                ($1, $2, 'google_ads', 'g_high', 'Google brand search'),
                ($1, $2, 'tiktok', 't_best', 'TikTok shirts')",
    )
    .execute(db)
    .await
    .expect("campaigns");
    run("insert into commerce.ad_spend_daily (tenant_id, brand_id, platform, platform_campaign_id,
             spend_date, currency_code, spend_micros, impressions, clicks, conversions,
             conversion_value_micros)
         select $1, $2, p, c, current_date - d, 'USD', s, 1000, 10, 1, (s * r)::bigint
         from generate_series(1, 14) d,
              lateral (values
                  ('meta', 'm_low', $3::float8, case when d % 2 = 0 then 80000000 else 120000000 end),
                  ('google_ads', 'g_high', $4::float8, case when d % 2 = 0 then 120000000 else 80000000 end),
                  ('tiktok', 't_best', $5::float8, case when d % 2 = 0 then 80000000 else 120000000 end)
              ) as k(p, c, r, s)")
    .bind(shape.roas[0])
    .bind(shape.roas[1])
    .bind(shape.roas[2])
    .execute(db)
    .await
    .expect("spend");
}

/// A stock-out on its way (v1: 10 on hand, 3 sold a day) and returns far apart.
const AT_RISK: Shape = Shape {
    v1_on_hand: 10,
    roas: [1.0, 4.0, 6.0],
};
/// Plenty of stock and returns too close to move budget.
const NORMAL: Shape = Shape {
    v1_on_hand: 1_000,
    roas: [2.0, 2.2, 2.1],
};

/// A new brand of the tenant holding [`craft`]'s data in `shape`.
async fn crafted_brand(stack: &Stack, tenant: &Tenant, name: &str, shape: &Shape) -> Brand {
    let made = brand(stack, &tenant.admin_token, name).await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    craft(&superuser, &tenant.tenant_id, &made.brand_id, shape).await;
    made
}

/// A sync of the brand completes: the service's own handler refreshes the rollups and
/// regenerates the recommendations.
async fn sync_completed(stack: &Stack, tenant: &str, brand: &str) {
    let event = pp_events::EventEnvelope::new(
        tenant.parse().expect("uuid"),
        pulsepoint_insights::rollups::SYNC_COMPLETED,
        serde_json::json!({"sync_run_id": Uuid::new_v4(), "platform": "shopify", "state": "succeeded"}),
    )
    .with_brand(brand.parse().expect("uuid"));
    assert!(
        pulsepoint_insights::rollups::handle_event(&stack.insights.pool, &event)
            .await
            .expect("handle")
    );
}

async fn list(
    stack: &Stack,
    token: &str,
    brand_id: &str,
    state: RecommendationState,
) -> Vec<Recommendation> {
    stack
        .insights()
        .await
        .expect("client")
        .list_recommendations(authed(
            token,
            ListRecommendationsRequest {
                brand_id: brand_id.into(),
                state: state as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner()
        .recommendations
}

fn of_type(recs: &[Recommendation], kind: RecommendationType) -> Vec<&Recommendation> {
    recs.iter().filter(|r| r.r#type == kind as i32).collect()
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

#[tokio::test]
async fn crafted_data_raises_a_restock_and_a_budget_move_and_normal_data_raises_none() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Recs").await;
    let (_, analyst) = user_with_role(&stack, &tenant, ProtoRole::Analyst).await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    let crafted = crafted_brand(&stack, &tenant, "Crafted", &AT_RISK).await;
    let normal = crafted_brand(&stack, &tenant, "Normal", &NORMAL).await;
    sync_completed(&stack, &tenant.tenant_id, &crafted.brand_id).await;
    sync_completed(&stack, &tenant.tenant_id, &normal.brand_id).await;

    let open = list(
        &stack,
        &analyst,
        &crafted.brand_id,
        RecommendationState::Unspecified,
    )
    .await;
    assert_eq!(open.len(), 2, "{open:#?}");

    // v1 sells 3 a day (84 in 28 days) with 10 on hand: 3.3 days of cover, inside its
    // 7-day lead time. Order today 3 × (30 + 7) − 10 = 101 units; it runs out in 3 days,
    // so 27 of the next 30 days lose 3 × $50 a day.
    let restock = of_type(&open, RecommendationType::Restock);
    let restock = restock.first().expect("a restock");
    assert_eq!(restock.priority, RecommendationPriority::High as i32);
    let Some(Action::Restock(action)) = &restock.action else {
        panic!("restock action: {restock:?}");
    };
    assert_eq!((action.variant_id.as_str(), action.units), ("v1", 101));
    let order_by = action.order_by_date.as_ref().expect("order by");
    assert_eq!(
        (order_by.year, order_by.month as u32, order_by.day as u32),
        {
            use chrono::Datelike;
            (today().year(), today().month(), today().day())
        }
    );
    let impact = restock.expected_impact.as_ref().expect("impact");
    assert_eq!(pp_types::convert::micros(impact), 27 * 3 * 50 * M);
    let velocity = restock
        .evidence
        .iter()
        .find(|f| f.metric == "daily_velocity")
        .expect("velocity evidence");
    assert!((velocity.value - 3.0).abs() < 1e-9, "{velocity:?}");
    assert!(
        restock.rationale.contains("3.00 units a day"),
        "{}",
        restock.rationale
    );

    // Budget goes from the 1.0× campaign to the 4.0× one, not to the 6.0× TikTok
    // campaign, whose only product is about to run out. 20 % of $100 a day.
    let moves = of_type(&open, RecommendationType::ShiftBudget);
    let shift = moves.first().expect("a budget move");
    let Some(Action::Budget(action)) = &shift.action else {
        panic!("budget action: {shift:?}");
    };
    assert_eq!(
        (
            action.from_campaign_id.as_str(),
            action.to_campaign_id.as_str()
        ),
        ("m_low", "g_high")
    );
    assert_eq!(
        pp_types::convert::micros(action.daily_amount.as_ref().expect("amount")),
        20 * M
    );
    // 20 a day × 30 days × (4 − 1).
    assert_eq!(
        pp_types::convert::micros(shift.expected_impact.as_ref().expect("impact")),
        1_800 * M
    );
    let roas: Vec<f64> = shift
        .evidence
        .iter()
        .filter(|f| f.metric == "platform_roas")
        .map(|f| f.value)
        .collect();
    assert_eq!(roas.len(), 2);
    assert!(
        (roas[0] - 1.0).abs() < 1e-9 && (roas[1] - 4.0).abs() < 1e-9,
        "{roas:?}"
    );

    // Another sync regenerates without duplicating: the same two, refreshed in place.
    sync_completed(&stack, &tenant.tenant_id, &crafted.brand_id).await;
    let again = list(
        &stack,
        &analyst,
        &crafted.brand_id,
        RecommendationState::Open,
    )
    .await;
    let ids = |recs: &[Recommendation]| {
        let mut ids: Vec<String> = recs.iter().map(|r| r.recommendation_id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&again), ids(&open));

    // Without the stock-out the TikTok campaign gets the budget instead, and the old
    // move expires (the data no longer calls for it).
    sqlx::query("update commerce.inventory_levels set available = 1000, synced_at = now() where brand_id = $1 and platform_inventory_item_id = 'i1'")
        .bind(crafted.brand_id.parse::<Uuid>().expect("uuid"))
        .execute(&superuser)
        .await
        .expect("restocked");
    sync_completed(&stack, &tenant.tenant_id, &crafted.brand_id).await;
    let now_open = list(
        &stack,
        &analyst,
        &crafted.brand_id,
        RecommendationState::Open,
    )
    .await;
    assert!(
        of_type(&now_open, RecommendationType::Restock).is_empty(),
        "{now_open:#?}"
    );
    let moves = of_type(&now_open, RecommendationType::ShiftBudget);
    assert_eq!(moves.len(), 1, "{now_open:#?}");
    let Some(Action::Budget(action)) = &moves[0].action else {
        panic!("budget action");
    };
    assert_eq!(action.to_campaign_id, "t_best");
    let expired = list(
        &stack,
        &analyst,
        &crafted.brand_id,
        RecommendationState::Expired,
    )
    .await;
    assert_eq!(
        expired.len(),
        2,
        "the restock and the first move: {expired:#?}"
    );

    // The normal brand: plenty of stock, returns too close to move budget.
    let none = list(
        &stack,
        &analyst,
        &normal.brand_id,
        RecommendationState::Open,
    )
    .await;
    assert!(none.is_empty(), "{none:#?}");
}

#[tokio::test]
async fn decisions_are_idempotent_and_outcomes_are_measured() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Decide").await;
    let (_, analyst) = user_with_role(&stack, &tenant, ProtoRole::Analyst).await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    let crafted = crafted_brand(&stack, &tenant, "Crafted", &AT_RISK).await;
    sync_completed(&stack, &tenant.tenant_id, &crafted.brand_id).await;
    let open = list(
        &stack,
        &tenant.admin_token,
        &crafted.brand_id,
        RecommendationState::Open,
    )
    .await;
    let restock = of_type(&open, RecommendationType::Restock)[0].clone();
    let shift = of_type(&open, RecommendationType::ShiftBudget)[0].clone();
    let mut insights = stack.insights().await.expect("client");

    // An analyst may read but not decide.
    let denied = insights
        .accept_recommendation(authed(
            &analyst,
            AcceptRecommendationRequest {
                recommendation_id: restock.recommendation_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("analyst");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Bad input names the field and writes nothing.
    let bad = insights
        .dismiss_recommendation(authed(
            &tenant.admin_token,
            DismissRecommendationRequest {
                recommendation_id: shift.recommendation_id.clone(),
                comment: "x".repeat(1001),
                ..Default::default()
            },
        ))
        .await
        .expect_err("no reason");
    assert_eq!(bad.code(), Code::InvalidArgument);
    let fields = pp_error::field_violations(&bad);
    assert!(fields.contains(&"reason".to_owned()), "{fields:?}");
    assert!(fields.contains(&"comment".to_owned()), "{fields:?}");

    // Accepting twice with one request id gives the first answer; another id is refused.
    let accept = |request_id: &str| AcceptRecommendationRequest {
        recommendation_id: restock.recommendation_id.clone(),
        note: "ordered from the mill".into(),
        request_id: request_id.into(),
    };
    let request_id = Uuid::new_v4().to_string();
    let first = insights
        .accept_recommendation(authed(&tenant.admin_token, accept(&request_id)))
        .await
        .expect("accept")
        .into_inner()
        .recommendation
        .expect("recommendation");
    assert_eq!(first.state, RecommendationState::Accepted as i32);
    assert_eq!(first.decided_by_user_id, tenant.admin_id);
    let outcome = first.outcome.clone().expect("outcome placeholder");
    assert!(!outcome.measured);
    let replay = insights
        .accept_recommendation(authed(&tenant.admin_token, accept(&request_id)))
        .await
        .expect("replay")
        .into_inner()
        .recommendation
        .expect("recommendation");
    assert_eq!(replay, first);
    let twice = insights
        .accept_recommendation(authed(
            &tenant.admin_token,
            accept(&Uuid::new_v4().to_string()),
        ))
        .await
        .expect_err("already accepted");
    assert_eq!(twice.code(), Code::FailedPrecondition);

    // Dismissing with a reason; a replay returns the same.
    let dismiss = DismissRecommendationRequest {
        recommendation_id: shift.recommendation_id.clone(),
        reason: DismissReason::Disagree as i32,
        comment: "brand search is capped".into(),
        request_id: Uuid::new_v4().to_string(),
    };
    let dismissed = insights
        .dismiss_recommendation(authed(&tenant.admin_token, dismiss.clone()))
        .await
        .expect("dismiss")
        .into_inner()
        .recommendation
        .expect("recommendation");
    assert_eq!(dismissed.state, RecommendationState::Dismissed as i32);
    assert_eq!(dismissed.dismiss_reason, DismissReason::Disagree as i32);
    assert!(dismissed.outcome.is_none());
    let again = insights
        .dismiss_recommendation(authed(&tenant.admin_token, dismiss))
        .await
        .expect("replay")
        .into_inner()
        .recommendation
        .expect("recommendation");
    assert_eq!(again, dismissed);

    // One event per decision, in the insights outbox.
    let events: Vec<String> = sqlx::query_scalar(
        "select event_type from insights.outbox
         where tenant_id = $1 and event_type like 'recommendation.%' order by occurred_at",
    )
    .bind(tenant.tenant_id.parse::<Uuid>().expect("uuid"))
    .fetch_all(&superuser)
    .await
    .expect("outbox");
    assert_eq!(
        events,
        ["recommendation.accepted", "recommendation.dismissed"]
    );

    // The next sync raises neither again: decided subjects stay decided until expiry.
    sync_completed(&stack, &tenant.tenant_id, &crafted.brand_id).await;
    let open = list(
        &stack,
        &tenant.admin_token,
        &crafted.brand_id,
        RecommendationState::Open,
    )
    .await;
    assert!(open.is_empty(), "{open:#?}");

    // The restock's outcome: measured the day after the projected stock-out (in 3
    // days), by the stock on hand then. The stock arrived.
    sqlx::query("update commerce.inventory_levels set available = 240 where brand_id = $1 and platform_inventory_item_id = 'i1'")
        .bind(crafted.brand_id.parse::<Uuid>().expect("uuid"))
        .execute(&superuser)
        .await
        .expect("restocked");
    let brand_id: Uuid = crafted.brand_id.parse().expect("uuid");
    let tenant_id = pp_auth::TenantId::parse("tenant_id", &tenant.tenant_id).expect("tenant");
    let mut tx = pp_db::TenantTx::begin_for_tenant(&stack.insights.pool, tenant_id)
        .await
        .expect("tx");
    let info = pulsepoint_insights::store::brand(&mut tx, brand_id)
        .await
        .expect("brand")
        .expect("exists");
    let too_early =
        pulsepoint_insights::recommendations::measure(&mut tx, &info, today() + Days::new(3))
            .await
            .expect("measure");
    assert_eq!(too_early, 0, "not before the day after the stock-out date");
    let measured =
        pulsepoint_insights::recommendations::measure(&mut tx, &info, today() + Days::new(4))
            .await
            .expect("measure");
    assert_eq!(measured, 1);
    tx.commit().await.expect("commit");
    let accepted = list(
        &stack,
        &analyst,
        &crafted.brand_id,
        RecommendationState::Accepted,
    )
    .await;
    let outcome = accepted[0].outcome.clone().expect("outcome");
    assert!(outcome.measured && outcome.succeeded, "{outcome:?}");
    assert!(
        outcome.summary.contains("240 units on hand"),
        "{}",
        outcome.summary
    );
}

#[tokio::test]
async fn an_accepted_budget_move_is_measured_on_the_weeks_around_it() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Moves").await;
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    let crafted = crafted_brand(&stack, &tenant, "Crafted", &AT_RISK).await;
    sync_completed(&stack, &tenant.tenant_id, &crafted.brand_id).await;
    let open = list(
        &stack,
        &tenant.admin_token,
        &crafted.brand_id,
        RecommendationState::Open,
    )
    .await;
    let shift = of_type(&open, RecommendationType::ShiftBudget)[0].clone();
    stack
        .insights()
        .await
        .expect("client")
        .accept_recommendation(authed(
            &tenant.admin_token,
            AcceptRecommendationRequest {
                recommendation_id: shift.recommendation_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("accept");
    // Decided 10 days ago: measured over days −17..−11 (before) and −9..−3 (after). The
    // data starts 14 days back, and from 9 days back the moved-to campaign returns 5×.
    let id: Uuid = shift.recommendation_id.parse().expect("uuid");
    sqlx::query("update insights.recommendations set decide_day = current_date - 10 where recommendation_id = $1")
        .bind(id)
        .execute(&superuser)
        .await
        .expect("backdate");
    sqlx::query("update commerce.ad_spend_daily set conversion_value_micros = spend_micros * 5, synced_at = now()
                 where platform_campaign_id = 'g_high' and spend_date >= current_date - 9")
        .execute(&superuser)
        .await
        .expect("better after");
    sync_completed(&stack, &tenant.tenant_id, &crafted.brand_id).await;

    // Independent SQL: the two campaigns' combined ROAS in each window.
    let combined = |from: i32, to: i32| {
        let superuser = superuser.clone();
        async move {
            sqlx::query_scalar::<_, f64>(
                "select sum(conversion_value_micros)::float8 / sum(spend_micros)
                 from commerce.ad_spend_daily
                 where platform_campaign_id in ('m_low', 'g_high')
                   and spend_date between current_date - $1 and current_date - $2",
            )
            .bind(from)
            .bind(to)
            .fetch_one(&superuser)
            .await
            .expect("combined")
        }
    };
    let before = combined(17, 11).await;
    let after = combined(9, 3).await;
    assert!(
        after > before,
        "the crafted data improved: {before} → {after}"
    );
    let accepted = list(
        &stack,
        &tenant.admin_token,
        &crafted.brand_id,
        RecommendationState::Accepted,
    )
    .await;
    let outcome = accepted[0].outcome.clone().expect("outcome");
    assert!(outcome.measured && outcome.succeeded, "{outcome:?}");
    assert!(
        outcome
            .summary
            .contains(&format!("together {before:.2}× → {after:.2}×")),
        "{}",
        outcome.summary
    );
    assert_eq!(
        outcome.figures.len(),
        8,
        "spend and ROAS per campaign and window"
    );
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Bad").await;
    let crafted = crafted_brand(&stack, &tenant, "Crafted", &AT_RISK).await;
    let other = brand(&stack, &tenant.admin_token, "Other").await;
    let mut insights = stack.insights().await.expect("client");
    let list = |brand_id: &str, page_token: &str| ListRecommendationsRequest {
        brand_id: brand_id.into(),
        page_size: 1,
        page_token: page_token.into(),
        ..Default::default()
    };
    // A token of another query (another brand) is refused, not misread.
    let superuser = stack.db.superuser_pool().await.expect("superuser");
    sync_completed(&stack, &tenant.tenant_id, &crafted.brand_id).await;
    let first = insights
        .list_recommendations(authed(&tenant.admin_token, list(&crafted.brand_id, "")))
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.recommendations.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = insights
        .list_recommendations(authed(
            &tenant.admin_token,
            list(&crafted.brand_id, &first.next_page_token),
        ))
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(second.recommendations.len(), 1);
    assert_ne!(
        second.recommendations[0].recommendation_id,
        first.recommendations[0].recommendation_id
    );
    assert!(second.next_page_token.is_empty());

    let cases: Vec<(ListRecommendationsRequest, &[&str])> = vec![
        (
            list(&other.brand_id, &first.next_page_token),
            &["page_token"],
        ),
        (
            ListRecommendationsRequest {
                brand_id: "nope".into(),
                state: 99,
                r#type: 42,
                page_size: -1,
                ..Default::default()
            },
            &["brand_id", "state", "type", "page_size"],
        ),
    ];
    for (request, fields) in cases {
        let status = insights
            .list_recommendations(authed(&tenant.admin_token, request))
            .await
            .expect_err("bad list");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(pp_error::field_violations(&status), fields);
    }
    let status = insights
        .accept_recommendation(authed(
            &tenant.admin_token,
            AcceptRecommendationRequest {
                recommendation_id: "not-a-uuid".into(),
                note: "n".repeat(1001),
                request_id: "r".repeat(129),
            },
        ))
        .await
        .expect_err("bad accept");
    assert_eq!(
        pp_error::field_violations(&status),
        ["recommendation_id", "note", "request_id"]
    );
    let decided: i64 =
        sqlx::query_scalar("select count(*) from insights.recommendations where state <> 'open'")
            .fetch_one(&superuser)
            .await
            .expect("count");
    assert_eq!(decided, 0, "nothing was decided");
}
