-- The insights schema: daily rollups of the commerce data (which this service only
-- reads), what has been refreshed, and which sync events were handled. Every table:
-- tenant_id leads every key; RLS enabled, forced and fail-closed. Amounts are integer
-- micros of the brand's currency. docs/metrics.md defines every column's figure.

-- Sales per brand-local day and sales channel (the order's `source_name`).
create table insights.daily_sales (
    tenant_id                     uuid not null,
    brand_id                      uuid not null,
    day                           date not null,
    sales_channel                 text not null,
    gross_sales_micros            bigint not null,
    discounts_micros              bigint not null,
    refunds_micros                bigint not null,
    orders                        bigint not null,
    units                         bigint not null,
    units_refunded                bigint not null,
    cogs_micros                   bigint not null,
    refunded_cogs_micros          bigint not null,
    new_customers                 bigint not null,
    new_customer_revenue_micros   bigint not null,
    returning_customer_orders     bigint not null,
    returning_customer_revenue_micros bigint not null,
    primary key (tenant_id, brand_id, day, sales_channel)
);

-- Ad spend per ad-account day, platform and campaign.
create table insights.daily_ad_spend (
    tenant_id               uuid not null,
    brand_id                uuid not null,
    day                     date not null,
    platform                text not null,
    campaign_id             text not null,
    spend_micros            bigint not null,
    impressions             bigint not null,
    clicks                  bigint not null,
    conversions             double precision not null,
    conversion_value_micros bigint not null,
    primary key (tenant_id, brand_id, day, platform, campaign_id)
);

-- Units and sales per brand-local day and product variant (SKU).
create table insights.daily_sku_sales (
    tenant_id          uuid not null,
    brand_id           uuid not null,
    day                date not null,
    variant_id         text not null,
    product_id         text not null,
    sku                text not null,
    units              bigint not null,
    units_refunded     bigint not null,
    gross_sales_micros bigint not null,
    discounts_micros   bigint not null,
    refunds_micros     bigint not null,
    cogs_micros        bigint not null,
    primary key (tenant_id, brand_id, day, variant_id)
);

-- Per brand: up to when the commerce rows were read into the rollups.
create table insights.rollup_state (
    tenant_id     uuid not null,
    brand_id      uuid not null,
    -- Commerce rows synced before this instant are in the rollups.
    synced_until  timestamptz not null,
    refreshed_at  timestamptz not null default now(),
    primary key (tenant_id, brand_id)
);

-- Sync events already handled (deliveries are at least once).
create table insights.handled_events (
    tenant_id   uuid not null,
    event_id    uuid not null,
    handled_at  timestamptz not null default now(),
    primary key (tenant_id, event_id)
);

do $$
declare
  t text;
begin
  foreach t in array array['daily_sales', 'daily_ad_spend', 'daily_sku_sales', 'handled_events'] loop
    execute format('alter table insights.%I enable row level security', t);
    execute format('alter table insights.%I force row level security', t);
    execute format('create policy tenant_isolation on insights.%I
                        using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)
                        with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
  end loop;
end
$$;

-- The scheduled sweep lists which brands to refresh (ids only) across tenants, then
-- refreshes each inside that tenant's own context.
alter table insights.rollup_state enable row level security;
alter table insights.rollup_state force row level security;
create policy tenant_isolation on insights.rollup_state
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy rollup_sweep on insights.rollup_state for select
    using (current_setting('app.rollup_sweep', true) = 'on');

grant usage on schema insights to pp_insights;
grant select, insert, update, delete on insights.daily_sales, insights.daily_ad_spend,
    insights.daily_sku_sales, insights.rollup_state, insights.handled_events to pp_insights;
