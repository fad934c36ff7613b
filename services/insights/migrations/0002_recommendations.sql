-- Recommendations: restock and budget moves generated after each sync and by the sweep,
-- decided (accepted or dismissed) by users, and measured afterwards. tenant_id leads
-- every key; RLS enabled, forced and fail-closed. Amounts are integer micros of the
-- brand's currency.

create table insights.recommendations (
    tenant_id              uuid not null,
    recommendation_id      uuid not null,
    brand_id               uuid not null,
    kind                   text not null check (kind in ('restock', 'shift_budget')),
    -- What it is about: the variant id for a restock, "from>to" campaigns for a budget
    -- move. At most one open recommendation per brand, kind and subject.
    subject                text not null,
    state                  text not null check (state in ('open', 'accepted', 'dismissed', 'expired')),
    priority               text not null check (priority in ('low', 'medium', 'high')),
    title                  text not null,
    rationale              text not null,
    -- Each an encoded pulsepoint.insights.v1.Figure.
    evidence               bytea[] not null,
    currency_code          text not null check (currency_code ~ '^[A-Z]{3}$'),
    expected_impact_micros bigint not null,
    confidence             double precision not null check (confidence between 0 and 1),
    -- restock
    product_id             text,
    variant_id             text,
    sku                    text,
    units                  bigint,
    order_by_date          date,
    stockout_date          date,
    -- shift_budget (platforms as the commerce schema names them)
    from_platform          text,
    from_campaign_id       text,
    to_platform            text,
    to_campaign_id         text,
    daily_amount_micros    bigint,
    create_time            timestamptz not null default now(),
    update_time            timestamptz not null default now(),
    expire_time            timestamptz not null,
    decide_time            timestamptz,
    -- The decision's day in the brand's time zone: the outcome is measured around it.
    decide_day             date,
    decided_by_user_id     uuid,
    dismiss_reason         text check (dismiss_reason in ('not_relevant', 'already_done', 'disagree', 'other')),
    decision_note          text not null default '',
    -- The measured outcome (accepted only): null until measured.
    outcome_succeeded      boolean,
    outcome_summary        text,
    -- Each an encoded pulsepoint.insights.v1.Figure.
    outcome_figures        bytea[],
    outcome_time           timestamptz,
    primary key (tenant_id, recommendation_id)
);
create unique index recommendations_one_open
    on insights.recommendations (tenant_id, brand_id, kind, subject) where state = 'open';
create index recommendations_list
    on insights.recommendations (tenant_id, brand_id, state, create_time desc);

alter table insights.recommendations enable row level security;
alter table insights.recommendations force row level security;
create policy tenant_isolation on insights.recommendations
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update, delete on insights.recommendations to pp_insights;
