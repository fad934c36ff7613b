//! Replaying the first response to a retried mutation.
//!
//! Each service schema has an `idempotency_keys (tenant_id, scope, request_id,
//! response)` table under RLS. The response is stored in the same transaction as the
//! change it reports, so a replay can never see one without the other.

use crate::TenantTx;

/// The stored response for `(scope, request_id)`, if the request was seen before.
pub async fn replay(
    tx: &mut TenantTx,
    schema: &'static str,
    scope: &str,
    request_id: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    // `schema` is a constant of the calling service, never input.
    sqlx::query_scalar(&format!(
        "select response from {schema}.idempotency_keys
         where tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           and scope = $1 and request_id = $2"
    ))
    .bind(scope)
    .bind(request_id)
    .fetch_optional(tx.conn())
    .await
}

/// Records the response; a concurrent twin that committed first wins (returns false).
pub async fn record(
    tx: &mut TenantTx,
    schema: &'static str,
    scope: &str,
    request_id: &str,
    response: &[u8],
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(&format!(
        "insert into {schema}.idempotency_keys (tenant_id, scope, request_id, response)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, $3)
         on conflict do nothing"
    ))
    .bind(scope)
    .bind(request_id)
    .bind(response)
    .execute(tx.conn())
    .await?;
    Ok(inserted.rows_affected() == 1)
}
