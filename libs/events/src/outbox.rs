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

/// The trace context of the change that recorded an event: the relay publishes it as
/// the `traceparent` attribute, so the consumers' spans join the request's trace.
pub const OUTBOX_TRACEPARENT_MIGRATION: Migration = Migration {
    version: 1001,
    name: "outbox_traceparent",
    sql: "alter table __SCHEMA__.outbox add column traceparent text;",
};

/// Bulk rows: one outbox row may carry many events of one tenant as newline-delimited
/// JSON envelopes in `batch` (then `envelope` is null and `events` counts them). The
/// relay publishes each line as its own message. This is how API request events are
/// recorded: one row per tenant and flush instead of one per RPC (a row, two index
/// entries and two updates per event were most of what recording cost).
pub const OUTBOX_BATCH_MIGRATION: Migration = Migration {
    version: 1002,
    name: "outbox_batch",
    sql: "
alter table __SCHEMA__.outbox alter column envelope drop not null;
alter table __SCHEMA__.outbox add column batch text;
alter table __SCHEMA__.outbox add column events integer not null default 1 check (events > 0);
alter table __SCHEMA__.outbox add constraint outbox_one_body
    check ((envelope is null) <> (batch is null));
-- lz4: JSON lines compress several-fold at little CPU (fewer TOAST chunks, less WAL).
alter table __SCHEMA__.outbox alter column batch set compression lz4;
",
};

/// Records `event` in the outbox of `schema`, in the caller's transaction: it is
/// published if and only if the transaction commits. The current span's trace
/// context travels with it.
pub async fn record(
    tx: &mut TenantTx,
    schema: &'static str,
    event: &EventEnvelope,
) -> pp_db::Result<()> {
    let envelope = serde_json::to_value(event).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    // `schema` is a constant of the calling service, never input.
    sqlx::query(&format!(
        "insert into {schema}.outbox (tenant_id, event_id, event_type, envelope, occurred_at, traceparent)
         values ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(event.tenant_id)
    .bind(event.event_id)
    .bind(&event.event_type)
    .bind(envelope)
    .bind(event.occurred_at)
    .bind(pp_telemetry::current_traceparent())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// An event already serialized as its envelope's JSON (see [`record_batch`]).
#[derive(Debug, Clone)]
pub struct SerializedEvent {
    pub tenant_id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub event_type: &'static str,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// The [`EventEnvelope`] as JSON, exactly as it will be published.
    pub envelope_json: String,
}

/// Records events of the transaction's tenant as one bulk row (see
/// [`OUTBOX_BATCH_MIGRATION`]): for high-volume writers (API request events) that
/// serialize a typed envelope straight to JSON. Published like any other event, one
/// message per event; `event_type` of the row is `batch`.
pub async fn record_batch(
    tx: &mut TenantTx,
    schema: &'static str,
    events: &[SerializedEvent],
) -> pp_db::Result<()> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    // The row is the first event's tenant's: events of another tenant would be
    // published from it, so a mixed batch is refused.
    if let Some(other) = events.iter().find(|e| e.tenant_id != first.tenant_id) {
        return Err(sqlx::Error::Encode(
            format!(
                "bulk outbox row of tenant {} holds an event of tenant {}",
                first.tenant_id, other.tenant_id
            )
            .into(),
        )
        .into());
    }
    let mut batch = String::with_capacity(events.iter().map(|e| e.envelope_json.len() + 1).sum());
    for event in events {
        debug_assert!(
            !event.envelope_json.contains('\n'),
            "compact JSON has no newline"
        );
        batch.push_str(&event.envelope_json);
        batch.push('\n');
    }
    let count = i32::try_from(events.len()).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    // `schema` is a constant of the calling service, never input.
    sqlx::query(&format!(
        "insert into {schema}.outbox (tenant_id, event_id, event_type, batch, events, occurred_at)
         values ($1, $2, 'batch', $3, $4, $5)"
    ))
    .bind(first.tenant_id)
    .bind(uuid::Uuid::now_v7())
    .bind(batch)
    .bind(count)
    .bind(first.occurred_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}
