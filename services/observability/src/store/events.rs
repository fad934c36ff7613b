//! The event store: inserting delivered events once, listing them.

use chrono::{DateTime, Utc};
use pp_db::{Cursor, PageRequest, TenantTx};
use pp_events::EventEnvelope;
use uuid::Uuid;

/// `observability.events.status`: how the event's operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum EventStatus {
    Ok,
    Error,
    Partial,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Ok => "ok",
            EventStatus::Error => "error",
            EventStatus::Partial => "partial",
        }
    }

    /// A producer's status string: `ok` and `partial` as such, anything else (`error`,
    /// `failed`, a producer's own word) is a failure.
    pub fn from_producer(status: &str) -> Self {
        match status {
            "ok" => EventStatus::Ok,
            "partial" => EventStatus::Partial,
            _ => EventStatus::Error,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub tenant_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub brand_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub request_id: Option<String>,
    pub status: EventStatus,
    pub payload: serde_json::Value,
}

impl From<&EventEnvelope> for EventRow {
    fn from(event: &EventEnvelope) -> Self {
        EventRow {
            tenant_id: event.tenant_id,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            occurred_at: event.occurred_at,
            brand_id: event.brand_id,
            user_id: event.user_id,
            request_id: event.request_id.clone(),
            status: EventStatus::from_producer(&event.status),
            payload: event.payload.clone(),
        }
    }
}

/// Stores the events (all of the transaction's tenant) once each: a redelivered or
/// republished event id is ignored. Returns the ids that were new.
pub async fn insert_events(
    tx: &mut TenantTx,
    events: &[&EventEnvelope],
) -> pp_db::Result<Vec<Uuid>> {
    let n = events.len();
    let (mut tenants, mut ids, mut types, mut times) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut brands, mut users, mut requests, mut statuses, mut payloads) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for event in events {
        tenants.push(event.tenant_id);
        ids.push(event.event_id);
        types.push(event.event_type.as_str());
        times.push(event.occurred_at);
        brands.push(event.brand_id);
        users.push(event.user_id);
        requests.push(event.request_id.as_deref());
        statuses.push(EventStatus::from_producer(&event.status).as_str());
        payloads.push(&event.payload);
    }
    sqlx::query_scalar(
        "insert into observability.events
            (tenant_id, event_id, event_type, occurred_at, brand_id, user_id, request_id, status, payload)
         select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::uuid[],
                              $6::uuid[], $7::text[], $8::text[], $9::jsonb[])
         on conflict (tenant_id, event_id) do nothing
         returning event_id",
    )
    .bind(&tenants)
    .bind(&ids)
    .bind(&types)
    .bind(&times)
    .bind(&brands)
    .bind(&users)
    .bind(&requests)
    .bind(&statuses)
    .bind(&payloads)
    .fetch_all(tx.conn())
    .await
    .map_err(Into::into)
}

/// Filters of ListEvents / StreamEvents, already validated.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_types: Vec<String>,
    pub brand_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub status: Option<EventStatus>,
    /// The token's brand scope: only events of these brands (tenant-level events, with
    /// no brand, are outside every scope). `None`: the whole tenant.
    pub brand_scope: Option<Vec<Uuid>>,
}

impl EventFilter {
    pub fn matches(&self, event: &EventRow) -> bool {
        (self.event_types.is_empty()
            || self
                .event_types
                .iter()
                .any(|t| type_matches(t, &event.event_type)))
            && self.brand_id.is_none_or(|b| event.brand_id == Some(b))
            && self.user_id.is_none_or(|u| event.user_id == Some(u))
            && self.start.is_none_or(|s| event.occurred_at >= s)
            && self.end.is_none_or(|e| event.occurred_at < e)
            && self.status.is_none_or(|s| event.status == s)
            && self
                .brand_scope
                .as_ref()
                .is_none_or(|scope| event.brand_id.is_some_and(|b| scope.contains(&b)))
    }
}

/// A type filter entry: the type itself, or, ending in ".", a prefix ("ai.").
fn type_matches(filter: &str, event_type: &str) -> bool {
    if filter.ends_with('.') {
        event_type.starts_with(filter)
    } else {
        event_type == filter
    }
}

/// Newest first, in [start, end) (both required here: the caller bounds the range).
pub async fn list_events(
    tx: &mut TenantTx,
    filter: &EventFilter,
    page: &PageRequest,
) -> pp_db::Result<(Vec<EventRow>, String)> {
    // First page: from the end of time PostgreSQL can store.
    let end_of_time = DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or_default();
    let (before_time, before_id) = page
        .after
        .map_or((end_of_time, Uuid::max()), |c| (c.created_at, c.id));
    let rows: Vec<EventRow> = sqlx::query_as(
        "select tenant_id, event_id, event_type, occurred_at, brand_id, user_id, request_id, status, payload
         from observability.events
         where (occurred_at, event_id) < ($1, $2)
           and (cardinality($3::text[]) = 0 or event_type = any($3)
                or exists (select 1 from unnest($3::text[]) as prefix
                           where right(prefix, 1) = '.' and starts_with(event_type, prefix)))
           and ($4::uuid is null or brand_id = $4)
           and ($5::uuid is null or user_id = $5)
           and occurred_at >= $6
           and occurred_at < $7
           and ($8::text is null or status = $8)
           and ($9::uuid[] is null or brand_id = any($9))
         order by occurred_at desc, event_id desc
         limit $10",
    )
    .bind(before_time)
    .bind(before_id)
    .bind(&filter.event_types)
    .bind(filter.brand_id)
    .bind(filter.user_id)
    .bind(filter.start.unwrap_or(DateTime::UNIX_EPOCH))
    .bind(filter.end.unwrap_or(end_of_time))
    .bind(filter.status.map(EventStatus::as_str))
    .bind(filter.brand_scope.as_deref())
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await?;
    Ok(page.finish(rows, |e| Cursor {
        created_at: e.occurred_at,
        id: e.event_id,
    }))
}
