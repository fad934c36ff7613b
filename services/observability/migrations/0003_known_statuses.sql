-- Event statuses are one of three words (the service reads them as an enum): what a
-- producer sent besides "ok" and "partial" was stored as is until now and read as a
-- failure, so it is stored as "error". The owner is subject to the forced policies,
-- so they are lifted for the update inside this migration's transaction only.
alter table observability.events no force row level security;
update observability.events set status = 'error' where status not in ('ok', 'error', 'partial');
alter table observability.events force row level security;
alter table observability.events
    add constraint events_status_known check (status in ('ok', 'error', 'partial'));
