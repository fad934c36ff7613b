//! The Admin GraphQL client the sync engine pages a shop's data through.
//!
//! Each call: refresh an expiring token that is about to lapse; wait for the
//! leaky bucket; send through [`Http`] (which retries 429 with `Retry-After`, 5xx
//! and connection failures); then read the answer:
//! - 401: refresh once and retry when there is a refresh token, else (or when the
//!   refresh is refused) `Reauth` asking the user to reconnect;
//! - 403 or a GraphQL `ACCESS_DENIED`: `Reauth{ScopesMissing}`;
//! - a GraphQL `THROTTLED` (on HTTP 200; a 429 is retried by `Http`): wait for
//!   the points the bucket was short and retry, at most [`MAX_THROTTLED_RETRIES`]
//!   times;
//! - any other GraphQL error: `Invalid`, naming only the error codes.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use pp_commerce::{InventoryLevel, Order, Product};
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::graphql::{
    APP_UNINSTALL_MUTATION, AppUninstallData, InventoryData, OrdersData, ProductsData, SHOP_QUERY,
    ShopData, inventory_query, orders_query, products_query,
};
use super::oauth::{reconnect, refresh_access_token};
use super::throttle::{self, Bucket, Cost};
use super::{ShopDomain, ShopifyConfig};
use crate::revocation::{Revocation, within};
use crate::{Credentials, Http, Page, PlatformError, ReauthReason};

/// `THROTTLED` answers retried before the call fails with `RateLimited`.
pub const MAX_THROTTLED_RETRIES: u32 = 5;
/// An expiring token is refreshed this long before it lapses.
const REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);
/// Shopify's maximum page size.
const MAX_PAGE: u32 = 250;

/// The shop's own settings, read once when a store connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopInfo {
    pub name: String,
    /// Store currency (ISO 4217): the currency of every synced amount.
    pub currency_code: String,
    /// The zone Shopify Analytics buckets days in.
    pub iana_timezone: String,
}

/// A client for one shop. Holds the leaky-bucket state, so one client per shop
/// should serve all of a sync's calls.
#[derive(Debug)]
pub struct ShopifyClient {
    http: Http,
    cfg: ShopifyConfig,
    shop: ShopDomain,
    bucket: Mutex<Bucket>,
}

// === impl ShopifyClient ===

impl ShopifyClient {
    pub fn new(http: Http, cfg: ShopifyConfig, shop: ShopDomain) -> Self {
        Self {
            http,
            cfg,
            shop,
            bucket: Mutex::new(Bucket::default()),
        }
    }

    pub fn shop(&self) -> &ShopDomain {
        &self.shop
    }

    pub async fn shop_info(&self, creds: &mut Credentials) -> Result<ShopInfo, PlatformError> {
        let data: ShopData = self.query(creds, "shop", SHOP_QUERY, json!({})).await?;
        Ok(ShopInfo {
            name: data.shop.name,
            currency_code: data.shop.currency_code,
            iana_timezone: data.shop.iana_timezone,
        })
    }

    /// Orders by `updatedAt` ascending, from `updated_since` (inclusive) when given.
    pub async fn orders_page(
        &self,
        creds: &mut Credentials,
        updated_since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
        page_size: u32,
    ) -> Result<Page<Order>, PlatformError> {
        let variables = page_variables(updated_since, cursor, page_size);
        let data: OrdersData = self
            .query(creds, "orders", &orders_query(), variables)
            .await?;
        let next_cursor = data.orders.next_cursor();
        let items = data
            .orders
            .nodes
            .into_iter()
            .map(|node| node.into_order())
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// Products (with variants, costs and lead times) by `updatedAt` ascending.
    pub async fn products_page(
        &self,
        creds: &mut Credentials,
        updated_since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
        page_size: u32,
    ) -> Result<Page<Product>, PlatformError> {
        let variables = page_variables(updated_since, cursor, page_size);
        let data: ProductsData = self
            .query(creds, "products", &products_query(), variables)
            .await?;
        let next_cursor = data.products.next_cursor();
        let items = data
            .products
            .nodes
            .into_iter()
            .map(|node| node.into_product())
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// `available` stock of `page_size` inventory items at each of their locations.
    pub async fn inventory_levels_page(
        &self,
        creds: &mut Credentials,
        cursor: Option<&str>,
        page_size: u32,
    ) -> Result<Page<InventoryLevel>, PlatformError> {
        let variables = json!({ "first": page_size.clamp(1, MAX_PAGE), "after": cursor });
        let data: InventoryData = self
            .query(creds, "inventory", &inventory_query(), variables)
            .await?;
        let next_cursor = data.inventory_items.next_cursor();
        let items = data
            .inventory_items
            .nodes
            .into_iter()
            .flat_map(|node| node.into_levels())
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// Uninstalls the app from the shop (the `appUninstall` mutation), which is how a
    /// Shopify offline token is revoked: it stops working, and so does its refresh
    /// token. An expiring token is refreshed first when it lapsed (the mutation needs
    /// a working token); a token Shopify already refuses (401, refused refresh) or
    /// `APP_NOT_INSTALLED` means the app was already gone. Never call this for an
    /// `app/uninstalled` webhook: Shopify has uninstalled the app itself.
    pub async fn uninstall_app(
        &self,
        creds: &mut Credentials,
    ) -> Result<Revocation, PlatformError> {
        within("shopify", async {
            let data: AppUninstallData = match self
                .query(creds, "appUninstall", APP_UNINSTALL_MUTATION, json!({}))
                .await
            {
                Ok(data) => data,
                Err(PlatformError::Reauth {
                    reason: ReauthReason::TokenRevoked | ReauthReason::TokenExpired,
                    ..
                }) => return Ok(Revocation::AlreadyRevoked),
                Err(error) => return Err(error),
            };
            let codes: Vec<&str> = data
                .app_uninstall
                .user_errors
                .iter()
                .map(|e| e.code.as_deref().unwrap_or("UNKNOWN"))
                .collect();
            match codes.as_slice() {
                [] => Ok(Revocation::Revoked),
                codes if codes.contains(&"APP_NOT_INSTALLED") => Ok(Revocation::AlreadyRevoked),
                codes => {
                    tracing::warn!(?codes, shop = %self.shop, "shopify refused to uninstall the app");
                    Err(PlatformError::Invalid {
                        message: format!(
                            "Shopify refused to uninstall Pulsepoint from {} ({})",
                            self.shop,
                            codes.join(", ").to_lowercase()
                        ),
                    })
                }
            }
        })
        .await
    }

    /// Runs one GraphQL query with the token, throttle and error handling the
    /// module doc describes.
    async fn query<T: DeserializeOwned>(
        &self,
        creds: &mut Credentials,
        operation: &'static str,
        query: &str,
        variables: Value,
    ) -> Result<T, PlatformError> {
        let url = self.cfg.graphql_url(&self.shop);
        let body = json!({ "query": query, "variables": variables });
        let mut refreshed = false;
        let mut throttled = 0;
        loop {
            if !refreshed
                && creds.refresh_token.is_some()
                && creds.expires_within(Utc::now(), REFRESH_MARGIN)
            {
                refresh_access_token(&self.http, &self.cfg, &self.shop, creds).await?;
                refreshed = true;
            }
            let wait = self.bucket().wait_before(operation, Instant::now());
            if !wait.is_zero() {
                if wait > throttle::MAX_WAIT {
                    return Err(PlatformError::RateLimited {
                        retry_after: Some(wait),
                    });
                }
                tracing::debug!(
                    operation,
                    wait_ms = wait.as_millis() as u64,
                    "waiting for the shopify cost bucket"
                );
                tokio::time::sleep(wait).await;
            }

            let token = access_token_header(creds)?;
            let response = self
                .http
                .send(|client| {
                    client
                        .post(&url)
                        .header("X-Shopify-Access-Token", token.clone())
                        .json(&body)
                })
                .await?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED {
                if !refreshed && creds.refresh_token.is_some() {
                    tracing::info!(shop = %self.shop, "shopify token rejected; refreshing");
                    refresh_access_token(&self.http, &self.cfg, &self.shop, creds).await?;
                    refreshed = true;
                    continue;
                }
                let expired = creds.expires_at.is_some_and(|at| at <= Utc::now());
                let reason = if expired && creds.refresh_token.is_none() {
                    ReauthReason::TokenExpired
                } else {
                    ReauthReason::TokenRevoked
                };
                return Err(reconnect(&self.shop, reason));
            }
            if status == StatusCode::FORBIDDEN {
                return Err(self.scopes_missing());
            }
            if !status.is_success() {
                tracing::warn!(%status, operation, shop = %self.shop, "shopify refused the query");
                return Err(PlatformError::Invalid {
                    message: format!("Shopify answered {status} when reading {operation}"),
                });
            }

            let answer: Answer = response.json().await.map_err(|_| unreadable(operation))?;
            let cost = answer.extensions.and_then(|e| e.cost);
            if let Some(cost) = &cost {
                tracing::trace!(
                    operation,
                    requested = cost.requested_query_cost,
                    actual = cost.actual_query_cost,
                    available = cost.throttle_status.currently_available,
                    "shopify query cost"
                );
                self.bucket().record(operation, cost, Instant::now());
            }
            let errors = answer.errors.map(errors_of).unwrap_or_default();
            if errors.iter().any(|e| e.code() == Some("THROTTLED")) {
                throttled += 1;
                let wait = cost
                    .as_ref()
                    .map(throttle::throttled_wait)
                    .filter(|w| !w.is_zero())
                    .unwrap_or_else(|| self.http.retry.backoff(throttled));
                if throttled > MAX_THROTTLED_RETRIES || wait > throttle::MAX_WAIT {
                    return Err(PlatformError::RateLimited {
                        retry_after: Some(wait),
                    });
                }
                tracing::debug!(
                    operation,
                    wait_ms = wait.as_millis() as u64,
                    "shopify throttled the query"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            if errors.iter().any(|e| e.code() == Some("ACCESS_DENIED")) {
                return Err(self.scopes_missing());
            }
            if !errors.is_empty() {
                let codes: Vec<&str> = errors.iter().filter_map(GraphqlError::code).collect();
                let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
                tracing::warn!(operation, ?codes, ?messages, shop = %self.shop, "shopify graphql errors");
                let detail = if codes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", codes.join(", "))
                };
                return Err(PlatformError::Invalid {
                    message: format!("Shopify rejected the {operation} query{detail}"),
                });
            }
            let data = answer
                .data
                .filter(|d| !d.is_null())
                .ok_or_else(|| unreadable(operation))?;
            return serde_json::from_value(data).map_err(|error| {
                tracing::warn!(operation, %error, "unexpected shopify response shape");
                unreadable(operation)
            });
        }
    }

    fn scopes_missing(&self) -> PlatformError {
        PlatformError::Reauth {
            reason: ReauthReason::ScopesMissing,
            message: format!(
                "Shopify denied Pulsepoint access to data on {}; reconnect the store and approve every requested permission",
                self.shop
            ),
        }
    }

    fn bucket(&self) -> MutexGuard<'_, Bucket> {
        self.bucket.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The token as a header value marked sensitive, so it never shows in debug logs.
fn access_token_header(creds: &Credentials) -> Result<HeaderValue, PlatformError> {
    let mut value =
        HeaderValue::from_str(&creds.access_token).map_err(|_| PlatformError::Reauth {
            reason: ReauthReason::TokenRevoked,
            message: "the stored Shopify token is malformed; reconnect the store".into(),
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// `first`/`after`/`query` for the orders and products queries. The datetime is
/// quoted: unquoted, Shopify's search syntax silently drops the time part.
fn page_variables(
    updated_since: Option<DateTime<Utc>>,
    cursor: Option<&str>,
    page_size: u32,
) -> Value {
    let query = updated_since.map(|since| {
        format!(
            "updated_at:>='{}'",
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    });
    json!({ "first": page_size.clamp(1, MAX_PAGE), "after": cursor, "query": query })
}

fn unreadable(operation: &str) -> PlatformError {
    PlatformError::Invalid {
        message: format!("Shopify sent an unreadable answer when reading {operation}"),
    }
}

/// A GraphQL answer before its data is interpreted. `errors` is a list of error
/// objects on a GraphQL error, but a plain string on some HTTP-level errors.
#[derive(Deserialize)]
struct Answer {
    data: Option<Value>,
    errors: Option<Value>,
    extensions: Option<Extensions>,
}

#[derive(Deserialize)]
struct Extensions {
    cost: Option<Cost>,
}

#[derive(Deserialize)]
struct GraphqlError {
    #[serde(default)]
    message: String,
    extensions: Option<ErrorExtensions>,
}

#[derive(Deserialize)]
struct ErrorExtensions {
    code: Option<String>,
}

impl GraphqlError {
    fn code(&self) -> Option<&str> {
        self.extensions.as_ref()?.code.as_deref()
    }
}

fn errors_of(errors: Value) -> Vec<GraphqlError> {
    match errors {
        Value::Array(items) => items
            .into_iter()
            .map(|item| {
                serde_json::from_value(item).unwrap_or(GraphqlError {
                    message: String::new(),
                    extensions: None,
                })
            })
            .collect(),
        Value::Null => Vec::new(),
        other => vec![GraphqlError {
            message: other.to_string(),
            extensions: None,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_queries_quote_the_watermark() {
        let since = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .expect("valid time")
            .with_timezone(&Utc);
        let variables = page_variables(Some(since), Some("abc"), 1000);
        assert_eq!(variables["query"], "updated_at:>='2026-01-02T03:04:05Z'");
        assert_eq!(variables["first"], 250);
        assert_eq!(variables["after"], "abc");
        let variables = page_variables(None, None, 0);
        assert!(variables["query"].is_null());
        assert_eq!(variables["first"], 1);
    }

    #[test]
    fn errors_come_as_a_list_or_a_string() {
        let list =
            errors_of(json!([{ "message": "Throttled", "extensions": { "code": "THROTTLED" } }]));
        assert_eq!(list[0].code(), Some("THROTTLED"));
        let text = errors_of(json!("[API] Invalid API key or access token"));
        assert_eq!(text.len(), 1);
        assert_eq!(text[0].code(), None);
    }
}
