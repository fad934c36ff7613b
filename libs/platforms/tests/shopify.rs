//! The Shopify client, OAuth and webhooks driven over real HTTP against the
//! local fixture store (`fixtures::shopify`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use pp_commerce::{
    Channel, Customer, InventoryLevel, Order, OrderLine, Platform, Product, Refund, RefundLine,
    Touchpoint, Utm, Variant,
};
use pp_platforms::fixtures::shopify::{ShopifyData, ShopifyFixture};
use pp_platforms::fixtures::{Fault, FaultPlan};
use pp_platforms::shopify::{
    ShopInfo, ShopifyClient, exchange_code, parse_order_webhook, verify_callback_hmac,
    verify_webhook_hmac,
};
use pp_platforms::{Credentials, Http, Page, PlatformError, ReauthReason, RetryPolicy};

const SHOP: &str = "demo-store.myshopify.com";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("valid time")
        .with_timezone(&Utc)
}

fn meta_utm() -> Utm {
    Utm {
        source: Some("facebook".into()),
        medium: Some("paid_social".into()),
        campaign: Some("120211234567890".into()),
        content: Some("carousel".into()),
        term: None,
    }
}

/// Order `n`: two lines (one discounted), shipping and tax, a refund on even
/// orders, a cancelled fifth and a test seventh. Every amount is exact in cents,
/// and `total = subtotal − discounts + shipping + tax`.
fn order(n: u64, updated_at: DateTime<Utc>) -> Order {
    let created_at = at("2026-03-01T10:00:00Z") + Duration::hours(n as i64);
    let line_a = format!("gid://shopify/LineItem/{}", 9000 + 2 * n);
    let refunds = if n.is_multiple_of(2) {
        vec![Refund {
            platform_refund_id: format!("gid://shopify/Refund/{}", 7000 + n),
            created_at: created_at + Duration::days(3),
            amount_micros: 19_430_000,
            lines: vec![RefundLine {
                platform_line_id: line_a.clone(),
                quantity: 1,
                subtotal_micros: 17_990_000,
            }],
        }]
    } else {
        Vec::new()
    };
    Order {
        platform_order_id: format!("gid://shopify/Order/{}", 1000 + n),
        name: format!("#{}", 1000 + n),
        created_at,
        processed_at: created_at + Duration::minutes(1),
        updated_at,
        cancelled_at: (n == 5).then(|| created_at + Duration::days(1)),
        currency: "USD".into(),
        subtotal_micros: 45_480_000,
        discounts_micros: 4_000_000,
        shipping_micros: 4_990_000,
        tax_micros: 3_300_000,
        total_micros: 49_770_000,
        test: n == 7,
        customer: Some(Customer {
            platform_customer_id: format!("gid://shopify/Customer/{}", 500 + n),
            created_at: Some(at("2025-12-24T08:30:00Z")),
        }),
        source_name: Some("web".into()),
        landing_site: Some(
            "https://demo.example/products/tee?utm_source=facebook&utm_medium=paid_social&utm_campaign=120211234567890&utm_content=carousel"
                .into(),
        ),
        referring_site: Some("https://l.facebook.com/".into()),
        utm: meta_utm(),
        lines: vec![
            OrderLine {
                platform_line_id: line_a,
                platform_product_id: Some("gid://shopify/Product/301".into()),
                platform_variant_id: Some("gid://shopify/ProductVariant/401".into()),
                sku: Some("TEE-M".into()),
                title: "Tee".into(),
                quantity: 2,
                unit_price_micros: 19_990_000,
                discount_micros: 4_000_000,
            },
            OrderLine {
                platform_line_id: format!("gid://shopify/LineItem/{}", 9001 + 2 * n),
                platform_product_id: Some("gid://shopify/Product/302".into()),
                platform_variant_id: Some("gid://shopify/ProductVariant/402".into()),
                sku: None,
                title: "Sticker".into(),
                quantity: 1,
                unit_price_micros: 5_500_000,
                discount_micros: 0,
            },
        ],
        refunds,
        touchpoints: vec![
            Touchpoint {
                occurred_at: created_at - Duration::days(2),
                channel: Channel::Organic,
                platform: None,
                platform_campaign_id: None,
                utm: Utm::default(),
            },
            Touchpoint {
                occurred_at: created_at - Duration::hours(1),
                channel: Channel::PaidSocial,
                platform: Some(Platform::Meta),
                platform_campaign_id: Some("120211234567890".into()),
                utm: meta_utm(),
            },
        ],
    }
}

fn seven_orders() -> Vec<Order> {
    // Stored out of update order, so sorting is the fixture's (and Shopify's) job.
    [4, 1, 7, 2, 6, 3, 5]
        .into_iter()
        .map(|n| order(n, at("2026-03-10T00:00:00Z") + Duration::minutes(n as i64)))
        .collect()
}

fn products() -> Vec<Product> {
    vec![
        Product {
            platform_product_id: "gid://shopify/Product/301".into(),
            title: "Tee".into(),
            vendor: Some("Acme".into()),
            product_type: Some("Apparel".into()),
            status: "active".into(),
            updated_at: at("2026-03-02T00:00:00Z"),
            variants: vec![
                Variant {
                    platform_variant_id: "gid://shopify/ProductVariant/401".into(),
                    platform_inventory_item_id: Some("gid://shopify/InventoryItem/801".into()),
                    sku: Some("TEE-M".into()),
                    title: "M".into(),
                    price_micros: 19_990_000,
                    unit_cost_micros: Some(6_125_000),
                    lead_time_days: Some(21),
                },
                Variant {
                    platform_variant_id: "gid://shopify/ProductVariant/403".into(),
                    platform_inventory_item_id: Some("gid://shopify/InventoryItem/803".into()),
                    sku: Some("TEE-L".into()),
                    title: "L".into(),
                    price_micros: 19_990_000,
                    unit_cost_micros: None,
                    lead_time_days: None,
                },
            ],
        },
        Product {
            platform_product_id: "gid://shopify/Product/302".into(),
            title: "Sticker".into(),
            vendor: None,
            product_type: None,
            status: "draft".into(),
            updated_at: at("2026-03-01T00:00:00Z"),
            variants: vec![Variant {
                platform_variant_id: "gid://shopify/ProductVariant/402".into(),
                platform_inventory_item_id: None,
                sku: None,
                title: "Default Title".into(),
                price_micros: 5_500_000,
                unit_cost_micros: None,
                lead_time_days: None,
            }],
        },
    ]
}

fn inventory() -> Vec<InventoryLevel> {
    let level = |item: &str, location: u32, name: &str, available: i64| InventoryLevel {
        platform_inventory_item_id: format!("gid://shopify/InventoryItem/{item}"),
        platform_location_id: format!("gid://shopify/Location/{location}"),
        location_name: name.into(),
        available,
        updated_at: at("2026-03-05T12:00:00Z"),
    };
    vec![
        level("801", 1, "Warehouse", 40),
        level("801", 2, "Shop floor", -2),
        level("803", 1, "Warehouse", 0),
        level("804", 2, "Shop floor", 7),
    ]
}

struct Harness {
    fixture: ShopifyFixture,
    http: Http,
}

impl Harness {
    async fn start(configure: impl FnOnce(&mut ShopifyData)) -> Self {
        let mut data = ShopifyData::new(SHOP);
        data.orders = seven_orders();
        data.products = products();
        data.inventory = inventory();
        configure(&mut data);
        let fixture = ShopifyFixture::start(data).await.expect("fixture starts");
        Self {
            fixture,
            http: Http::new(RetryPolicy::fast()),
        }
    }

    async fn exchange(&self) -> Result<Credentials, PlatformError> {
        let code = self.fixture.data().auth_code.clone();
        exchange_code(
            &self.http,
            &self.fixture.config(),
            &self.fixture.shop(),
            &code,
        )
        .await
    }

    async fn connect(&self) -> Credentials {
        self.exchange().await.expect("code exchange succeeds")
    }

    fn client(&self) -> ShopifyClient {
        ShopifyClient::new(
            self.http.clone(),
            self.fixture.config(),
            self.fixture.shop(),
        )
    }

    fn faults(&self) -> &FaultPlan {
        self.fixture.faults()
    }

    /// The store's orders as the sync should see them: by `updatedAt`, then id.
    fn expected_orders(&self, since: Option<DateTime<Utc>>) -> Vec<Order> {
        let mut orders: Vec<Order> = self
            .fixture
            .data()
            .orders
            .iter()
            .filter(|o| since.is_none_or(|s| o.updated_at >= s))
            .cloned()
            .collect();
        orders.sort_by(|a, b| {
            (a.updated_at, &a.platform_order_id).cmp(&(b.updated_at, &b.platform_order_id))
        });
        orders
    }
}

async fn all_orders(
    client: &ShopifyClient,
    creds: &mut Credentials,
    since: Option<DateTime<Utc>>,
    page_size: u32,
) -> Result<Vec<Page<Order>>, PlatformError> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = client
            .orders_page(creds, since, cursor.as_deref(), page_size)
            .await?;
        cursor = page.next_cursor.clone();
        pages.push(page);
        if cursor.is_none() {
            return Ok(pages);
        }
    }
}

fn reauth_reason(result: Result<impl std::fmt::Debug, PlatformError>) -> (ReauthReason, String) {
    match result {
        Err(PlatformError::Reauth { reason, message }) => (reason, message),
        other => panic!("expected Reauth, got {other:?}"),
    }
}

// === OAuth ===

#[tokio::test]
async fn the_code_exchange_yields_expiring_credentials_once() {
    let harness = Harness::start(|_| {}).await;
    let before = Utc::now();
    let creds = harness.connect().await;
    assert!(creds.access_token.starts_with("shpat_"));
    assert!(
        creds.refresh_token.is_some(),
        "expiring offline token comes with a refresh token"
    );
    let expires_at = creds.expires_at.expect("expiring token has an expiry");
    assert!(
        expires_at >= before + Duration::seconds(3600)
            && expires_at <= Utc::now() + Duration::seconds(3600)
    );
    assert_eq!(
        creds.scopes,
        [
            "read_orders",
            "read_products",
            "read_inventory",
            "read_customers"
        ]
    );

    // Codes are single-use.
    assert!(matches!(
        harness.exchange().await,
        Err(PlatformError::Invalid { .. })
    ));
}

#[tokio::test]
async fn a_store_without_expiring_tokens_gets_a_non_expiring_offline_token() {
    let harness = Harness::start(|data| data.expiring_tokens = false).await;
    let creds = harness.connect().await;
    assert_eq!((creds.refresh_token, creds.expires_at), (None, None));
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused() {
    let harness = Harness::start(|_| {}).await;
    let mut config = harness.fixture.config();
    config.api_secret = "not-the-secret".into();
    let result = exchange_code(
        &harness.http,
        &config,
        &harness.fixture.shop(),
        "fixture-auth-code",
    )
    .await;
    let Err(PlatformError::Invalid { message }) = result else {
        panic!("expected Invalid, got {result:?}")
    };
    assert!(!message.contains("not-the-secret"));
}

#[tokio::test]
async fn missing_scopes_at_exchange_are_named() {
    // write_products implies read_products; inventory and customers are missing.
    let harness =
        Harness::start(|data| data.granted_scope = "write_orders,write_products".into()).await;
    let (reason, message) = reauth_reason(harness.exchange().await);
    assert_eq!(reason, ReauthReason::ScopesMissing);
    assert!(
        message.contains("read_inventory") && message.contains("read_customers"),
        "{message}"
    );
    assert!(
        !message.contains("read_orders") && !message.contains("read_products"),
        "{message}"
    );
}

#[tokio::test]
async fn callback_hmac_accepts_only_untampered_signed_params() {
    let harness = Harness::start(|_| {}).await;
    let secret = harness.fixture.data().api_secret.clone();
    let params: BTreeMap<String, String> = [
        ("code", "fixture-auth-code"),
        ("host", "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtby1zdG9yZQ=="),
        ("shop", SHOP),
        ("state", "nonce-123"),
        ("timestamp", "1767225600"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let signed = harness.fixture.signed_callback(params.clone());
    assert!(verify_callback_hmac(&secret, &signed));
    assert!(!verify_callback_hmac("another-app-secret", &signed));

    let mut tampered = signed.clone();
    tampered.insert("shop".into(), "evil.myshopify.com".into());
    assert!(!verify_callback_hmac(&secret, &tampered), "tampered param");

    let mut added = signed.clone();
    added.insert("extra".into(), "1".into());
    assert!(!verify_callback_hmac(&secret, &added), "added param");

    let mut bad_hmac = signed.clone();
    let hmac = bad_hmac.get_mut("hmac").expect("signed");
    let flipped = if hmac.ends_with('0') { '1' } else { '0' };
    hmac.pop();
    hmac.push(flipped);
    assert!(!verify_callback_hmac(&secret, &bad_hmac), "tampered hmac");

    assert!(!verify_callback_hmac(&secret, &params), "missing hmac");

    // The legacy `signature` parameter is not part of the signed message.
    let mut with_signature = signed.clone();
    with_signature.insert("signature".into(), "legacy".into());
    assert!(verify_callback_hmac(&secret, &with_signature));
}

// === paging and incremental sync ===

#[tokio::test]
async fn seven_orders_arrive_in_three_pages_exactly_as_stored() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    let client = harness.client();
    let pages = all_orders(&client, &mut creds, None, 3)
        .await
        .expect("orders sync");
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(harness.fixture.requests(), 3);
    let synced: Vec<Order> = pages.into_iter().flat_map(|p| p.items).collect();
    // Full equality: ids, amounts, lines, refunds, UTM, touchpoints.
    assert_eq!(synced, harness.expected_orders(None));
}

/// An order bigger than any nested page: 23 lines, 4 refunds (one of 12 lines) and
/// 9 journey moments.
fn big_order() -> Order {
    let mut big = order(8, at("2026-03-11T00:00:00Z"));
    big.lines = (0..23)
        .map(|i| OrderLine {
            platform_line_id: format!("gid://shopify/LineItem/{}", 20_000 + i),
            platform_product_id: Some("gid://shopify/Product/301".into()),
            platform_variant_id: Some("gid://shopify/ProductVariant/401".into()),
            sku: Some(format!("SKU-{i}")),
            title: format!("Item {i}"),
            quantity: 1 + i % 3,
            unit_price_micros: 1_000_000 + i64::from(i) * 10_000,
            discount_micros: if i % 4 == 0 { 250_000 } else { 0 },
        })
        .collect();
    big.subtotal_micros = big
        .lines
        .iter()
        .map(|l| l.unit_price_micros * i64::from(l.quantity))
        .sum();
    big.refunds = (0..4)
        .map(|r| Refund {
            platform_refund_id: format!("gid://shopify/Refund/{}", 30_000 + r),
            created_at: at("2026-03-12T00:00:00Z") + Duration::days(i64::from(r)),
            amount_micros: 1_000_000 * (i64::from(r) + 1),
            lines: (0..if r == 2 { 12 } else { 1 })
                .map(|i| RefundLine {
                    platform_line_id: format!("gid://shopify/LineItem/{}", 20_000 + i),
                    quantity: 1,
                    subtotal_micros: 1_000_000 + i64::from(i) * 10_000,
                })
                .collect(),
        })
        .collect();
    big.touchpoints = (0..9)
        .map(|i| Touchpoint {
            occurred_at: at("2026-03-01T00:00:00Z") + Duration::hours(i),
            channel: Channel::PaidSocial,
            platform: Some(Platform::Meta),
            platform_campaign_id: Some("120211234567890".into()),
            utm: meta_utm(),
        })
        .collect();
    big
}

#[tokio::test]
async fn records_bigger_than_a_page_arrive_whole_and_every_query_stays_under_the_cost_limit() {
    let mut variants_product = products()[0].clone();
    variants_product.platform_product_id = "gid://shopify/Product/399".into();
    variants_product.updated_at = at("2026-03-12T00:00:00Z");
    variants_product.variants = (0..27)
        .map(|i| Variant {
            platform_variant_id: format!("gid://shopify/ProductVariant/{}", 50_000 + i),
            platform_inventory_item_id: Some(format!("gid://shopify/InventoryItem/{}", 60_000 + i)),
            sku: Some(format!("V-{i}")),
            title: format!("Size {i}"),
            price_micros: 10_000_000,
            unit_cost_micros: Some(4_000_000),
            lead_time_days: Some(14),
        })
        .collect();
    let many_locations: Vec<InventoryLevel> = (0..12)
        .map(|i| InventoryLevel {
            platform_inventory_item_id: "gid://shopify/InventoryItem/60000".into(),
            platform_location_id: format!("gid://shopify/Location/{}", 70_000 + i),
            location_name: format!("Warehouse {i}"),
            available: i64::from(i) * 3,
            updated_at: at("2026-03-12T00:00:00Z"),
        })
        .collect();
    let harness = Harness::start(|data| {
        data.orders.push(big_order());
        data.products.push(variants_product.clone());
        data.inventory.extend(many_locations.clone());
    })
    .await;
    let mut creds = harness.connect().await;
    let client = harness.client();
    // The fixture refuses (MAX_COST_EXCEEDED) any query over 1,000 points, so every
    // call here, the follow-ups included, was priced under the limit.
    let synced: Vec<Order> = all_orders(&client, &mut creds, None, 250)
        .await
        .expect("orders sync")
        .into_iter()
        .flat_map(|p| p.items)
        .collect();
    assert_eq!(synced, harness.expected_orders(None));
    let big = synced
        .iter()
        .find(|o| o.platform_order_id == big_order().platform_order_id)
        .expect("the big order");
    assert_eq!(
        (big.lines.len(), big.refunds.len(), big.touchpoints.len()),
        (23, 4, 9)
    );
    assert_eq!(big.refunds[2].lines.len(), 12);

    let products = client
        .products_page(&mut creds, None, None, 250)
        .await
        .expect("products");
    let read = products
        .items
        .iter()
        .find(|p| p.platform_product_id == variants_product.platform_product_id)
        .expect("the big product");
    assert_eq!(read.variants, variants_product.variants);
    let levels = client
        .inventory_levels_page(&mut creds, None, 250)
        .await
        .expect("inventory");
    let mut read: Vec<InventoryLevel> = levels
        .items
        .into_iter()
        .filter(|l| l.platform_inventory_item_id == "gid://shopify/InventoryItem/60000")
        .collect();
    read.sort_by(|a, b| a.platform_location_id.cmp(&b.platform_location_id));
    assert_eq!(read, many_locations);
}

#[tokio::test]
async fn the_store_refuses_a_query_over_the_cost_limit_as_shopify_does() {
    // What the client used to send: 250 orders, each with 250 lines.
    let harness = Harness::start(|_| {}).await;
    let creds = harness.connect().await;
    let url = format!(
        "{}/admin/api/{}/graphql.json",
        harness.fixture.shop_base_url().replace("{shop}", SHOP),
        harness.fixture.data().api_version
    );
    let query = "query Orders($first: Int!) { orders(first: $first) { nodes { id lineItems(first: 250) { nodes { id variant { id } } } } } }";
    let answer: serde_json::Value = reqwest::Client::new()
        .post(url)
        .header("X-Shopify-Access-Token", creds.access_token.clone())
        .json(&serde_json::json!({ "query": query, "variables": { "first": 250 } }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        "MAX_COST_EXCEEDED"
    );
    assert_eq!(
        pp_platforms::shopify::cost::requested_cost(query, &serde_json::json!({ "first": 250 })),
        Ok(2 + 250 * (1 + 2 + 250 * 2))
    );
}

#[tokio::test]
async fn pages_grow_when_shopify_prices_queries_below_the_documented_rule() {
    let many: Vec<Order> = (1..=60)
        .map(|n| order(n, at("2026-03-10T00:00:00Z") + Duration::minutes(n as i64)))
        .collect();
    let strict = Harness::start(|data| data.orders = many.clone()).await;
    let lenient = Harness::start(|data| {
        data.orders = many.clone();
        data.price_factor = 0.25;
    })
    .await;
    let mut page_sizes = Vec::new();
    for harness in [&strict, &lenient] {
        let mut creds = harness.connect().await;
        let pages = all_orders(&harness.client(), &mut creds, None, 250)
            .await
            .expect("orders sync");
        let synced: Vec<Order> = pages.iter().flat_map(|p| p.items.clone()).collect();
        assert_eq!(synced, harness.expected_orders(None));
        page_sizes.push(pages.iter().map(|p| p.items.len()).collect::<Vec<_>>());
    }
    let (strict, lenient) = (&page_sizes[0], &page_sizes[1]);
    // The first page is planned by the documented rule; later ones by the price seen.
    assert_eq!(lenient[0], strict[0]);
    assert!(
        lenient[1] > 3 * strict[1],
        "strict pages {strict:?}, lenient pages {lenient:?}"
    );
    assert!(lenient.len() < strict.len());
}

#[tokio::test]
async fn amounts_are_exact_micros() {
    let harness = Harness::start(|data| {
        let mut odd = order(8, at("2026-03-11T00:00:00Z"));
        // A three-decimal currency and sub-cent unit price: no float may touch these.
        odd.currency = "KWD".into();
        odd.lines[0].unit_price_micros = 1_234_567;
        odd.lines[0].quantity = 3;
        odd.lines[0].discount_micros = 100_001;
        odd.lines[1].unit_price_micros = 999_999_999;
        odd.subtotal_micros = 3 * 1_234_567 + 999_999_999;
        odd.discounts_micros = 100_001;
        odd.shipping_micros = 1_000;
        odd.tax_micros = 333_333;
        odd.total_micros = odd.subtotal_micros - 100_001 + 1_000 + 333_333;
        data.orders = vec![odd];
    })
    .await;
    let mut creds = harness.connect().await;
    let page = harness
        .client()
        .orders_page(&mut creds, None, None, 5)
        .await
        .expect("orders");
    let synced = &page.items[0];
    assert_eq!(synced.currency, "KWD");
    assert_eq!(synced.subtotal_micros, 1_003_703_700);
    assert_eq!(synced.lines[0].unit_price_micros, 1_234_567);
    assert_eq!(
        synced.lines[0].discount_micros, 100_001,
        "two allocations summed exactly"
    );
    assert_eq!(
        synced.total_micros,
        1_003_703_700 - 100_001 + 1_000 + 333_333
    );
    assert_eq!(
        synced.total_micros,
        synced.subtotal_micros - synced.discounts_micros
            + synced.shipping_micros
            + synced.tax_micros
    );
}

#[tokio::test]
async fn an_incremental_sync_returns_only_changed_orders() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    let client = harness.client();
    let first: Vec<Order> = all_orders(&client, &mut creds, None, 3)
        .await
        .expect("full sync")
        .into_iter()
        .flat_map(|p| p.items)
        .collect();
    let watermark = first
        .iter()
        .map(|o| o.updated_at)
        .max()
        .expect("orders synced");

    // Order 1003 gets refunded and a new order comes in, both after the watermark.
    {
        let mut data = harness.fixture.data();
        let changed = data
            .orders
            .iter_mut()
            .find(|o| o.platform_order_id == "gid://shopify/Order/1003")
            .expect("order 1003 exists");
        changed.updated_at = watermark + Duration::hours(2);
        changed.refunds.push(Refund {
            platform_refund_id: "gid://shopify/Refund/7777".into(),
            created_at: watermark + Duration::hours(2),
            amount_micros: 5_500_000,
            lines: vec![RefundLine {
                platform_line_id: changed.lines[1].platform_line_id.clone(),
                quantity: 1,
                subtotal_micros: 5_500_000,
            }],
        });
        data.orders.push(order(8, watermark + Duration::hours(1)));
    }

    let since = watermark + Duration::seconds(1);
    let second: Vec<Order> = all_orders(&client, &mut creds, Some(since), 3)
        .await
        .expect("incremental sync")
        .into_iter()
        .flat_map(|p| p.items)
        .collect();
    let ids: Vec<&str> = second
        .iter()
        .map(|o| o.platform_order_id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["gid://shopify/Order/1008", "gid://shopify/Order/1003"]
    );
    assert_eq!(second, harness.expected_orders(Some(since)));
    assert_eq!(second[1].refunds.len(), 1);
    assert_eq!(second[1].refunds[0].amount_micros, 5_500_000);
}

#[tokio::test]
async fn products_inventory_and_shop_info_map_from_the_wire() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    let client = harness.client();

    let info = client.shop_info(&mut creds).await.expect("shop info");
    assert_eq!(
        info,
        ShopInfo {
            name: "Fixture Store".into(),
            currency_code: "USD".into(),
            iana_timezone: "America/New_York".into()
        }
    );

    let first = client
        .products_page(&mut creds, None, None, 1)
        .await
        .expect("products page 1");
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = client
        .products_page(&mut creds, None, Some(&cursor), 1)
        .await
        .expect("products page 2");
    assert_eq!(second.next_cursor, None);
    let mut expected = products();
    expected.reverse(); // by updatedAt: the sticker was updated first
    assert_eq!([first.items, second.items].concat(), expected);

    let changed = client
        .products_page(&mut creds, Some(at("2026-03-01T12:00:00Z")), None, 10)
        .await
        .expect("changed products");
    assert_eq!(changed.items.len(), 1);
    assert_eq!(changed.items[0].variants[0].lead_time_days, Some(21));

    let mut levels = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = client
            .inventory_levels_page(&mut creds, cursor.as_deref(), 2)
            .await
            .expect("inventory page");
        levels.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(levels, inventory());
}

// === faults ===

#[tokio::test]
async fn a_429_with_retry_after_is_retried() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    harness.faults().at(
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let page = harness
        .client()
        .orders_page(&mut creds, None, None, 3)
        .await
        .expect("succeeds after the 429");
    assert_eq!(page.items.len(), 3);
    assert_eq!(harness.fixture.requests(), 2);
}

#[tokio::test]
async fn a_throttled_answer_waits_and_retries() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    harness.faults().at(1, Fault::Throttled);
    harness.faults().at(2, Fault::Throttled);
    let page = harness
        .client()
        .orders_page(&mut creds, None, None, 3)
        .await
        .expect("succeeds after throttling");
    assert_eq!(page.items, harness.expected_orders(None)[..3]);
    assert_eq!(harness.fixture.requests(), 3);
}

#[tokio::test]
async fn a_throttled_answer_on_http_429_is_retried_too() {
    let harness = Harness::start(|data| data.throttled_status = 429).await;
    let mut creds = harness.connect().await;
    harness.faults().at(1, Fault::Throttled);
    let page = harness
        .client()
        .orders_page(&mut creds, None, None, 3)
        .await
        .expect("succeeds");
    assert_eq!(page.items.len(), 3);
    assert_eq!(harness.fixture.requests(), 2);
}

#[tokio::test]
async fn endless_throttling_ends_in_rate_limited() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    for n in 1..=10 {
        harness.faults().at(n, Fault::Throttled);
    }
    let result = harness
        .client()
        .orders_page(&mut creds, None, None, 3)
        .await;
    assert!(
        matches!(result, Err(PlatformError::RateLimited { .. })),
        "{result:?}"
    );
    // The first attempt and five retries.
    assert_eq!(harness.fixture.requests(), 6);
}

#[tokio::test]
async fn a_500_is_retried() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    harness.faults().at(1, Fault::ServerError);
    let page = harness
        .client()
        .orders_page(&mut creds, None, None, 3)
        .await
        .expect("succeeds after the 500");
    assert_eq!(page.items.len(), 3);
    assert_eq!(harness.fixture.requests(), 2);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_retried() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    let old = creds.clone();
    harness.faults().at(1, Fault::TokenExpired);
    let page = harness
        .client()
        .orders_page(&mut creds, None, None, 3)
        .await
        .expect("succeeds after refresh");
    assert_eq!(page.items.len(), 3);
    assert_ne!(
        creds.access_token, old.access_token,
        "new access token stored in place"
    );
    assert_ne!(
        creds.refresh_token, old.refresh_token,
        "refresh token rotated"
    );
    assert_eq!(creds.scopes, old.scopes);
    assert_eq!(
        harness.fixture.token_requests(),
        2,
        "one exchange, one refresh"
    );
    assert_eq!(harness.fixture.requests(), 2);

    // The old refresh token was rotated away: it no longer refreshes.
    let mut stale = old;
    harness.faults().at(1, Fault::TokenExpired);
    let (reason, _) = reauth_reason(
        harness
            .client()
            .orders_page(&mut stale, None, None, 3)
            .await,
    );
    assert_eq!(reason, ReauthReason::TokenRevoked);
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_call() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    let old_token = creds.access_token.clone();
    creds.expires_at = Some(Utc::now() + Duration::minutes(1));
    harness
        .client()
        .shop_info(&mut creds)
        .await
        .expect("shop info");
    assert_ne!(creds.access_token, old_token);
    assert!(
        creds
            .expires_at
            .is_some_and(|at| at > Utc::now() + Duration::minutes(50))
    );
    assert_eq!(harness.fixture.requests(), 1, "no 401 round trip");
}

#[tokio::test]
async fn an_expired_token_without_refresh_token_needs_a_reconnect() {
    let harness = Harness::start(|data| data.expiring_tokens = false).await;
    let mut creds = harness.connect().await;
    harness.faults().at(1, Fault::TokenExpired);
    let (reason, message) = reauth_reason(
        harness
            .client()
            .orders_page(&mut creds, None, None, 3)
            .await,
    );
    assert_eq!(reason, ReauthReason::TokenRevoked);
    assert!(
        message.contains(SHOP) && message.contains("reconnect"),
        "{message}"
    );
    assert_eq!(harness.fixture.token_requests(), 1, "no refresh attempted");
}

#[tokio::test]
async fn a_revoked_token_is_reauth_and_the_message_holds_no_secret() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    let (access, refresh) = (
        creds.access_token.clone(),
        creds.refresh_token.clone().expect("refresh token"),
    );
    harness.faults().at(1, Fault::TokenRevoked);
    let result = harness
        .client()
        .orders_page(&mut creds, None, None, 3)
        .await;
    let debug = format!("{result:?}");
    let (reason, message) = reauth_reason(result);
    assert_eq!(reason, ReauthReason::TokenRevoked);
    assert_eq!(
        message,
        format!("Shopify no longer accepts Pulsepoint's access to {SHOP}; reconnect the store")
    );
    let secret = harness.fixture.data().api_secret.clone();
    for leaked in [&access, &refresh, &secret] {
        assert!(
            !debug.contains(leaked.as_str()),
            "error exposes a secret: {debug}"
        );
    }
    // The refresh was tried once and refused; nothing loops.
    assert_eq!(harness.fixture.token_requests(), 2);
    assert_eq!(harness.fixture.requests(), 1);
    assert!(!format!("{creds:?}").contains(&access));
}

#[tokio::test]
async fn access_denied_on_data_is_scopes_missing() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    // The merchant later narrows the app's access.
    harness.fixture.data().granted_scope = "read_products".into();
    let client = harness.client();
    let (reason, _) = reauth_reason(client.orders_page(&mut creds, None, None, 3).await);
    assert_eq!(reason, ReauthReason::ScopesMissing);
    client
        .products_page(&mut creds, None, None, 3)
        .await
        .expect("products still readable");
}

#[tokio::test]
async fn a_shop_that_does_not_answer_leaves_the_call_pending() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    harness.faults().at(1, Fault::Hang);
    let client = harness.client();
    let call = client.orders_page(&mut creds, None, None, 3);
    let outcome = tokio::time::timeout(std::time::Duration::from_millis(300), call).await;
    assert!(outcome.is_err(), "a hung request must not produce a result");
}

// === webhooks ===

#[tokio::test]
async fn webhook_signatures_are_verified() {
    let harness = Harness::start(|_| {}).await;
    let secret = harness.fixture.data().api_secret.clone();
    let body = harness
        .fixture
        .order_webhook_body("gid://shopify/Order/1002")
        .expect("order exists");
    let header = harness.fixture.sign_webhook(&body);
    assert!(verify_webhook_hmac(&secret, &body, &header));

    let mut tampered = body.clone();
    let at = tampered
        .iter()
        .position(|b| b.is_ascii_digit())
        .expect("a digit");
    tampered[at] = if tampered[at] == b'9' {
        b'8'
    } else {
        tampered[at] + 1
    };
    assert!(
        !verify_webhook_hmac(&secret, &tampered, &header),
        "tampered body"
    );
    assert!(
        !verify_webhook_hmac("someone-elses-secret", &body, &header),
        "wrong secret"
    );
}

#[tokio::test]
async fn a_webhook_and_the_graphql_sync_produce_the_same_order() {
    let harness = Harness::start(|_| {}).await;
    let mut creds = harness.connect().await;
    let synced: Vec<Order> = all_orders(&harness.client(), &mut creds, None, 3)
        .await
        .expect("sync")
        .into_iter()
        .flat_map(|p| p.items)
        .collect();
    assert_eq!(synced.len(), 7);
    for from_sync in synced {
        let body = harness
            .fixture
            .order_webhook_body(&from_sync.platform_order_id)
            .expect("order exists");
        let from_webhook = parse_order_webhook(&body).expect("webhook parses");
        assert!(
            from_webhook
                .platform_order_id
                .starts_with("gid://shopify/Order/")
        );
        // REST payloads carry no customer-journey moments; everything else matches.
        assert!(from_webhook.touchpoints.is_empty());
        assert!(!from_sync.touchpoints.is_empty());
        assert_eq!(
            from_webhook,
            Order {
                touchpoints: Vec::new(),
                ..from_sync
            }
        );
    }
}
