//! The names owners use for what the brand sells and advertises: campaigns, products
//! and variants with their SKUs, read from `commerce` for answers (the planner's
//! vocabulary and the model's list tools).

use pp_db::TenantTx;
use uuid::Uuid;

use crate::engine::platform_wire;

/// A campaign of one ad platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    /// Wire name of the platform: `META_ADS`, `TIKTOK_ADS`, `GOOGLE_ADS`.
    pub platform: &'static str,
    /// The platform's campaign id (the engine's `campaign_id`).
    pub campaign_id: String,
    pub name: String,
}

/// A product of the store.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Product {
    /// The platform's product id (the engine's `product_id`).
    pub product_id: String,
    pub title: String,
}

/// The brand's campaigns, by platform and id.
pub async fn campaigns(tx: &mut TenantTx, brand_id: Uuid) -> pp_db::Result<Vec<Campaign>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select platform, platform_campaign_id, name from commerce.campaigns
         where brand_id = $1 order by platform, platform_campaign_id",
    )
    .bind(brand_id)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(platform, campaign_id, name)| Campaign {
            platform: platform_wire(&platform),
            campaign_id,
            name,
        })
        .collect())
}

/// The brand's products, by id.
pub async fn products(tx: &mut TenantTx, brand_id: Uuid) -> pp_db::Result<Vec<Product>> {
    sqlx::query_as(
        "select platform_product_id as product_id, title from commerce.products
         where brand_id = $1 order by platform_product_id",
    )
    .bind(brand_id)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}
