-- Connections to the platforms, their OAuth handshakes, sync runs and the work queue.
-- Every table is tenant-scoped with RLS enabled, forced and fail-closed. Two narrow
-- pre-tenant lookups exist, each opened by one `app.*` setting (pp_db::Lookup):
--   app.sync_worker = 'on'  lets a worker see the queue and schedule rows (ids and
--                           times only) of every tenant, to lease work;
--   app.shop_domain = shop  lets the webhook route see the Shopify integration of
--                           that one shop, to resolve its tenant;
--   app.key_rotation = 'on' lets `pulsepoint-integrations reencrypt` re-seal every
--                           integration's credentials under the active key.

create or replace function integrations.current_tenant() returns uuid
    language sql stable
    as $$ select nullif(current_setting('app.tenant_id', true), '')::uuid $$;

create table integrations.integrations (
    tenant_id           uuid not null,
    integration_id      uuid not null,
    brand_id            uuid not null,
    platform            text not null check (platform in ('shopify', 'meta', 'tiktok', 'google_ads')),
    status              text not null check (status in ('pending', 'connected', 'error', 'reauth_required', 'disconnected')),
    external_account_id text not null,
    display_name        text not null default '',
    currency_code       text check (currency_code ~ '^[A-Z]{3}$'),
    time_zone           text,
    scopes              text[] not null default '{}',
    demo                boolean not null default false,
    demo_seed           bigint,
    demo_history_days   integer,
    -- pp_vault blob of the serialised credentials; associated data = tenant id +
    -- integration id. Null for demo stores and once disconnected.
    credentials         bytea,
    credentials_key_id  text,
    token_expires_at    timestamptz,
    -- Incremental high-water marks per entity (e.g. orders' updated_at), advanced
    -- only when a run succeeds.
    sync_state          jsonb not null default '{}',
    last_sync_at        timestamptz,
    last_sync_run_id    uuid,
    error_reason        text,
    error_message       text,
    connected_by        uuid,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    disconnected_at     timestamptz,
    primary key (tenant_id, integration_id)
);
create unique index integrations_one_live_account
    on integrations.integrations (tenant_id, brand_id, platform, external_account_id)
    where status <> 'disconnected';
create index integrations_brand on integrations.integrations (tenant_id, brand_id, created_at desc);
create index integrations_shop on integrations.integrations (external_account_id) where platform = 'shopify';

create table integrations.oauth_states (
    tenant_id      uuid not null,
    -- sha256 of the random state handed to the provider (the state itself is not kept).
    state_hash     bytea not null,
    user_id        uuid not null,
    brand_id       uuid not null,
    platform       text not null check (platform in ('shopify', 'meta', 'tiktok', 'google_ads')),
    redirect_uri   text not null,
    shop_domain    text,
    -- PKCE verifier (Google), sealed like a token.
    pkce_verifier  bytea,
    expires_at     timestamptz not null,
    used_at        timestamptz,
    created_at     timestamptz not null default now(),
    primary key (tenant_id, state_hash)
);

create table integrations.sync_runs (
    tenant_id        uuid not null,
    sync_run_id      uuid not null,
    integration_id   uuid not null,
    brand_id         uuid not null,
    platform         text not null,
    mode             text not null check (mode in ('incremental', 'full')),
    trigger          text not null check (trigger in ('initial', 'manual', 'scheduled', 'webhook')),
    state            text not null check (state in ('queued', 'running', 'succeeded', 'partial', 'failed', 'cancelled')),
    -- [{entity, fetched, written, done, cursor}] in sync order; a resumed run starts
    -- each unfinished entity from its cursor.
    entities         jsonb not null default '[]',
    percent_complete integer not null default 0,
    data_as_of       timestamptz,
    error_reason     text,
    error_message    text,
    triggered_by     uuid,
    backfill_start   date,
    backfill_end     date,
    attempts         integer not null default 0,
    created_at       timestamptz not null default now(),
    started_at       timestamptz,
    ended_at         timestamptz,
    updated_at       timestamptz not null default now(),
    primary key (tenant_id, sync_run_id),
    foreign key (tenant_id, integration_id) references integrations.integrations (tenant_id, integration_id)
);
-- At most one queued or running run per integration: TriggerSync returns it.
create unique index sync_runs_one_active on integrations.sync_runs (tenant_id, integration_id)
    where state in ('queued', 'running');
create index sync_runs_recent on integrations.sync_runs (tenant_id, created_at desc, sync_run_id desc);

-- The work queue: one row per queued or running run, deleted with its terminal state.
create table integrations.sync_queue (
    tenant_id        uuid not null,
    sync_run_id      uuid not null,
    integration_id   uuid not null,
    available_at     timestamptz not null default now(),
    lease_owner      uuid,
    lease_expires_at timestamptz,
    primary key (tenant_id, sync_run_id),
    foreign key (tenant_id, sync_run_id) references integrations.sync_runs (tenant_id, sync_run_id) on delete cascade
);
create index sync_queue_due on integrations.sync_queue (available_at);

-- When each connected integration next syncs on its own.
create table integrations.sync_schedule (
    tenant_id      uuid not null,
    integration_id uuid not null,
    every          interval not null default '1 hour',
    next_run_at    timestamptz not null,
    primary key (tenant_id, integration_id),
    foreign key (tenant_id, integration_id) references integrations.integrations (tenant_id, integration_id) on delete cascade
);
create index sync_schedule_due on integrations.sync_schedule (next_run_at);

create table integrations.webhook_deliveries (
    tenant_id   uuid not null,
    webhook_id  text not null,
    topic       text not null,
    event_id    text,
    received_at timestamptz not null default now(),
    primary key (tenant_id, webhook_id)
);

do $$
declare
  t text;
begin
  foreach t in array array['integrations', 'oauth_states', 'sync_runs', 'sync_queue', 'sync_schedule', 'webhook_deliveries'] loop
    execute format('alter table integrations.%I enable row level security', t);
    execute format('alter table integrations.%I force row level security', t);
    execute format('create policy tenant_isolation on integrations.%I
                        using (tenant_id = integrations.current_tenant())
                        with check (tenant_id = integrations.current_tenant())', t);
    execute format('grant select, insert, update, delete on integrations.%I to pp_integrations', t);
  end loop;
end
$$;

create policy sync_worker on integrations.sync_queue
    using (nullif(current_setting('app.sync_worker', true), '') = 'on');
create policy sync_worker on integrations.sync_schedule
    using (nullif(current_setting('app.sync_worker', true), '') = 'on');
create policy shop_lookup on integrations.integrations for select
    using (platform = 'shopify'
           and external_account_id = nullif(current_setting('app.shop_domain', true), ''));

create policy key_rotation on integrations.integrations
    using (nullif(current_setting('app.key_rotation', true), '') = 'on');

grant usage on schema integrations to pp_integrations;
grant execute on function integrations.current_tenant() to pp_integrations;
