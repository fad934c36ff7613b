//! Brand management as a manager and an analyst would see it.

use pp_proto::brands::*;
use pp_proto::common::{Date, DateRange, Role as ProtoRole};
use prost_types::FieldMask;
use tonic::Code;

use crate::support::*;

fn range(start: (i32, i32, i32), end: (i32, i32, i32)) -> Option<DateRange> {
    Some(DateRange {
        start_date: Some(Date {
            year: start.0,
            month: start.1,
            day: start.2,
        }),
        end_date: Some(Date {
            year: end.0,
            month: end.1,
            day: end.2,
        }),
    })
}

#[tokio::test]
async fn create_is_idempotent_and_crud_works() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let token = &tenant.admin_token;
    let mut brands = stack.brands().await.expect("client");
    let request = CreateBrandRequest {
        brand: Some(Brand {
            name: "Northwind".into(),
            currency_code: "EUR".into(),
            time_zone: "Europe/Berlin".into(),
            ..Default::default()
        }),
        request_id: "create-northwind".into(),
    };
    let first = brands
        .create_brand(authed(token, request.clone()))
        .await
        .expect("create")
        .into_inner();
    let again = brands
        .create_brand(authed(token, request))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, again, "a retried create returns the first result");
    let brand = first.brand.expect("brand");

    let listed = brands
        .list_brands(authed(token, ListBrandsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.brands.len(), 1);

    // Read (fills the cache), update, read again: the cache was invalidated.
    let got = brands
        .get_brand(authed(
            token,
            GetBrandRequest {
                brand_id: brand.brand_id.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.brand.expect("brand").name, "Northwind");
    let updated = brands
        .update_brand(authed(
            token,
            UpdateBrandRequest {
                brand: Some(Brand {
                    brand_id: brand.brand_id.clone(),
                    name: "Northwind EU".into(),
                    currency_code: "ignored".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["name".into()],
                }),
            },
        ))
        .await
        .expect("update")
        .into_inner()
        .brand
        .expect("brand");
    assert_eq!(updated.name, "Northwind EU");
    assert_eq!(
        updated.currency_code, "EUR",
        "fields outside the mask are untouched"
    );
    let got = brands
        .get_brand(authed(
            token,
            GetBrandRequest {
                brand_id: brand.brand_id.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.brand.expect("brand").name, "Northwind EU");

    let duplicate = brands
        .create_brand(authed(
            token,
            CreateBrandRequest {
                brand: Some(Brand {
                    name: "northwind eu".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await;
    assert_code(duplicate, Code::AlreadyExists);

    brands
        .delete_brand(authed(
            token,
            DeleteBrandRequest {
                brand_id: brand.brand_id.clone(),
            },
        ))
        .await
        .expect("delete");
    assert_code(
        brands
            .get_brand(authed(
                token,
                GetBrandRequest {
                    brand_id: brand.brand_id.clone(),
                },
            ))
            .await,
        Code::NotFound,
    );
    assert_code(
        brands
            .delete_brand(authed(
                token,
                DeleteBrandRequest {
                    brand_id: brand.brand_id,
                },
            ))
            .await,
        Code::NotFound,
    );
}

#[tokio::test]
async fn pages_through_brands() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    for i in 0..5 {
        create_brand(&stack, &tenant.admin_token, &format!("Brand {i}")).await;
    }
    let mut brands = stack.brands().await.expect("client");
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = brands
            .list_brands(authed(
                &tenant.admin_token,
                ListBrandsRequest {
                    page_size: 2,
                    page_token: token.clone(),
                },
            ))
            .await
            .expect("page")
            .into_inner();
        assert!(page.brands.len() <= 2);
        seen.extend(page.brands.into_iter().map(|b| b.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        seen,
        (0..5).map(|i| format!("Brand {i}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn analysts_read_but_do_not_write() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Northwind").await;
    let (_, analyst) = user_with_role(&stack, &tenant, ProtoRole::Analyst).await;
    let mut brands = stack.brands().await.expect("client");
    brands
        .get_brand(authed(
            &analyst,
            GetBrandRequest {
                brand_id: brand.brand_id.clone(),
            },
        ))
        .await
        .expect("read");
    let create = brands
        .create_brand(authed(
            &analyst,
            CreateBrandRequest {
                brand: Some(Brand {
                    name: "Nope".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await;
    assert_code(create, Code::PermissionDenied);
    assert_code(
        brands
            .delete_brand(authed(
                &analyst,
                DeleteBrandRequest {
                    brand_id: brand.brand_id,
                },
            ))
            .await,
        Code::PermissionDenied,
    );
}

#[tokio::test]
async fn portfolio_is_zero_until_orders_exist_then_exact() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Northwind").await;
    let mut brands = stack.brands().await.expect("client");
    let empty = brands
        .get_portfolio(authed(
            &tenant.admin_token,
            GetPortfolioRequest {
                date_range: range((2026, 1, 1), (2026, 1, 31)),
            },
        ))
        .await
        .expect("portfolio")
        .into_inner();
    assert_eq!(empty.brands.len(), 1);
    assert_eq!(empty.brands[0].order_count, 0);
    assert_eq!(
        empty.brands[0].net_revenue.as_ref().expect("money").units,
        0
    );

    // Orders written as the integrations role would, under the tenant's RLS context.
    let pool = stack.db.pool_as("integrations", 1).await.expect("pool");
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(&tenant.tenant_id)
        .execute(&mut *tx)
        .await
        .expect("ctx");
    for (id, at, total, refunded, cancelled) in [
        ("o1", "2026-01-05T10:00:00Z", 100_500_000i64, 0i64, false),
        ("o2", "2026-01-20T10:00:00Z", 50_000_000, 10_000_000, false),
        ("o3", "2026-01-21T10:00:00Z", 999_000_000, 0, true),
        ("o4", "2026-02-01T10:00:00Z", 70_000_000, 0, false),
    ] {
        // Net revenue is the catalogue's (docs/metrics.md): subtotal less discounts less
        // refunded line value, each on its own day.
        sqlx::query(
            "insert into commerce.orders (tenant_id, brand_id, order_id, platform_order_id, processed_at, currency_code, total_micros, subtotal_micros, refunded_micros, cancelled_at)
             values ($1::uuid, $2::uuid, gen_random_uuid(), $3, $4::timestamptz, 'USD', $5, $5, $6, case when $7 then now() end)",
        )
        .bind(&tenant.tenant_id)
        .bind(&brand.brand_id)
        .bind(id)
        .bind(at)
        .bind(total)
        .bind(refunded)
        .bind(cancelled)
        .execute(&mut *tx)
        .await
        .expect("insert order");
    }
    // o2's refund, on its own (January) day.
    sqlx::query(
        "with r as (insert into commerce.refunds (tenant_id, brand_id, order_id, platform_refund_id, refunded_at, currency_code, amount_micros)
                    select tenant_id, brand_id, order_id, 'r2', '2026-01-25T10:00:00Z', 'USD', 10000000
                    from commerce.orders where platform_order_id = 'o2' and brand_id = $1::uuid
                    returning tenant_id, order_id)
         insert into commerce.refund_lines (tenant_id, order_id, platform_refund_id, platform_line_id, quantity, subtotal_micros)
         select tenant_id, order_id, 'r2', 'l2', 1, 10000000 from r",
    )
    .bind(&brand.brand_id)
    .execute(&mut *tx)
    .await
    .expect("insert refund");
    tx.commit().await.expect("commit");

    let january = brands
        .get_portfolio(authed(
            &tenant.admin_token,
            GetPortfolioRequest {
                date_range: range((2026, 1, 1), (2026, 1, 31)),
            },
        ))
        .await
        .expect("portfolio")
        .into_inner();
    let totals = &january.brands[0];
    assert_eq!(
        totals.order_count, 2,
        "cancelled and February orders excluded"
    );
    let revenue = totals.net_revenue.as_ref().expect("money");
    assert_eq!(
        (revenue.units, revenue.nanos),
        (140, 500_000_000),
        "100.50 + 50.00 - 10.00 refunded"
    );
    // AOV is (gross sales - discounts) / orders: refunds are left out (Shopify's AOV).
    let aov = totals.average_order_value.as_ref().expect("aov");
    assert_eq!((aov.units, aov.nanos), (75, 250_000_000));
    assert_eq!(january.totals[0].order_count, 2);
}

/// The event types in a schema's outbox for one tenant, oldest first.
async fn outbox_types(stack: &Stack, schema: &str, tenant_id: &str) -> Vec<String> {
    let pool = stack.db.pool_as(schema, 1).await.expect("pool");
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant_id)
        .execute(&mut *tx)
        .await
        .expect("ctx");
    // `schema` is one of two literals below.
    sqlx::query_scalar(&format!(
        "select event_type from {schema}.outbox order by occurred_at, event_id"
    ))
    .fetch_all(&mut *tx)
    .await
    .expect("outbox")
}

#[tokio::test]
async fn every_change_writes_its_event_in_the_same_transaction() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let other = sign_up(&stack, "Other").await;
    let brand = create_brand(&stack, &tenant.admin_token, "Northwind").await;
    let mut brands = stack.brands().await.expect("client");
    // A failed change (duplicate name) writes no event.
    let duplicate = brands
        .create_brand(authed(
            &tenant.admin_token,
            CreateBrandRequest {
                brand: Some(Brand {
                    name: "Northwind".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await;
    assert_code(duplicate, Code::AlreadyExists);
    brands
        .update_brand(authed(
            &tenant.admin_token,
            UpdateBrandRequest {
                brand: Some(Brand {
                    brand_id: brand.brand_id.clone(),
                    name: "Northwind 2".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["name".into()],
                }),
            },
        ))
        .await
        .expect("update");
    brands
        .delete_brand(authed(
            &tenant.admin_token,
            DeleteBrandRequest {
                brand_id: brand.brand_id,
            },
        ))
        .await
        .expect("delete");
    assert_eq!(
        outbox_types(&stack, "brands", &tenant.tenant_id).await,
        ["brand.created", "brand.updated", "brand.deleted"]
    );
    assert!(
        outbox_types(&stack, "brands", &other.tenant_id)
            .await
            .is_empty(),
        "RLS keeps outboxes apart too"
    );
    let (_, _) = user_with_role(&stack, &tenant, ProtoRole::Manager).await;
    assert_eq!(
        outbox_types(&stack, "auth", &tenant.tenant_id).await,
        ["tenant.created", "user.created"]
    );
}

#[tokio::test]
async fn every_authenticated_call_becomes_an_api_event() {
    let stack = spawn_stack(StackOptions::default()).await.expect("stack");
    let tenant = sign_up(&stack, "Acme").await;
    let mut brands = stack.brands().await.expect("client");
    brands
        .list_brands(authed(&tenant.admin_token, ListBrandsRequest::default()))
        .await
        .expect("list");
    let missing = brands
        .get_brand(authed(
            &tenant.admin_token,
            GetBrandRequest {
                brand_id: uuid::Uuid::new_v4().to_string(),
            },
        ))
        .await;
    assert_code(missing, Code::NotFound);
    // Written by a background batcher, not inside the requests: wait for it.
    let pool = stack.db.pool_as("brands", 1).await.expect("pool");
    let mut rows: Vec<(String, serde_json::Value)> = Vec::new();
    for _ in 0..50 {
        let mut tx = pool.begin().await.expect("tx");
        sqlx::query("select set_config('app.tenant_id', $1, true)")
            .bind(&tenant.tenant_id)
            .execute(&mut *tx)
            .await
            .expect("ctx");
        // API events are bulk rows: newline-delimited envelopes (see docs/events.md).
        rows = sqlx::query_as(
            "select e->>'event_type', e
             from brands.outbox o,
                  lateral (select line::jsonb as e
                           from regexp_split_to_table(o.batch, E'\\n') as line
                           where line <> '') lines
             where o.event_type = 'batch'
             order by (e->>'occurred_at')::timestamptz",
        )
        .fetch_all(&mut *tx)
        .await
        .expect("rows");
        tx.commit().await.expect("commit");
        if rows.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, "api.request");
    assert_eq!(
        rows[0].1["payload"]["method"],
        "/pulsepoint.brands.v1.BrandService/ListBrands"
    );
    assert_eq!(rows[1].0, "api.error");
    assert_eq!(rows[1].1["payload"]["grpc_code"], "NOT_FOUND");
    assert_eq!(
        rows[1].1["user_id"],
        serde_json::Value::String(tenant.admin_id.clone())
    );
    assert!(
        rows[1].1["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
}
