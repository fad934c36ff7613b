//! The Admin GraphQL queries the client sends, the response shapes it reads, and
//! their mapping to `pp_commerce` records. Money is always `shopMoney` (the store
//! currency, what Shopify Analytics reports in).
//!
//! Every query stays under Shopify's cost limit ([`super::cost`]): nested
//! connections in a page query are small (most records fit), the page size is the
//! largest the limit allows, and a record with more nested items than fit is
//! completed by follow-up queries on that one record (`order(id:)`,
//! `refund(id:)`, `product(id:)`, `inventoryItem(id:)`), paged by cursor, so
//! nothing is dropped. The client does the completing; this module holds the
//! query texts, the response shapes and their mapping.

use chrono::{DateTime, Utc};
use pp_commerce::{
    Customer, InventoryLevel, Order, OrderLine, Product, Refund, RefundLine, Touchpoint, Utm,
    Variant,
};
use serde::Deserialize;

use super::attribution::{campaign_id_from_utm, channel_for, utm_from_url};
use super::{money, non_empty};
use crate::PlatformError;

/// Nested sizes inside a page query: what a typical record has. A record with
/// more is completed by a follow-up query.
pub(crate) const LINES_IN_PAGE: u32 = 5;
pub(crate) const REFUNDS_IN_PAGE: u32 = 2;
pub(crate) const REFUND_LINES_IN_PAGE: u32 = 3;
pub(crate) const MOMENTS_IN_PAGE: u32 = 5;
pub(crate) const VARIANTS_IN_PAGE: u32 = 10;
pub(crate) const LEVELS_IN_PAGE: u32 = 5;
/// `Order.refunds` is a list, not a connection: a follow-up reads this many, and
/// an order with more (none is known in practice) is mapped from these with a
/// warning.
pub(crate) const REFUNDS_FOLLOW_UP: u32 = 20;

pub(crate) const SHOP_QUERY: &str = "query Shop { shop { name currencyCode ianaTimezone } }";

/// The app uninstalls itself from the shop (Admin API 2025-07 and later), which
/// revokes its offline token: the GraphQL successor of the legacy REST
/// `DELETE /admin/api_permissions/current.json`.
pub(crate) const APP_UNINSTALL_MUTATION: &str =
    "mutation AppUninstall { appUninstall { app { id } userErrors { field message code } } }";

const ORDER_FIELDS: &str =
    "id name createdAt processedAt updatedAt cancelledAt test currencyCode sourceName
      subtotalPriceSet { shopMoney { amount } }
      totalDiscountsSet { shopMoney { amount } }
      totalShippingPriceSet { shopMoney { amount } }
      totalTaxSet { shopMoney { amount } }
      totalPriceSet { shopMoney { amount } }
      customer { id createdAt }";
pub(crate) const LINE_ITEM_FIELDS: &str = "id title sku quantity
          originalUnitPriceSet { shopMoney { amount } }
          discountAllocations { allocatedAmountSet { shopMoney { amount } } }
          variant { id } product { id }";
pub(crate) const REFUND_LINE_FIELDS: &str =
    "quantity lineItem { id } subtotalSet { shopMoney { amount } }";
pub(crate) const MOMENT_FIELDS: &str = "occurredAt
          ... on CustomerVisit { landingPage referrerUrl utmParameters { source medium campaign content term } }";
pub(crate) const VARIANT_FIELDS: &str = "id title sku price
          inventoryItem { id unitCost { amount } }
          metafield(namespace: \"pulsepoint\", key: \"lead_time_days\") { value }";
pub(crate) const LEVEL_FIELDS: &str =
    "updatedAt location { id name } quantities(names: [\"available\"]) { name quantity }";

/// A refund with its first refund lines.
pub(crate) fn refund_fields() -> String {
    format!(
        "id createdAt
        totalRefundedSet {{ shopMoney {{ amount }} }}
        refundLineItems(first: {REFUND_LINES_IN_PAGE}) {{
          pageInfo {{ hasNextPage endCursor }}
          nodes {{ {REFUND_LINE_FIELDS} }}
        }}"
    )
}

pub(crate) fn orders_query() -> String {
    format!(
        r#"query Orders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      {ORDER_FIELDS}
      customerJourneySummary {{
        lastVisit {{ landingPage referrerUrl occurredAt utmParameters {{ source medium campaign content term }} }}
        moments(first: {MOMENTS_IN_PAGE}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {MOMENT_FIELDS} }} }}
      }}
      lineItems(first: {LINES_IN_PAGE}) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {LINE_ITEM_FIELDS} }}
      }}
      refunds(first: {REFUNDS_IN_PAGE}) {{ {refund} }}
    }}
  }}
}}"#,
        refund = refund_fields()
    )
}

pub(crate) fn products_query() -> String {
    format!(
        r#"query Products($first: Int!, $after: String, $query: String) {{
  products(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id title vendor productType status updatedAt
      variants(first: {VARIANTS_IN_PAGE}) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {VARIANT_FIELDS} }}
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
      inventoryLevels(first: {LEVELS_IN_PAGE}) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {LEVEL_FIELDS} }}
      }}
    }}
  }}
}}"#
    )
}

/// The rest of one record's nested connection: `root(id:)`, down through
/// `parents`, `connection` paged by `$first`/`$after`, its items' `fields`.
pub(crate) fn rest_query(root: &str, parents: &[&str], connection: &str, fields: &str) -> String {
    let mut inner = format!(
        "{connection}(first: $first, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {fields} }} }}"
    );
    for parent in parents.iter().rev() {
        inner = format!("{parent} {{ {inner} }}");
    }
    format!(
        "query Rest($id: ID!, $first: Int!, $after: String) {{ {root}(id: $id) {{ {inner} }} }}"
    )
}

/// All of an order's refunds (up to [`REFUNDS_FOLLOW_UP`]).
pub(crate) fn order_refunds_query() -> String {
    format!(
        "query OrderRefunds($id: ID!, $first: Int!) {{ order(id: $id) {{ refunds(first: $first) {{ {} }} }} }}",
        refund_fields()
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
    /// More items follow the ones read.
    pub fn truncated(&self) -> bool {
        self.page_info.as_ref().is_some_and(|p| p.has_next_page)
    }

    /// The cursor after the last item read.
    pub fn end_cursor(&self) -> Option<String> {
        self.page_info.as_ref().and_then(|p| p.end_cursor.clone())
    }

    /// Appends the items a follow-up read: the connection is now whole.
    pub fn complete(&mut self, rest: Vec<T>) {
        self.nodes.extend(rest);
        self.page_info = None;
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
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) processed_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) cancelled_at: Option<DateTime<Utc>>,
    pub(crate) test: bool,
    pub(crate) currency_code: String,
    pub(crate) source_name: Option<String>,
    pub(crate) subtotal_price_set: MoneyBag,
    pub(crate) total_discounts_set: MoneyBag,
    pub(crate) total_shipping_price_set: MoneyBag,
    pub(crate) total_tax_set: MoneyBag,
    pub(crate) total_price_set: MoneyBag,
    pub(crate) customer: Option<CustomerNode>,
    pub(crate) customer_journey_summary: Option<JourneyNode>,
    pub(crate) line_items: Connection<LineItemNode>,
    #[serde(default)]
    pub(crate) refunds: Vec<RefundNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomerNode {
    id: String,
    created_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JourneyNode {
    pub(crate) last_visit: Option<VisitNode>,
    pub(crate) moments: Option<Connection<VisitNode>>,
}

/// A `CustomerVisit` (or, for moments of another kind, only `occurredAt`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VisitNode {
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
pub(crate) struct LineItemNode {
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
pub(crate) struct RefundNode {
    pub(crate) id: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) total_refunded_set: MoneyBag,
    pub(crate) refund_line_items: Connection<RefundLineNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundLineNode {
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
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) vendor: Option<String>,
    pub(crate) product_type: Option<String>,
    pub(crate) status: String,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) variants: Connection<VariantNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VariantNode {
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
    pub(crate) id: String,
    pub(crate) inventory_levels: Connection<InventoryLevelNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InventoryLevelNode {
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::shopify::cost::{MAX_QUERY_COST, largest_first, requested_cost};

    fn page_vars(first: u32) -> Value {
        json!({ "first": first, "after": null, "query": null })
    }

    fn rest_vars(first: u32) -> Value {
        json!({ "id": "gid://shopify/Order/1", "first": first, "after": "c" })
    }

    /// A query, the variables it is sent with at a size, and that size.
    type SizedQuery = (String, fn(u32) -> Value, u32);

    /// The sizes the docs state, each query under the limit at its size and over it
    /// at one more (so the size is the largest that fits).
    #[test]
    fn every_query_fits_the_cost_limit_at_the_size_the_client_asks() {
        let budget = f64::from(MAX_QUERY_COST);
        let max = u64::from(MAX_QUERY_COST);
        let cases: Vec<SizedQuery> = vec![
            (orders_query(), page_vars, 9),
            (products_query(), page_vars, 22),
            (inventory_query(), page_vars, 52),
            (
                rest_query("order", &[], "lineItems", LINE_ITEM_FIELDS),
                rest_vars,
                124,
            ),
            (
                rest_query("refund", &[], "refundLineItems", REFUND_LINE_FIELDS),
                rest_vars,
                249,
            ),
            (
                rest_query(
                    "order",
                    &["customerJourneySummary"],
                    "moments",
                    MOMENT_FIELDS,
                ),
                rest_vars,
                250,
            ),
            (
                rest_query("product", &[], "variants", VARIANT_FIELDS),
                rest_vars,
                249,
            ),
            (
                rest_query("inventoryItem", &[], "inventoryLevels", LEVEL_FIELDS),
                rest_vars,
                250,
            ),
            (order_refunds_query(), rest_vars, 55),
        ];
        for (query, vars, size) in cases {
            let fitted = largest_first(&query, vars, budget, 250).expect("priced");
            assert_eq!(fitted, size, "{query}");
            assert!(requested_cost(&query, &vars(size)).expect("priced") <= max);
            if size < 250 {
                assert!(requested_cost(&query, &vars(size + 1)).expect("priced") > max);
            }
        }
    }
}
