-- Everything the connectors sync, keyed by the platforms' own ids so a re-read is an
-- idempotent upsert. Every table: tenant_id leads every key; RLS enabled, forced and
-- fail-closed; integrations writes, brands and insights read. Amounts are integer
-- micros of the row's currency. docs/data-model.md maps each column to its source.

create or replace function commerce.current_tenant() returns uuid
    language sql stable
    as $$ select nullif(current_setting('app.tenant_id', true), '')::uuid $$;

alter table commerce.orders
    add column integration_id     uuid,
    add column name               text not null default '',
    add column platform_created_at timestamptz,
    add column platform_updated_at timestamptz,
    add column subtotal_micros    bigint not null default 0,
    add column discounts_micros   bigint not null default 0 check (discounts_micros >= 0),
    add column shipping_micros    bigint not null default 0 check (shipping_micros >= 0),
    add column tax_micros         bigint not null default 0 check (tax_micros >= 0),
    add column test               boolean not null default false,
    add column platform_customer_id text,
    add column source_name        text,
    add column landing_site       text,
    add column referring_site     text,
    add column utm_source         text,
    add column utm_medium         text,
    add column utm_campaign       text,
    add column utm_content        text,
    add column utm_term           text,
    add column synced_at          timestamptz not null default now();
create index orders_customer on commerce.orders (tenant_id, brand_id, platform_customer_id, processed_at);
create index orders_integration on commerce.orders (tenant_id, integration_id);

create table commerce.order_lines (
    tenant_id           uuid not null,
    brand_id            uuid not null,
    order_id            uuid not null,
    platform_line_id    text not null,
    platform_product_id text,
    platform_variant_id text,
    sku                 text,
    title               text not null,
    quantity            integer not null check (quantity >= 0),
    unit_price_micros   bigint not null check (unit_price_micros >= 0),
    discount_micros     bigint not null default 0 check (discount_micros >= 0),
    primary key (tenant_id, order_id, platform_line_id),
    foreign key (tenant_id, order_id) references commerce.orders (tenant_id, order_id) on delete cascade
);
create index order_lines_variant on commerce.order_lines (tenant_id, brand_id, platform_variant_id);

create table commerce.refunds (
    tenant_id          uuid not null,
    brand_id           uuid not null,
    order_id           uuid not null,
    platform_refund_id text not null,
    refunded_at        timestamptz not null,
    currency_code      text not null check (currency_code ~ '^[A-Z]{3}$'),
    amount_micros      bigint not null check (amount_micros >= 0),
    primary key (tenant_id, order_id, platform_refund_id),
    foreign key (tenant_id, order_id) references commerce.orders (tenant_id, order_id) on delete cascade
);
create index refunds_brand_date on commerce.refunds (tenant_id, brand_id, refunded_at);

create table commerce.refund_lines (
    tenant_id          uuid not null,
    order_id           uuid not null,
    platform_refund_id text not null,
    platform_line_id   text not null,
    quantity           integer not null check (quantity >= 0),
    subtotal_micros    bigint not null check (subtotal_micros >= 0),
    primary key (tenant_id, order_id, platform_refund_id, platform_line_id),
    foreign key (tenant_id, order_id, platform_refund_id)
        references commerce.refunds (tenant_id, order_id, platform_refund_id) on delete cascade
);

create table commerce.touchpoints (
    tenant_id            uuid not null,
    brand_id             uuid not null,
    order_id             uuid not null,
    position             integer not null check (position >= 0),
    occurred_at          timestamptz not null,
    channel              text not null check (channel in ('paid_social', 'paid_search', 'email', 'organic', 'referral', 'direct')),
    platform             text check (platform in ('shopify', 'meta', 'tiktok', 'google_ads')),
    platform_campaign_id text,
    utm_source           text,
    utm_medium           text,
    utm_campaign         text,
    utm_content          text,
    utm_term             text,
    primary key (tenant_id, order_id, position),
    foreign key (tenant_id, order_id) references commerce.orders (tenant_id, order_id) on delete cascade
);
create index touchpoints_campaign on commerce.touchpoints (tenant_id, brand_id, platform, platform_campaign_id);

create table commerce.customers (
    tenant_id            uuid not null,
    brand_id             uuid not null,
    platform_customer_id text not null,
    integration_id       uuid,
    platform_created_at  timestamptz,
    -- min(processed_at) over the customer's synced non-test orders: a customer is new
    -- in a period when this falls inside it.
    first_order_at       timestamptz not null,
    primary key (tenant_id, brand_id, platform_customer_id)
);

create table commerce.products (
    tenant_id           uuid not null,
    brand_id            uuid not null,
    platform_product_id text not null,
    integration_id      uuid,
    title               text not null,
    vendor              text,
    product_type        text,
    status              text not null,
    platform_updated_at timestamptz not null,
    synced_at           timestamptz not null default now(),
    primary key (tenant_id, brand_id, platform_product_id)
);

create table commerce.variants (
    tenant_id                  uuid not null,
    brand_id                   uuid not null,
    platform_variant_id        text not null,
    platform_product_id        text not null,
    platform_inventory_item_id text,
    sku                        text,
    title                      text not null,
    currency_code              text not null check (currency_code ~ '^[A-Z]{3}$'),
    price_micros               bigint not null check (price_micros >= 0),
    unit_cost_micros           bigint check (unit_cost_micros >= 0),
    lead_time_days             integer check (lead_time_days >= 0),
    primary key (tenant_id, brand_id, platform_variant_id),
    foreign key (tenant_id, brand_id, platform_product_id)
        references commerce.products (tenant_id, brand_id, platform_product_id) on delete cascade
);
create index variants_inventory_item on commerce.variants (tenant_id, brand_id, platform_inventory_item_id);

create table commerce.inventory_levels (
    tenant_id                  uuid not null,
    brand_id                   uuid not null,
    platform_inventory_item_id text not null,
    platform_location_id       text not null,
    integration_id             uuid,
    location_name              text not null,
    available                  bigint not null,
    platform_updated_at        timestamptz not null,
    synced_at                  timestamptz not null default now(),
    primary key (tenant_id, brand_id, platform_inventory_item_id, platform_location_id)
);

create table commerce.campaigns (
    tenant_id            uuid not null,
    brand_id             uuid not null,
    platform             text not null check (platform in ('meta', 'tiktok', 'google_ads')),
    platform_campaign_id text not null,
    integration_id       uuid,
    name                 text not null,
    status               text,
    synced_at            timestamptz not null default now(),
    primary key (tenant_id, brand_id, platform, platform_campaign_id)
);

create table commerce.ad_spend_daily (
    tenant_id               uuid not null,
    brand_id                uuid not null,
    platform                text not null check (platform in ('meta', 'tiktok', 'google_ads')),
    platform_campaign_id    text not null,
    spend_date              date not null,
    integration_id          uuid,
    currency_code           text not null check (currency_code ~ '^[A-Z]{3}$'),
    spend_micros            bigint not null check (spend_micros >= 0),
    impressions             bigint not null check (impressions >= 0),
    clicks                  bigint not null check (clicks >= 0),
    conversions             double precision not null default 0,
    conversion_value_micros bigint not null default 0 check (conversion_value_micros >= 0),
    synced_at               timestamptz not null default now(),
    primary key (tenant_id, brand_id, platform, platform_campaign_id, spend_date)
);
create index ad_spend_brand_date on commerce.ad_spend_daily (tenant_id, brand_id, spend_date);

do $$
declare
  t text;
begin
  foreach t in array array['order_lines', 'refunds', 'refund_lines', 'touchpoints', 'customers',
                           'products', 'variants', 'inventory_levels', 'campaigns', 'ad_spend_daily'] loop
    execute format('alter table commerce.%I enable row level security', t);
    execute format('alter table commerce.%I force row level security', t);
    execute format('create policy tenant_isolation on commerce.%I
                        using (tenant_id = commerce.current_tenant())
                        with check (tenant_id = commerce.current_tenant())', t);
    execute format('grant select on commerce.%I to pp_brands, pp_insights', t);
    execute format('grant select, insert, update, delete on commerce.%I to pp_integrations', t);
  end loop;
end
$$;
grant execute on function commerce.current_tenant() to pp_brands, pp_insights, pp_integrations;
