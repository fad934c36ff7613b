//! The one write path into `commerce.*`: every connector (Shopify sync and webhooks,
//! Meta, TikTok, Google Ads, the demo store) lands its records here.
//!
//! Each call writes one batch with one multi-row `INSERT … SELECT FROM unnest(…)
//! ON CONFLICT` per table, keyed on the platforms' own ids, so re-reading a window
//! (late data, a resumed run, a webhook racing a sync) never duplicates a row. An
//! order is only overwritten by a version at least as new (`platform_updated_at`),
//! and its lines, refunds and touchpoints are replaced with it, so a line removed at
//! the platform disappears here too.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use pp_commerce::{AdSpendDay, Campaign, InventoryLevel, Order, Product};
use pp_db::TenantTx;
use uuid::Uuid;

/// Whose records these are.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub brand_id: Uuid,
    pub integration_id: Uuid,
}

/// Upserts orders with their lines, refunds, touchpoints and customers. Returns the
/// number of orders inserted or changed (an unchanged re-read writes nothing).
pub async fn upsert_orders(
    tx: &mut TenantTx,
    target: Target,
    orders: &[Order],
) -> pp_db::Result<u64> {
    // One row per platform id (the newest), or ON CONFLICT would hit a row twice.
    let mut newest: HashMap<&str, &Order> = HashMap::with_capacity(orders.len());
    for order in orders {
        newest
            .entry(order.platform_order_id.as_str())
            .and_modify(|kept| {
                if order.updated_at >= kept.updated_at {
                    *kept = order;
                }
            })
            .or_insert(order);
    }
    let mut batch: Vec<&Order> = newest.into_values().collect();
    batch.sort_by(|a, b| a.platform_order_id.cmp(&b.platform_order_id));
    if batch.is_empty() {
        return Ok(0);
    }

    let mut cols = OrderColumns::with_capacity(batch.len());
    for order in &batch {
        cols.push(order);
    }
    let written: Vec<(String, Uuid, bool)> = sqlx::query_as(
        "insert into commerce.orders (
             tenant_id, brand_id, order_id, integration_id, platform_order_id, name,
             processed_at, platform_created_at, platform_updated_at, cancelled_at,
             currency_code, subtotal_micros, discounts_micros, shipping_micros, tax_micros,
             total_micros, refunded_micros, test, platform_customer_id, source_name,
             landing_site, referring_site, utm_source, utm_medium, utm_campaign,
             utm_content, utm_term, synced_at)
         select commerce.current_tenant(), $1, gen_random_uuid(), $2, u.*, now()
         from unnest($3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                     $7::timestamptz[], $8::timestamptz[], $9::text[], $10::int8[],
                     $11::int8[], $12::int8[], $13::int8[], $14::int8[], $15::int8[],
                     $16::bool[], $17::text[], $18::text[], $19::text[], $20::text[],
                     $21::text[], $22::text[], $23::text[], $24::text[], $25::text[]) as u
         on conflict (tenant_id, brand_id, platform_order_id) do update set
             integration_id = excluded.integration_id,
             name = excluded.name,
             processed_at = excluded.processed_at,
             platform_created_at = excluded.platform_created_at,
             platform_updated_at = excluded.platform_updated_at,
             cancelled_at = excluded.cancelled_at,
             currency_code = excluded.currency_code,
             subtotal_micros = excluded.subtotal_micros,
             discounts_micros = excluded.discounts_micros,
             shipping_micros = excluded.shipping_micros,
             tax_micros = excluded.tax_micros,
             total_micros = excluded.total_micros,
             refunded_micros = excluded.refunded_micros,
             test = excluded.test,
             platform_customer_id = excluded.platform_customer_id,
             source_name = excluded.source_name,
             landing_site = excluded.landing_site,
             referring_site = excluded.referring_site,
             utm_source = excluded.utm_source,
             utm_medium = excluded.utm_medium,
             utm_campaign = excluded.utm_campaign,
             utm_content = excluded.utm_content,
             utm_term = excluded.utm_term,
             synced_at = excluded.synced_at
         where commerce.orders.platform_updated_at is null
            or excluded.platform_updated_at > commerce.orders.platform_updated_at
         returning platform_order_id, order_id, xmax = 0",
    )
    .bind(target.brand_id)
    .bind(target.integration_id)
    .bind(&cols.platform_order_id)
    .bind(&cols.name)
    .bind(&cols.processed_at)
    .bind(&cols.created_at)
    .bind(&cols.updated_at)
    .bind(&cols.cancelled_at)
    .bind(&cols.currency)
    .bind(&cols.subtotal)
    .bind(&cols.discounts)
    .bind(&cols.shipping)
    .bind(&cols.tax)
    .bind(&cols.total)
    .bind(&cols.refunded)
    .bind(&cols.test)
    .bind(&cols.customer)
    .bind(&cols.source_name)
    .bind(&cols.landing_site)
    .bind(&cols.referring_site)
    .bind(&cols.utm_source)
    .bind(&cols.utm_medium)
    .bind(&cols.utm_campaign)
    .bind(&cols.utm_content)
    .bind(&cols.utm_term)
    .fetch_all(tx.conn())
    .await?;
    if written.is_empty() {
        return Ok(0);
    }

    let by_platform_id: HashMap<&str, &Order> = batch
        .iter()
        .map(|o| (o.platform_order_id.as_str(), *o))
        .collect();
    // Children are replaced with their order (cascades remove refund lines). A row
    // the statement inserted (`xmax = 0`: no transaction had it before) has none to
    // replace, which spares a backfill three deletes per order. Touchpoints only when
    // the new version carries some: a webhook payload has no customer journey, and
    // must not erase what a sync stored.
    let updated = || written.iter().filter(|(_, _, inserted)| !inserted);
    let order_ids: Vec<Uuid> = updated().map(|(_, id, _)| *id).collect();
    let with_journey: Vec<Uuid> = updated()
        .filter(|(platform_id, _, _)| {
            by_platform_id
                .get(platform_id.as_str())
                .is_some_and(|o| !o.touchpoints.is_empty())
        })
        .map(|(_, id, _)| *id)
        .collect();
    for (table, ids) in [
        ("order_lines", &order_ids),
        ("refunds", &order_ids),
        ("touchpoints", &with_journey),
    ] {
        if ids.is_empty() {
            continue;
        }
        sqlx::query(&format!(
            "delete from commerce.{table} where tenant_id = commerce.current_tenant() and order_id = any($1)"
        ))
        .bind(ids)
        .execute(tx.conn())
        .await?;
    }
    let mut children = Children::default();
    for (platform_id, order_id, _) in &written {
        if let Some(order) = by_platform_id.get(platform_id.as_str()) {
            children.push(*order_id, order);
        }
    }
    children.insert(tx, target.brand_id).await?;
    upsert_customers(tx, target, &batch).await?;
    Ok(written.len() as u64)
}

#[derive(Default)]
struct OrderColumns {
    platform_order_id: Vec<String>,
    name: Vec<String>,
    processed_at: Vec<DateTime<Utc>>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    cancelled_at: Vec<Option<DateTime<Utc>>>,
    currency: Vec<String>,
    subtotal: Vec<i64>,
    discounts: Vec<i64>,
    shipping: Vec<i64>,
    tax: Vec<i64>,
    total: Vec<i64>,
    refunded: Vec<i64>,
    test: Vec<bool>,
    customer: Vec<Option<String>>,
    source_name: Vec<Option<String>>,
    landing_site: Vec<Option<String>>,
    referring_site: Vec<Option<String>>,
    utm_source: Vec<Option<String>>,
    utm_medium: Vec<Option<String>>,
    utm_campaign: Vec<Option<String>>,
    utm_content: Vec<Option<String>>,
    utm_term: Vec<Option<String>>,
}

impl OrderColumns {
    fn with_capacity(n: usize) -> Self {
        let mut cols = Self::default();
        cols.platform_order_id.reserve(n);
        cols
    }

    fn push(&mut self, order: &Order) {
        self.platform_order_id.push(order.platform_order_id.clone());
        self.name.push(order.name.clone());
        self.processed_at.push(order.processed_at);
        self.created_at.push(order.created_at);
        self.updated_at.push(order.updated_at);
        self.cancelled_at.push(order.cancelled_at);
        self.currency.push(order.currency.clone());
        self.subtotal.push(order.subtotal_micros);
        self.discounts.push(order.discounts_micros);
        self.shipping.push(order.shipping_micros);
        self.tax.push(order.tax_micros);
        self.total.push(order.total_micros);
        self.refunded
            .push(order.refunds.iter().map(|r| r.amount_micros).sum());
        self.test.push(order.test);
        self.customer.push(
            order
                .customer
                .as_ref()
                .map(|c| c.platform_customer_id.clone()),
        );
        self.source_name.push(order.source_name.clone());
        self.landing_site.push(order.landing_site.clone());
        self.referring_site.push(order.referring_site.clone());
        self.utm_source.push(order.utm.source.clone());
        self.utm_medium.push(order.utm.medium.clone());
        self.utm_campaign.push(order.utm.campaign.clone());
        self.utm_content.push(order.utm.content.clone());
        self.utm_term.push(order.utm.term.clone());
    }
}

/// Lines, refunds, refund lines and touchpoints of a batch, as columns.
#[derive(Default)]
struct Children {
    line_order: Vec<Uuid>,
    line_id: Vec<String>,
    line_product: Vec<Option<String>>,
    line_variant: Vec<Option<String>>,
    line_sku: Vec<Option<String>>,
    line_title: Vec<String>,
    line_quantity: Vec<i32>,
    line_price: Vec<i64>,
    line_discount: Vec<i64>,
    refund_order: Vec<Uuid>,
    refund_id: Vec<String>,
    refund_at: Vec<DateTime<Utc>>,
    refund_currency: Vec<String>,
    refund_amount: Vec<i64>,
    refund_line_order: Vec<Uuid>,
    refund_line_refund: Vec<String>,
    refund_line_line: Vec<String>,
    refund_line_quantity: Vec<i32>,
    refund_line_subtotal: Vec<i64>,
    touch_order: Vec<Uuid>,
    touch_position: Vec<i32>,
    touch_at: Vec<DateTime<Utc>>,
    touch_channel: Vec<String>,
    touch_platform: Vec<Option<String>>,
    touch_campaign: Vec<Option<String>>,
    touch_utm_source: Vec<Option<String>>,
    touch_utm_medium: Vec<Option<String>>,
    touch_utm_campaign: Vec<Option<String>>,
    touch_utm_content: Vec<Option<String>>,
    touch_utm_term: Vec<Option<String>>,
}

impl Children {
    fn push(&mut self, order_id: Uuid, order: &Order) {
        let mut seen_lines = std::collections::HashSet::new();
        for line in &order.lines {
            if !seen_lines.insert(line.platform_line_id.as_str()) {
                continue;
            }
            self.line_order.push(order_id);
            self.line_id.push(line.platform_line_id.clone());
            self.line_product.push(line.platform_product_id.clone());
            self.line_variant.push(line.platform_variant_id.clone());
            self.line_sku.push(line.sku.clone());
            self.line_title.push(line.title.clone());
            self.line_quantity.push(line.quantity);
            self.line_price.push(line.unit_price_micros);
            self.line_discount.push(line.discount_micros);
        }
        let mut seen_refunds = std::collections::HashSet::new();
        for refund in &order.refunds {
            if !seen_refunds.insert(refund.platform_refund_id.as_str()) {
                continue;
            }
            self.refund_order.push(order_id);
            self.refund_id.push(refund.platform_refund_id.clone());
            self.refund_at.push(refund.created_at);
            self.refund_currency.push(order.currency.clone());
            self.refund_amount.push(refund.amount_micros);
            let mut seen = std::collections::HashSet::new();
            for line in &refund.lines {
                if !seen.insert(line.platform_line_id.as_str()) {
                    continue;
                }
                self.refund_line_order.push(order_id);
                self.refund_line_refund
                    .push(refund.platform_refund_id.clone());
                self.refund_line_line.push(line.platform_line_id.clone());
                self.refund_line_quantity.push(line.quantity);
                self.refund_line_subtotal.push(line.subtotal_micros);
            }
        }
        for (position, touch) in order.touchpoints.iter().enumerate() {
            self.touch_order.push(order_id);
            self.touch_position
                .push(i32::try_from(position).unwrap_or(i32::MAX));
            self.touch_at.push(touch.occurred_at);
            self.touch_channel.push(touch.channel.as_str().to_owned());
            self.touch_platform
                .push(touch.platform.map(|p| p.as_str().to_owned()));
            self.touch_campaign.push(touch.platform_campaign_id.clone());
            self.touch_utm_source.push(touch.utm.source.clone());
            self.touch_utm_medium.push(touch.utm.medium.clone());
            self.touch_utm_campaign.push(touch.utm.campaign.clone());
            self.touch_utm_content.push(touch.utm.content.clone());
            self.touch_utm_term.push(touch.utm.term.clone());
        }
    }

    async fn insert(&self, tx: &mut TenantTx, brand_id: Uuid) -> pp_db::Result<()> {
        if !self.line_order.is_empty() {
            sqlx::query(
                "insert into commerce.order_lines (tenant_id, brand_id, order_id, platform_line_id,
                     platform_product_id, platform_variant_id, sku, title, quantity,
                     unit_price_micros, discount_micros)
                 select commerce.current_tenant(), $1, u.*
                 from unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                             $7::text[], $8::int4[], $9::int8[], $10::int8[]) as u",
            )
            .bind(brand_id)
            .bind(&self.line_order)
            .bind(&self.line_id)
            .bind(&self.line_product)
            .bind(&self.line_variant)
            .bind(&self.line_sku)
            .bind(&self.line_title)
            .bind(&self.line_quantity)
            .bind(&self.line_price)
            .bind(&self.line_discount)
            .execute(tx.conn())
            .await?;
        }
        if !self.refund_order.is_empty() {
            sqlx::query(
                "insert into commerce.refunds (tenant_id, brand_id, order_id, platform_refund_id,
                     refunded_at, currency_code, amount_micros)
                 select commerce.current_tenant(), $1, u.*
                 from unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::int8[]) as u",
            )
            .bind(brand_id)
            .bind(&self.refund_order)
            .bind(&self.refund_id)
            .bind(&self.refund_at)
            .bind(&self.refund_currency)
            .bind(&self.refund_amount)
            .execute(tx.conn())
            .await?;
        }
        if !self.refund_line_order.is_empty() {
            sqlx::query(
                "insert into commerce.refund_lines (tenant_id, order_id, platform_refund_id,
                     platform_line_id, quantity, subtotal_micros)
                 select commerce.current_tenant(), u.*
                 from unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::int8[]) as u",
            )
            .bind(&self.refund_line_order)
            .bind(&self.refund_line_refund)
            .bind(&self.refund_line_line)
            .bind(&self.refund_line_quantity)
            .bind(&self.refund_line_subtotal)
            .execute(tx.conn())
            .await?;
        }
        if !self.touch_order.is_empty() {
            sqlx::query(
                "insert into commerce.touchpoints (tenant_id, brand_id, order_id, position,
                     occurred_at, channel, platform, platform_campaign_id, utm_source,
                     utm_medium, utm_campaign, utm_content, utm_term)
                 select commerce.current_tenant(), $1, u.*
                 from unnest($2::uuid[], $3::int4[], $4::timestamptz[], $5::text[], $6::text[],
                             $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                             $12::text[]) as u",
            )
            .bind(brand_id)
            .bind(&self.touch_order)
            .bind(&self.touch_position)
            .bind(&self.touch_at)
            .bind(&self.touch_channel)
            .bind(&self.touch_platform)
            .bind(&self.touch_campaign)
            .bind(&self.touch_utm_source)
            .bind(&self.touch_utm_medium)
            .bind(&self.touch_utm_campaign)
            .bind(&self.touch_utm_content)
            .bind(&self.touch_utm_term)
            .execute(tx.conn())
            .await?;
        }
        Ok(())
    }
}

/// A customer's first order is the earliest non-test order seen for them, whichever
/// batch it arrived in.
async fn upsert_customers(
    tx: &mut TenantTx,
    target: Target,
    orders: &[&Order],
) -> pp_db::Result<()> {
    let mut first: HashMap<&str, (DateTime<Utc>, Option<DateTime<Utc>>)> = HashMap::new();
    for order in orders.iter().filter(|o| !o.test) {
        let Some(customer) = &order.customer else {
            continue;
        };
        first
            .entry(customer.platform_customer_id.as_str())
            .and_modify(|(at, _)| *at = (*at).min(order.processed_at))
            .or_insert((order.processed_at, customer.created_at));
    }
    if first.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(first.len());
    let mut first_at = Vec::with_capacity(first.len());
    let mut created = Vec::with_capacity(first.len());
    for (id, (at, created_at)) in first {
        ids.push(id.to_owned());
        first_at.push(at);
        created.push(created_at);
    }
    sqlx::query(
        "insert into commerce.customers (tenant_id, brand_id, platform_customer_id, integration_id,
             first_order_at, platform_created_at)
         select commerce.current_tenant(), $1, u.id, $2, u.first_at, u.created
         from unnest($3::text[], $4::timestamptz[], $5::timestamptz[]) as u(id, first_at, created)
         on conflict (tenant_id, brand_id, platform_customer_id) do update set
             first_order_at = least(commerce.customers.first_order_at, excluded.first_order_at),
             platform_created_at = coalesce(excluded.platform_created_at, commerce.customers.platform_created_at)",
    )
    .bind(target.brand_id)
    .bind(target.integration_id)
    .bind(&ids)
    .bind(&first_at)
    .bind(&created)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Upserts products and their variants. `currency` is the shop's.
pub async fn upsert_products(
    tx: &mut TenantTx,
    target: Target,
    currency: &str,
    products: &[Product],
) -> pp_db::Result<u64> {
    let mut unique: HashMap<&str, &Product> = HashMap::new();
    for product in products {
        unique.insert(product.platform_product_id.as_str(), product);
    }
    if unique.is_empty() {
        return Ok(0);
    }
    let (mut id, mut title, mut vendor, mut kind, mut status, mut updated) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut variants: HashMap<&str, (&str, &pp_commerce::Variant)> = HashMap::new();
    for product in unique.values() {
        id.push(product.platform_product_id.clone());
        title.push(product.title.clone());
        vendor.push(product.vendor.clone());
        kind.push(product.product_type.clone());
        status.push(product.status.clone());
        updated.push(product.updated_at);
        for variant in &product.variants {
            variants.insert(
                variant.platform_variant_id.as_str(),
                (product.platform_product_id.as_str(), variant),
            );
        }
    }
    let written = sqlx::query(
        "insert into commerce.products (tenant_id, brand_id, platform_product_id, integration_id,
             title, vendor, product_type, status, platform_updated_at, synced_at)
         select commerce.current_tenant(), $1, u.id, $2, u.title, u.vendor, u.kind, u.status,
                u.updated, now()
         from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
              as u(id, title, vendor, kind, status, updated)
         on conflict (tenant_id, brand_id, platform_product_id) do update set
             integration_id = excluded.integration_id, title = excluded.title,
             vendor = excluded.vendor, product_type = excluded.product_type,
             status = excluded.status, platform_updated_at = excluded.platform_updated_at,
             synced_at = excluded.synced_at",
    )
    .bind(target.brand_id)
    .bind(target.integration_id)
    .bind(&id)
    .bind(&title)
    .bind(&vendor)
    .bind(&kind)
    .bind(&status)
    .bind(&updated)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if !variants.is_empty() {
        let (mut vid, mut pid, mut item, mut sku, mut vtitle, mut price, mut cost, mut lead) = (
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        for (product_id, variant) in variants.values() {
            vid.push(variant.platform_variant_id.clone());
            pid.push((*product_id).to_owned());
            item.push(variant.platform_inventory_item_id.clone());
            sku.push(variant.sku.clone());
            vtitle.push(variant.title.clone());
            price.push(variant.price_micros);
            cost.push(variant.unit_cost_micros);
            lead.push(variant.lead_time_days);
        }
        sqlx::query(
            "insert into commerce.variants (tenant_id, brand_id, platform_variant_id,
                 platform_product_id, platform_inventory_item_id, sku, title, currency_code,
                 price_micros, unit_cost_micros, lead_time_days)
             select commerce.current_tenant(), $1, u.vid, u.pid, u.item, u.sku, u.title, $2,
                    u.price, u.cost, u.lead
             from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[],
                         $9::int8[], $10::int4[]) as u(vid, pid, item, sku, title, price, cost, lead)
             on conflict (tenant_id, brand_id, platform_variant_id) do update set
                 platform_product_id = excluded.platform_product_id,
                 platform_inventory_item_id = excluded.platform_inventory_item_id,
                 sku = excluded.sku, title = excluded.title,
                 currency_code = excluded.currency_code, price_micros = excluded.price_micros,
                 unit_cost_micros = excluded.unit_cost_micros,
                 lead_time_days = coalesce(excluded.lead_time_days, commerce.variants.lead_time_days)",
        )
        .bind(target.brand_id)
        .bind(currency)
        .bind(&vid)
        .bind(&pid)
        .bind(&item)
        .bind(&sku)
        .bind(&vtitle)
        .bind(&price)
        .bind(&cost)
        .bind(&lead)
        .execute(tx.conn())
        .await?;
    }
    Ok(written)
}

/// Upserts stock per inventory item and location.
pub async fn upsert_inventory(
    tx: &mut TenantTx,
    target: Target,
    levels: &[InventoryLevel],
) -> pp_db::Result<u64> {
    let mut unique: HashMap<(&str, &str), &InventoryLevel> = HashMap::new();
    for level in levels {
        unique.insert(
            (
                level.platform_inventory_item_id.as_str(),
                level.platform_location_id.as_str(),
            ),
            level,
        );
    }
    if unique.is_empty() {
        return Ok(0);
    }
    let (mut item, mut location, mut name, mut available, mut updated) =
        (vec![], vec![], vec![], vec![], vec![]);
    for level in unique.values() {
        item.push(level.platform_inventory_item_id.clone());
        location.push(level.platform_location_id.clone());
        name.push(level.location_name.clone());
        available.push(level.available);
        updated.push(level.updated_at);
    }
    let written = sqlx::query(
        "insert into commerce.inventory_levels (tenant_id, brand_id, platform_inventory_item_id,
             platform_location_id, integration_id, location_name, available, platform_updated_at,
             synced_at)
         select commerce.current_tenant(), $1, u.item, u.location, $2, u.name, u.available,
                u.updated, now()
         from unnest($3::text[], $4::text[], $5::text[], $6::int8[], $7::timestamptz[])
              as u(item, location, name, available, updated)
         on conflict (tenant_id, brand_id, platform_inventory_item_id, platform_location_id)
         do update set integration_id = excluded.integration_id,
             location_name = excluded.location_name, available = excluded.available,
             platform_updated_at = excluded.platform_updated_at, synced_at = excluded.synced_at
         where excluded.platform_updated_at >= commerce.inventory_levels.platform_updated_at",
    )
    .bind(target.brand_id)
    .bind(target.integration_id)
    .bind(&item)
    .bind(&location)
    .bind(&name)
    .bind(&available)
    .bind(&updated)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(written)
}

/// Upserts campaigns (names and statuses change; ids do not).
pub async fn upsert_campaigns(
    tx: &mut TenantTx,
    target: Target,
    campaigns: &[Campaign],
) -> pp_db::Result<u64> {
    let mut unique: HashMap<(&str, &str), &Campaign> = HashMap::new();
    for c in campaigns {
        unique.insert((c.platform.as_str(), c.platform_campaign_id.as_str()), c);
    }
    if unique.is_empty() {
        return Ok(0);
    }
    let (mut platform, mut id, mut name, mut status) = (vec![], vec![], vec![], vec![]);
    for c in unique.values() {
        platform.push(c.platform.as_str().to_owned());
        id.push(c.platform_campaign_id.clone());
        name.push(c.name.clone());
        status.push(c.status.clone());
    }
    let written = sqlx::query(
        "insert into commerce.campaigns (tenant_id, brand_id, platform, platform_campaign_id,
             integration_id, name, status, synced_at)
         select commerce.current_tenant(), $1, u.platform, u.id, $2, u.name, u.status, now()
         from unnest($3::text[], $4::text[], $5::text[], $6::text[]) as u(platform, id, name, status)
         on conflict (tenant_id, brand_id, platform, platform_campaign_id) do update set
             integration_id = excluded.integration_id, name = excluded.name,
             status = coalesce(excluded.status, commerce.campaigns.status),
             synced_at = excluded.synced_at",
    )
    .bind(target.brand_id)
    .bind(target.integration_id)
    .bind(&platform)
    .bind(&id)
    .bind(&name)
    .bind(&status)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(written)
}

/// Upserts spend per campaign per day, and the campaigns the rows name. A re-read
/// day replaces the stored one: platforms revise past days (late conversions).
pub async fn upsert_ad_spend(
    tx: &mut TenantTx,
    target: Target,
    rows: &[AdSpendDay],
) -> pp_db::Result<u64> {
    let mut unique: HashMap<(&str, &str, NaiveDate), &AdSpendDay> = HashMap::new();
    for row in rows {
        unique.insert(
            (
                row.platform.as_str(),
                row.platform_campaign_id.as_str(),
                row.date,
            ),
            row,
        );
    }
    if unique.is_empty() {
        return Ok(0);
    }
    let campaigns: Vec<Campaign> = unique
        .values()
        .map(|row| Campaign {
            platform: row.platform,
            platform_campaign_id: row.platform_campaign_id.clone(),
            name: row.campaign_name.clone(),
            status: None,
        })
        .collect();
    upsert_campaigns(tx, target, &campaigns).await?;
    let (mut platform, mut id, mut date, mut currency, mut spend) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut impressions, mut clicks, mut conversions, mut value) =
        (vec![], vec![], vec![], vec![]);
    for row in unique.values() {
        platform.push(row.platform.as_str().to_owned());
        id.push(row.platform_campaign_id.clone());
        date.push(row.date);
        currency.push(row.currency.clone());
        spend.push(row.spend_micros);
        impressions.push(row.impressions);
        clicks.push(row.clicks);
        conversions.push(row.conversions);
        value.push(row.conversion_value_micros);
    }
    let written = sqlx::query(
        "insert into commerce.ad_spend_daily (tenant_id, brand_id, platform, platform_campaign_id,
             spend_date, integration_id, currency_code, spend_micros, impressions, clicks,
             conversions, conversion_value_micros, synced_at)
         select commerce.current_tenant(), $1, u.platform, u.id, u.day, $2, u.currency, u.spend,
                u.impressions, u.clicks, u.conversions, u.value, now()
         from unnest($3::text[], $4::text[], $5::date[], $6::text[], $7::int8[], $8::int8[],
                     $9::int8[], $10::float8[], $11::int8[])
              as u(platform, id, day, currency, spend, impressions, clicks, conversions, value)
         on conflict (tenant_id, brand_id, platform, platform_campaign_id, spend_date)
         do update set integration_id = excluded.integration_id,
             currency_code = excluded.currency_code, spend_micros = excluded.spend_micros,
             impressions = excluded.impressions, clicks = excluded.clicks,
             conversions = excluded.conversions,
             conversion_value_micros = excluded.conversion_value_micros,
             synced_at = excluded.synced_at",
    )
    .bind(target.brand_id)
    .bind(target.integration_id)
    .bind(&platform)
    .bind(&id)
    .bind(&date)
    .bind(&currency)
    .bind(&spend)
    .bind(&impressions)
    .bind(&clicks)
    .bind(&conversions)
    .bind(&value)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(written)
}

/// Deletes what one integration synced (DisconnectIntegration with delete_synced_data).
pub async fn delete_synced(tx: &mut TenantTx, integration_id: Uuid) -> pp_db::Result<()> {
    for table in [
        "orders",
        "customers",
        "products",
        "inventory_levels",
        "ad_spend_daily",
        "campaigns",
    ] {
        sqlx::query(&format!(
            "delete from commerce.{table} where tenant_id = commerce.current_tenant() and integration_id = $1"
        ))
        .bind(integration_id)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}
