//! Webhook deliveries: the `X-Shopify-Hmac-Sha256` check and the mapping of
//! `orders/create` / `orders/updated` payloads (REST-shaped JSON) to the same
//! `pp_commerce::Order` the GraphQL sync produces.
//!
//! Same row, same numbers: ids are the payload's `admin_graphql_api_id` GIDs
//! (`gid://shopify/Order/…`), or, where REST gives only a numeric id (a line
//! item's `product_id`/`variant_id`), the GID built from it; amounts come from the
//! `*_set.shop_money` fields that correspond to the GraphQL fields
//! [`super::graphql`] reads. What a payload cannot carry: customer-journey
//! moments (REST has no `customerJourneySummary`), so a webhook order has no
//! touchpoints and its UTM is parsed from `landing_site`; the sync engine must
//! not let a webhook upsert erase touchpoints a sync stored.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::Mac;
use pp_commerce::{Customer, Order, OrderLine, Refund, RefundLine};
use serde::Deserialize;

use super::attribution::utm_from_url;
use super::graphql::gross_of;
use super::oauth::mac;
use super::{money, non_empty};
use crate::PlatformError;

/// Checks `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body under the
/// app secret, compared in constant time. Call it before parsing the body.
pub fn verify_webhook_hmac(api_secret: &str, raw_body: &[u8], header_base64: &str) -> bool {
    let Ok(given) = STANDARD.decode(header_base64.trim()) else {
        return false;
    };
    mac(api_secret, raw_body).verify_slice(&given).is_ok()
}

/// The `X-Shopify-Hmac-Sha256` value Shopify sends with `raw_body`.
pub fn webhook_hmac(api_secret: &str, raw_body: &[u8]) -> String {
    STANDARD.encode(mac(api_secret, raw_body).finalize().into_bytes())
}

/// Maps an `orders/create` or `orders/updated` payload.
pub fn parse_order_webhook(raw_body: &[u8]) -> Result<Order, PlatformError> {
    let order: RestOrder = serde_json::from_slice(raw_body).map_err(|error| {
        tracing::warn!(%error, "unreadable shopify order webhook");
        PlatformError::Invalid {
            message: "the Shopify order webhook could not be read".into(),
        }
    })?;
    order.into_order()
}

/// A REST money field is a string (`"12.34"`) almost everywhere, but a number
/// in a few places (`refund_line_items[].subtotal`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Amount {
    Text(String),
    Number(serde_json::Number),
}

impl Amount {
    fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Number(number) => number.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct MoneySet {
    shop_money: MoneyAmount,
}

#[derive(Deserialize)]
struct MoneyAmount {
    amount: Amount,
}

/// The shop-currency amount: `<field>_set.shop_money` when sent, else the plain
/// `<field>` (also shop currency on REST orders).
fn shop_amount(
    set: Option<&MoneySet>,
    plain: Option<&Amount>,
    field: &str,
) -> Result<Option<i64>, PlatformError> {
    match (set, plain) {
        (Some(set), _) => money(&set.shop_money.amount.text(), field).map(Some),
        (None, Some(plain)) => money(&plain.text(), field).map(Some),
        (None, None) => Ok(None),
    }
}

fn required(value: Option<i64>, field: &str) -> Result<i64, PlatformError> {
    value.ok_or_else(|| PlatformError::Invalid {
        message: format!("the Shopify order webhook has no {field}"),
    })
}

/// The GraphQL id: `admin_graphql_api_id`, else built from the numeric id.
fn gid(admin_graphql_api_id: Option<String>, id: Option<u64>, kind: &str) -> Option<String> {
    admin_graphql_api_id
        .filter(|g| !g.is_empty())
        .or_else(|| id.map(|id| format!("gid://shopify/{kind}/{id}")))
}

#[derive(Deserialize)]
struct RestOrder {
    id: Option<u64>,
    admin_graphql_api_id: Option<String>,
    name: String,
    created_at: DateTime<Utc>,
    processed_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    currency: String,
    total_line_items_price: Option<Amount>,
    total_line_items_price_set: Option<MoneySet>,
    total_discounts: Option<Amount>,
    total_discounts_set: Option<MoneySet>,
    total_shipping_price_set: Option<MoneySet>,
    #[serde(default)]
    shipping_lines: Vec<ShippingLine>,
    total_tax: Option<Amount>,
    total_tax_set: Option<MoneySet>,
    total_price: Option<Amount>,
    total_price_set: Option<MoneySet>,
    #[serde(default)]
    test: bool,
    customer: Option<RestCustomer>,
    source_name: Option<String>,
    landing_site: Option<String>,
    referring_site: Option<String>,
    #[serde(default)]
    line_items: Vec<RestLineItem>,
    #[serde(default)]
    refunds: Vec<RestRefund>,
}

#[derive(Deserialize)]
struct ShippingLine {
    price: Option<Amount>,
    price_set: Option<MoneySet>,
}

#[derive(Deserialize)]
struct RestCustomer {
    id: Option<u64>,
    admin_graphql_api_id: Option<String>,
    created_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct RestLineItem {
    id: Option<u64>,
    admin_graphql_api_id: Option<String>,
    product_id: Option<u64>,
    variant_id: Option<u64>,
    sku: Option<String>,
    title: String,
    quantity: i32,
    price: Option<Amount>,
    price_set: Option<MoneySet>,
    #[serde(default)]
    discount_allocations: Vec<DiscountAllocation>,
}

#[derive(Deserialize)]
struct DiscountAllocation {
    amount: Option<Amount>,
    amount_set: Option<MoneySet>,
}

#[derive(Deserialize)]
struct RestRefund {
    id: Option<u64>,
    admin_graphql_api_id: Option<String>,
    created_at: DateTime<Utc>,
    /// ❓ Not in every API version's REST refund; when absent the amount is the
    /// sum of the successful `refund` transactions.
    total_refunded_set: Option<MoneySet>,
    #[serde(default)]
    refund_line_items: Vec<RestRefundLine>,
    #[serde(default)]
    transactions: Vec<RestTransaction>,
}

#[derive(Deserialize)]
struct RestRefundLine {
    line_item_id: Option<u64>,
    line_item: Option<RestLineRef>,
    quantity: i32,
    subtotal: Option<Amount>,
    subtotal_set: Option<MoneySet>,
}

#[derive(Deserialize)]
struct RestLineRef {
    id: Option<u64>,
    admin_graphql_api_id: Option<String>,
}

#[derive(Deserialize)]
struct RestTransaction {
    kind: String,
    status: String,
    amount: Amount,
}

impl RestOrder {
    fn into_order(self) -> Result<Order, PlatformError> {
        let platform_order_id =
            gid(self.admin_graphql_api_id, self.id, "Order").ok_or_else(|| {
                PlatformError::Invalid {
                    message: "the Shopify order webhook has no order id".into(),
                }
            })?;
        let lines = self
            .line_items
            .into_iter()
            .map(RestLineItem::into_line)
            .collect::<Result<Vec<_>, _>>()?;
        // Line items before discounts, as the GraphQL mapping computes it.
        let subtotal_micros = shop_amount(
            self.total_line_items_price_set.as_ref(),
            self.total_line_items_price.as_ref(),
            "total_line_items_price",
        )?
        .unwrap_or_else(|| gross_of(&lines));
        let shipping_micros = match self.total_shipping_price_set.as_ref() {
            Some(set) => money(&set.shop_money.amount.text(), "total_shipping_price_set")?,
            None => self
                .shipping_lines
                .iter()
                .map(|l| {
                    shop_amount(
                        l.price_set.as_ref(),
                        l.price.as_ref(),
                        "shipping_lines.price",
                    )
                    .map(Option::unwrap_or_default)
                })
                .sum::<Result<i64, _>>()?,
        };
        let refunds = self
            .refunds
            .into_iter()
            .map(RestRefund::into_refund)
            .collect::<Result<Vec<_>, _>>()?;
        let landing_site = non_empty(self.landing_site);
        Ok(Order {
            platform_order_id,
            name: self.name,
            created_at: self.created_at,
            processed_at: self.processed_at.unwrap_or(self.created_at),
            updated_at: self.updated_at,
            cancelled_at: self.cancelled_at,
            currency: self.currency,
            subtotal_micros,
            discounts_micros: shop_amount(
                self.total_discounts_set.as_ref(),
                self.total_discounts.as_ref(),
                "total_discounts",
            )?
            .unwrap_or_default(),
            shipping_micros,
            tax_micros: shop_amount(
                self.total_tax_set.as_ref(),
                self.total_tax.as_ref(),
                "total_tax",
            )?
            .unwrap_or_default(),
            total_micros: required(
                shop_amount(
                    self.total_price_set.as_ref(),
                    self.total_price.as_ref(),
                    "total_price",
                )?,
                "total_price",
            )?,
            test: self.test,
            customer: self.customer.and_then(|c| {
                Some(Customer {
                    platform_customer_id: gid(c.admin_graphql_api_id, c.id, "Customer")?,
                    created_at: c.created_at,
                })
            }),
            source_name: non_empty(self.source_name),
            utm: landing_site
                .as_deref()
                .map(utm_from_url)
                .unwrap_or_default(),
            landing_site,
            referring_site: non_empty(self.referring_site),
            lines,
            refunds,
            touchpoints: Vec::new(),
        })
    }
}

impl RestLineItem {
    fn into_line(self) -> Result<OrderLine, PlatformError> {
        let platform_line_id =
            gid(self.admin_graphql_api_id, self.id, "LineItem").ok_or_else(|| {
                PlatformError::Invalid {
                    message: "the Shopify order webhook has a line item without an id".into(),
                }
            })?;
        let unit_price_micros = required(
            shop_amount(
                self.price_set.as_ref(),
                self.price.as_ref(),
                "line_items.price",
            )?,
            "line item price",
        )?;
        let discount_micros = self
            .discount_allocations
            .iter()
            .map(|a| {
                shop_amount(
                    a.amount_set.as_ref(),
                    a.amount.as_ref(),
                    "discount_allocations.amount",
                )
                .map(Option::unwrap_or_default)
            })
            .sum::<Result<i64, _>>()?;
        Ok(OrderLine {
            platform_line_id,
            platform_product_id: gid(None, self.product_id, "Product"),
            platform_variant_id: gid(None, self.variant_id, "ProductVariant"),
            sku: non_empty(self.sku),
            title: self.title,
            quantity: self.quantity,
            unit_price_micros,
            discount_micros,
        })
    }
}

impl RestRefund {
    fn into_refund(self) -> Result<Refund, PlatformError> {
        let platform_refund_id =
            gid(self.admin_graphql_api_id, self.id, "Refund").ok_or_else(|| {
                PlatformError::Invalid {
                    message: "the Shopify order webhook has a refund without an id".into(),
                }
            })?;
        let amount_micros = match &self.total_refunded_set {
            Some(set) => money(&set.shop_money.amount.text(), "refunds.total_refunded_set")?,
            None => self
                .transactions
                .iter()
                .filter(|t| t.kind == "refund" && t.status == "success")
                .map(|t| money(&t.amount.text(), "refunds.transactions.amount"))
                .sum::<Result<i64, _>>()?,
        };
        let lines = self
            .refund_line_items
            .into_iter()
            .map(|line| {
                let (admin_id, nested_id) = match line.line_item {
                    Some(item) => (item.admin_graphql_api_id, item.id),
                    None => (None, None),
                };
                let platform_line_id = gid(admin_id, nested_id.or(line.line_item_id), "LineItem")
                    .ok_or_else(|| PlatformError::Invalid {
                    message: "the Shopify order webhook has a refund line without its line item"
                        .into(),
                })?;
                Ok(RefundLine {
                    platform_line_id,
                    quantity: line.quantity,
                    subtotal_micros: shop_amount(
                        line.subtotal_set.as_ref(),
                        line.subtotal.as_ref(),
                        "refund_line_items.subtotal",
                    )?
                    .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, PlatformError>>()?;
        Ok(Refund {
            platform_refund_id,
            created_at: self.created_at,
            amount_micros,
            lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signatures_are_checked_over_the_raw_bytes() {
        let body = br##"{"id":1,"name":"#1001"}"##;
        let header = webhook_hmac("secret", body);
        assert!(verify_webhook_hmac("secret", body, &header));
        assert!(!verify_webhook_hmac(
            "secret",
            br##"{"id":2,"name":"#1001"}"##,
            &header
        ));
        assert!(!verify_webhook_hmac("other-secret", body, &header));
        assert!(!verify_webhook_hmac("secret", body, "not base64!"));
        assert!(!verify_webhook_hmac("secret", body, ""));
    }

    /// A trimmed payload in Shopify's documented REST shape, with the plain (no
    /// `_set`) money fields, numeric ids only on line items, a numeric refund
    /// subtotal and no `total_refunded_set`.
    #[test]
    fn plain_rest_fields_map_like_the_set_fields() {
        let body = br##"{
          "id": 450789469, "admin_graphql_api_id": "gid://shopify/Order/450789469",
          "name": "#1001", "created_at": "2026-01-10T11:00:00-05:00", "processed_at": null,
          "updated_at": "2026-01-11T09:00:00-05:00", "cancelled_at": null, "currency": "USD",
          "total_line_items_price": "398.00", "total_discounts": "10.00", "total_tax": "11.94",
          "total_price": "403.94", "shipping_lines": [{"price": "4.00"}], "test": false,
          "customer": {"id": 207119551, "created_at": "2025-12-01T00:00:00Z"},
          "source_name": "web", "landing_site": "/?utm_source=google&utm_medium=cpc", "referring_site": "",
          "line_items": [{"id": 466157049, "admin_graphql_api_id": "gid://shopify/LineItem/466157049",
            "product_id": 632910392, "variant_id": 39072856, "sku": "", "title": "IPod Nano", "quantity": 2,
            "price": "199.00", "discount_allocations": [{"amount": "10.00"}]}],
          "refunds": [{"id": 509562969, "created_at": "2026-01-12T00:00:00Z",
            "refund_line_items": [{"line_item_id": 466157049, "quantity": 1, "subtotal": 194.0}],
            "transactions": [{"kind": "refund", "status": "success", "amount": "199.97"},
                             {"kind": "refund", "status": "failure", "amount": "5.00"}]}]
        }"##;
        let order = parse_order_webhook(body).expect("payload parses");
        assert_eq!(order.platform_order_id, "gid://shopify/Order/450789469");
        assert_eq!(order.processed_at, order.created_at);
        assert_eq!(order.created_at.to_rfc3339(), "2026-01-10T16:00:00+00:00");
        assert_eq!(order.subtotal_micros, 398_000_000);
        assert_eq!(order.discounts_micros, 10_000_000);
        assert_eq!(order.shipping_micros, 4_000_000);
        assert_eq!(order.tax_micros, 11_940_000);
        assert_eq!(order.total_micros, 403_940_000);
        assert_eq!(
            order.customer.map(|c| c.platform_customer_id).as_deref(),
            Some("gid://shopify/Customer/207119551")
        );
        assert_eq!(order.utm.source.as_deref(), Some("google"));
        assert_eq!(order.referring_site, None);
        let line = &order.lines[0];
        assert_eq!(
            line.platform_product_id.as_deref(),
            Some("gid://shopify/Product/632910392")
        );
        assert_eq!(
            line.platform_variant_id.as_deref(),
            Some("gid://shopify/ProductVariant/39072856")
        );
        assert_eq!(line.sku, None);
        assert_eq!(
            (line.unit_price_micros, line.discount_micros),
            (199_000_000, 10_000_000)
        );
        let refund = &order.refunds[0];
        assert_eq!(refund.platform_refund_id, "gid://shopify/Refund/509562969");
        assert_eq!(refund.amount_micros, 199_970_000);
        assert_eq!(
            refund.lines[0].platform_line_id,
            "gid://shopify/LineItem/466157049"
        );
        assert_eq!(refund.lines[0].subtotal_micros, 194_000_000);
    }

    #[test]
    fn a_payload_that_is_not_an_order_is_invalid() {
        assert!(matches!(
            parse_order_webhook(b"{}"),
            Err(PlatformError::Invalid { .. })
        ));
        assert!(matches!(
            parse_order_webhook(b"not json"),
            Err(PlatformError::Invalid { .. })
        ));
    }
}
