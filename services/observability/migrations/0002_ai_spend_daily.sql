-- Running AI spend per tenant and UTC day, kept by the ingester in the transaction that
-- stores each ai.model_called event (once per event: only newly stored events count).
-- CheckBudget reads at most 31 rows of it instead of summing the period's events.

create table observability.ai_spend_daily (
    tenant_id    uuid not null,
    day          date not null,
    cost_micros  bigint not null default 0,
    calls        bigint not null default 0,
    primary key (tenant_id, day)
);

alter table observability.ai_spend_daily enable row level security;
alter table observability.ai_spend_daily force row level security;
create policy tenant_isolation on observability.ai_spend_daily
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
grant select, insert, update on observability.ai_spend_daily to pp_observability;

-- Events stored before this table existed. The owner is subject to the forced policies
-- like everyone else, so they are lifted for the backfill inside this migration's
-- transaction only.
alter table observability.events no force row level security;
alter table observability.ai_spend_daily no force row level security;
insert into observability.ai_spend_daily (tenant_id, day, cost_micros, calls)
select tenant_id, (occurred_at at time zone 'UTC')::date,
       coalesce(sum((payload->>'cost_micros')::bigint), 0), count(*)
from observability.events
where event_type = 'ai.model_called'
group by 1, 2;
alter table observability.events force row level security;
alter table observability.ai_spend_daily force row level security;
