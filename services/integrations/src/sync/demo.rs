//! The demo store connector: a generated Shopify store and ad accounts, read in
//! pages like a real platform and written through the same upsert path.

use pp_commerce::Platform;
use pp_commerce::demo::{DemoConfig, DemoStore, OrderVolume};
use pp_platforms::PlatformError;

use super::connector::{Batch, Fetched, offset};
use crate::store::integrations::IntegrationRow;

/// Days of history a demo store has when none is asked for.
pub const DEFAULT_HISTORY_DAYS: i32 = 90;

pub struct DemoConnector {
    store: DemoStore,
    platform: Platform,
}

/// The generator settings an integration's demo store was connected with. The data
/// ends on the day it was connected, so every sync regenerates the same records.
pub fn config(integration: &IntegrationRow, platforms: Vec<Platform>) -> DemoConfig {
    DemoConfig {
        seed: integration.demo_seed.unwrap_or(1) as u64,
        history_days: integration
            .demo_history_days
            .unwrap_or(DEFAULT_HISTORY_DAYS)
            .clamp(1, 730) as u32,
        end_date: integration.created_at.date_naive(),
        currency: integration
            .currency_code
            .clone()
            .unwrap_or_else(|| "USD".into()),
        // Demo days are UTC days; the generator takes a fixed offset only.
        utc_offset_minutes: 0,
        orders: OrderVolume::PerDay(60.0),
        platforms,
    }
}

impl DemoConnector {
    pub fn new(integration: &IntegrationRow, platform: Platform) -> Result<Self, PlatformError> {
        // Every demo integration of a brand generates the same store (same seed), so
        // ad spend and the orders' touchpoints name the same campaigns.
        let store = DemoStore::new(config(integration, Platform::ALL.to_vec())).map_err(|err| {
            PlatformError::Invalid {
                message: format!("the demo store settings are not valid: {err}"),
            }
        })?;
        Ok(DemoConnector { store, platform })
    }

    pub fn fetch(
        &mut self,
        entity: &str,
        cursor: Option<&str>,
        page_size: u32,
    ) -> Result<Fetched, PlatformError> {
        let start = offset(cursor)?;
        let size = page_size.max(1) as usize;
        let (batch, taken) = match entity {
            "products" => (Batch::Products(self.store.products().to_vec()), usize::MAX),
            "inventory_levels" => (Batch::Inventory(self.store.inventory_levels()), usize::MAX),
            "orders" => {
                let page: Vec<_> = self.store.orders().skip(start).take(size).collect();
                let n = page.len();
                (Batch::Orders(page), n)
            }
            "ad_spend" => {
                let platform = self.platform;
                let page: Vec<_> = self
                    .store
                    .ad_spend()
                    .filter(|row| row.platform == platform)
                    .skip(start)
                    .take(size)
                    .collect();
                let n = page.len();
                (Batch::AdSpend(page), n)
            }
            _ => {
                return Err(PlatformError::Invalid {
                    message: format!("the demo store has no {entity}"),
                });
            }
        };
        let next_cursor = (taken == size).then(|| (start + size).to_string());
        Ok(Fetched { batch, next_cursor })
    }
}
