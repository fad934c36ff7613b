//! Platform-neutral commerce records.
//!
//! Every connector (Shopify, Meta, TikTok, Google Ads, the demo store) turns its
//! provider's payloads into these types, and the integrations service's upsert path
//! writes them to the `commerce` schema. Amounts are integer micros (1/1,000,000) of
//! the record's currency; nothing here is a float except platform-reported
//! conversion counts, which Google reports fractionally.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub mod demo;

/// The platforms a brand connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Shopify,
    Meta,
    Tiktok,
    GoogleAds,
}

impl Platform {
    pub const ALL: [Platform; 4] = [Self::Shopify, Self::Meta, Self::Tiktok, Self::GoogleAds];
    pub const ADS: [Platform; 3] = [Self::Meta, Self::Tiktok, Self::GoogleAds];

    /// The name stored in the database (`commerce.*.platform`, `integrations.platform`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shopify => "shopify",
            Self::Meta => "meta",
            Self::Tiktok => "tiktok",
            Self::GoogleAds => "google_ads",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

/// UTM parameters as the landing URL carried them; empty strings are stored as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub content: Option<String>,
    pub term: Option<String>,
}

/// A store order (Shopify `Order`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The platform's id, e.g. Shopify's `gid://shopify/Order/450789469`.
    pub platform_order_id: String,
    /// The merchant-facing name, e.g. `#1001`.
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The instant the sale counts on (Shopify `processedAt`).
    pub processed_at: DateTime<Utc>,
    /// The provider's last-modified time; incremental syncs page by it.
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Shop currency, ISO 4217.
    pub currency: String,
    /// Line items before order-level discounts (Shopify `subtotalPriceSet` + discounts).
    pub subtotal_micros: i64,
    /// All discounts (Shopify `totalDiscountsSet`).
    pub discounts_micros: i64,
    /// Shipping charged (Shopify `totalShippingPriceSet`).
    pub shipping_micros: i64,
    /// Tax (Shopify `totalTaxSet`).
    pub tax_micros: i64,
    /// What the customer was charged (Shopify `totalPriceSet`), before refunds.
    pub total_micros: i64,
    /// Test orders are stored but never counted.
    pub test: bool,
    pub customer: Option<Customer>,
    /// Sales channel, e.g. `web`, `pos`.
    pub source_name: Option<String>,
    pub landing_site: Option<String>,
    pub referring_site: Option<String>,
    /// UTM of the session that converted (last touch).
    pub utm: Utm,
    pub lines: Vec<OrderLine>,
    pub refunds: Vec<Refund>,
    /// Marketing touches before the order (Shopify `customerJourneySummary.moments`).
    pub touchpoints: Vec<Touchpoint>,
}

/// The customer an order belongs to. First-order time is computed from synced orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub platform_customer_id: String,
    /// When the platform created the customer record.
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub platform_line_id: String,
    pub platform_product_id: Option<String>,
    pub platform_variant_id: Option<String>,
    pub sku: Option<String>,
    pub title: String,
    pub quantity: i32,
    /// Unit price before discounts (Shopify `originalUnitPriceSet`).
    pub unit_price_micros: i64,
    /// Discounts allocated to this line (sum of `discountAllocations`).
    pub discount_micros: i64,
}

/// A refund, on the date it was processed (not the order's date).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub platform_refund_id: String,
    pub created_at: DateTime<Utc>,
    /// Money returned to the customer (Shopify `totalRefundedSet`).
    pub amount_micros: i64,
    pub lines: Vec<RefundLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLine {
    pub platform_line_id: String,
    pub quantity: i32,
    /// Refunded amount of the line before tax (Shopify `subtotalSet`).
    pub subtotal_micros: i64,
}

/// Where a touch came from; derived from the UTM medium/source or the referrer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    PaidSocial,
    PaidSearch,
    Email,
    Organic,
    Referral,
    Direct,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaidSocial => "paid_social",
            Self::PaidSearch => "paid_search",
            Self::Email => "email",
            Self::Organic => "organic",
            Self::Referral => "referral",
            Self::Direct => "direct",
        }
    }
}

/// One marketing touch on the way to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touchpoint {
    pub occurred_at: DateTime<Utc>,
    pub channel: Channel,
    /// The ad platform, when the touch was a paid ad on one we connect.
    pub platform: Option<Platform>,
    /// The ad platform's campaign id when known (from `utm_campaign` or a click id).
    pub platform_campaign_id: Option<String>,
    pub utm: Utm,
}

/// A product with its variants (Shopify `Product`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub platform_product_id: String,
    pub title: String,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    /// `active`, `draft` or `archived`.
    pub status: String,
    pub updated_at: DateTime<Utc>,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub platform_variant_id: String,
    /// The inventory item that inventory levels refer to.
    pub platform_inventory_item_id: Option<String>,
    pub sku: Option<String>,
    pub title: String,
    pub price_micros: i64,
    /// Shopify `inventoryItem.unitCost`; absent when the merchant recorded none.
    pub unit_cost_micros: Option<i64>,
    /// Supplier lead time (metafield `pulsepoint.lead_time_days`); absent when unknown.
    pub lead_time_days: Option<i32>,
}

/// Stock of one inventory item at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryLevel {
    pub platform_inventory_item_id: String,
    pub platform_location_id: String,
    pub location_name: String,
    /// Shopify quantity name `available`.
    pub available: i64,
    pub updated_at: DateTime<Utc>,
}

/// An ad campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub platform: Platform,
    pub platform_campaign_id: String,
    pub name: String,
    /// The platform's status string, lower-cased (e.g. `active`, `paused`).
    pub status: Option<String>,
}

/// One campaign's delivery on one day (ad account time zone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdSpendDay {
    pub platform: Platform,
    pub platform_campaign_id: String,
    pub campaign_name: String,
    pub date: NaiveDate,
    /// Ad account currency, ISO 4217.
    pub currency: String,
    pub spend_micros: i64,
    pub impressions: i64,
    pub clicks: i64,
    /// Platform-reported purchases (fractional on Google Ads).
    pub conversions: f64,
    /// Platform-reported purchase value.
    pub conversion_value_micros: i64,
}

/// Decimal string ("12.34", "-0.5", "7") to micros, exactly; None if it is not a
/// plain decimal with at most six fraction digits after rounding half away from zero.
pub fn decimal_to_micros(value: &str) -> Option<i64> {
    let value = value.trim();
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros = whole.checked_mul(1_000_000)?;
    let mut scale = 100_000;
    for (i, b) in fraction.bytes().enumerate() {
        let d = i64::from(b - b'0');
        if i < 6 {
            micros = micros.checked_add(d * scale)?;
            scale /= 10;
        } else {
            if d >= 5 {
                micros = micros.checked_add(1)?;
            }
            break;
        }
    }
    Some(if negative { -micros } else { micros })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_convert_exactly() {
        assert_eq!(decimal_to_micros("12.34"), Some(12_340_000));
        assert_eq!(decimal_to_micros("0.000001"), Some(1));
        assert_eq!(decimal_to_micros("7"), Some(7_000_000));
        assert_eq!(decimal_to_micros("-0.5"), Some(-500_000));
        assert_eq!(decimal_to_micros("1.0000005"), Some(1_000_001));
        assert_eq!(decimal_to_micros(".5"), Some(500_000));
        assert_eq!(decimal_to_micros("1e3"), None);
        assert_eq!(decimal_to_micros(""), None);
        assert_eq!(decimal_to_micros("-"), None);
        assert_eq!(decimal_to_micros("99999999999999999999"), None);
    }

    #[test]
    fn platform_names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
    }
}
