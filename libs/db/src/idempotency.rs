//! Running a retried mutation once, and replaying its first response.
//!
//! Each service schema has an `idempotency_keys (tenant_id, scope, request_id,
//! response)` table under RLS ([`IDEMPOTENCY_MIGRATION`]). [`once`] claims the key
//! *before* the mutation runs: a concurrent twin's insert waits on the unique key until
//! the first transaction ends, then replays what it committed (or, if it rolled back,
//! runs the mutation itself). The response is stored in the mutation's transaction, so
//! a replay can never see one without the other.

use std::future::Future;

use crate::{DbError, Migration, TenantTx};

/// The shared `idempotency_keys` table, for every service schema (`__SCHEMA__`).
/// Idempotent: schemas that created the table in their first migration keep it.
pub const IDEMPOTENCY_MIGRATION: Migration = Migration {
    version: 900,
    name: "idempotency_keys",
    sql: r#"
create table if not exists __SCHEMA__.idempotency_keys (
    tenant_id   uuid not null,
    scope       text not null,
    request_id  text not null,
    response    bytea not null,
    created_at  timestamptz not null default now(),
    primary key (tenant_id, scope, request_id)
);
alter table __SCHEMA__.idempotency_keys enable row level security;
alter table __SCHEMA__.idempotency_keys force row level security;
do $$
begin
    if not exists (select 1 from pg_policies
                   where schemaname = '__SCHEMA__' and tablename = 'idempotency_keys') then
        create policy tenant_isolation on __SCHEMA__.idempotency_keys
            using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
            with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
    end if;
end
$$;
grant usage on schema __SCHEMA__ to pp___SCHEMA__;
grant select, insert, update, delete on __SCHEMA__.idempotency_keys to pp___SCHEMA__;
"#,
};

/// Where a scope's keys live: the service's schema and the RPC's name.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    /// A constant of the calling service, never input.
    pub schema: &'static str,
    pub rpc: &'static str,
}

/// Runs `mutation` in `tx` once per `(scope, request_id)` and tenant, then commits;
/// a retry gets the first response. An empty `request_id` means the client asked for
/// no idempotency. The mutation hands the transaction back with its response; an
/// error drops (rolls back) the transaction, the claim on the key with it.
pub async fn once<R, E, F, Fut>(
    tx: TenantTx,
    scope: Scope,
    request_id: &str,
    mutation: F,
) -> Result<R, E>
where
    R: prost::Message + Default + Clone,
    E: From<DbError>,
    F: FnOnce(TenantTx) -> Fut,
    Fut: Future<Output = Result<(TenantTx, R), E>>,
{
    once_stored_as(tx, scope, request_id, R::clone, mutation).await
}

/// [`once`], storing `stored(&response)` for replays: for a response that carries a
/// secret shown only once (an API key), which must never be written down.
pub async fn once_stored_as<R, E, F, Fut, S>(
    mut tx: TenantTx,
    scope: Scope,
    request_id: &str,
    stored: S,
    mutation: F,
) -> Result<R, E>
where
    R: prost::Message + Default,
    E: From<DbError>,
    F: FnOnce(TenantTx) -> Fut,
    Fut: Future<Output = Result<(TenantTx, R), E>>,
    S: FnOnce(&R) -> R,
{
    if request_id.is_empty() {
        let (tx, response) = mutation(tx).await?;
        tx.commit().await?;
        return Ok(response);
    }
    if !claim(&mut tx, scope, request_id).await? {
        let bytes = stored_response(&mut tx, scope, request_id).await?;
        tx.commit().await?;
        return R::decode(bytes.as_slice())
            .map_err(|err| E::from(DbError::Corrupt(err.to_string())));
    }
    let (mut tx, response) = mutation(tx).await?;
    save_response(
        &mut tx,
        scope,
        request_id,
        &stored(&response).encode_to_vec(),
    )
    .await?;
    tx.commit().await?;
    Ok(response)
}

/// The response a committed call with this key gave, if there was one: for an RPC
/// that must do outside work (a provider call) *before* the transaction [`once`]
/// runs its mutation in, and that must not redo it on a replay. The key and its
/// response are committed together, so a row seen here is a whole response. A twin
/// still in flight is not seen (and does not make this wait): [`once`] still
/// settles which of the two writes.
pub async fn committed<R>(
    tx: &mut TenantTx,
    scope: Scope,
    request_id: &str,
) -> Result<Option<R>, DbError>
where
    R: prost::Message + Default,
{
    if request_id.is_empty() {
        return Ok(None);
    }
    let stored: Option<Vec<u8>> = sqlx::query_scalar(&format!(
        "select response from {}.idempotency_keys
         where tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           and scope = $1 and request_id = $2",
        scope.schema
    ))
    .bind(scope.rpc)
    .bind(request_id)
    .fetch_optional(tx.conn())
    .await?;
    stored
        .map(|bytes| R::decode(bytes.as_slice()).map_err(|err| DbError::Corrupt(err.to_string())))
        .transpose()
}

/// Inserts the key with an empty response; false when a committed twin holds it. A
/// twin still in flight makes this wait for its transaction to end.
async fn claim(tx: &mut TenantTx, scope: Scope, request_id: &str) -> Result<bool, DbError> {
    let inserted = sqlx::query(&format!(
        "insert into {}.idempotency_keys (tenant_id, scope, request_id, response)
         values (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2, '')
         on conflict do nothing",
        scope.schema
    ))
    .bind(scope.rpc)
    .bind(request_id)
    .execute(tx.conn())
    .await?;
    Ok(inserted.rows_affected() == 1)
}

async fn stored_response(
    tx: &mut TenantTx,
    scope: Scope,
    request_id: &str,
) -> Result<Vec<u8>, DbError> {
    Ok(sqlx::query_scalar(&format!(
        "select response from {}.idempotency_keys
         where tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           and scope = $1 and request_id = $2",
        scope.schema
    ))
    .bind(scope.rpc)
    .bind(request_id)
    .fetch_one(tx.conn())
    .await?)
}

async fn save_response(
    tx: &mut TenantTx,
    scope: Scope,
    request_id: &str,
    response: &[u8],
) -> Result<(), DbError> {
    sqlx::query(&format!(
        "update {}.idempotency_keys set response = $3
         where tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           and scope = $1 and request_id = $2",
        scope.schema
    ))
    .bind(scope.rpc)
    .bind(request_id)
    .bind(response)
    .execute(tx.conn())
    .await?;
    Ok(())
}
