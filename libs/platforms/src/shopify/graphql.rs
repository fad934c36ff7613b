//! The Admin GraphQL queries the client sends, the response shapes it reads, and
//! their mapping to `pp_commerce` records. Money is always `shopMoney` (the store
//! currency, what Shopify Analytics reports in).
//!
//! Nested connections are capped at [`NESTED_PAGE`] (250, Shopify's maximum page
//! size): an order with more line items, refunds or refund lines than that, or a
//! product with more variants, is mapped from the first 250 and a warning is
//! logged. ❓ Cost: Shopify prices a query by the `first` of every connection
//! multiplied out, and a single query may request at most 1,000 points. With
//! 250-wide nested connections (and `refunds × refundLineItems` nested twice) the
//! orders query's *requested* cost can pass that limit even at a small page size,
//! in which case Shopify answers `MAX_COST_EXCEEDED` (mapped to `Invalid` naming
//! the code). The fixture does not enforce the limit; check the real cost with
//! `Shopify-GraphQL-Cost-Debug: 1` on a dev store and lower [`NESTED_PAGE`] (or
//! move backfills to bulk operations) if it does.

use chrono::{DateTime, Utc};
use pp_commerce::{
    Customer, InventoryLevel, Order, OrderLine, Product, Refund, RefundLine, Touchpoint, Utm,
    Variant,
};
use serde::Deserialize;

use super::attribution::{campaign_id_from_utm, channel_for, utm_from_url};
use super::{money, non_empty};
use crate::PlatformError;

/// Page size of every nested connection (line items, refunds, refund lines,
/// variants, inventory levels).
pub(crate) const NESTED_PAGE: u32 = 250;
/// Customer-journey moments read per order.
pub(crate) const MOMENTS_PAGE: u32 = 50;

pub(crate) const SHOP_QUERY: &str = "query Shop { shop { name currencyCode ianaTimezone } }";

/// The app uninstalls itself from the shop (Admin API 2025-07 and later), which
/// revokes its offline token: the GraphQL successor of the legacy REST
/// `DELETE /admin/api_permissions/current.json`.
pub(crate) const APP_UNINSTALL_MUTATION: &str =
    "mutation AppUninstall { appUninstall { app { id } userErrors { field message code } } }";

pub(crate) fn orders_query() -> String {
    format!(
        r#"query Orders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id name createdAt processedAt updatedAt cancelledAt test currencyCode sourceName
      subtotalPriceSet {{ shopMoney {{ amount }} }}
      totalDiscountsSet {{ shopMoney {{ amount }} }}
      totalShippingPriceSet {{ shopMoney {{ amount }} }}
      totalTaxSet {{ shopMoney {{ amount }} }}
      totalPriceSet {{ shopMoney {{ amount }} }}
      customer {{ id createdAt }}
      customerJourneySummary {{
        lastVisit {{ landingPage referrerUrl occurredAt utmParameters {{ source medium campaign content term }} }}
        moments(first: {MOMENTS_PAGE}) {{ nodes {{ occurredAt
          ... on CustomerVisit {{ landingPage referrerUrl utmParameters {{ source medium campaign content term }} }} }} }}
      }}
      lineItems(first: {NESTED_PAGE}) {{
        pageInfo {{ hasNextPage }}
        nodes {{ id title sku quantity
          originalUnitPriceSet {{ shopMoney {{ amount }} }}
          discountAllocations {{ allocatedAmountSet {{ shopMoney {{ amount }} }} }}
          variant {{ id }} product {{ id }} }}
      }}
      refunds(first: {NESTED_PAGE}) {{
        id createdAt
        totalRefundedSet {{ shopMoney {{ amount }} }}
        refundLineItems(first: {NESTED_PAGE}) {{
          pageInfo {{ hasNextPage }}
          nodes {{ quantity lineItem {{ id }} subtotalSet {{ shopMoney {{ amount }} }} }}
        }}
      }}
    }}
  }}
}}"#
    )
}

pub(crate) fn products_query() -> String {
    format!(
        r#"query Products($first: Int!, $after: String, $query: String) {{
  products(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id title vendor productType status updatedAt
      variants(first: {NESTED_PAGE}) {{
        pageInfo {{ hasNextPage }}
        nodes {{ id title sku price
          inventoryItem {{ id unitCost {{ amount }} }}
          metafield(namespace: "pulsepoint", key: "lead_time_days") {{ value }} }}
      }}
    }}
  }}
}}"#
    )
}

/// Inventory is read item by item (`inventoryItems → inventoryLevels`), so one
/// page holds every location's level for the items on it.
pub(crate) fn inventory_query() -> String {
    format!(
        r#"query InventoryLevels($first: Int!, $after: String) {{
  inventoryItems(first: $first, after: $after) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id
      inventoryLevels(first: {NESTED_PAGE}) {{
        pageInfo {{ hasNextPage }}
        nodes {{ updatedAt location {{ id name }} quantities(names: ["available"]) {{ name quantity }} }}
      }}
    }}
  }}
}}"#
    )
}

// === response shapes ===

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection<T> {
    pub nodes: Vec<T>,
    pub page_info: Option<PageInfo>,
}

impl<T> Connection<T> {
    fn truncated(&self) -> bool {
        self.page_info.as_ref().is_some_and(|p| p.has_next_page)
    }

    /// The cursor of the next page, absent on the last.
    pub fn next_cursor(&self) -> Option<String> {
        self.page_info
            .as_ref()
            .filter(|p| p.has_next_page)
            .and_then(|p| p.end_cursor.clone())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MoneyBag {
    shop_money: MoneyV2,
}

#[derive(Deserialize)]
pub(crate) struct MoneyV2 {
    amount: String,
}

impl MoneyBag {
    fn micros(&self, field: &str) -> Result<i64, PlatformError> {
        money(&self.shop_money.amount, field)
    }
}

#[derive(Deserialize)]
pub(crate) struct Node {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShopData {
    pub shop: ShopNode,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShopNode {
    pub name: String,
    pub currency_code: String,
    pub iana_timezone: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppUninstallData {
    pub app_uninstall: AppUninstallPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppUninstallPayload {
    #[serde(default)]
    pub user_errors: Vec<UserError>,
}

/// An `AppUninstallAppUninstallError`: `code` is one of `APP_NOT_FOUND`,
/// `APP_NOT_INSTALLED`, `APP_UNINSTALL_ERROR`, `USER_PERMISSIONS_INSUFFICIENT`.
#[derive(Deserialize)]
pub(crate) struct UserError {
    pub code: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct OrdersData {
    pub orders: Connection<OrderNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderNode {
    id: String,
    name: String,
    created_at: DateTime<Utc>,
    processed_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    test: bool,
    currency_code: String,
    source_name: Option<String>,
    subtotal_price_set: MoneyBag,
    total_discounts_set: MoneyBag,
    total_shipping_price_set: MoneyBag,
    total_tax_set: MoneyBag,
    total_price_set: MoneyBag,
    customer: Option<CustomerNode>,
    customer_journey_summary: Option<JourneyNode>,
    line_items: Connection<LineItemNode>,
    #[serde(default)]
    refunds: Vec<RefundNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomerNode {
    id: String,
    created_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JourneyNode {
    last_visit: Option<VisitNode>,
    moments: Option<Connection<VisitNode>>,
}

/// A `CustomerVisit` (or, for moments of another kind, only `occurredAt`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VisitNode {
    occurred_at: Option<DateTime<Utc>>,
    landing_page: Option<String>,
    referrer_url: Option<String>,
    utm_parameters: Option<UtmNode>,
}

#[derive(Deserialize)]
struct UtmNode {
    source: Option<String>,
    medium: Option<String>,
    campaign: Option<String>,
    content: Option<String>,
    term: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItemNode {
    id: String,
    title: String,
    sku: Option<String>,
    quantity: i32,
    original_unit_price_set: MoneyBag,
    #[serde(default)]
    discount_allocations: Vec<DiscountAllocationNode>,
    variant: Option<Node>,
    product: Option<Node>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiscountAllocationNode {
    allocated_amount_set: MoneyBag,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundNode {
    id: String,
    created_at: DateTime<Utc>,
    total_refunded_set: MoneyBag,
    refund_line_items: Connection<RefundLineNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundLineNode {
    quantity: i32,
    line_item: Node,
    subtotal_set: MoneyBag,
}

#[derive(Deserialize)]
pub(crate) struct ProductsData {
    pub products: Connection<ProductNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProductNode {
    id: String,
    title: String,
    vendor: Option<String>,
    product_type: Option<String>,
    status: String,
    updated_at: DateTime<Utc>,
    variants: Connection<VariantNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VariantNode {
    id: String,
    title: String,
    sku: Option<String>,
    price: String,
    inventory_item: Option<InventoryItemRef>,
    metafield: Option<MetafieldNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryItemRef {
    id: String,
    unit_cost: Option<MoneyV2>,
}

#[derive(Deserialize)]
struct MetafieldNode {
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InventoryData {
    pub inventory_items: Connection<InventoryItemNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InventoryItemNode {
    id: String,
    inventory_levels: Connection<InventoryLevelNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryLevelNode {
    updated_at: DateTime<Utc>,
    location: LocationNode,
    quantities: Vec<QuantityNode>,
}

#[derive(Deserialize)]
struct LocationNode {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct QuantityNode {
    name: String,
    quantity: i64,
}

// === mapping ===

impl From<UtmNode> for Utm {
    fn from(node: UtmNode) -> Self {
        Utm {
            source: non_empty(node.source),
            medium: non_empty(node.medium),
            campaign: non_empty(node.campaign),
            content: non_empty(node.content),
            term: non_empty(node.term),
        }
    }
}

impl VisitNode {
    /// The visit's UTM: Shopify's parsed `utmParameters`, else the landing page's
    /// query string.
    fn utm(&mut self) -> Utm {
        match self.utm_parameters.take() {
            Some(node) => node.into(),
            None => self
                .landing_page
                .as_deref()
                .map(utm_from_url)
                .unwrap_or_default(),
        }
    }
}

impl OrderNode {
    /// Field by field:
    /// - `subtotal_micros`: Σ `lineItems.originalUnitPriceSet × quantity`, i.e. line
    ///   items before any discount (REST `total_line_items_price`). Shopify's
    ///   `subtotalPriceSet` is *after* discounts, so it is used only when the line
    ///   items were truncated, as `subtotalPriceSet + totalDiscountsSet`.
    /// - `discounts_micros` ← `totalDiscountsSet` (order- and line-level);
    ///   `shipping_micros` ← `totalShippingPriceSet`; `tax_micros` ← `totalTaxSet`;
    ///   `total_micros` ← `totalPriceSet` (before refunds).
    /// - lines: `unit_price_micros` ← `originalUnitPriceSet`, `discount_micros` ←
    ///   Σ `discountAllocations.allocatedAmountSet`.
    /// - refunds: `amount_micros` ← `totalRefundedSet`; lines' `subtotal_micros` ←
    ///   `refundLineItems.subtotalSet`.
    /// - `utm`, `landing_site`, `referring_site` ← `customerJourneySummary.lastVisit`;
    ///   touchpoints ← `customerJourneySummary.moments`.
    pub(crate) fn into_order(self) -> Result<Order, PlatformError> {
        let lines = self
            .line_items
            .nodes
            .iter()
            .map(|line| {
                let discount = line
                    .discount_allocations
                    .iter()
                    .map(|a| a.allocated_amount_set.micros("discountAllocations"))
                    .sum::<Result<i64, _>>()?;
                Ok(OrderLine {
                    platform_line_id: line.id.clone(),
                    platform_product_id: line.product.as_ref().map(|p| p.id.clone()),
                    platform_variant_id: line.variant.as_ref().map(|v| v.id.clone()),
                    sku: non_empty(line.sku.clone()),
                    title: line.title.clone(),
                    quantity: line.quantity,
                    unit_price_micros: line
                        .original_unit_price_set
                        .micros("originalUnitPriceSet")?,
                    discount_micros: discount,
                })
            })
            .collect::<Result<Vec<_>, PlatformError>>()?;
        let discounts_micros = self.total_discounts_set.micros("totalDiscountsSet")?;
        let subtotal_micros = if self.line_items.truncated() {
            tracing::warn!(order = %self.id, "order has more line items than one page; subtotal from subtotalPriceSet");
            self.subtotal_price_set.micros("subtotalPriceSet")? + discounts_micros
        } else {
            gross_of(&lines)
        };
        let refunds = self
            .refunds
            .into_iter()
            .map(RefundNode::into_refund)
            .collect::<Result<Vec<_>, _>>()?;

        let (mut last_visit, moments) = match self.customer_journey_summary {
            Some(journey) => (
                journey.last_visit,
                journey.moments.map(|m| m.nodes).unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        let utm = last_visit.as_mut().map(VisitNode::utm).unwrap_or_default();
        let (landing_site, referring_site) = match last_visit {
            Some(visit) => (non_empty(visit.landing_page), non_empty(visit.referrer_url)),
            None => (None, None),
        };
        let touchpoints = moments.into_iter().filter_map(touchpoint).collect();

        Ok(Order {
            platform_order_id: self.id,
            name: self.name,
            created_at: self.created_at,
            processed_at: self.processed_at,
            updated_at: self.updated_at,
            cancelled_at: self.cancelled_at,
            currency: self.currency_code,
            subtotal_micros,
            discounts_micros,
            shipping_micros: self
                .total_shipping_price_set
                .micros("totalShippingPriceSet")?,
            tax_micros: self.total_tax_set.micros("totalTaxSet")?,
            total_micros: self.total_price_set.micros("totalPriceSet")?,
            test: self.test,
            customer: self.customer.map(|c| Customer {
                platform_customer_id: c.id,
                created_at: c.created_at,
            }),
            source_name: non_empty(self.source_name),
            landing_site,
            referring_site,
            utm,
            lines,
            refunds,
            touchpoints,
        })
    }
}

/// Line items before discounts: Σ unit price × quantity.
pub(crate) fn gross_of(lines: &[OrderLine]) -> i64 {
    lines
        .iter()
        .map(|l| l.unit_price_micros * i64::from(l.quantity))
        .sum()
}

/// A moment becomes a touchpoint when it says when it happened (all do; a moment
/// that is not a `CustomerVisit` has no UTM or referrer and counts as direct).
fn touchpoint(mut moment: VisitNode) -> Option<Touchpoint> {
    let occurred_at = moment.occurred_at?;
    let utm = moment.utm();
    let (channel, platform) = channel_for(&utm, moment.referrer_url.as_deref());
    let platform_campaign_id = platform.and_then(|_| campaign_id_from_utm(&utm));
    Some(Touchpoint {
        occurred_at,
        channel,
        platform,
        platform_campaign_id,
        utm,
    })
}

impl RefundNode {
    fn into_refund(self) -> Result<Refund, PlatformError> {
        if self.refund_line_items.truncated() {
            tracing::warn!(refund = %self.id, "refund has more lines than one page");
        }
        let lines = self
            .refund_line_items
            .nodes
            .into_iter()
            .map(|line| {
                Ok(RefundLine {
                    platform_line_id: line.line_item.id,
                    quantity: line.quantity,
                    subtotal_micros: line.subtotal_set.micros("refundLineItems.subtotalSet")?,
                })
            })
            .collect::<Result<Vec<_>, PlatformError>>()?;
        Ok(Refund {
            platform_refund_id: self.id,
            created_at: self.created_at,
            amount_micros: self.total_refunded_set.micros("totalRefundedSet")?,
            lines,
        })
    }
}

impl ProductNode {
    pub(crate) fn into_product(self) -> Result<Product, PlatformError> {
        if self.variants.truncated() {
            tracing::warn!(product = %self.id, "product has more variants than one page");
        }
        let variants = self
            .variants
            .nodes
            .into_iter()
            .map(|v| {
                let unit_cost = v.inventory_item.as_ref().and_then(|i| i.unit_cost.as_ref());
                Ok(Variant {
                    platform_variant_id: v.id,
                    platform_inventory_item_id: v.inventory_item.as_ref().map(|i| i.id.clone()),
                    sku: non_empty(v.sku),
                    title: v.title,
                    price_micros: money(&v.price, "variant price")?,
                    unit_cost_micros: unit_cost
                        .map(|c| money(&c.amount, "inventoryItem.unitCost"))
                        .transpose()?,
                    // A metafield that is not a whole number of days is treated as unknown.
                    lead_time_days: v.metafield.and_then(|m| m.value.trim().parse().ok()),
                })
            })
            .collect::<Result<Vec<_>, PlatformError>>()?;
        Ok(Product {
            platform_product_id: self.id,
            title: self.title,
            vendor: non_empty(self.vendor),
            product_type: non_empty(self.product_type),
            status: self.status.to_ascii_lowercase(),
            updated_at: self.updated_at,
            variants,
        })
    }
}

impl InventoryItemNode {
    pub(crate) fn into_levels(self) -> impl Iterator<Item = InventoryLevel> {
        if self.inventory_levels.truncated() {
            tracing::warn!(item = %self.id, "inventory item stocked at more locations than one page");
        }
        let item_id = self.id;
        self.inventory_levels
            .nodes
            .into_iter()
            .map(move |level| InventoryLevel {
                platform_inventory_item_id: item_id.clone(),
                platform_location_id: level.location.id,
                location_name: level.location.name,
                available: level
                    .quantities
                    .iter()
                    .find(|q| q.name == "available")
                    .map_or(0, |q| q.quantity),
                updated_at: level.updated_at,
            })
    }
}
