//! `loadgen sync-upsert`: orders into `commerce.*` through the real sync path, or by
//! binary `COPY` of the same rows, timed; one JSON line (`rps` = orders per second).
//!
//! Every run generates the same `--orders` demo orders (same seed), untimed, then:
//! - `sync` (the `sync_upsert` variant): a [`ShopifyFixture`] serves them (with the
//!   demo store's products and inventory) in the Admin GraphQL wire format, pricing
//!   every query by Shopify's documented cost rule and refusing any over 1,000 points.
//!   Untimed: the OAuth code exchange, the integration row with its sealed token, the
//!   initial full run queued and leased. Timed: `sync::run_leased`, the sync worker's
//!   own entry point, running that run to its end: the real `ShopifyClient` pages
//!   orders, products and inventory (pages sized by query cost, records bigger than a
//!   page completed by follow-up queries), and the engine writes them in batches of
//!   `SyncSettings::write_batch` records while the next batch is fetched, as
//!   `pp_integrations` under row-level security. Orders land with their lines,
//!   refunds (and refund lines), touchpoints and customers.
//! - `copy-orders` (the `sync_upsert` baseline): one binary `COPY commerce.orders`
//!   of the same order rows (every column `upsert_orders` sets, same values), and
//!   nothing else.
//! - `copy-all` (the `sync_upsert_all_tables` baseline): binary `COPY` of every row the
//!   sync writes: orders, order lines, refunds, refund lines, touchpoints, customers.
//!
//! COPY runs as `--copy-url` (the bench's superuser): PostgreSQL refuses `COPY FROM`
//! into a table with row-level security for a role the policies apply to, and the
//! commerce tables force it. Each run writes under a fresh random brand id (the commerce
//! tables have no foreign key to `brands.brands`), so every run inserts rather than
//! finding its orders already there; all runs share the bench tenant and the tables.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use pp_commerce::Order;
use pp_commerce::demo::{DemoConfig, DemoStore, OrderVolume};
use pp_db::TenantTx;
use pp_platforms::fixtures::shopify::{ShopifyData, ShopifyFixture};
use pp_platforms::shopify::{ShopifyConfig, exchange_code};
use pp_platforms::{Http, RetryPolicy};
use pp_types::TenantId;
use pulsepoint_integrations::credentials;
use pulsepoint_integrations::store::commerce::Target;
use pulsepoint_integrations::store::integrations::{self as integration_store, NewIntegration};
use pulsepoint_integrations::store::sync_runs::{self, Lease};
use pulsepoint_integrations::sync::plan;
use pulsepoint_integrations::{OAuthSettings, PlatformsConfig, State, SyncSettings};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::cpu;
use super::pgcopy::{BinaryCopy, CopyField};

/// COPY data is sent in chunks of about this many bytes.
const CHUNK_BYTES: usize = 1 << 20;
const SHOP: &str = "bench-store.myshopify.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// A sync worker's full run (`sync::run_leased`) against fixture Shopify.
    Sync,
    /// Binary COPY of the order rows only.
    CopyOrders,
    /// Binary COPY of every row the sync writes.
    CopyAll,
}

#[derive(Debug, clap::Args)]
pub struct SyncUpsertArgs {
    #[arg(long, value_enum)]
    pub method: Method,
    /// Orders generated and written.
    #[arg(long, default_value_t = 20_000)]
    pub orders: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The sync's connection: the production role, `pp_integrations`.
    #[arg(long)]
    pub database_url: String,
    /// COPY's connection: a role row-level security does not apply to.
    #[arg(long)]
    pub copy_url: String,
    /// The tenant the rows belong to.
    #[arg(long)]
    pub tenant_id: Uuid,
    /// The processes whose CPU is charged to the orders (PostgreSQL's).
    #[arg(long, default_value = "postgres")]
    pub db_comm: String,
    /// A label copied into the output.
    #[arg(long, default_value = "")]
    pub label: String,
}

/// Rows written per table.
#[derive(Debug, Default, serde::Serialize)]
struct Written {
    orders: u64,
    order_lines: u64,
    refunds: u64,
    refund_lines: u64,
    touchpoints: u64,
    customers: u64,
}

/// What a timed window measured besides its rows.
#[derive(Debug, Default)]
struct Timing {
    fetch_seconds: Option<f64>,
    upsert_seconds: Option<f64>,
    pages: Option<u64>,
}

pub async fn run(args: SyncUpsertArgs) -> anyhow::Result<()> {
    let orders = generate(args.orders, args.seed)?;
    let tenant = TenantId(args.tenant_id);
    let target = Target {
        brand_id: Uuid::new_v4(),
        integration_id: Uuid::new_v4(),
    };
    // Everything before the window (generation, fixture start, token exchange, connecting)
    // is untimed and its CPU not charged.
    let (seconds, written, timing, used) = match args.method {
        Method::Sync => {
            let store = demo_store(args.orders, args.seed)?;
            let (fixture, state, lease, worker) =
                queued_shopify_run(orders, &store, &args.database_url, tenant, target).await?;
            let before = cpu::sample(&[], Some(&args.db_comm));
            let started = Instant::now();
            pulsepoint_integrations::sync::run_leased(&state, lease, worker).await;
            let seconds = started.elapsed().as_secs_f64();
            let after = cpu::sample(&[], Some(&args.db_comm));
            let pages = fixture.requests() as u64;
            drop(fixture);
            let mut tx = TenantTx::begin_for_tenant(&state.pool, tenant).await?;
            let (run_state, orders_written): (String, i64) = sqlx::query_as(
                "select state, coalesce((select (e->>'written')::int8
                        from jsonb_array_elements(entities) e where e->>'entity' = 'orders'), 0)
                 from integrations.sync_runs where integration_id = $1",
            )
            .bind(target.integration_id)
            .fetch_one(tx.conn())
            .await?;
            anyhow::ensure!(run_state == "succeeded", "the sync run ended {run_state}");
            let written = stored(&mut tx, target.brand_id, orders_written.try_into()?).await?;
            tx.commit().await?;
            let timing = Timing {
                fetch_seconds: None,
                upsert_seconds: None,
                pages: Some(pages),
            };
            (seconds, written, timing, window(before, after))
        }
        Method::CopyOrders | Method::CopyAll => {
            let mut conn = PgConnection::connect(&args.copy_url)
                .await
                .context("connect for COPY")?;
            let before = cpu::sample(&[], Some(&args.db_comm));
            let started = Instant::now();
            let written = copy(&mut conn, tenant, target, &orders, args.method).await?;
            let seconds = started.elapsed().as_secs_f64();
            let after = cpu::sample(&[], Some(&args.db_comm));
            conn.close().await.ok();
            (seconds, written, Timing::default(), window(before, after))
        }
    };
    anyhow::ensure!(
        written.orders == args.orders,
        "{} of {} orders written",
        written.orders,
        args.orders
    );
    let ticks = cpu::clock_ticks_per_sec();
    let per_order = |ticks_used: u64| ticks_used as f64 / ticks * 1e6 / args.orders as f64;
    println!(
        "{}",
        serde_json::json!({
            "label": args.label,
            "method": args.method_name(),
            "orders": args.orders,
            "seconds": seconds,
            "rps": args.orders as f64 / seconds.max(1e-9),
            "written": written,
            "requests": timing.pages,
            "fetch_seconds": timing.fetch_seconds,
            "upsert_seconds": timing.upsert_seconds,
            "db_cpu_us_per_req": per_order(used.db),
            "client_cpu_us_per_req": per_order(used.client),
            "client_cpu_util": used.client as f64 / ticks / seconds.max(1e-9),
        })
    );
    Ok(())
}

/// CPU ticks used between two samples.
fn window(before: cpu::Sample, after: cpu::Sample) -> cpu::Sample {
    cpu::Sample {
        server: 0,
        db: after.db.saturating_sub(before.db),
        client: after.client.saturating_sub(before.client),
    }
}

impl SyncUpsertArgs {
    fn method_name(&self) -> &'static str {
        match self.method {
            Method::Sync => "a sync worker's full Shopify run (run_leased; pp_integrations, RLS)",
            Method::CopyOrders => "COPY commerce.orders (binary)",
            Method::CopyAll => {
                "COPY orders, lines, refunds, refund lines, touchpoints, customers (binary)"
            }
        }
    }
}

/// The demo store's orders: two years of history ending today, every ad platform.
fn generate(orders: u64, seed: u64) -> anyhow::Result<Vec<Order>> {
    Ok(demo_store(orders, seed)?.orders().collect())
}

fn demo_store(orders: u64, seed: u64) -> anyhow::Result<DemoStore> {
    Ok(DemoStore::new(DemoConfig {
        seed,
        history_days: 730,
        end_date: Utc::now().date_naive(),
        currency: "USD".into(),
        utc_offset_minutes: 0,
        orders: OrderVolume::Total(orders),
        platforms: pp_commerce::Platform::ALL.to_vec(),
    })?)
}

/// A fixture store serving `orders` (and the demo store's products and inventory), a
/// connected Shopify integration for it in the database (credentials exchanged and
/// sealed, as CompleteOAuth leaves them), its initial full run queued and leased:
/// what a sync worker holds just before it runs.
async fn queued_shopify_run(
    orders: Vec<Order>,
    store: &DemoStore,
    database_url: &str,
    tenant: TenantId,
    target: Target,
) -> anyhow::Result<(ShopifyFixture, Arc<State>, Lease, Uuid)> {
    let mut data = ShopifyData::new(SHOP);
    data.orders = orders;
    data.products = store.products().to_vec();
    data.inventory = store.inventory_levels();
    let code = data.auth_code.clone();
    let fixture = ShopifyFixture::start(data).await?;
    let http = Http::new(RetryPolicy::default());
    let creds = exchange_code(&http, &fixture.config(), &fixture.shop(), &code).await?;
    let key_file = std::env::temp_dir().join(format!("pp-bench-keyring-{}", Uuid::new_v4()));
    let keyring = pp_vault::LocalKeyring::generate_file(&key_file, "bench")?;
    std::fs::remove_file(&key_file).ok();
    let state = Arc::new(State {
        pool: pp_db::connect(database_url, 4).await?,
        vault: pp_vault::Vault::local(keyring),
        platforms: PlatformsConfig {
            http,
            shopify: Some(fixture.config()),
            meta: None,
            tiktok: None,
            google_ads: None,
            google_ads_login_customer_id: None,
        },
        oauth: OAuthSettings {
            redirect_uris: Vec::new(),
            state_ttl: std::time::Duration::from_secs(600),
        },
        sync: SyncSettings::default(),
        webhook_credential: None,
    });
    let sealed = credentials::seal(&state, tenant, target.integration_id, &creds).await?;
    let mut tx = TenantTx::begin_for_tenant(&state.pool, tenant).await?;
    let row = integration_store::connect(
        &mut tx,
        &NewIntegration {
            integration_id: target.integration_id,
            brand_id: target.brand_id,
            platform: "shopify",
            external_account_id: SHOP.into(),
            display_name: "Bench store".into(),
            currency_code: Some("USD".into()),
            time_zone: Some("UTC".into()),
            scopes: ShopifyConfig::default_scopes(),
            demo: None,
            credentials: Some(sealed),
            credentials_key_id: Some(state.vault.active_key_id().to_string()),
            token_expires_at: creds.expires_at,
            connected_by: Uuid::new_v4(),
        },
    )
    .await?;
    let (run, _) = plan::queue(&mut tx, &row, "full", "initial", None, None).await?;
    tx.commit().await?;
    let worker = Uuid::new_v4();
    let lease = sync_runs::lease_next(&state.pool, worker, state.sync.lease)
        .await?
        .context("no run to lease")?;
    anyhow::ensure!(
        lease.sync_run_id == run.sync_run_id,
        "leased another run ({}) than the bench's",
        lease.sync_run_id
    );
    Ok((fixture, state, lease, worker))
}

/// What the sync stored under `brand`, read back (as the sync's role): `orders` is what
/// `upsert_orders` reported inserted or changed.
async fn stored(tx: &mut TenantTx, brand: Uuid, orders: u64) -> anyhow::Result<Written> {
    let (order_lines, refunds, refund_lines, touchpoints, customers): (i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "select (select count(*) from commerce.order_lines where brand_id = $1),
                    (select count(*) from commerce.refunds where brand_id = $1),
                    (select count(*) from commerce.refund_lines l
                       join commerce.orders o using (tenant_id, order_id) where o.brand_id = $1),
                    (select count(*) from commerce.touchpoints where brand_id = $1),
                    (select count(*) from commerce.customers where brand_id = $1)",
        )
        .bind(brand)
        .fetch_one(tx.conn())
        .await?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Written {
        orders,
        order_lines: count(order_lines),
        refunds: count(refunds),
        refund_lines: count(refund_lines),
        touchpoints: count(touchpoints),
        customers: count(customers),
    })
}

/// An order's refunds, the first of each platform id.
fn unique_refunds(order: &Order) -> impl Iterator<Item = &pp_commerce::Refund> {
    let mut seen = std::collections::HashSet::new();
    order
        .refunds
        .iter()
        .filter(move |r| seen.insert(r.platform_refund_id.as_str()))
}

/// Customer → (first non-test order, the platform's creation time).
fn first_orders(orders: &[Order]) -> BTreeMap<&str, (DateTime<Utc>, Option<DateTime<Utc>>)> {
    let mut first: BTreeMap<&str, (DateTime<Utc>, Option<DateTime<Utc>>)> = BTreeMap::new();
    for order in orders.iter().filter(|o| !o.test) {
        let Some(customer) = &order.customer else {
            continue;
        };
        first
            .entry(customer.platform_customer_id.as_str())
            .and_modify(|(at, _)| *at = (*at).min(order.processed_at))
            .or_insert((order.processed_at, customer.created_at));
    }
    first
}

/// One COPY per table, in one transaction, as the sync's tables need them (parents
/// first). Order ids are made here, as `gen_random_uuid()` makes them for the sync.
async fn copy(
    conn: &mut PgConnection,
    tenant: TenantId,
    target: Target,
    orders: &[Order],
    method: Method,
) -> anyhow::Result<Written> {
    let tenant = tenant.0;
    let brand = target.brand_id;
    let integration = Some(target.integration_id);
    let order_ids: Vec<Uuid> = orders.iter().map(|_| Uuid::new_v4()).collect();
    let now = Utc::now();
    let mut tx = conn.begin().await?;
    let mut written = Written {
        orders: copy_table(
            &mut tx,
            "commerce.orders (tenant_id, brand_id, order_id, integration_id, platform_order_id,
                 name, processed_at, platform_created_at, platform_updated_at, cancelled_at,
                 currency_code, subtotal_micros, discounts_micros, shipping_micros, tax_micros,
                 total_micros, refunded_micros, test, platform_customer_id, source_name,
                 landing_site, referring_site, utm_source, utm_medium, utm_campaign,
                 utm_content, utm_term, synced_at)",
            orders.iter().zip(&order_ids),
            |copy, (order, order_id)| {
                let refunded: i64 = order.refunds.iter().map(|r| r.amount_micros).sum();
                let customer = order
                    .customer
                    .as_ref()
                    .map(|c| c.platform_customer_id.as_str());
                copy.row(&[
                    &tenant,
                    &brand,
                    order_id,
                    &integration,
                    &order.platform_order_id,
                    &order.name,
                    &order.processed_at,
                    &Some(order.created_at),
                    &Some(order.updated_at),
                    &order.cancelled_at,
                    &order.currency,
                    &order.subtotal_micros,
                    &order.discounts_micros,
                    &order.shipping_micros,
                    &order.tax_micros,
                    &order.total_micros,
                    &refunded,
                    &order.test,
                    &TextRef(customer),
                    &order.source_name,
                    &order.landing_site,
                    &order.referring_site,
                    &order.utm.source,
                    &order.utm.medium,
                    &order.utm.campaign,
                    &order.utm.content,
                    &order.utm.term,
                    &now,
                ]);
            },
        )
        .await?,
        ..Written::default()
    };
    if method == Method::CopyAll {
        let with_ids = || orders.iter().zip(&order_ids);
        written.order_lines = copy_table(
            &mut tx,
            "commerce.order_lines (tenant_id, brand_id, order_id, platform_line_id,
                 platform_product_id, platform_variant_id, sku, title, quantity,
                 unit_price_micros, discount_micros)",
            with_ids().flat_map(|(order, id)| {
                let mut seen = std::collections::HashSet::new();
                order
                    .lines
                    .iter()
                    .filter(move |l| seen.insert(l.platform_line_id.as_str()))
                    .map(move |line| (id, line))
            }),
            |copy, (order_id, line)| {
                copy.row(&[
                    &tenant,
                    &brand,
                    order_id,
                    &line.platform_line_id,
                    &line.platform_product_id,
                    &line.platform_variant_id,
                    &line.sku,
                    &line.title,
                    &line.quantity,
                    &line.unit_price_micros,
                    &line.discount_micros,
                ]);
            },
        )
        .await?;
        written.refunds = copy_table(
            &mut tx,
            "commerce.refunds (tenant_id, brand_id, order_id, platform_refund_id, refunded_at,
                 currency_code, amount_micros)",
            with_ids().flat_map(|(order, id)| unique_refunds(order).map(move |r| (id, order, r))),
            |copy, (order_id, order, refund)| {
                copy.row(&[
                    &tenant,
                    &brand,
                    order_id,
                    &refund.platform_refund_id,
                    &refund.created_at,
                    &order.currency,
                    &refund.amount_micros,
                ]);
            },
        )
        .await?;
        written.refund_lines = copy_table(
            &mut tx,
            "commerce.refund_lines (tenant_id, order_id, platform_refund_id, platform_line_id,
                 quantity, subtotal_micros)",
            with_ids().flat_map(|(order, id)| {
                unique_refunds(order).flat_map(move |refund| {
                    let mut seen = std::collections::HashSet::new();
                    refund
                        .lines
                        .iter()
                        .filter(move |l| seen.insert(l.platform_line_id.as_str()))
                        .map(move |line| (id, refund, line))
                })
            }),
            |copy, (order_id, refund, line)| {
                copy.row(&[
                    &tenant,
                    order_id,
                    &refund.platform_refund_id,
                    &line.platform_line_id,
                    &line.quantity,
                    &line.subtotal_micros,
                ]);
            },
        )
        .await?;
        written.touchpoints = copy_table(
            &mut tx,
            "commerce.touchpoints (tenant_id, brand_id, order_id, position, occurred_at, channel,
                 platform, platform_campaign_id, utm_source, utm_medium, utm_campaign,
                 utm_content, utm_term)",
            with_ids().flat_map(|(order, id)| {
                order
                    .touchpoints
                    .iter()
                    .enumerate()
                    .map(move |(position, touch)| (id, position, touch))
            }),
            |copy, (order_id, position, touch)| {
                copy.row(&[
                    &tenant,
                    &brand,
                    order_id,
                    &i32::try_from(position).unwrap_or(i32::MAX),
                    &touch.occurred_at,
                    &TextRef(Some(touch.channel.as_str())),
                    &TextRef(touch.platform.map(|p| p.as_str())),
                    &touch.platform_campaign_id,
                    &touch.utm.source,
                    &touch.utm.medium,
                    &touch.utm.campaign,
                    &touch.utm.content,
                    &touch.utm.term,
                ]);
            },
        )
        .await?;
        written.customers = copy_table(
            &mut tx,
            "commerce.customers (tenant_id, brand_id, platform_customer_id, integration_id,
                 platform_created_at, first_order_at)",
            first_orders(orders).into_iter(),
            |copy, (customer, (first_order_at, created_at))| {
                copy.row(&[
                    &tenant,
                    &brand,
                    &TextRef(Some(customer)),
                    &integration,
                    &created_at,
                    &first_order_at,
                ]);
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(written)
}

/// A borrowed text value or NULL.
struct TextRef<'a>(Option<&'a str>);

impl CopyField for TextRef<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self.0 {
            Some(text) => text.write(out),
            None => None::<String>.write(out),
        }
    }
}

/// `COPY <table> FROM STDIN (FORMAT binary)` of `rows`, encoded by `encode` and sent in
/// chunks of about [`CHUNK_BYTES`]; returns the rows PostgreSQL reports copied.
async fn copy_table<R>(
    conn: &mut PgConnection,
    table: &str,
    rows: impl Iterator<Item = R>,
    encode: impl Fn(&mut BinaryCopy, R),
) -> anyhow::Result<u64> {
    let mut copy_in = conn
        .copy_in_raw(&format!("copy {table} from stdin (format binary)"))
        .await
        .with_context(|| format!("copy {}", table_name(table)))?;
    let mut encoder = BinaryCopy::new();
    for row in rows {
        encode(&mut encoder, row);
        if encoder.pending_bytes() >= CHUNK_BYTES {
            copy_in.send(encoder.take_chunk()).await?;
        }
    }
    copy_in.send(encoder.finish()).await?;
    copy_in
        .finish()
        .await
        .with_context(|| format!("copy {}", table_name(table)))
}

fn table_name(statement_target: &str) -> &str {
    statement_target
        .split_whitespace()
        .next()
        .unwrap_or(statement_target)
}
