//! Public keys for services other than auth: fetched from auth's GetJwks, refreshed
//! in the background so a rotated key is picked up without a restart.

use std::sync::Arc;
use std::time::Duration;

use pp_auth::KeyStore;
use pp_auth::keys::JwkSet;
use pp_proto::auth::GetJwksRequest;
use pp_proto::auth::auth_service_client::AuthServiceClient;

pub async fn fetch_jwks(auth_url: &str) -> Result<JwkSet, String> {
    let mut client = AuthServiceClient::connect(auth_url.to_owned())
        .await
        .map_err(|err| err.to_string())?;
    let response = client
        .get_jwks(GetJwksRequest {})
        .await
        .map_err(|status| status.message().to_owned())?;
    JwkSet::from_json(&response.into_inner().jwks_json).map_err(|err| err.to_string())
}

/// Loads the key set, retrying while auth starts, then refreshes it every `every`
/// until `shutdown`.
pub async fn load_and_refresh(
    auth_url: String,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Arc<KeyStore>, String> {
    let mut last_error = String::new();
    let mut keys = None;
    for attempt in 0..30 {
        match fetch_jwks(&auth_url).await {
            Ok(set) => {
                keys = Some(Arc::new(
                    KeyStore::from_jwks(&set).map_err(|err| err.to_string())?,
                ));
                break;
            }
            Err(err) => {
                tracing::warn!(attempt, %err, "waiting for auth JWKS");
                last_error = err;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    let keys = keys.ok_or_else(|| format!("could not fetch JWKS from {auth_url}: {last_error}"))?;
    let refreshed = keys.clone();
    tokio::spawn(async move {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = &mut shutdown => return,
            }
            match fetch_jwks(&auth_url).await {
                Ok(set) => {
                    if let Err(err) = refreshed.replace(&set) {
                        tracing::warn!(%err, "JWKS refresh rejected");
                    }
                }
                Err(err) => tracing::warn!(%err, "JWKS refresh failed; keeping current keys"),
            }
        }
    });
    Ok(keys)
}
