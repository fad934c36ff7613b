-- The event store: every event of every service, once per event id.

create table observability.events (
    tenant_id    uuid not null,
    event_id     uuid not null,
    event_type   text not null,
    occurred_at  timestamptz not null,
    brand_id     uuid,
    user_id      uuid,
    request_id   text,
    status       text not null default 'ok',
    payload      jsonb not null default '{}',
    received_at  timestamptz not null default now(),
    primary key (tenant_id, event_id)
);
create index events_tenant_time on observability.events (tenant_id, occurred_at desc, event_id desc);
create index events_tenant_type_time on observability.events (tenant_id, event_type, occurred_at);

-- One budget per tenant (brand budgets are a later addition).
create table observability.cost_budgets (
    tenant_id      uuid primary key,
    period         text not null check (period in ('daily', 'monthly')),
    limit_micros   bigint not null check (limit_micros > 0),
    currency_code  text not null check (currency_code ~ '^[A-Z]{3}$'),
    warning_ratio  double precision not null check (warning_ratio > 0 and warning_ratio < 1),
    enforcement    text not null check (enforcement in ('warn_only', 'block')),
    updated_by     uuid,
    updated_at     timestamptz not null default now()
);

-- Alerts already raised: one per tenant, period and threshold.
create table observability.budget_alerts (
    tenant_id     uuid not null,
    period_start  timestamptz not null,
    threshold     text not null check (threshold in ('warning', 'limit')),
    created_at    timestamptz not null default now(),
    primary key (tenant_id, period_start, threshold)
);

create table observability.idempotency_keys (
    tenant_id   uuid not null,
    scope       text not null,
    request_id  text not null,
    response    bytea not null,
    created_at  timestamptz not null default now(),
    primary key (tenant_id, scope, request_id)
);

do $$
declare
    t text;
begin
    foreach t in array array['events', 'cost_budgets', 'budget_alerts', 'idempotency_keys'] loop
        execute format('alter table observability.%I enable row level security', t);
        execute format('alter table observability.%I force row level security', t);
        execute format($p$create policy tenant_isolation on observability.%I
            using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
            with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$p$, t);
        execute format('grant select, insert, update, delete on observability.%I to pp_observability', t);
    end loop;
end
$$;
grant usage on schema observability to pp_observability;
