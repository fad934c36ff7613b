//! A deterministic demo store: a Shopify shop with Meta, TikTok and Google Ads
//! campaigns, generated from a seed, for brands that have no store connected yet and
//! for benchmarks.
//!
//! The same [`DemoConfig`] gives byte-identical records on every machine (portable
//! ChaCha streams and integer money; see `rng.rs`). The numbers are built to be read
//! together: orders follow a weekly rhythm, a growth trend and sales events; ad
//! platforms claim those orders (more of them, together, than the store had); stock
//! moves with the order lines.
//!
//! Orders stream: [`DemoStore::orders`] computes each order as it is read and the
//! memory held does not grow with the number of orders (a few numbers per day, per
//! variant and per campaign). [`DemoStore::ad_spend`] and
//! [`DemoStore::inventory_levels`] each replay the same order pass without building
//! the records, which is cheap.
//!
//! Days are calendar days at a fixed UTC offset ([`DemoConfig::utc_offset_minutes`],
//! no daylight saving): the store's and the ad accounts' day boundaries are the same.

mod ad_spend;
mod calendar;
mod catalog;
mod engine;
mod inventory;
mod marketing;
mod orders;
mod rng;

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

pub use ad_spend::AdSpend;
pub use inventory::InventoryLedger;
pub use orders::Orders;

use crate::{Campaign, InventoryLevel, Platform, Product};
use calendar::Calendar;
use catalog::Catalog;
use inventory::StockPlan;
use marketing::Marketing;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoConfig {
    /// Same seed, same store; another seed, another store.
    pub seed: u64,
    /// Days of history, 1 to [`DemoConfig::MAX_HISTORY_DAYS`], ending on `end_date`.
    pub history_days: u32,
    /// The last day generated, inclusive.
    pub end_date: NaiveDate,
    /// ISO 4217 code of the shop and the ad accounts. Prices are in major units of a
    /// dollar-like currency (12–170 a product).
    pub currency: String,
    /// The store's fixed offset from UTC; days run from local midnight to midnight.
    pub utc_offset_minutes: i32,
    pub orders: OrderVolume,
    /// The connected platforms. The store itself (products, orders, stock) is always
    /// generated, since the demo store is a Shopify store; this list chooses which ad
    /// platforms have campaigns and spend.
    pub platforms: Vec<Platform>,
}

/// How many orders to generate over the period. Both give the same shape (weekly
/// rhythm, trend, events); only the scale differs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderVolume {
    /// About this many orders a day on average: `round(avg × history_days)` in total.
    PerDay(f64),
    /// Exactly this many orders.
    Total(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemoConfigError {
    #[error("history_days must be between 1 and {max}")]
    HistoryDays { max: u32 },
    #[error("end_date must be between 2000-01-01 and 2100-12-31")]
    EndDate,
    #[error("currency must be a three-letter iso 4217 code")]
    Currency,
    #[error("utc_offset_minutes must be between -840 and 840")]
    UtcOffset,
    #[error("orders must come to between 0 and {max} in total")]
    Orders { max: u64 },
}

impl DemoConfig {
    pub const MAX_HISTORY_DAYS: u32 = 730;
    pub const MAX_ORDERS: u64 = 50_000_000;

    /// A year of history at 40 orders a day in USD, UTC days, every ad platform.
    pub fn new(seed: u64, end_date: NaiveDate) -> Self {
        Self {
            seed,
            history_days: 365,
            end_date,
            currency: "USD".to_owned(),
            utc_offset_minutes: 0,
            orders: OrderVolume::PerDay(40.0),
            platforms: Platform::ALL.to_vec(),
        }
    }

    pub fn validate(&self) -> Result<(), DemoConfigError> {
        if !(1..=Self::MAX_HISTORY_DAYS).contains(&self.history_days) {
            return Err(DemoConfigError::HistoryDays {
                max: Self::MAX_HISTORY_DAYS,
            });
        }
        if !(2000..=2100).contains(&self.end_date.year()) {
            return Err(DemoConfigError::EndDate);
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(DemoConfigError::Currency);
        }
        if !(-840..=840).contains(&self.utc_offset_minutes) {
            return Err(DemoConfigError::UtcOffset);
        }
        let valid_volume = match self.orders {
            OrderVolume::PerDay(average) => {
                average.is_finite()
                    && average >= 0.0
                    && average * f64::from(self.history_days) <= Self::MAX_ORDERS as f64
            }
            OrderVolume::Total(total) => total <= Self::MAX_ORDERS,
        };
        if !valid_volume {
            return Err(DemoConfigError::Orders {
                max: Self::MAX_ORDERS,
            });
        }
        Ok(())
    }

    /// The number of orders the store will have (after [`DemoConfig::validate`]).
    pub fn total_orders(&self) -> u64 {
        match self.orders {
            OrderVolume::PerDay(average) => (average * f64::from(self.history_days)).round() as u64,
            OrderVolume::Total(total) => total,
        }
    }
}

/// A generated store. Building it is cheap (products, campaigns and per-day counts);
/// orders and ad spend are produced as they are read.
pub struct DemoStore {
    config: DemoConfig,
    calendar: Calendar,
    catalog: Catalog,
    marketing: Marketing,
    stock: StockPlan,
}

impl fmt::Debug for DemoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoStore")
            .field("config", &self.config)
            .field("orders", &self.order_count())
            .field("products", &self.catalog.products.len())
            .field("campaigns", &self.marketing.campaigns.len())
            .finish_non_exhaustive()
    }
}

impl DemoStore {
    pub fn new(config: DemoConfig) -> Result<Self, DemoConfigError> {
        config.validate()?;
        let calendar = Calendar::new(&config, config.total_orders());
        let listed_at = orders::instant(calendar.day_start(0));
        let catalog = Catalog::generate(config.seed, listed_at);
        let marketing = Marketing::generate(config.seed, &config.platforms, &catalog);
        let stock = StockPlan::new(config.seed, &catalog, &calendar);
        Ok(Self {
            config,
            calendar,
            catalog,
            marketing,
            stock,
        })
    }

    pub fn config(&self) -> &DemoConfig {
        &self.config
    }

    /// The first and last day of the period.
    pub fn period(&self) -> (NaiveDate, NaiveDate) {
        (self.calendar.start, self.config.end_date)
    }

    pub fn order_count(&self) -> u64 {
        self.calendar.order_offset.last().copied().unwrap_or(0)
    }

    /// 20–40 active products with 1–4 variants each (price, unit cost, lead time, SKU).
    pub fn products(&self) -> &[Product] {
        &self.catalog.products
    }

    /// 3–6 campaigns per configured ad platform (prospecting, retargeting, brand …).
    pub fn campaigns(&self) -> Vec<Campaign> {
        self.marketing
            .campaigns
            .iter()
            .map(|c| c.campaign.clone())
            .collect()
    }

    /// Every order, oldest first, computed as it is read.
    pub fn orders(&self) -> Orders<'_> {
        Orders::new(self)
    }

    /// One row per campaign per day, oldest day first. Replays the order pass.
    pub fn ad_spend(&self) -> AdSpend<'_> {
        AdSpend::new(self)
    }

    /// Stock at the end of `end_date` per variant and location. Replays the order pass.
    pub fn inventory_levels(&self) -> Vec<InventoryLevel> {
        let updated_at = orders::instant(self.calendar.last_instant());
        self.inventory_ledger()
            .into_iter()
            .map(|row| InventoryLevel {
                platform_inventory_item_id: row.platform_inventory_item_id,
                platform_location_id: row.platform_location_id,
                location_name: row.location_name,
                available: row.available,
                updated_at,
            })
            .collect()
    }

    /// How each variant's stock moved at each location (start, restocks, sales, end).
    /// Replays the order pass.
    pub fn inventory_ledger(&self) -> Vec<InventoryLedger> {
        engine::Engine::new(self)
            .finish()
            .ledger(&self.stock, &self.catalog)
    }
}

#[cfg(test)]
mod tests;
