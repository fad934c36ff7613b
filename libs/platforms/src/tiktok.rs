//! TikTok Business API v1.3: advertiser authorization, advertiser info, and the
//! synchronous integrated report (daily, per campaign).
//!
//! Tokens: the advertiser authorization returns a long-term access token that does
//! not expire and has no refresh token (TikTok docs, "Authorization"); it ends when
//! the advertiser revokes it. So an expired (40102) or invalid (40105) token is
//! `Reauth`, never a refresh.
//!
//! Errors arrive as HTTP 200 with a non-zero `code`: 40100/40016 (app rate limit)
//! and 40133 (advertiser QPS) back off and retry; 5xxxx are server-side and retried;
//! 40001 is a permission the authorization lacks.

use chrono::NaiveDate;
use pp_commerce::{AdSpendDay, Platform};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

pub use crate::ads::date_windows;
use crate::ads::{self, read_json, throttle_wait};
use crate::revocation::{Revocation, within};
use crate::{Credentials, Http, Page, PlatformError, ReauthReason};

const PLATFORM: &str = "tiktok";
/// Most days one daily (`stat_time_day`) report request may cover.
pub const MAX_DAYS_PER_REPORT: u32 = 30;
const METRICS: [&str; 6] = [
    "campaign_name",
    "spend",
    "impressions",
    "clicks",
    "complete_payment",
    "total_complete_payment_rate",
];

#[derive(Debug, Clone)]
pub struct TiktokConfig {
    pub app_id: String,
    pub secret: SecretString,
    /// `https://business-api.tiktok.com` (API and the authorization portal).
    pub api_base: String,
    pub portal_base: String,
    /// `v1.3`
    pub api_version: String,
    /// `page_size` of report pages (TikTok's maximum is 1000).
    pub report_page_size: u32,
}

impl TiktokConfig {
    pub fn new(app_id: impl Into<String>, secret: SecretString) -> Self {
        Self {
            app_id: app_id.into(),
            secret,
            api_base: "https://business-api.tiktok.com".into(),
            portal_base: "https://business-api.tiktok.com".into(),
            api_version: "v1.3".into(),
            report_page_size: 1000,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/open_api/{}/{}",
            self.api_base.trim_end_matches('/'),
            self.api_version,
            path
        )
    }
}

/// An ad account. Report dates and amounts are in its time zone and currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertiser {
    pub id: String,
    pub name: String,
    pub currency: String,
    /// IANA name when TikTok gives one (`display_timezone`), else its `timezone`.
    pub timezone: String,
}

// === OAuth ===

/// The advertiser authorization page.
pub fn authorize_url(cfg: &TiktokConfig, state: &str, redirect_uri: &str) -> String {
    let base = format!("{}/portal/auth", cfg.portal_base.trim_end_matches('/'));
    let params = [
        ("app_id", cfg.app_id.as_str()),
        ("state", state),
        ("redirect_uri", redirect_uri),
    ];
    reqwest::Url::parse_with_params(&base, params).map_or(base, String::from)
}

/// `auth_code` (valid one hour, single use) → long-term token and the advertiser
/// accounts it covers.
pub async fn exchange_code(
    http: &Http,
    cfg: &TiktokConfig,
    auth_code: &str,
) -> Result<(Credentials, Vec<String>), PlatformError> {
    let url = cfg.url("oauth2/access_token/");
    let body =
        json!({"app_id": cfg.app_id, "secret": cfg.secret.expose_secret(), "auth_code": auth_code});
    let response = http.send(|c| c.post(&url).json(&body)).await?;
    let data = match envelope(response).await? {
        Ok(data) => data,
        Err(40110) => {
            return Err(PlatformError::Invalid {
                message: "tiktok did not accept the authorization code (expired or used); start the connection again"
                    .into(),
            });
        }
        Err(code) => return Err(classify(code).unwrap_or_else(|| rejected(code))),
    };
    let access_token = data
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| ads::unreadable(PLATFORM, "access_token"))?
        .to_owned();
    let advertiser_ids = strings(data.get("advertiser_ids"));
    let credentials = Credentials {
        access_token,
        refresh_token: None,
        expires_at: None,
        // ❓ Scope ids come back as numbers in some answers and strings in others.
        scopes: strings(data.get("scope")),
    };
    Ok((credentials, advertiser_ids))
}

/// Ends the long-term token (`POST /open_api/v1.3/oauth2/revoke_token/` with JSON
/// `{app_id, secret, access_token}`), which otherwise never expires. TikTok answers
/// in its envelope: code 0 when revoked; 40104/40105 (token empty, invalid or already
/// revoked) and 40102 (expired) leave nothing to revoke.
///
/// ❓ The request and answer shapes are not in the official pages we hold: the
/// endpoint is named in TikTok's authorization guide ("the advertiser access token
/// does not expire; to invalidate it use `/oauth2/revoke_token/`"), the JSON body
/// follows `oauth2/access_token/` and a third-party connector's tests, and the error
/// codes are assumed to be the ones the data endpoints use. Check against a live app.
pub async fn revoke(
    http: &Http,
    cfg: &TiktokConfig,
    creds: &Credentials,
) -> Result<Revocation, PlatformError> {
    within(PLATFORM, async {
        let url = cfg.url("oauth2/revoke_token/");
        let body = json!({
            "app_id": cfg.app_id,
            "secret": cfg.secret.expose_secret(),
            "access_token": creds.access_token,
        });
        let response = http.send(|c| c.post(&url).json(&body)).await?;
        match envelope(response).await? {
            Ok(_) => Ok(Revocation::Revoked),
            Err(40102 | 40104 | 40105) => Ok(Revocation::AlreadyRevoked),
            Err(code) if is_throttle(code) => Err(PlatformError::RateLimited { retry_after: None }),
            Err(code @ 50000..=59999) => Err(PlatformError::Unavailable {
                message: format!("tiktok reported a server error (code {code})"),
            }),
            Err(code) => Err(PlatformError::Invalid {
                message: format!("tiktok refused the revocation (code {code})"),
            }),
        }
    })
    .await
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

// === TiktokClient ===

#[derive(Debug, Clone)]
pub struct TiktokClient {
    http: Http,
    cfg: TiktokConfig,
}

impl TiktokClient {
    pub fn new(http: Http, cfg: TiktokConfig) -> Self {
        Self { http, cfg }
    }

    /// Name, currency and time zone of the given advertisers.
    pub async fn advertiser_info(
        &self,
        creds: &mut Credentials,
        advertiser_ids: &[String],
    ) -> Result<Vec<Advertiser>, PlatformError> {
        let query = [
            ("advertiser_ids", json!(advertiser_ids).to_string()),
            (
                "fields",
                json!([
                    "advertiser_id",
                    "name",
                    "currency",
                    "timezone",
                    "display_timezone"
                ])
                .to_string(),
            ),
        ];
        let data = self.get(creds, "advertiser/info/", &query).await?;
        let list = data
            .get("list")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        list.iter()
            .map(|row| {
                let field = |name: &str| row.get(name).and_then(Value::as_str).map(str::to_owned);
                let id = match row.get("advertiser_id") {
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::String(s)) => s.clone(),
                    _ => return Err(ads::unreadable(PLATFORM, "advertiser_id")),
                };
                Ok(Advertiser {
                    id,
                    name: field("name").unwrap_or_default(),
                    currency: field("currency")
                        .ok_or_else(|| ads::unreadable(PLATFORM, "currency"))?,
                    timezone: field("display_timezone")
                        .or_else(|| field("timezone"))
                        .ok_or_else(|| ads::unreadable(PLATFORM, "timezone"))?,
                })
            })
            .collect()
    }

    /// Page `page` (1-based) of daily campaign rows for `start..=end` (at most
    /// [`MAX_DAYS_PER_REPORT`] days: split longer ranges with [`date_windows`]).
    /// `currency` is the advertiser's (see [`Self::advertiser_info`]); the report does
    /// not repeat it. The next cursor is the next page number.
    pub async fn report_page(
        &self,
        creds: &mut Credentials,
        advertiser_id: &str,
        currency: &str,
        start: NaiveDate,
        end: NaiveDate,
        page: u32,
    ) -> Result<Page<AdSpendDay>, PlatformError> {
        if end < start || ads::days_in(start, end) > i64::from(MAX_DAYS_PER_REPORT) {
            return Err(PlatformError::Invalid {
                message: "a tiktok report covers 1 to 30 days; split the range with date_windows"
                    .into(),
            });
        }
        let page = page.max(1);
        let query = [
            ("advertiser_id", advertiser_id.to_owned()),
            ("service_type", "AUCTION".to_owned()),
            ("report_type", "BASIC".to_owned()),
            ("data_level", "AUCTION_CAMPAIGN".to_owned()),
            (
                "dimensions",
                json!(["campaign_id", "stat_time_day"]).to_string(),
            ),
            ("metrics", json!(METRICS).to_string()),
            ("start_date", start.format("%Y-%m-%d").to_string()),
            ("end_date", end.format("%Y-%m-%d").to_string()),
            ("page", page.to_string()),
            ("page_size", self.cfg.report_page_size.to_string()),
        ];
        let data = self.get(creds, "report/integrated/get/", &query).await?;
        let rows = data
            .get("list")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let items = rows
            .iter()
            .map(|row| report_row(row, currency))
            .collect::<Result<Vec<_>, _>>()?;
        let total_pages = data
            .pointer("/page_info/total_page")
            .and_then(ads::count)
            .unwrap_or(1);
        let next_cursor = (i64::from(page) < total_pages).then(|| (page + 1).to_string());
        Ok(Page { items, next_cursor })
    }

    async fn get(
        &self,
        creds: &Credentials,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, PlatformError> {
        let url = self.cfg.url(path);
        let mut attempt = 0;
        loop {
            let response = self
                .http
                .send(|c| {
                    c.get(&url)
                        .header("Access-Token", &creds.access_token)
                        .query(query)
                })
                .await?;
            let code = match envelope(response).await? {
                Ok(data) => return Ok(data),
                Err(code) => code,
            };
            match classify(code) {
                Some(error) => return Err(error),
                None if is_throttle(code) => {
                    let wait = throttle_wait(&self.http.retry, attempt, None)?;
                    tracing::debug!(
                        code,
                        wait_ms = wait.as_millis() as u64,
                        "tiktok throttled the request"
                    );
                    tokio::time::sleep(wait).await;
                }
                None => {
                    // 5xxxx: TikTok's side; retried with backoff.
                    if attempt + 1 >= self.http.retry.max_attempts {
                        return Err(PlatformError::Unavailable {
                            message: format!(
                                "tiktok reported a server error repeatedly (code {code})"
                            ),
                        });
                    }
                    tokio::time::sleep(self.http.retry.backoff(attempt)).await;
                }
            }
            attempt += 1;
        }
    }
}

/// The `data` of a `{code, message, request_id, data}` answer, or its non-zero code.
async fn envelope(response: reqwest::Response) -> Result<Result<Value, i64>, PlatformError> {
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Ok(Err(40105));
    }
    if !status.is_success() {
        return Err(PlatformError::Invalid {
            message: format!("tiktok rejected the request (http {})", status.as_u16()),
        });
    }
    let body: Value = read_json(response, PLATFORM).await?;
    let code = body.get("code").and_then(ads::count).unwrap_or(-1);
    match code {
        0 => Ok(Ok(body.get("data").cloned().unwrap_or(Value::Null))),
        20001 => {
            tracing::warn!("tiktok reported a partial success");
            Ok(Ok(body.get("data").cloned().unwrap_or(Value::Null)))
        }
        code => {
            let request_id = body
                .get("request_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            tracing::debug!(code, request_id, "tiktok answered with an error code");
            Ok(Err(code))
        }
    }
}

fn is_throttle(code: i64) -> bool {
    matches!(code, 40100 | 40016 | 40133)
}

/// A non-zero code's final error, or None when it is worth retrying (throttles and
/// 5xxxx server errors).
fn classify(code: i64) -> Option<PlatformError> {
    match code {
        c if is_throttle(c) => None,
        50000..=59999 => None,
        40102 => Some(PlatformError::Reauth {
            reason: ReauthReason::TokenExpired,
            message: "the tiktok access token has expired; reconnect tiktok to keep syncing".into(),
        }),
        40104 | 40105 => Some(PlatformError::Reauth {
            reason: ReauthReason::TokenRevoked,
            message: "tiktok no longer accepts the access token (authorization revoked); reconnect tiktok".into(),
        }),
        40001 => Some(PlatformError::Reauth {
            reason: ReauthReason::ScopesMissing,
            message: "the tiktok authorization lacks a permission the sync needs; reconnect tiktok and grant reporting access"
                .into(),
        }),
        code => Some(rejected(code)),
    }
}

fn rejected(code: i64) -> PlatformError {
    PlatformError::Invalid {
        message: format!("tiktok rejected the request (code {code})"),
    }
}

fn report_row(row: &Value, currency: &str) -> Result<AdSpendDay, PlatformError> {
    let dimensions = row
        .get("dimensions")
        .ok_or_else(|| ads::unreadable(PLATFORM, "dimensions"))?;
    let metrics = row
        .get("metrics")
        .ok_or_else(|| ads::unreadable(PLATFORM, "metrics"))?;
    let campaign_id = match dimensions.get("campaign_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(ads::unreadable(PLATFORM, "campaign_id")),
    };
    // `stat_time_day` is "2026-01-05 00:00:00".
    let day = dimensions
        .get("stat_time_day")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let date = day
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| ads::unreadable(PLATFORM, "stat_time_day"))?;
    Ok(AdSpendDay {
        platform: Platform::Tiktok,
        platform_campaign_id: campaign_id,
        campaign_name: metrics
            .get("campaign_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        date,
        currency: currency.to_owned(),
        spend_micros: ads::micros_field(metrics, "spend", PLATFORM)?,
        impressions: ads::count_field(metrics, "impressions", PLATFORM)?,
        clicks: ads::count_field(metrics, "clicks", PLATFORM)?,
        conversions: ads::fractional_field(metrics, "complete_payment", PLATFORM)?,
        // Despite its name, the total purchase value (web), not a rate.
        conversion_value_micros: ads::micros_field(
            metrics,
            "total_complete_payment_rate",
            PLATFORM,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_what_the_sync_does() {
        assert!(classify(40100).is_none());
        assert!(classify(40133).is_none());
        assert!(classify(51000).is_none());
        assert!(matches!(
            classify(40102),
            Some(PlatformError::Reauth {
                reason: ReauthReason::TokenExpired,
                ..
            })
        ));
        assert!(matches!(
            classify(40105),
            Some(PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                ..
            })
        ));
        assert!(matches!(
            classify(40001),
            Some(PlatformError::Reauth {
                reason: ReauthReason::ScopesMissing,
                ..
            })
        ));
        assert!(matches!(
            classify(40002),
            Some(PlatformError::Invalid { .. })
        ));
    }

    #[test]
    fn report_rows_read_value_from_total_complete_payment_rate() {
        let row = json!({
            "dimensions": {"campaign_id": "1800", "stat_time_day": "2026-01-05 00:00:00"},
            "metrics": {"campaign_name": "Spring", "spend": "12.30", "impressions": "1000", "clicks": "31",
                        "complete_payment": "4", "total_complete_payment_rate": "199.96"}
        });
        let day = report_row(&row, "EUR").expect("row");
        assert_eq!(day.date, NaiveDate::from_ymd_opt(2026, 1, 5).expect("date"));
        assert_eq!(
            (day.spend_micros, day.impressions, day.clicks),
            (12_300_000, 1000, 31)
        );
        assert_eq!(
            (day.conversions, day.conversion_value_micros),
            (4.0, 199_960_000)
        );
        assert_eq!(day.currency, "EUR");
    }

    #[test]
    fn authorize_url_carries_app_state_and_redirect() {
        let cfg = TiktokConfig::new("app1", SecretString::from("shh"));
        let url = authorize_url(&cfg, "n0nce", "https://app.example/cb");
        assert!(url.starts_with(
            "https://business-api.tiktok.com/portal/auth?app_id=app1&state=n0nce&redirect_uri="
        ));
        assert!(!format!("{cfg:?}").contains("shh"));
    }
}
