-- Alerts and alert rules (docs/alerts.md). Every table: tenant_id leads every key; RLS
-- enabled, forced and fail-closed, exactly as 0001.

-- A threshold rule on a catalogue metric of one brand. Deleting a rule removes its row;
-- the alerts it raised keep its id (no foreign key, so they outlive it).
create table insights.alert_rules (
    tenant_id      uuid not null,
    alert_rule_id  uuid not null,
    brand_id       uuid not null,
    display_name   text not null,
    -- A catalogue metric id (`pp_metrics::Metric::id`).
    metric         text not null,
    -- [{"dimension": "platform", "value": "META_ADS"}, …]
    filters        jsonb not null default '[]',
    condition      text not null check (condition in ('above', 'below', 'change_up', 'change_down')),
    threshold      double precision not null,
    window_seconds bigint not null check (window_seconds between 3600 and 7776000),
    severity       text not null check (severity in ('info', 'warning', 'critical')),
    enabled        boolean not null,
    created_by     uuid,
    created_at     timestamptz not null default now(),
    primary key (tenant_id, alert_rule_id)
);
create index alert_rules_by_brand on insights.alert_rules (tenant_id, brand_id, created_at, alert_rule_id);
create index alert_rules_by_time on insights.alert_rules (tenant_id, created_at, alert_rule_id);

-- A condition that fired. `condition_key` names the condition (`rule:<id>`,
-- `anomaly:net_revenue`, `stockout:<variant>`, `sync_failed:<integration>`,
-- `reauth:<integration>`); `day` is the brand-local day it fired. The unique key makes
-- "one alert per condition per brand per day" hold however many evaluators race
-- (insert … on conflict do nothing).
create table insights.alerts (
    tenant_id        uuid not null,
    alert_id         uuid not null,
    brand_id         uuid not null,
    alert_rule_id    uuid,
    kind             text not null check (kind in ('threshold', 'anomaly', 'stockout_risk', 'sync_failed', 'reauth_required')),
    condition_key    text not null,
    day              date not null,
    severity         text not null check (severity in ('info', 'warning', 'critical')),
    state            text not null default 'open' check (state in ('open', 'acknowledged', 'resolved')),
    title            text not null,
    message          text not null,
    -- The `pulsepoint.insights.v1.Figure` observed, protobuf-encoded (null when none).
    observed         bytea,
    threshold        double precision not null default 0,
    triggered_at     timestamptz not null default now(),
    acknowledged_at  timestamptz,
    acknowledged_by  uuid,
    note             text,
    resolved_at      timestamptz,
    primary key (tenant_id, alert_id),
    unique (tenant_id, brand_id, condition_key, day)
);
create index alerts_newest on insights.alerts (tenant_id, triggered_at desc, alert_id desc);
-- The evaluator looks up a condition's unresolved alert.
create index alerts_unresolved on insights.alerts (tenant_id, brand_id, condition_key)
    where state <> 'resolved';

do $$
declare
  t text;
begin
  foreach t in array array['alert_rules', 'alerts'] loop
    execute format('alter table insights.%I enable row level security', t);
    execute format('alter table insights.%I force row level security', t);
    execute format('create policy tenant_isolation on insights.%I
                        using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)
                        with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
  end loop;
end
$$;

grant select, insert, update, delete on insights.alert_rules, insights.alerts to pp_insights;
