//! Provider tokens at rest: sealed by the vault with the tenant and integration as
//! associated data, so a ciphertext copied to another row does not open.

use pp_db::TenantTx;
use pp_platforms::{Credentials, PlatformError, ReauthReason};
use pp_types::TenantId;
use uuid::Uuid;

use crate::State;
use crate::store::integrations as store;

pub fn aad(tenant: TenantId, integration_id: Uuid) -> [u8; 32] {
    pp_vault::aad_for(tenant.0, integration_id)
}

/// Seals `credentials` for the integration's row.
pub async fn seal(
    state: &State,
    tenant: TenantId,
    integration_id: Uuid,
    credentials: &Credentials,
) -> Result<Vec<u8>, pp_vault::VaultError> {
    state
        .vault
        .seal_json(credentials, &aad(tenant, integration_id))
        .await
}

/// Seals and stores refreshed credentials.
pub async fn store(
    state: &State,
    tx: &mut TenantTx,
    tenant: TenantId,
    integration_id: Uuid,
    credentials: &Credentials,
) -> Result<(), pp_db::DbError> {
    let sealed = seal(state, tenant, integration_id, credentials)
        .await
        .map_err(|err| {
            pp_db::DbError::Corrupt(format!("credentials could not be sealed: {err}"))
        })?;
    store::store_credentials(
        tx,
        integration_id,
        &sealed,
        state.vault.active_key_id(),
        credentials.expires_at,
    )
    .await
}

/// Opens an integration's stored credentials. A row without any, or one that does
/// not open (wrong row, lost key), needs the user to reconnect.
pub async fn open(
    state: &State,
    tenant: TenantId,
    integration_id: Uuid,
    sealed: Option<&[u8]>,
) -> Result<Credentials, PlatformError> {
    let Some(sealed) = sealed else {
        return Err(PlatformError::Reauth {
            reason: ReauthReason::TokenRevoked,
            message: "this integration has no stored access; reconnect it".into(),
        });
    };
    state
        .vault
        .open_json(sealed, &aad(tenant, integration_id))
        .await
        .map_err(|err| {
            tracing::error!(%err, %integration_id, "stored credentials could not be opened");
            PlatformError::Reauth {
                reason: ReauthReason::TokenRevoked,
                message: "the stored access for this integration could not be read; reconnect it"
                    .into(),
            }
        })
}
