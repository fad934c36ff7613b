//! Meta Marketing API (Graph API): Facebook Login for the ad account owner, the
//! ad-account list, and daily campaign insights.
//!
//! Tokens: the code becomes a short-lived user token (1–2 h), which is exchanged at
//! once for a long-lived one (about 60 days, `expires_in`). Meta issues no refresh
//! token, and its docs say an expired token cannot be exchanged for a new long-lived
//! one, so an expired or revoked token (error 190) is `Reauth`: the user logs in again.
//!
//! Throttling: every answer carries usage headers (`X-Business-Use-Case-Usage`,
//! `x-fb-ads-insights-throttle`, `X-Ad-Account-Usage`, `X-App-Usage`) in percent of
//! the budget. From `slow_down_at_percent` the client spaces its calls out; at 100 %
//! or when Meta names an `estimated_time_to_regain_access` it waits that long (if
//! within `RetryPolicy::max_retry_after`, else `RateLimited` so the sync is
//! rescheduled). Error codes 4, 17, 32, 341, 613 and 80000–80014 are rate limits.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use hmac::{Hmac, Mac};
use pp_commerce::{AdSpendDay, Campaign, Platform};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::Sha256;
use tokio::time::Instant;

use crate::ads::{self, read_json, throttle_wait};
use crate::revocation::{Revocation, within};
use crate::{Credentials, Http, Page, PlatformError, ReauthReason};

const PLATFORM: &str = "meta";
/// The permission insights need.
pub const ADS_READ: &str = "ads_read";
/// Fields asked of `/insights`; the parser reads exactly these.
const INSIGHT_FIELDS: &str =
    "campaign_id,campaign_name,spend,impressions,clicks,actions,action_values,account_currency";
/// Purchase action types in order of preference, never added together (Meta reports
/// the same purchase under several types). `omni_purchase` is Meta's deduplicated
/// web + app + offline count and the closest to Ads Manager's "Purchases" column;
/// `purchase` is the generic alias; `offsite_conversion.fb_pixel_purchase` is the
/// strict Pixel/CAPI web figure, used only when neither of the others is reported.
pub const PURCHASE_ACTION_TYPES: [&str; 3] = [
    "omni_purchase",
    "purchase",
    "offsite_conversion.fb_pixel_purchase",
];

/// Meta app settings. Every base URL is configurable so tests can point at the fixture.
#[derive(Debug, Clone)]
pub struct MetaConfig {
    pub app_id: String,
    pub app_secret: SecretString,
    /// `https://graph.facebook.com`
    pub graph_base: String,
    /// `https://www.facebook.com` (the login dialog).
    pub dialog_base: String,
    /// Graph API version, e.g. `v25.0`.
    pub api_version: String,
    /// `limit` on insights pages (Meta's documented examples use up to 500).
    pub insights_page_size: u32,
    /// Usage percentage from which the client spaces its calls out.
    pub slow_down_at_percent: f64,
}

impl MetaConfig {
    pub fn new(app_id: impl Into<String>, app_secret: SecretString) -> Self {
        Self {
            app_id: app_id.into(),
            app_secret,
            graph_base: "https://graph.facebook.com".into(),
            dialog_base: "https://www.facebook.com".into(),
            api_version: "v25.0".into(),
            insights_page_size: 500,
            slow_down_at_percent: 75.0,
        }
    }

    fn graph_url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.graph_base.trim_end_matches('/'),
            self.api_version,
            path
        )
    }
}

/// An ad account the user can read. Dates and amounts of its insights are in its
/// `timezone_name` and `currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdAccount {
    /// `act_<digits>`
    pub id: String,
    pub name: String,
    pub currency: String,
    pub timezone_name: String,
}

// === OAuth ===

/// The Facebook Login dialog URL asking for `ads_read`.
pub fn authorize_url(cfg: &MetaConfig, state: &str, redirect_uri: &str) -> String {
    let base = format!(
        "{}/{}/dialog/oauth",
        cfg.dialog_base.trim_end_matches('/'),
        cfg.api_version
    );
    let params = [
        ("client_id", cfg.app_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("state", state),
        ("scope", ADS_READ),
        ("response_type", "code"),
    ];
    reqwest::Url::parse_with_params(&base, params).map_or(base, String::from)
}

/// Code → short-lived token → long-lived token, then checks that `ads_read` was
/// granted (the user can untick it in the dialog).
pub async fn exchange_code(
    http: &Http,
    cfg: &MetaConfig,
    code: &str,
    redirect_uri: &str,
) -> Result<Credentials, PlatformError> {
    let url = cfg.graph_url("oauth/access_token");
    let secret = cfg.app_secret.expose_secret();
    let short: TokenAnswer = token_request(
        http,
        &url,
        &[
            ("client_id", cfg.app_id.as_str()),
            ("client_secret", secret),
            ("redirect_uri", redirect_uri),
            ("code", code),
        ],
        "meta did not accept the authorization code; start the connection again",
    )
    .await?;
    let long: TokenAnswer = token_request(
        http,
        &url,
        &[
            ("grant_type", "fb_exchange_token"),
            ("client_id", cfg.app_id.as_str()),
            ("client_secret", secret),
            ("fb_exchange_token", short.access_token.as_str()),
        ],
        "meta did not extend the access token; start the connection again",
    )
    .await?;
    let mut credentials = Credentials {
        access_token: long.access_token,
        refresh_token: None,
        // ❓ Long-lived exchanges have been seen without `expires_in`; then the expiry
        // is unknown rather than invented.
        expires_at: long
            .expires_in
            .map(|secs| Utc::now() + chrono::Duration::seconds(secs)),
        scopes: Vec::new(),
    };
    let client = MetaClient::new(http.clone(), cfg.clone());
    credentials.scopes = client.granted_permissions(&credentials).await?;
    if !credentials.scopes.iter().any(|s| s == ADS_READ) {
        return Err(PlatformError::Reauth {
            reason: ReauthReason::ScopesMissing,
            message: "meta did not grant ads_read; reconnect and allow access to your ad accounts"
                .into(),
        });
    }
    Ok(credentials)
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<i64>,
}

async fn token_request(
    http: &Http,
    url: &str,
    query: &[(&str, &str)],
    refusal: &str,
) -> Result<TokenAnswer, PlatformError> {
    let response = http.send(|c| c.get(url).query(query)).await?;
    let status = response.status();
    let body: Value = read_json(response, PLATFORM).await?;
    if !status.is_success() {
        let error = GraphError::of(&body);
        tracing::warn!(
            code = error.code,
            subcode = error.subcode,
            "meta token request refused"
        );
        return Err(PlatformError::Invalid {
            message: refusal.into(),
        });
    }
    serde_json::from_value(body).map_err(|_| PlatformError::Invalid {
        message: "meta sent a token answer without a token".into(),
    })
}

/// De-authorizes the app for the user (`DELETE /{version}/me/permissions`, Meta's
/// "revoke login"): every token the user gave the app stops working. Meta answers
/// `{"success": true}` (older versions: a bare `true`); error 190 means the token no
/// longer works, so there is nothing left to revoke.
///
/// The token goes in the `Authorization: Bearer` header, which the Graph API accepts
/// in place of the `access_token` parameter, so it never sits in a URL that a proxy
/// logs; `appsecret_proof` comes along as on every call.
pub async fn revoke(
    http: &Http,
    cfg: &MetaConfig,
    creds: &Credentials,
) -> Result<Revocation, PlatformError> {
    within(PLATFORM, async {
        let url = cfg.graph_url("me/permissions");
        let proof = appsecret_proof(&cfg.app_secret, &creds.access_token);
        let response = http
            .send(|c| {
                c.delete(&url)
                    .bearer_auth(&creds.access_token)
                    .query(&[("appsecret_proof", proof.as_str())])
            })
            .await?;
        let status = response.status();
        let body: Value = read_json(response, PLATFORM).await?;
        if status.is_success() {
            let confirmed = body.as_bool().unwrap_or(false)
                || body.get("success").and_then(Value::as_bool) == Some(true);
            return if confirmed {
                Ok(Revocation::Revoked)
            } else {
                Err(PlatformError::Invalid {
                    message: "meta did not confirm the revocation".into(),
                })
            };
        }
        let error = GraphError::of(&body);
        tracing::debug!(code = error.code, subcode = error.subcode, %status, "meta refused the revocation");
        match error.code {
            Some(190) => Ok(Revocation::AlreadyRevoked),
            Some(4 | 17 | 32 | 341 | 613 | 80000..=80014) => {
                Err(PlatformError::RateLimited { retry_after: None })
            }
            Some(code) => Err(PlatformError::Invalid {
                message: format!("meta refused the revocation (error {code})"),
            }),
            None => Err(PlatformError::Invalid {
                message: format!("meta refused the revocation (http {})", status.as_u16()),
            }),
        }
    })
    .await
}

// === MetaClient ===

/// Reads ad accounts and insights with a user's token.
#[derive(Debug)]
pub struct MetaClient {
    http: Http,
    cfg: MetaConfig,
    /// No call before this instant (set from the usage headers).
    not_before: Mutex<Option<Instant>>,
}

impl MetaClient {
    pub fn new(http: Http, cfg: MetaConfig) -> Self {
        Self {
            http,
            cfg,
            not_before: Mutex::new(None),
        }
    }

    /// Ad accounts the token can read (`/me/adaccounts`, every page).
    pub async fn ad_accounts(
        &self,
        creds: &mut Credentials,
    ) -> Result<Vec<AdAccount>, PlatformError> {
        let mut accounts = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![
                ("fields", "id,name,currency,timezone_name".to_owned()),
                ("limit", "100".to_owned()),
            ];
            if let Some(after) = &after {
                query.push(("after", after.clone()));
            }
            let body = self.get(creds, "me/adaccounts", &query).await?;
            for row in data_rows(&body)? {
                accounts.push(AdAccount {
                    id: text(row, "id")?,
                    name: text(row, "name").unwrap_or_default(),
                    currency: text(row, "currency")?,
                    timezone_name: text(row, "timezone_name")?,
                });
            }
            after = next_cursor(&body);
            if after.is_none() {
                return Ok(accounts);
            }
        }
    }

    /// One page of daily campaign insights for `since..=until` (account time zone).
    /// `cursor` is the previous page's `next_cursor`.
    pub async fn insights_page(
        &self,
        creds: &mut Credentials,
        account_id: &str,
        since: NaiveDate,
        until: NaiveDate,
        cursor: Option<&str>,
    ) -> Result<Page<AdSpendDay>, PlatformError> {
        if until < since {
            return Err(PlatformError::Invalid {
                message: "the insights range ends before it starts".into(),
            });
        }
        let time_range = serde_json::json!({
            "since": since.format("%Y-%m-%d").to_string(),
            "until": until.format("%Y-%m-%d").to_string(),
        });
        let mut query = vec![
            ("level", "campaign".to_owned()),
            ("time_increment", "1".to_owned()),
            ("time_range", time_range.to_string()),
            ("fields", INSIGHT_FIELDS.to_owned()),
            // Follow each ad set's attribution setting, as Ads Manager does.
            ("use_unified_attribution_setting", "true".to_owned()),
            ("limit", self.cfg.insights_page_size.to_string()),
        ];
        if let Some(cursor) = cursor {
            query.push(("after", cursor.to_owned()));
        }
        let path = format!("{}/insights", act_id(account_id));
        let body = self.get(creds, &path, &query).await?;
        let items = data_rows(&body)?
            .iter()
            .map(insight_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            next_cursor: next_cursor(&body),
        })
    }

    /// One page of the account's campaigns with their delivery status.
    pub async fn campaigns_page(
        &self,
        creds: &mut Credentials,
        account_id: &str,
        cursor: Option<&str>,
    ) -> Result<Page<Campaign>, PlatformError> {
        let mut query = vec![
            ("fields", "id,name,effective_status".to_owned()),
            ("limit", "200".to_owned()),
        ];
        if let Some(cursor) = cursor {
            query.push(("after", cursor.to_owned()));
        }
        let body = self
            .get(creds, &format!("{}/campaigns", act_id(account_id)), &query)
            .await?;
        let items = data_rows(&body)?
            .iter()
            .map(|row| {
                Ok(Campaign {
                    platform: Platform::Meta,
                    platform_campaign_id: text(row, "id")?,
                    name: text(row, "name").unwrap_or_default(),
                    status: row
                        .get("effective_status")
                        .and_then(Value::as_str)
                        .map(str::to_lowercase),
                })
            })
            .collect::<Result<Vec<_>, PlatformError>>()?;
        Ok(Page {
            items,
            next_cursor: next_cursor(&body),
        })
    }

    async fn granted_permissions(&self, creds: &Credentials) -> Result<Vec<String>, PlatformError> {
        let body = self.get(creds, "me/permissions", &[]).await?;
        Ok(data_rows(&body)?
            .iter()
            .filter(|row| row.get("status").and_then(Value::as_str) == Some("granted"))
            .filter_map(|row| {
                row.get("permission")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect())
    }

    /// A Graph GET with the platform's own throttle and error handling on top of the
    /// shared retrying sender.
    async fn get(
        &self,
        creds: &Credentials,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, PlatformError> {
        let url = self.cfg.graph_url(path);
        let proof = appsecret_proof(&self.cfg.app_secret, &creds.access_token);
        let mut attempt = 0;
        loop {
            self.wait_turn().await?;
            let response = self
                .http
                .send(|c| {
                    c.get(&url)
                        .bearer_auth(&creds.access_token)
                        .query(query)
                        .query(&[("appsecret_proof", proof.as_str())])
                })
                .await?;
            let usage = Usage::from_headers(response.headers());
            let status = response.status();
            let body: Value = read_json(response, PLATFORM).await?;
            if status.is_success() {
                self.pace(usage.pause(self.cfg.slow_down_at_percent, &self.http.retry));
                return Ok(body);
            }
            let error = GraphError::of(&body);
            tracing::debug!(code = error.code, subcode = error.subcode, %status, "meta answered with an error");
            match error.kind(status, creds) {
                ErrorKind::Throttled => {
                    let wait = throttle_wait(&self.http.retry, attempt, usage.regain_access())?;
                    self.pace(Some(wait));
                }
                ErrorKind::Transient => {
                    if attempt + 1 >= self.http.retry.max_attempts {
                        return Err(PlatformError::Unavailable {
                            message: "meta reported a temporary error repeatedly".into(),
                        });
                    }
                    self.pace(Some(self.http.retry.backoff(attempt)));
                }
                ErrorKind::Fatal(error) => return Err(error),
            }
            attempt += 1;
        }
    }

    /// Sleeps until the pause the last answer asked for is over; a pause longer than
    /// the retry policy allows fails fast so the sync is rescheduled instead.
    async fn wait_turn(&self) -> Result<(), PlatformError> {
        let not_before = *self
            .not_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(at) = not_before else { return Ok(()) };
        let remaining = at.saturating_duration_since(Instant::now());
        if remaining > self.http.retry.max_retry_after {
            return Err(PlatformError::RateLimited {
                retry_after: Some(remaining),
            });
        }
        tokio::time::sleep(remaining).await;
        Ok(())
    }

    fn pace(&self, pause: Option<Duration>) {
        let mut not_before = self
            .not_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *not_before = pause.map(|p| Instant::now() + p);
    }
}

/// `appsecret_proof`: HMAC-SHA256 of the token keyed by the app secret, which Meta
/// requires when the app enables "Require App Secret" (and accepts otherwise).
pub fn appsecret_proof(app_secret: &SecretString, access_token: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.expose_secret().as_bytes()) else {
        return String::new();
    };
    mac.update(access_token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn act_id(account_id: &str) -> String {
    if account_id.starts_with("act_") {
        account_id.to_owned()
    } else {
        format!("act_{account_id}")
    }
}

fn data_rows(body: &Value) -> Result<&Vec<Value>, PlatformError> {
    body.get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| PlatformError::Invalid {
            message: "meta sent a page without data".into(),
        })
}

fn text(row: &Value, field: &str) -> Result<String, PlatformError> {
    match row.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ads::unreadable(PLATFORM, field)),
    }
}

/// The cursor of the next page, only when Meta says there is one (`paging.next`):
/// the last page still carries `cursors.after`.
fn next_cursor(body: &Value) -> Option<String> {
    let paging = body.get("paging")?;
    let next = paging.get("next").and_then(Value::as_str)?;
    if let Some(after) = paging.pointer("/cursors/after").and_then(Value::as_str) {
        return Some(after.to_owned());
    }
    // ❓ A `next` URL without `cursors`: take its `after` parameter.
    let url = reqwest::Url::parse(next).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned())
}

fn insight_row(row: &Value) -> Result<AdSpendDay, PlatformError> {
    let date = text(row, "date_start")?;
    let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .map_err(|_| ads::unreadable(PLATFORM, "date_start"))?;
    let (conversions, conversion_value_micros) = purchases(row)?;
    Ok(AdSpendDay {
        platform: Platform::Meta,
        platform_campaign_id: text(row, "campaign_id")?,
        campaign_name: text(row, "campaign_name").unwrap_or_default(),
        date,
        currency: text(row, "account_currency")?,
        spend_micros: ads::micros_field(row, "spend", PLATFORM)?,
        impressions: ads::count_field(row, "impressions", PLATFORM)?,
        clicks: ads::count_field(row, "clicks", PLATFORM)?,
        conversions,
        conversion_value_micros,
    })
}

/// Purchases and their value from the first action type in [`PURCHASE_ACTION_TYPES`]
/// that either list reports; the value comes from the same type as the count.
fn purchases(row: &Value) -> Result<(f64, i64), PlatformError> {
    let actions = row.get("actions").and_then(Value::as_array);
    let values = row.get("action_values").and_then(Value::as_array);
    let find = |list: Option<&Vec<Value>>, kind: &str| -> Option<Value> {
        list?
            .iter()
            .find(|a| a.get("action_type").and_then(Value::as_str) == Some(kind))
            .and_then(|a| a.get("value").cloned())
    };
    for kind in PURCHASE_ACTION_TYPES {
        let count = find(actions, kind);
        let value = find(values, kind);
        if count.is_none() && value.is_none() {
            continue;
        }
        let count = match count {
            Some(v) => ads::fractional(&v).ok_or_else(|| ads::unreadable(PLATFORM, "actions"))?,
            None => 0.0,
        };
        let value = match value {
            Some(v) => ads::micros(&v).ok_or_else(|| ads::unreadable(PLATFORM, "action_values"))?,
            None => 0,
        };
        return Ok((count, value));
    }
    Ok((0.0, 0))
}

// === errors ===

#[derive(Debug, Default)]
struct GraphError {
    code: Option<i64>,
    subcode: Option<i64>,
    transient: bool,
}

enum ErrorKind {
    Throttled,
    Transient,
    Fatal(PlatformError),
}

impl GraphError {
    fn of(body: &Value) -> Self {
        let Some(error) = body.get("error") else {
            return Self::default();
        };
        Self {
            code: error.get("code").and_then(ads::count),
            subcode: error.get("error_subcode").and_then(ads::count),
            transient: error
                .get("is_transient")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    fn kind(&self, status: reqwest::StatusCode, creds: &Credentials) -> ErrorKind {
        match self.code {
            Some(4 | 17 | 32 | 341 | 613 | 80000..=80014) => ErrorKind::Throttled,
            Some(1 | 2) => ErrorKind::Transient,
            Some(190 | 102) => ErrorKind::Fatal(self.token_error(creds)),
            Some(10 | 200..=299) => ErrorKind::Fatal(PlatformError::Reauth {
                reason: ReauthReason::ScopesMissing,
                message: "meta denied permission to read ads; reconnect meta and grant ads_read"
                    .into(),
            }),
            _ if self.transient => ErrorKind::Transient,
            None if status == reqwest::StatusCode::UNAUTHORIZED => {
                ErrorKind::Fatal(self.token_error(creds))
            }
            code => ErrorKind::Fatal(PlatformError::Invalid {
                message: match code {
                    Some(code) => format!("meta rejected the request (error {code})"),
                    None => format!("meta rejected the request (http {})", status.as_u16()),
                },
            }),
        }
    }

    /// Error 190: subcode 463 is an expired token; 458 (app removed), 460 (password
    /// changed), 464, 467 (invalid) and 492 are revocations. Without a subcode, the
    /// stored expiry decides.
    fn token_error(&self, creds: &Credentials) -> PlatformError {
        let expired = match self.subcode {
            Some(463) => true,
            Some(_) => false,
            None => creds.expires_at.is_some_and(|at| at <= Utc::now()),
        };
        if expired {
            PlatformError::Reauth {
                reason: ReauthReason::TokenExpired,
                message: "the meta access token has expired; reconnect meta to keep syncing".into(),
            }
        } else {
            PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                message: "meta no longer accepts the access token (access removed or password changed); reconnect meta"
                    .into(),
            }
        }
    }
}

// === usage headers ===

/// The highest usage percentage and the longest `estimated_time_to_regain_access`
/// across Meta's usage headers.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Usage {
    pub max_percent: f64,
    pub regain_access: Duration,
}

impl Usage {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut usage = Usage::default();
        let json = |name: &str| -> Option<Value> {
            serde_json::from_str(headers.get(name)?.to_str().ok()?).ok()
        };
        if let Some(Value::Object(businesses)) = json("x-business-use-case-usage") {
            for entries in businesses.values() {
                for entry in entries.as_array().into_iter().flatten() {
                    usage.absorb(entry, &["call_count", "total_cputime", "total_time"]);
                    if let Some(minutes) = entry
                        .get("estimated_time_to_regain_access")
                        .and_then(ads::fractional)
                    {
                        let wait = Duration::from_secs_f64((minutes.max(0.0) * 60.0).min(86_400.0));
                        usage.regain_access = usage.regain_access.max(wait);
                    }
                }
            }
        }
        if let Some(v) = json("x-fb-ads-insights-throttle") {
            usage.absorb(&v, &["app_id_util_pct", "acc_id_util_pct"]);
        }
        if let Some(v) = json("x-ad-account-usage") {
            usage.absorb(&v, &["acc_id_util_pct"]);
        }
        if let Some(v) = json("x-app-usage") {
            usage.absorb(&v, &["call_count", "total_cputime", "total_time"]);
        }
        usage
    }

    fn absorb(&mut self, entry: &Value, fields: &[&str]) {
        for field in fields {
            if let Some(pct) = entry.get(*field).and_then(ads::fractional) {
                self.max_percent = self.max_percent.max(pct);
            }
        }
    }

    fn regain_access(&self) -> Option<Duration> {
        (!self.regain_access.is_zero()).then_some(self.regain_access)
    }

    /// The pause before the next call: Meta's own estimate when it gives one; at
    /// 100 % the retry cap; between `slow_down_at` and 100 % a share of the cap that
    /// grows with usage; below it none.
    pub fn pause(&self, slow_down_at: f64, retry: &crate::RetryPolicy) -> Option<Duration> {
        if let Some(wait) = self.regain_access() {
            return Some(wait);
        }
        if self.max_percent >= 100.0 {
            return Some(retry.cap);
        }
        if self.max_percent >= slow_down_at && slow_down_at < 100.0 {
            let share = (self.max_percent - slow_down_at) / (100.0 - slow_down_at);
            return Some(retry.cap.mul_f64(share.clamp(0.0, 1.0)));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn usage_takes_the_worst_of_every_header() {
        let usage = Usage::from_headers(&headers(&[
            (
                "x-business-use-case-usage",
                r#"{"123":[{"type":"ads_insights","call_count":12,"total_cputime":81,"total_time":40,"estimated_time_to_regain_access":0}], "456":[{"type":"ads_management","call_count":3,"total_cputime":2,"total_time":2,"estimated_time_to_regain_access":2}]}"#,
            ),
            (
                "x-fb-ads-insights-throttle",
                r#"{"app_id_util_pct":5.5,"acc_id_util_pct":30}"#,
            ),
        ]));
        assert_eq!(usage.max_percent, 81.0);
        assert_eq!(usage.regain_access, Duration::from_secs(120));
        let retry = crate::RetryPolicy::default();
        assert_eq!(usage.pause(75.0, &retry), Some(Duration::from_secs(120)));
    }

    #[test]
    fn pause_grows_from_the_threshold_to_the_cap() {
        let retry = crate::RetryPolicy::default();
        let at = |pct: f64| {
            Usage {
                max_percent: pct,
                regain_access: Duration::ZERO,
            }
            .pause(75.0, &retry)
        };
        assert_eq!(at(10.0), None);
        assert_eq!(at(75.0), Some(Duration::ZERO));
        assert_eq!(at(87.5), Some(retry.cap / 2));
        assert_eq!(at(100.0), Some(retry.cap));
        assert_eq!(
            Usage::from_headers(&headers(&[("x-app-usage", "not json")])),
            Usage::default()
        );
    }

    #[test]
    fn purchases_follow_the_documented_precedence() {
        let row = json!({
            "actions": [
                {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "5"},
                {"action_type": "purchase", "value": "6"},
                {"action_type": "omni_purchase", "value": "7"},
                {"action_type": "link_click", "value": "90"}
            ],
            "action_values": [
                {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "500.00"},
                {"action_type": "omni_purchase", "value": "612.30"}
            ]
        });
        assert_eq!(purchases(&row).ok(), Some((7.0, 612_300_000)));
        let pixel_only = json!({
            "actions": [{"action_type": "offsite_conversion.fb_pixel_purchase", "value": "2"}],
            "action_values": [{"action_type": "offsite_conversion.fb_pixel_purchase", "value": "40.5"}]
        });
        assert_eq!(purchases(&pixel_only).ok(), Some((2.0, 40_500_000)));
        assert_eq!(purchases(&json!({})).ok(), Some((0.0, 0)));
    }

    #[test]
    fn error_codes_map_to_what_the_sync_does() {
        let creds = Credentials {
            access_token: "t".into(),
            refresh_token: None,
            expires_at: None,
            scopes: vec![],
        };
        let kind =
            |body: Value| GraphError::of(&body).kind(reqwest::StatusCode::BAD_REQUEST, &creds);
        assert!(matches!(
            kind(json!({"error": {"code": 80000}})),
            ErrorKind::Throttled
        ));
        assert!(matches!(
            kind(json!({"error": {"code": 17, "error_subcode": 2446079}})),
            ErrorKind::Throttled
        ));
        assert!(matches!(
            kind(json!({"error": {"code": 2}})),
            ErrorKind::Transient
        ));
        assert!(matches!(
            kind(json!({"error": {"code": 190, "error_subcode": 463}})),
            ErrorKind::Fatal(PlatformError::Reauth {
                reason: ReauthReason::TokenExpired,
                ..
            })
        ));
        assert!(matches!(
            kind(json!({"error": {"code": 190, "error_subcode": 460}})),
            ErrorKind::Fatal(PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                ..
            })
        ));
        assert!(matches!(
            kind(json!({"error": {"code": 200}})),
            ErrorKind::Fatal(PlatformError::Reauth {
                reason: ReauthReason::ScopesMissing,
                ..
            })
        ));
        assert!(matches!(
            kind(json!({"error": {"code": 100}})),
            ErrorKind::Fatal(PlatformError::Invalid { .. })
        ));
    }

    #[test]
    fn next_cursor_needs_a_next_link() {
        let last = json!({"data": [], "paging": {"cursors": {"before": "a", "after": "b"}}});
        assert_eq!(next_cursor(&last), None);
        let more = json!({"paging": {"cursors": {"after": "b"}, "next": "https://graph.facebook.com/x?after=b"}});
        assert_eq!(next_cursor(&more).as_deref(), Some("b"));
        let bare = json!({"paging": {"next": "https://graph.facebook.com/x?limit=2&after=c2"}});
        assert_eq!(next_cursor(&bare).as_deref(), Some("c2"));
    }

    #[test]
    fn authorize_url_asks_for_ads_read() {
        let cfg = MetaConfig::new("123", SecretString::from("s3cret"));
        let url = authorize_url(&cfg, "st&ate", "https://app.example/cb");
        assert!(url.starts_with("https://www.facebook.com/v25.0/dialog/oauth?"));
        assert!(url.contains("scope=ads_read"));
        assert!(url.contains("state=st%26ate"));
        assert!(url.contains("redirect_uri=https%3A%2F%2Fapp.example%2Fcb"));
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }
}
