-- Brands (stores) of a tenant.

create table brands.brands (
    tenant_id      uuid not null,
    brand_id       uuid not null,
    name           text not null check (length(name) between 1 and 200),
    domain         text not null default '',
    currency_code  text not null check (currency_code ~ '^[A-Z]{3}$'),
    time_zone      text not null,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    primary key (tenant_id, brand_id)
);
create unique index brands_tenant_name on brands.brands (tenant_id, lower(name));
create index brands_tenant_created on brands.brands (tenant_id, created_at, brand_id);

create table brands.idempotency_keys (
    tenant_id   uuid not null,
    scope       text not null,
    request_id  text not null,
    response    bytea not null,
    created_at  timestamptz not null default now(),
    primary key (tenant_id, scope, request_id)
);

alter table brands.brands enable row level security;
alter table brands.brands force row level security;
create policy tenant_isolation on brands.brands
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

alter table brands.idempotency_keys enable row level security;
alter table brands.idempotency_keys force row level security;
create policy tenant_isolation on brands.idempotency_keys
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant usage on schema brands to pp_brands, pp_insights, pp_integrations;
grant select, insert, update, delete on brands.brands, brands.idempotency_keys to pp_brands;
-- Other services read brand settings (currency, time zone) under their own RLS context.
grant select on brands.brands to pp_insights, pp_integrations;
