//! Loads a generated demo store into one brand through the real upsert path: an
//! integration row per connected platform (Shopify, and each ad platform the config
//! names), then products, orders in batches, campaigns, ad spend and inventory, each
//! written under the integration that owns it. The `demo` command (benchmarks) and the
//! golden question set's fixed store both load through here.

use pp_commerce::Platform;
use pp_commerce::demo::{DemoConfig, DemoStore};
use pp_db::{PgPool, TenantTx};
use pp_types::TenantId;
use uuid::Uuid;

use crate::store::commerce::{self, Target};
use crate::store::integrations::{self as store, NewIntegration};

pub type LoadError = Box<dyn std::error::Error + Send + Sync>;

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    pub orders: u64,
    /// The integration ids, Shopify first, then the ad platforms in config order.
    pub integrations: Vec<(Platform, Uuid)>,
}

/// Connects the store's integrations to `brand_id` and writes the whole store, `batch`
/// orders per transaction; `on_orders` is told the running count after each batch.
/// The brand's currency must be the config's (the store's records carry it).
pub async fn load(
    pool: &PgPool,
    tenant: TenantId,
    brand_id: Uuid,
    config: DemoConfig,
    batch: usize,
    on_orders: &(dyn Fn(u64) + Send + Sync),
) -> Result<Loaded, LoadError> {
    let demo = DemoStore::new(config)?;
    let config = demo.config().clone();
    let mut platforms = vec![Platform::Shopify];
    platforms.extend(
        config
            .platforms
            .iter()
            .copied()
            .filter(|p| *p != Platform::Shopify),
    );

    let mut tx = TenantTx::begin(pool, tenant).await?;
    let (currency, time_zone) = store::brand(&mut tx, brand_id)
        .await?
        .ok_or("no such brand in that tenant")?;
    if currency != config.currency {
        return Err(format!(
            "the brand's currency is {currency}, the demo store's {}",
            config.currency
        )
        .into());
    }
    let mut targets = Vec::with_capacity(platforms.len());
    for platform in &platforms {
        let row = store::connect(
            &mut tx,
            &NewIntegration {
                integration_id: Uuid::new_v4(),
                brand_id,
                platform: platform.as_str(),
                external_account_id: format!("demo-{}-{}", platform.as_str(), config.seed),
                display_name: format!("Demo {} (generated)", platform.as_str()),
                currency_code: Some(currency.clone()),
                time_zone: Some(time_zone.clone()),
                scopes: Vec::new(),
                demo: Some((config.seed as i64, config.history_days as i32)),
                credentials: None,
                credentials_key_id: None,
                token_expires_at: None,
                connected_by: Uuid::nil(),
            },
        )
        .await?;
        targets.push((
            *platform,
            Target {
                brand_id,
                integration_id: row.integration_id,
            },
        ));
    }
    tx.commit().await?;
    let shop = targets[0].1;
    let target_of = |platform: Platform| {
        targets
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, t)| *t)
            .unwrap_or(shop)
    };

    let mut tx = TenantTx::begin(pool, tenant).await?;
    commerce::upsert_products(&mut tx, shop, &currency, demo.products()).await?;
    tx.commit().await?;

    let batch = batch.max(1);
    let mut pending = Vec::with_capacity(batch);
    let mut written = 0u64;
    for order in demo.orders() {
        pending.push(order);
        if pending.len() == batch {
            written += flush(pool, tenant, shop, &mut pending).await?;
            on_orders(written);
        }
    }
    written += flush(pool, tenant, shop, &mut pending).await?;
    on_orders(written);

    let mut tx = TenantTx::begin(pool, tenant).await?;
    commerce::upsert_inventory(&mut tx, shop, &demo.inventory_levels()).await?;
    for (platform, target) in targets.iter().skip(1) {
        let campaigns: Vec<_> = demo
            .campaigns()
            .into_iter()
            .filter(|c| c.platform == *platform)
            .collect();
        commerce::upsert_campaigns(&mut tx, *target, &campaigns).await?;
    }
    let spend: Vec<_> = demo.ad_spend().collect();
    for platform in Platform::ADS {
        let rows: Vec<_> = spend
            .iter()
            .filter(|row| row.platform == platform)
            .cloned()
            .collect();
        for chunk in rows.chunks(5000) {
            commerce::upsert_ad_spend(&mut tx, target_of(platform), chunk).await?;
        }
    }
    tx.commit().await?;
    Ok(Loaded {
        orders: written,
        integrations: targets
            .into_iter()
            .map(|(p, t)| (p, t.integration_id))
            .collect(),
    })
}

async fn flush(
    pool: &PgPool,
    tenant: TenantId,
    target: Target,
    pending: &mut Vec<pp_commerce::Order>,
) -> Result<u64, LoadError> {
    if pending.is_empty() {
        return Ok(0);
    }
    let mut tx = TenantTx::begin(pool, tenant).await?;
    commerce::upsert_orders(&mut tx, target, pending).await?;
    tx.commit().await?;
    let n = pending.len() as u64;
    pending.clear();
    Ok(n)
}
