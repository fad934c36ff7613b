-- Cluster bootstrap for Pulsepoint: the roles. Run by a superuser (dev, tests) or by
-- the platform team (production, with real passwords from the secret store).
--
-- pulsepoint_owner owns the schemas and runs migrations. Each service logs in as its
-- own role that owns nothing, is not a superuser and cannot bypass RLS.
do $$
declare
  service text;
begin
  -- Serialise concurrent bootstraps (parallel test processes).
  perform pg_advisory_xact_lock(774411);
  if not exists (select 1 from pg_roles where rolname = 'pulsepoint_owner') then
    create role pulsepoint_owner login password 'pulsepoint_owner_dev'
      nosuperuser nobypassrls nocreaterole;
  end if;
  foreach service in array array['auth', 'brands', 'integrations', 'insights', 'observability'] loop
    if not exists (select 1 from pg_roles where rolname = 'pp_' || service) then
      execute format(
        'create role %I login password %L nosuperuser nobypassrls nocreaterole nocreatedb noinherit',
        'pp_' || service, 'pp_' || service || '_dev');
    end if;
  end loop;
end
$$;
