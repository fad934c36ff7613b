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

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use pp_commerce::{InventoryLevel, Order, Product};
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::cost;
use super::graphql::{
    APP_UNINSTALL_MUTATION, AppUninstallData, Connection, InventoryData, LEVEL_FIELDS,
    LINE_ITEM_FIELDS, MOMENT_FIELDS, OrderNode, OrdersData, ProductsData, REFUND_LINE_FIELDS,
    REFUNDS_FOLLOW_UP, REFUNDS_IN_PAGE, RefundNode, SHOP_QUERY, ShopData, VARIANT_FIELDS,
    inventory_query, order_refunds_query, orders_query, products_query, rest_query,
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
    /// Per operation, Shopify's reported cost as a share of the documented rule.
    pricing: Mutex<HashMap<&'static str, f64>>,
}

// === impl ShopifyClient ===

impl ShopifyClient {
    pub fn new(http: Http, cfg: ShopifyConfig, shop: ShopDomain) -> Self {
        Self {
            http,
            cfg,
            shop,
            bucket: Mutex::new(Bucket::default()),
            pricing: Mutex::new(HashMap::new()),
        }
    }

    pub fn shop(&self) -> &ShopDomain {
        &self.shop
    }

    pub async fn shop_info(&self, creds: &mut Credentials) -> Result<ShopInfo, PlatformError> {
        let (data, _): (ShopData, _) = self
            .query(creds, "shop", SHOP_QUERY, json!({}))
            .await
            .map_err(QueryFailure::into_platform)?;
        Ok(ShopInfo {
            name: data.shop.name,
            currency_code: data.shop.currency_code,
            iana_timezone: data.shop.iana_timezone,
        })
    }

    /// Orders by `updatedAt` ascending, from `updated_since` (inclusive) when given,
    /// each complete (every line, refund, refund line and journey moment). At most
    /// `page_size`, fewer when the cost limit allows fewer.
    pub async fn orders_page(
        &self,
        creds: &mut Credentials,
        updated_since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
        page_size: u32,
    ) -> Result<Page<Order>, PlatformError> {
        let data: OrdersData = self
            .query_sized(creds, "orders", &orders_query(), page_size, |first| {
                page_variables(updated_since, cursor, first)
            })
            .await?;
        let next_cursor = data.orders.next_cursor();
        let mut items = Vec::with_capacity(data.orders.nodes.len());
        for mut node in data.orders.nodes {
            self.complete_order(creds, &mut node).await?;
            items.push(node.into_order()?);
        }
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
        let data: ProductsData = self
            .query_sized(creds, "products", &products_query(), page_size, |first| {
                page_variables(updated_since, cursor, first)
            })
            .await?;
        let next_cursor = data.products.next_cursor();
        let mut items = Vec::with_capacity(data.products.nodes.len());
        for mut node in data.products.nodes {
            if node.variants.truncated() {
                let after = node.variants.end_cursor();
                let rest = self
                    .rest(
                        creds,
                        "product variants",
                        ("product", &node.id),
                        &[],
                        "variants",
                        VARIANT_FIELDS,
                        after,
                    )
                    .await?;
                node.variants.complete(rest);
            }
            items.push(node.into_product()?);
        }
        Ok(Page { items, next_cursor })
    }

    /// `available` stock of up to `page_size` inventory items at each of their
    /// locations.
    pub async fn inventory_levels_page(
        &self,
        creds: &mut Credentials,
        cursor: Option<&str>,
        page_size: u32,
    ) -> Result<Page<InventoryLevel>, PlatformError> {
        let data: InventoryData = self
            .query_sized(
                creds,
                "inventory",
                &inventory_query(),
                page_size,
                |first| json!({ "first": first, "after": cursor }),
            )
            .await?;
        let next_cursor = data.inventory_items.next_cursor();
        let mut items = Vec::new();
        for mut node in data.inventory_items.nodes {
            if node.inventory_levels.truncated() {
                let after = node.inventory_levels.end_cursor();
                let rest = self
                    .rest(
                        creds,
                        "inventory levels",
                        ("inventoryItem", &node.id),
                        &[],
                        "inventoryLevels",
                        LEVEL_FIELDS,
                        after,
                    )
                    .await?;
                node.inventory_levels.complete(rest);
            }
            items.extend(node.into_levels());
        }
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
                .map_err(QueryFailure::into_platform)
            {
                Ok((data, _)) => data,
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

    /// Reads what did not fit in the page query: the rest of the order's lines,
    /// all of its refunds when the page held as many as it asked for, the rest of
    /// each refund's lines and of its journey moments.
    async fn complete_order(
        &self,
        creds: &mut Credentials,
        node: &mut OrderNode,
    ) -> Result<(), PlatformError> {
        if node.line_items.truncated() {
            let after = node.line_items.end_cursor();
            let rest = self
                .rest(
                    creds,
                    "order lines",
                    ("order", &node.id),
                    &[],
                    "lineItems",
                    LINE_ITEM_FIELDS,
                    after,
                )
                .await?;
            node.line_items.complete(rest);
        }
        if node.refunds.len() >= REFUNDS_IN_PAGE as usize {
            let id = node.id.clone();
            let data: Value = self
                .query_sized(
                    creds,
                    "order refunds",
                    &order_refunds_query(),
                    REFUNDS_FOLLOW_UP,
                    |first| json!({ "id": id, "first": first }),
                )
                .await?;
            if !data["order"].is_null() {
                let refunds: Vec<RefundNode> =
                    serde_json::from_value(data["order"]["refunds"].clone())
                        .map_err(|_| unreadable("order refunds"))?;
                if refunds.len() >= REFUNDS_FOLLOW_UP as usize {
                    tracing::warn!(order = %node.id, "order has more refunds than Pulsepoint reads");
                }
                node.refunds = refunds;
            }
        }
        for refund in &mut node.refunds {
            if refund.refund_line_items.truncated() {
                let after = refund.refund_line_items.end_cursor();
                let rest = self
                    .rest(
                        creds,
                        "refund lines",
                        ("refund", &refund.id),
                        &[],
                        "refundLineItems",
                        REFUND_LINE_FIELDS,
                        after,
                    )
                    .await?;
                refund.refund_line_items.complete(rest);
            }
        }
        if let Some(moments) = node
            .customer_journey_summary
            .as_mut()
            .and_then(|j| j.moments.as_mut())
            .filter(|m| m.truncated())
        {
            let after = moments.end_cursor();
            let rest = self
                .rest(
                    creds,
                    "order moments",
                    ("order", &node.id),
                    &["customerJourneySummary"],
                    "moments",
                    MOMENT_FIELDS,
                    after,
                )
                .await?;
            moments.complete(rest);
        }
        Ok(())
    }

    /// The items of one record's nested connection after `after`, page by page.
    /// A record deleted meanwhile ends the reading with what was read.
    #[allow(clippy::too_many_arguments)]
    async fn rest<T: DeserializeOwned>(
        &self,
        creds: &mut Credentials,
        operation: &'static str,
        (root, id): (&str, &str),
        parents: &[&str],
        connection: &str,
        fields: &str,
        mut after: Option<String>,
    ) -> Result<Vec<T>, PlatformError> {
        let query = rest_query(root, parents, connection, fields);
        let mut items = Vec::new();
        while let Some(cursor) = after.take() {
            let data: Value = self
                .query_sized(
                    creds,
                    operation,
                    &query,
                    MAX_PAGE,
                    |first| json!({ "id": id, "first": first, "after": cursor }),
                )
                .await?;
            let mut at = &data[root];
            if at.is_null() {
                break;
            }
            for parent in parents {
                at = &at[*parent];
            }
            let page: Connection<T> = serde_json::from_value(at[connection].clone())
                .map_err(|_| unreadable(operation))?;
            after = page.next_cursor();
            items.extend(page.nodes);
        }
        Ok(items)
    }

    /// Runs a query whose size is `$first`: the largest size up to `wanted` that
    /// the cost limit allows, by the documented rule scaled by what Shopify has
    /// reported for this operation. Shopify refusing the cost after the client
    /// trusted a lower reported price resets the price and tries once more.
    async fn query_sized<T: DeserializeOwned>(
        &self,
        creds: &mut Credentials,
        operation: &'static str,
        query: &str,
        wanted: u32,
        variables: impl Fn(u32) -> Value,
    ) -> Result<T, PlatformError> {
        let mut retried = false;
        loop {
            let factor = self.price_factor(operation);
            let budget = f64::from(cost::MAX_QUERY_COST) / factor;
            let price = cost::linear(query, &variables).map_err(|error| {
                tracing::error!(operation, %error, "cannot price a shopify query");
                unreadable(operation)
            })?;
            let first = price.largest_within(budget, wanted.clamp(1, MAX_PAGE));
            let estimate = price.cost(first);
            let vars = variables(first);
            match self.query(creds, operation, query, vars).await {
                Err(QueryFailure::CostExceeded) if !retried && factor < 1.0 => {
                    tracing::info!(
                        operation,
                        "shopify refused a query's cost; back to the documented price"
                    );
                    self.pricing().insert(operation, 1.0);
                    retried = true;
                }
                Err(QueryFailure::CostExceeded) => {
                    return Err(PlatformError::Invalid {
                        message: format!(
                            "Shopify rejected the {operation} query (MAX_COST_EXCEEDED)"
                        ),
                    });
                }
                Err(QueryFailure::Platform(err)) => return Err(err),
                Ok((data, requested)) => {
                    if let Some(requested) = requested.filter(|_| estimate > 0) {
                        // Never trust a price above the documented worst case.
                        let factor = (requested / estimate as f64).clamp(0.01, 1.0);
                        self.pricing().insert(operation, factor);
                    }
                    return Ok(data);
                }
            }
        }
    }

    /// What Shopify charges for `operation` as a share of the documented rule.
    fn price_factor(&self, operation: &str) -> f64 {
        self.pricing().get(operation).copied().unwrap_or(1.0)
    }

    fn pricing(&self) -> MutexGuard<'_, HashMap<&'static str, f64>> {
        self.pricing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one GraphQL query with the token, throttle and error handling the
    /// module doc describes.
    /// Returns the data and the `requestedQueryCost` Shopify reported.
    async fn query<T: DeserializeOwned>(
        &self,
        creds: &mut Credentials,
        operation: &'static str,
        query: &str,
        variables: Value,
    ) -> Result<(T, Option<f64>), QueryFailure> {
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
                    }
                    .into());
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
                return Err(reconnect(&self.shop, reason).into());
            }
            if status == StatusCode::FORBIDDEN {
                return Err(self.scopes_missing().into());
            }
            if !status.is_success() {
                tracing::warn!(%status, operation, shop = %self.shop, "shopify refused the query");
                return Err(PlatformError::Invalid {
                    message: format!("Shopify answered {status} when reading {operation}"),
                }
                .into());
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
                    }
                    .into());
                }
                tracing::debug!(
                    operation,
                    wait_ms = wait.as_millis() as u64,
                    "shopify throttled the query"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            if errors.iter().any(|e| e.code() == Some("MAX_COST_EXCEEDED")) {
                return Err(QueryFailure::CostExceeded);
            }
            if errors.iter().any(|e| e.code() == Some("ACCESS_DENIED")) {
                return Err(self.scopes_missing().into());
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
                }
                .into());
            }
            let data = answer
                .data
                .filter(|d| !d.is_null())
                .ok_or_else(|| unreadable(operation))?;
            let data = serde_json::from_value(data).map_err(|error| {
                tracing::warn!(operation, %error, "unexpected shopify response shape");
                unreadable(operation)
            })?;
            return Ok((data, cost.map(|c| c.requested_query_cost)));
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

/// Why a query failed: a platform error, or Shopify refusing its cost (which
/// [`ShopifyClient::query_sized`] may answer by asking for less).
enum QueryFailure {
    Platform(PlatformError),
    CostExceeded,
}

impl From<PlatformError> for QueryFailure {
    fn from(err: PlatformError) -> Self {
        QueryFailure::Platform(err)
    }
}

impl QueryFailure {
    fn into_platform(self) -> PlatformError {
        match self {
            QueryFailure::Platform(err) => err,
            QueryFailure::CostExceeded => PlatformError::Invalid {
                message: "Shopify rejected the query (MAX_COST_EXCEEDED)".into(),
            },
        }
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
