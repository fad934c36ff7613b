-- Demo orders for the seeded tenant's brands: 60 days, a few orders a day, some
-- refunded, some cancelled. Run as the integrations role (the commerce writer), inside
-- the tenant's RLS context. Idempotent by (brand, platform order id).
begin;
select set_config('app.tenant_id', :'tenant', true);
insert into commerce.orders
    (tenant_id, brand_id, order_id, platform_order_id, processed_at, currency_code,
     total_micros, refunded_micros, cancelled_at)
select b.tenant_id, b.brand_id, gen_random_uuid(),
       'demo-' || day || '-' || n,
       now() - make_interval(days => day, hours => n * 3),
       b.currency_code,
       (20 + ((day * 7 + n * 13 + abs(hashtext(b.name)) % 41) % 90)) * 1000000 + ((day * 31 + n) % 100) * 10000,
       case when (day + n) % 17 = 0 then 10 * 1000000 else 0 end,
       case when (day + n) % 23 = 0 then now() else null end
from brands.brands b
cross join generate_series(0, 59) as day
cross join generate_series(1, 4) as n
where (day + n + abs(hashtext(b.name)) % 5) % 6 <> 0
on conflict (tenant_id, brand_id, platform_order_id) do nothing;
commit;
