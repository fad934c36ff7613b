//! Google Ads API (REST): OAuth web-server flow with offline access and PKCE, the
//! accessible customers, customer info, and daily campaign metrics via
//! `googleAds:searchStream`.
//!
//! Tokens: access tokens live about an hour; the refresh token is the connection.
//! Data calls refresh ahead of expiry, and once more on a 401. `invalid_grant` on
//! refresh means the grant was revoked (or a Testing-mode app's token aged out):
//! `Reauth{TokenRevoked}`.
//!
//! Errors: `GoogleAdsFailure.errors[].errorCode` decides. `quotaError` (HTTP 429,
//! gRPC RESOURCE_EXHAUSTED) is retried with backoff by the shared sender and here;
//! `authorizationError` (USER_PERMISSION_DENIED, CUSTOMER_NOT_ENABLED…) and
//! `authenticationError` are never retried: the user reconnects.

use std::time::Duration;

use base64::Engine as _;
use chrono::{NaiveDate, Utc};
use pp_commerce::{AdSpendDay, Campaign, Platform};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ads::{self, read_json, throttle_wait};
use crate::revocation::{Revocation, within};
use crate::{Credentials, Http, PlatformError, ReauthReason};

const PLATFORM: &str = "google ads";
pub const ADWORDS_SCOPE: &str = "https://www.googleapis.com/auth/adwords";
/// Refresh this long before the recorded expiry.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

#[derive(Debug, Clone)]
pub struct GoogleAdsConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// ⚠️ Being sunset from 2026-09-09 (access moves to the Cloud project); still sent.
    pub developer_token: SecretString,
    /// `https://accounts.google.com/o/oauth2/v2/auth`
    pub auth_url: String,
    /// `https://oauth2.googleapis.com/token`
    pub token_url: String,
    /// `https://oauth2.googleapis.com/revoke`
    pub revoke_url: String,
    /// `https://googleads.googleapis.com`
    pub api_base: String,
    /// e.g. `v26`
    pub api_version: String,
}

impl GoogleAdsConfig {
    pub fn new(
        client_id: impl Into<String>,
        client_secret: SecretString,
        developer_token: SecretString,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            developer_token,
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            revoke_url: "https://oauth2.googleapis.com/revoke".into(),
            api_base: "https://googleads.googleapis.com".into(),
            api_version: "v26".into(),
        }
    }

    fn api_url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.api_base.trim_end_matches('/'),
            self.api_version,
            path
        )
    }
}

/// A customer (ad account): its metrics are in its currency and time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerInfo {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub time_zone: String,
}

// === OAuth ===

const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// A fresh PKCE `(code_verifier, code_challenge)`: 64 characters from the RFC 7636
/// unreserved set, and base64url(SHA-256(verifier)) without padding (S256).
pub fn pkce_pair() -> (String, String) {
    let mut rng = rand::rng();
    let verifier: String = (0..64)
        .map(|_| char::from(UNRESERVED[rng.random_range(0..UNRESERVED.len())]))
        .collect();
    let challenge = pkce_challenge(&verifier);
    (verifier, challenge)
}

/// The S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The consent screen URL: offline access (a refresh token), a fresh consent so
/// Google issues a new refresh token, PKCE S256.
pub fn authorize_url(
    cfg: &GoogleAdsConfig,
    state: &str,
    redirect_uri: &str,
    code_challenge: &str,
) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", cfg.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", ADWORDS_SCOPE),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
        ("state", state),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
    ];
    reqwest::Url::parse_with_params(&cfg.auth_url, params)
        .map_or_else(|_| cfg.auth_url.clone(), String::from)
}

/// Code (+ the PKCE verifier) → tokens. A grant without a refresh token is refused:
/// background sync needs offline access.
pub async fn exchange_code(
    http: &Http,
    cfg: &GoogleAdsConfig,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> Result<Credentials, PlatformError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", cfg.client_id.as_str()),
        ("client_secret", cfg.client_secret.expose_secret()),
        ("code_verifier", code_verifier),
    ];
    let answer = match token_request(http, cfg, &form).await? {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(error = %error, "google refused the authorization code");
            return Err(PlatformError::Invalid {
                message: "google did not accept the authorization code; start the connection again"
                    .into(),
            });
        }
    };
    let Some(refresh_token) = answer.refresh_token else {
        return Err(PlatformError::Reauth {
            reason: ReauthReason::TokenExpired,
            message: "google did not grant offline access (no refresh token); reconnect google ads and approve access"
                .into(),
        });
    };
    let scopes = answer.scope.map(|s| split_scopes(&s)).unwrap_or_default();
    if !scopes.iter().any(|s| s == ADWORDS_SCOPE) {
        return Err(PlatformError::Reauth {
            reason: ReauthReason::ScopesMissing,
            message: "google did not grant access to google ads; reconnect and allow it".into(),
        });
    }
    Ok(Credentials {
        access_token: answer.access_token,
        refresh_token: Some(refresh_token),
        expires_at: answer
            .expires_in
            .map(|s| Utc::now() + chrono::Duration::seconds(s)),
        scopes,
    })
}

/// Replaces the access token (and expiry, and the refresh token if Google rotated
/// it) in place; the caller persists `creds`.
pub async fn refresh(
    http: &Http,
    cfg: &GoogleAdsConfig,
    creds: &mut Credentials,
) -> Result<(), PlatformError> {
    let Some(refresh_token) = creds.refresh_token.clone() else {
        return Err(PlatformError::Reauth {
            reason: ReauthReason::TokenExpired,
            message: "the google ads connection has no refresh token; reconnect google ads".into(),
        });
    };
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
        ("client_id", cfg.client_id.as_str()),
        ("client_secret", cfg.client_secret.expose_secret()),
    ];
    let answer = match token_request(http, cfg, &form).await? {
        Ok(answer) => answer,
        Err(error) if error == "invalid_grant" => {
            return Err(PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                message: "google no longer accepts the google ads authorization (revoked or expired); reconnect google ads"
                    .into(),
            });
        }
        Err(error) => {
            tracing::warn!(error = %error, "google refused the token refresh");
            return Err(PlatformError::Invalid {
                message: "google refused to refresh the access token".into(),
            });
        }
    };
    creds.access_token = answer.access_token;
    creds.expires_at = answer
        .expires_in
        .map(|s| Utc::now() + chrono::Duration::seconds(s));
    if let Some(rotated) = answer.refresh_token {
        creds.refresh_token = Some(rotated);
    }
    if let Some(scope) = answer.scope {
        creds.scopes = split_scopes(&scope);
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

/// The token endpoint's answer, or its OAuth `error` code (`invalid_grant`, …).
async fn token_request(
    http: &Http,
    cfg: &GoogleAdsConfig,
    form: &[(&str, &str)],
) -> Result<Result<TokenAnswer, String>, PlatformError> {
    let response = http.send(|c| c.post(&cfg.token_url).form(form)).await?;
    let status = response.status();
    let body: Value = read_json(response, PLATFORM).await?;
    if !status.is_success() {
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error");
        return Ok(Err(error.to_owned()));
    }
    serde_json::from_value(body)
        .map(Ok)
        .map_err(|_| PlatformError::Invalid {
            message: "google sent a token answer without a token".into(),
        })
}

/// Revokes the grant (`POST {revoke_url}` with the form field `token`): the refresh
/// token when there is one, since revoking it ends the whole grant and every access
/// token issued from it; else the access token. Google answers 200 when it revoked
/// the grant and 400 `invalid_token` when the token was already revoked or expired.
pub async fn revoke(
    http: &Http,
    cfg: &GoogleAdsConfig,
    creds: &Credentials,
) -> Result<Revocation, PlatformError> {
    within(PLATFORM, async {
        let token = creds
            .refresh_token
            .as_deref()
            .unwrap_or(creds.access_token.as_str());
        let form = [("token", token)];
        let response = http.send(|c| c.post(&cfg.revoke_url).form(&form)).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(Revocation::Revoked);
        }
        // The body is only an OAuth error code; one that does not parse is "unknown".
        let body: Value = read_json(response, PLATFORM).await.unwrap_or(Value::Null);
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error");
        if status == reqwest::StatusCode::BAD_REQUEST && error == "invalid_token" {
            return Ok(Revocation::AlreadyRevoked);
        }
        tracing::warn!(%status, error, "google refused the revocation");
        Err(PlatformError::Invalid {
            message: format!(
                "google refused to revoke the authorization (http {})",
                status.as_u16()
            ),
        })
    })
    .await
}

fn split_scopes(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

/// Customer ids as the API wants them: 10 digits, no hyphens.
pub fn normalize_customer_id(id: &str) -> String {
    id.trim()
        .trim_start_matches("customers/")
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

// === GoogleAdsClient ===

#[derive(Debug, Clone)]
pub struct GoogleAdsClient {
    http: Http,
    cfg: GoogleAdsConfig,
}

impl GoogleAdsClient {
    pub fn new(http: Http, cfg: GoogleAdsConfig) -> Self {
        Self { http, cfg }
    }

    /// Customers the user can reach directly (`customers:listAccessibleCustomers`).
    pub async fn accessible_customers(
        &self,
        creds: &mut Credentials,
    ) -> Result<Vec<String>, PlatformError> {
        let url = self.cfg.api_url("customers:listAccessibleCustomers");
        let body = self
            .call(creds, None, |c, token| c.get(&url).bearer_auth(token))
            .await?;
        Ok(body
            .get("resourceNames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(normalize_customer_id)
            .collect())
    }

    /// Name, currency and time zone of a customer.
    pub async fn customer_info(
        &self,
        creds: &mut Credentials,
        customer_id: &str,
        login_customer_id: Option<&str>,
    ) -> Result<CustomerInfo, PlatformError> {
        let query = "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone FROM customer";
        let rows = self
            .stream(creds, customer_id, login_customer_id, query)
            .await?;
        let customer = rows
            .first()
            .and_then(|row| row.get("customer"))
            .ok_or_else(|| PlatformError::Invalid {
                message: "google ads returned no customer".into(),
            })?;
        let field = |name: &str| {
            customer
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(CustomerInfo {
            id: normalize_customer_id(customer_id),
            name: field("descriptiveName").unwrap_or_default(),
            currency: field("currencyCode")
                .ok_or_else(|| ads::unreadable(PLATFORM, "currency_code"))?,
            time_zone: field("timeZone").ok_or_else(|| ads::unreadable(PLATFORM, "time_zone"))?,
        })
    }

    /// The customer's campaigns with their status.
    pub async fn campaigns(
        &self,
        creds: &mut Credentials,
        customer_id: &str,
        login_customer_id: Option<&str>,
    ) -> Result<Vec<Campaign>, PlatformError> {
        let query = "SELECT campaign.id, campaign.name, campaign.status FROM campaign";
        let rows = self
            .stream(creds, customer_id, login_customer_id, query)
            .await?;
        rows.iter()
            .map(|row| {
                let campaign = row
                    .get("campaign")
                    .ok_or_else(|| ads::unreadable(PLATFORM, "campaign"))?;
                Ok(Campaign {
                    platform: Platform::GoogleAds,
                    platform_campaign_id: id_text(campaign.get("id"))?,
                    name: campaign
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    status: campaign
                        .get("status")
                        .and_then(Value::as_str)
                        .map(str::to_lowercase),
                })
            })
            .collect()
    }

    /// Daily campaign metrics for `start..=end` (customer time zone), every batch of
    /// the stream. The currency comes with each row (`customer.currency_code`).
    pub async fn search_stream(
        &self,
        creds: &mut Credentials,
        customer_id: &str,
        login_customer_id: Option<&str>,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<AdSpendDay>, PlatformError> {
        if end < start {
            return Err(PlatformError::Invalid {
                message: "the report range ends before it starts".into(),
            });
        }
        let query = format!(
            "SELECT campaign.id, campaign.name, campaign.status, customer.currency_code, segments.date, \
             metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions, \
             metrics.conversions_value FROM campaign WHERE segments.date BETWEEN '{}' AND '{}'",
            start.format("%Y-%m-%d"),
            end.format("%Y-%m-%d"),
        );
        let rows = self
            .stream(creds, customer_id, login_customer_id, &query)
            .await?;
        rows.iter().map(spend_row).collect()
    }

    /// Runs a GAQL query through `searchStream` and returns the rows of every batch.
    async fn stream(
        &self,
        creds: &mut Credentials,
        customer_id: &str,
        login_customer_id: Option<&str>,
        query: &str,
    ) -> Result<Vec<Value>, PlatformError> {
        let url = self.cfg.api_url(&format!(
            "customers/{}/googleAds:searchStream",
            normalize_customer_id(customer_id)
        ));
        let body = json!({ "query": query });
        let login = login_customer_id.map(normalize_customer_id);
        let answer = self
            .call(creds, login.as_deref(), |c, token| {
                c.post(&url).bearer_auth(token).json(&body)
            })
            .await?;
        let batches = answer.as_array().ok_or_else(|| PlatformError::Invalid {
            message: "google ads sent a stream that is not a list".into(),
        })?;
        let mut rows = Vec::new();
        for batch in batches {
            // An error after the stream started arrives as an element of the list.
            if batch.get("error").is_some() {
                return Err(failure_error(&Failure::of(batch), creds));
            }
            rows.extend(
                batch
                    .get("results")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        Ok(rows)
    }

    /// One API call with refresh-ahead, refresh-once-on-401 and quota retries.
    async fn call(
        &self,
        creds: &mut Credentials,
        login_customer_id: Option<&str>,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<Value, PlatformError> {
        if creds.refresh_token.is_some() && creds.expires_within(Utc::now(), EXPIRY_MARGIN) {
            refresh(&self.http, &self.cfg, creds).await?;
        }
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            let token = creds.access_token.clone();
            let developer_token = self.cfg.developer_token.expose_secret().to_owned();
            let response = self
                .http
                .send(|c| {
                    let request = build(c, &token).header("developer-token", &developer_token);
                    match login_customer_id {
                        Some(login) => request.header("login-customer-id", login),
                        None => request,
                    }
                })
                .await?;
            let status = response.status();
            let body: Value = read_json(response, PLATFORM).await?;
            if status.is_success() && !is_stream_error(&body) {
                return Ok(body);
            }
            let failure = Failure::of(&body);
            if status == reqwest::StatusCode::UNAUTHORIZED
                && !refreshed
                && creds.refresh_token.is_some()
            {
                refresh(&self.http, &self.cfg, creds).await?;
                refreshed = true;
                continue;
            }
            if failure.is_quota() {
                let wait = throttle_wait(&self.http.retry, attempt, failure.retry_delay)?;
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            if status == reqwest::StatusCode::UNAUTHORIZED && failure.codes.is_empty() {
                return Err(revoked());
            }
            return Err(failure_error(&failure, creds));
        }
    }
}

fn is_stream_error(body: &Value) -> bool {
    body.as_array()
        .is_some_and(|batches| batches.iter().any(|b| b.get("error").is_some()))
}

fn revoked() -> PlatformError {
    PlatformError::Reauth {
        reason: ReauthReason::TokenRevoked,
        message: "google ads no longer accepts the authorization; reconnect google ads".into(),
    }
}

fn id_text(value: Option<&Value>) -> Result<String, PlatformError> {
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ads::unreadable(PLATFORM, "campaign.id")),
    }
}

fn spend_row(row: &Value) -> Result<AdSpendDay, PlatformError> {
    let campaign = row
        .get("campaign")
        .ok_or_else(|| ads::unreadable(PLATFORM, "campaign"))?;
    let metrics = row.get("metrics").cloned().unwrap_or(Value::Null);
    let date = row
        .pointer("/segments/date")
        .and_then(Value::as_str)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| ads::unreadable(PLATFORM, "segments.date"))?;
    let currency = row
        .pointer("/customer/currencyCode")
        .and_then(Value::as_str)
        .ok_or_else(|| ads::unreadable(PLATFORM, "customer.currency_code"))?;
    // Proto3 JSON leaves out zero values, so an absent metric is 0.
    Ok(AdSpendDay {
        platform: Platform::GoogleAds,
        platform_campaign_id: id_text(campaign.get("id"))?,
        campaign_name: campaign
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        date,
        currency: currency.to_owned(),
        // Already micros (an int64 sent as a string).
        spend_micros: ads::count_field(&metrics, "costMicros", PLATFORM)?,
        impressions: ads::count_field(&metrics, "impressions", PLATFORM)?,
        clicks: ads::count_field(&metrics, "clicks", PLATFORM)?,
        conversions: ads::fractional_field(&metrics, "conversions", PLATFORM)?,
        conversion_value_micros: ads::micros_field(&metrics, "conversionsValue", PLATFORM)?,
    })
}

// === errors ===

/// The parts of a Google error the client acts on: the gRPC status and every
/// `errorCode` as (group, value), e.g. ("authorizationError", "USER_PERMISSION_DENIED").
#[derive(Debug, Default)]
struct Failure {
    status: Option<String>,
    codes: Vec<(String, String)>,
    retry_delay: Option<Duration>,
}

impl Failure {
    fn of(body: &Value) -> Self {
        // searchStream wraps its error in a one-element list.
        let error = match body {
            Value::Array(batches) => batches.iter().find_map(|b| b.get("error")),
            other => other.get("error"),
        };
        let Some(error) = error else {
            return Self::default();
        };
        let mut failure = Self {
            status: error
                .get("status")
                .and_then(Value::as_str)
                .map(str::to_owned),
            ..Self::default()
        };
        for detail in error
            .get("details")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for item in detail
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(Value::Object(code)) = item.get("errorCode") {
                    for (group, value) in code {
                        failure
                            .codes
                            .push((group.clone(), value.as_str().unwrap_or_default().to_owned()));
                    }
                }
                let delay = item
                    .pointer("/details/quotaErrorDetails/retryDelay")
                    .and_then(Value::as_str);
                if let Some(delay) = delay.and_then(parse_duration) {
                    failure.retry_delay = Some(failure.retry_delay.map_or(delay, |d| d.max(delay)));
                }
            }
        }
        failure
    }

    fn is_quota(&self) -> bool {
        self.status.as_deref() == Some("RESOURCE_EXHAUSTED")
            || self.codes.iter().any(|(group, _)| group == "quotaError")
    }
}

/// A protobuf JSON `Duration` such as `"30s"` or `"1.5s"`.
fn parse_duration(text: &str) -> Option<Duration> {
    let seconds: f64 = text.strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

fn failure_error(failure: &Failure, creds: &Credentials) -> PlatformError {
    if failure.is_quota() {
        return PlatformError::RateLimited {
            retry_after: failure.retry_delay,
        };
    }
    for (group, value) in &failure.codes {
        match (group.as_str(), value.as_str()) {
            ("authorizationError", code)
                if code.starts_with("DEVELOPER_TOKEN") || code.contains("CLOUD_PROJECT") =>
            {
                tracing::error!(
                    code,
                    "google ads refused our developer token or cloud project"
                );
                return PlatformError::Invalid {
                    message:
                        "google ads refused pulsepoint's api access; this is on our side, not yours"
                            .into(),
                };
            }
            ("authorizationError", code) => {
                tracing::info!(code, "google ads denied access to the customer");
                return PlatformError::Reauth {
                    reason: ReauthReason::ScopesMissing,
                    message: "google ads denied access to this account (permission removed or account not enabled); reconnect google ads with a user who can read it"
                        .into(),
                };
            }
            ("authenticationError", "OAUTH_TOKEN_EXPIRED") if creds.refresh_token.is_none() => {
                return PlatformError::Reauth {
                    reason: ReauthReason::TokenExpired,
                    message: "the google ads access token expired and cannot be refreshed; reconnect google ads".into(),
                };
            }
            ("authenticationError", _) => return revoked(),
            _ => {}
        }
    }
    let detail = failure
        .codes
        .first()
        .map(|(_, value)| value.clone())
        .or_else(|| failure.status.clone())
        .unwrap_or_else(|| "unknown".into());
    PlatformError::Invalid {
        message: format!(
            "google ads rejected the request ({})",
            detail.to_lowercase()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_pair_follows_rfc_7636() {
        let (verifier, challenge) = pkce_pair();
        assert!((43..=128).contains(&verifier.len()));
        assert!(verifier.bytes().all(|b| UNRESERVED.contains(&b)));
        assert_eq!(challenge, pkce_challenge(&verifier));
        assert!(!challenge.contains('=') && !challenge.contains('+') && !challenge.contains('/'));
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_ne!(pkce_pair().0, verifier);
    }

    #[test]
    fn authorize_url_asks_for_offline_access_with_pkce() {
        let cfg = GoogleAdsConfig::new(
            "cid",
            SecretString::from("csecret"),
            SecretString::from("devtok"),
        );
        let url = authorize_url(&cfg, "st", "https://app.example/cb", "chal");
        for part in [
            "access_type=offline",
            "prompt=consent",
            "code_challenge=chal",
            "code_challenge_method=S256",
            "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fadwords",
            "response_type=code",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("csecret") && !debug.contains("devtok"));
    }

    #[test]
    fn failures_classify_by_error_code() {
        let creds = Credentials {
            access_token: "a".into(),
            refresh_token: Some("r".into()),
            expires_at: None,
            scopes: vec![],
        };
        let body = |group: &str, code: &str| {
            json!([{"error": {"code": 403, "status": "PERMISSION_DENIED", "details": [{
                "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
                "errors": [{"errorCode": {group: code}, "message": "x"}]}]}}])
        };
        let error =
            |group: &str, code: &str| failure_error(&Failure::of(&body(group, code)), &creds);
        assert!(matches!(
            error("authorizationError", "USER_PERMISSION_DENIED"),
            PlatformError::Reauth {
                reason: ReauthReason::ScopesMissing,
                ..
            }
        ));
        assert!(matches!(
            error("authorizationError", "CUSTOMER_NOT_ENABLED"),
            PlatformError::Reauth {
                reason: ReauthReason::ScopesMissing,
                ..
            }
        ));
        assert!(matches!(
            error("authorizationError", "DEVELOPER_TOKEN_NOT_APPROVED"),
            PlatformError::Invalid { .. }
        ));
        assert!(matches!(
            error("authenticationError", "OAUTH_TOKEN_REVOKED"),
            PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                ..
            }
        ));
        let quota = json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [{"errors": [{
            "errorCode": {"quotaError": "RESOURCE_EXHAUSTED"},
            "details": {"quotaErrorDetails": {"rateScope": "DEVELOPER", "retryDelay": "30s"}}}]}]}});
        let failure = Failure::of(&quota);
        assert!(failure.is_quota());
        assert_eq!(failure.retry_delay, Some(Duration::from_secs(30)));
        assert!(matches!(
            error("queryError", "BAD_FIELD_NAME"),
            PlatformError::Invalid { .. }
        ));
    }

    #[test]
    fn customer_ids_lose_hyphens_and_prefixes() {
        assert_eq!(normalize_customer_id("123-456-7890"), "1234567890");
        assert_eq!(normalize_customer_id("customers/1234567890"), "1234567890");
    }
}
