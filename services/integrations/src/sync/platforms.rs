//! Connectors over the real platform clients (pp_platforms). Each keeps the
//! credentials it was built with (`stored`) beside the live ones, so a token the
//! client refreshed mid-run is noticed and sealed back to the row.

use chrono::{Duration as ChronoDuration, NaiveDate};
use pp_platforms::google_ads::GoogleAdsClient;
use pp_platforms::meta::MetaClient;
use pp_platforms::shopify::{self, ShopifyClient};
use pp_platforms::tiktok::TiktokClient;
use pp_platforms::{Credentials, PlatformError};

use super::connector::{Batch, Fetched};
use crate::PlatformsConfig;
use crate::store::sync_runs::EntityQuery;

fn not_configured() -> PlatformError {
    PlatformError::Invalid {
        message: "this platform is not configured on the server".into(),
    }
}

fn range(query: &EntityQuery) -> Result<(NaiveDate, NaiveDate), PlatformError> {
    match (query.since, query.until) {
        (Some(since), Some(until)) => Ok((since, until)),
        _ => Err(PlatformError::Invalid {
            message: "an ad-spend sync needs a date range".into(),
        }),
    }
}

pub struct ShopifyConnector {
    client: ShopifyClient,
    pub credentials: Credentials,
    pub stored: Credentials,
}

impl ShopifyConnector {
    pub fn new(
        config: &PlatformsConfig,
        shop: String,
        credentials: Credentials,
    ) -> Result<Self, PlatformError> {
        let cfg = config.shopify.clone().ok_or_else(not_configured)?;
        let shop = shopify::validate_shop_domain(&shop)?;
        Ok(ShopifyConnector {
            client: ShopifyClient::new(config.http.clone(), cfg, shop),
            stored: credentials.clone(),
            credentials,
        })
    }

    pub async fn fetch(
        &mut self,
        entity: &str,
        query: &EntityQuery,
        cursor: Option<&str>,
        page_size: u32,
    ) -> Result<Fetched, PlatformError> {
        let creds = &mut self.credentials;
        Ok(match entity {
            "orders" => {
                let page = self
                    .client
                    .orders_page(creds, query.updated_since, cursor, page_size)
                    .await?;
                Fetched {
                    batch: Batch::Orders(page.items),
                    next_cursor: page.next_cursor,
                }
            }
            "products" => {
                let page = self
                    .client
                    .products_page(creds, query.updated_since, cursor, page_size)
                    .await?;
                Fetched {
                    batch: Batch::Products(page.items),
                    next_cursor: page.next_cursor,
                }
            }
            "inventory_levels" => {
                let page = self
                    .client
                    .inventory_levels_page(creds, cursor, page_size)
                    .await?;
                Fetched {
                    batch: Batch::Inventory(page.items),
                    next_cursor: page.next_cursor,
                }
            }
            other => {
                return Err(PlatformError::Invalid {
                    message: format!("shopify has no {other} to sync"),
                });
            }
        })
    }
}

pub struct MetaConnector {
    client: Option<MetaClient>,
    account: String,
    pub credentials: Credentials,
    pub stored: Credentials,
}

impl MetaConnector {
    pub fn new(config: &PlatformsConfig, account: String, credentials: Credentials) -> Self {
        MetaConnector {
            client: config
                .meta
                .clone()
                .map(|cfg| MetaClient::new(config.http.clone(), cfg)),
            account,
            stored: credentials.clone(),
            credentials,
        }
    }

    pub async fn fetch(
        &mut self,
        query: &EntityQuery,
        cursor: Option<&str>,
    ) -> Result<Fetched, PlatformError> {
        let client = self.client.as_ref().ok_or_else(not_configured)?;
        let (since, until) = range(query)?;
        let page = client
            .insights_page(&mut self.credentials, &self.account, since, until, cursor)
            .await?;
        Ok(Fetched {
            batch: Batch::AdSpend(page.items),
            next_cursor: page.next_cursor,
        })
    }
}

/// TikTok reports at most 30 days per request: the cursor is
/// `<window start>/<page>`, windows walked oldest first.
pub struct TiktokConnector {
    client: Option<TiktokClient>,
    advertiser: String,
    currency: String,
    pub credentials: Credentials,
    pub stored: Credentials,
}

const TIKTOK_WINDOW_DAYS: i64 = 30;

impl TiktokConnector {
    pub fn new(
        config: &PlatformsConfig,
        advertiser: String,
        currency: String,
        credentials: Credentials,
    ) -> Self {
        TiktokConnector {
            client: config
                .tiktok
                .clone()
                .map(|cfg| TiktokClient::new(config.http.clone(), cfg)),
            advertiser,
            currency,
            stored: credentials.clone(),
            credentials,
        }
    }

    pub async fn fetch(
        &mut self,
        query: &EntityQuery,
        cursor: Option<&str>,
    ) -> Result<Fetched, PlatformError> {
        let client = self.client.as_ref().ok_or_else(not_configured)?;
        let (since, until) = range(query)?;
        let (window_start, page) = match cursor {
            None => (since, 1),
            Some(text) => parse_window_cursor(text)?,
        };
        let window_end = (window_start + ChronoDuration::days(TIKTOK_WINDOW_DAYS - 1)).min(until);
        let result = client
            .report_page(
                &mut self.credentials,
                &self.advertiser,
                &self.currency,
                window_start,
                window_end,
                page,
            )
            .await?;
        let next_cursor = match result.next_cursor {
            Some(next) => Some(format!("{window_start}/{next}")),
            None if window_end < until => {
                Some(format!("{}/1", window_end + ChronoDuration::days(1)))
            }
            None => None,
        };
        Ok(Fetched {
            batch: Batch::AdSpend(result.items),
            next_cursor,
        })
    }
}

fn parse_window_cursor(text: &str) -> Result<(NaiveDate, u32), PlatformError> {
    let invalid = || PlatformError::Invalid {
        message: "the stored sync cursor is not valid".into(),
    };
    let (date, page) = text.split_once('/').ok_or_else(invalid)?;
    Ok((
        date.parse().map_err(|_| invalid())?,
        page.parse().map_err(|_| invalid())?,
    ))
}

/// Google Ads streams the whole range in one response: one page.
pub struct GoogleAdsConnector {
    client: Option<GoogleAdsClient>,
    customer: String,
    login_customer: Option<String>,
    pub credentials: Credentials,
    pub stored: Credentials,
}

impl GoogleAdsConnector {
    pub fn new(config: &PlatformsConfig, customer: String, credentials: Credentials) -> Self {
        GoogleAdsConnector {
            client: config
                .google_ads
                .clone()
                .map(|cfg| GoogleAdsClient::new(config.http.clone(), cfg)),
            customer,
            login_customer: config.google_ads_login_customer_id.clone(),
            stored: credentials.clone(),
            credentials,
        }
    }

    pub async fn fetch(
        &mut self,
        query: &EntityQuery,
        _cursor: Option<&str>,
    ) -> Result<Fetched, PlatformError> {
        let client = self.client.as_ref().ok_or_else(not_configured)?;
        let (since, until) = range(query)?;
        let rows = client
            .search_stream(
                &mut self.credentials,
                &self.customer,
                self.login_customer.as_deref(),
                since,
                until,
            )
            .await?;
        Ok(Fetched {
            batch: Batch::AdSpend(rows),
            next_cursor: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiktok_cursor_round_trips() {
        let (date, page) = parse_window_cursor("2026-01-31/3").expect("valid");
        assert_eq!(date, NaiveDate::from_ymd_opt(2026, 1, 31).expect("date"));
        assert_eq!(page, 3);
        assert!(parse_window_cursor("garbage").is_err());
        assert!(parse_window_cursor("2026-01-31/x").is_err());
    }
}
