//! The outbox table and the writer.

use pp_db::{Migration, TenantTx};

use crate::envelope::EventEnvelope;

/// The outbox of a service schema. `__SCHEMA__` is replaced by the migration runner
/// with the service's schema; the service role is `pp___SCHEMA__`.
///
/// RLS: a service writes and reads only its tenant's rows; the relay, which works for
/// every tenant, sets `app.outbox_relay = on` for its own transactions
/// ([`pp_db::Lookup::OutboxRelay`]).
pub const OUTBOX_MIGRATION: Migration = Migration {
    version: 1000,
    name: "outbox",
    sql: r#"
create table __SCHEMA__.outbox (
    tenant_id     uuid not null,
    event_id      uuid not null,
    event_type    text not null,
    envelope      jsonb not null,
    occurred_at   timestamptz not null,
    published_at  timestamptz,
    attempts      integer not null default 0,
    available_at  timestamptz not null default now(),
    last_error    text,
    primary key (tenant_id, event_id)
);
create index outbox_pending on __SCHEMA__.outbox (available_at, occurred_at) where published_at is null;

alter table __SCHEMA__.outbox enable row level security;
alter table __SCHEMA__.outbox force row level security;
create policy tenant_isolation on __SCHEMA__.outbox
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.outbox_relay', true) = 'on')
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
                or current_setting('app.outbox_relay', true) = 'on');
grant usage on schema __SCHEMA__ to pp___SCHEMA__;
grant select, insert, update, delete on __SCHEMA__.outbox to pp___SCHEMA__;
"#,
};

/// Records `event` in the outbox of `schema`, in the caller's transaction: it is
/// published if and only if the transaction commits.
pub async fn record(
    tx: &mut TenantTx,
    schema: &'static str,
    event: &EventEnvelope,
) -> Result<(), sqlx::Error> {
    let envelope = serde_json::to_value(event).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    // `schema` is a constant of the calling service, never input.
    sqlx::query(&format!(
        "insert into {schema}.outbox (tenant_id, event_id, event_type, envelope, occurred_at)
         values ($1, $2, $3, $4, $5)"
    ))
    .bind(event.tenant_id)
    .bind(event.event_id)
    .bind(&event.event_type)
    .bind(envelope)
    .bind(event.occurred_at)
    .execute(tx.conn())
    .await
    .map(drop)
}

/// Records many events of one tenant's transaction in a single statement.
pub async fn record_many(
    tx: &mut TenantTx,
    schema: &'static str,
    events: &[EventEnvelope],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let mut tenants = Vec::with_capacity(events.len());
    let mut ids = Vec::with_capacity(events.len());
    let mut types = Vec::with_capacity(events.len());
    let mut envelopes = Vec::with_capacity(events.len());
    let mut times = Vec::with_capacity(events.len());
    for event in events {
        tenants.push(event.tenant_id);
        ids.push(event.event_id);
        types.push(event.event_type.clone());
        envelopes
            .push(serde_json::to_value(event).map_err(|err| sqlx::Error::Encode(Box::new(err)))?);
        times.push(event.occurred_at);
    }
    // `schema` is a constant of the calling service, never input.
    sqlx::query(&format!(
        "insert into {schema}.outbox (tenant_id, event_id, event_type, envelope, occurred_at)
         select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::timestamptz[])"
    ))
    .bind(&tenants)
    .bind(&ids)
    .bind(&types)
    .bind(&envelopes)
    .bind(&times)
    .execute(tx.conn())
    .await
    .map(drop)
}
