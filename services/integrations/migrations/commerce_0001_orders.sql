-- The commerce schema: data synced from the platforms. Integrations writes it;
-- brands and insights read it. Amounts are integer micros of the order's currency.

create table commerce.orders (
    tenant_id          uuid not null,
    brand_id           uuid not null,
    order_id           uuid not null,
    platform_order_id  text not null,
    processed_at       timestamptz not null,
    currency_code      text not null check (currency_code ~ '^[A-Z]{3}$'),
    total_micros       bigint not null check (total_micros >= 0),
    refunded_micros    bigint not null default 0 check (refunded_micros >= 0),
    cancelled_at       timestamptz,
    created_at         timestamptz not null default now(),
    primary key (tenant_id, order_id),
    unique (tenant_id, brand_id, platform_order_id)
);
create index orders_brand_processed on commerce.orders (tenant_id, brand_id, processed_at);

alter table commerce.orders enable row level security;
alter table commerce.orders force row level security;
create policy tenant_isolation on commerce.orders
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant usage on schema commerce to pp_brands, pp_insights, pp_integrations;
grant select on commerce.orders to pp_brands, pp_insights;
grant select, insert, update, delete on commerce.orders to pp_integrations;
