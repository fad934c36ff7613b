//! One connector per kind of integration, each turning its provider's pages into
//! `pp_commerce` records for the one upsert path.

use chrono::{DateTime, Utc};
use pp_commerce::{AdSpendDay, Campaign, InventoryLevel, Order, Platform, Product};
use pp_platforms::{Credentials, PlatformError};
use pp_types::TenantId;

use crate::State;
use crate::store::integrations::IntegrationRow;
use crate::store::sync_runs::EntityQuery;

/// A page of one entity's records.
#[derive(Debug)]
pub enum Batch {
    Orders(Vec<Order>),
    Products(Vec<Product>),
    Inventory(Vec<InventoryLevel>),
    AdSpend(Vec<AdSpendDay>),
    Campaigns(Vec<Campaign>),
}

impl Batch {
    pub fn len(&self) -> usize {
        match self {
            Batch::Orders(v) => v.len(),
            Batch::Products(v) => v.len(),
            Batch::Inventory(v) => v.len(),
            Batch::AdSpend(v) => v.len(),
            Batch::Campaigns(v) => v.len(),
        }
    }

    /// Appends another page of the same entity.
    pub fn extend(&mut self, other: Batch) {
        match (self, other) {
            (Batch::Orders(a), Batch::Orders(b)) => a.extend(b),
            (Batch::Products(a), Batch::Products(b)) => a.extend(b),
            (Batch::Inventory(a), Batch::Inventory(b)) => a.extend(b),
            (Batch::AdSpend(a), Batch::AdSpend(b)) => a.extend(b),
            (Batch::Campaigns(a), Batch::Campaigns(b)) => a.extend(b),
            (current, other) => tracing::error!(
                current = current.len(),
                other = other.len(),
                "pages of different entities gathered together; the later page is dropped"
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The newest provider `updated_at` in the page (incremental high-water mark).
    pub fn high_water(&self) -> Option<DateTime<Utc>> {
        match self {
            Batch::Orders(v) => v.iter().map(|o| o.updated_at).max(),
            Batch::Products(v) => v.iter().map(|p| p.updated_at).max(),
            _ => None,
        }
    }
}

/// A fetched page and the cursor of the next (None: the entity is done).
#[derive(Debug)]
pub struct Fetched {
    pub batch: Batch,
    pub next_cursor: Option<String>,
}

pub enum Connector {
    // Boxed: the generator's state is large, and a connector is built once per run.
    Demo(Box<super::demo::DemoConnector>),
    Shopify(super::platforms::ShopifyConnector),
    Meta(super::platforms::MetaConnector),
    Tiktok(super::platforms::TiktokConnector),
    GoogleAds(super::platforms::GoogleAdsConnector),
}

impl Connector {
    /// The connector for an integration, with its credentials opened.
    pub async fn build(
        state: &State,
        tenant: TenantId,
        integration: &IntegrationRow,
    ) -> Result<Self, PlatformError> {
        let platform = Platform::parse(&integration.platform).ok_or(PlatformError::Invalid {
            message: "unknown platform".into(),
        })?;
        if integration.demo {
            return Ok(Connector::Demo(Box::new(super::demo::DemoConnector::new(
                integration,
                platform,
            )?)));
        }
        let credentials = crate::credentials::open(
            state,
            tenant,
            integration.integration_id,
            integration.credentials.as_deref(),
        )
        .await?;
        let account = integration.external_account_id.clone();
        let config = &state.platforms;
        Ok(match platform {
            Platform::Shopify => Connector::Shopify(super::platforms::ShopifyConnector::new(
                config,
                account,
                credentials,
            )?),
            Platform::Meta => Connector::Meta(super::platforms::MetaConnector::new(
                config,
                account,
                credentials,
            )),
            Platform::Tiktok => Connector::Tiktok(super::platforms::TiktokConnector::new(
                config,
                account,
                integration
                    .currency_code
                    .clone()
                    .unwrap_or_else(|| "USD".into()),
                credentials,
            )),
            Platform::GoogleAds => Connector::GoogleAds(super::platforms::GoogleAdsConnector::new(
                config,
                account,
                credentials,
            )),
        })
    }

    /// Fetches the page of `entity` at `cursor`.
    pub async fn fetch(
        &mut self,
        entity: &str,
        query: &EntityQuery,
        cursor: Option<&str>,
        page_size: u32,
    ) -> Result<Fetched, PlatformError> {
        match self {
            Connector::Demo(c) => c.fetch(entity, cursor, page_size),
            Connector::Shopify(c) => c.fetch(entity, query, cursor, page_size).await,
            Connector::Meta(c) => c.fetch(query, cursor).await,
            Connector::Tiktok(c) => c.fetch(query, cursor).await,
            Connector::GoogleAds(c) => c.fetch(query, cursor).await,
        }
    }

    /// Credentials the client refreshed since the last call, to be stored.
    pub fn take_refreshed(&mut self) -> Option<Credentials> {
        let (current, stored) = match self {
            Connector::Demo(_) => return None,
            Connector::Shopify(c) => (&c.credentials, &mut c.stored),
            Connector::Meta(c) => (&c.credentials, &mut c.stored),
            Connector::Tiktok(c) => (&c.credentials, &mut c.stored),
            Connector::GoogleAds(c) => (&c.credentials, &mut c.stored),
        };
        if current == stored {
            return None;
        }
        *stored = current.clone();
        Some(current.clone())
    }
}

/// A page cursor that is a plain offset (demo store, numbered report pages).
pub fn offset(cursor: Option<&str>) -> Result<usize, PlatformError> {
    match cursor {
        None => Ok(0),
        Some(text) => text.parse().map_err(|_| PlatformError::Invalid {
            message: "the stored sync cursor is not valid".into(),
        }),
    }
}
