-- Identity: tenants, users, sessions, refresh tokens, revocations, API keys.
-- Every tenant table: tenant_id in every key, RLS enabled and forced, policies that
-- fail closed (no app.tenant_id → no rows, no writes).

create table auth.tenants (
    tenant_id   uuid primary key,
    name        text not null check (length(name) between 1 and 200),
    status      text not null default 'active' check (status in ('active', 'suspended')),
    created_at  timestamptz not null default now()
);

create table auth.users (
    tenant_id      uuid not null references auth.tenants (tenant_id),
    user_id        uuid not null,
    email          text not null,
    display_name   text not null default '',
    role           text not null check (role in ('admin', 'manager', 'analyst', 'api_client')),
    status         text not null default 'active' check (status in ('active', 'deactivated')),
    password_hash  text,
    created_at     timestamptz not null default now(),
    primary key (tenant_id, user_id)
);
create unique index users_tenant_email on auth.users (tenant_id, lower(email));
create index users_email on auth.users (lower(email));

-- A session is a refresh-token family (kind login) or an API key (kind api_key).
create table auth.sessions (
    tenant_id   uuid not null,
    session_id  uuid not null,
    user_id     uuid not null,
    kind        text not null check (kind in ('login', 'api_key')),
    created_at  timestamptz not null default now(),
    revoked_at  timestamptz,
    primary key (tenant_id, session_id),
    foreign key (tenant_id, user_id) references auth.users (tenant_id, user_id)
);

create table auth.refresh_tokens (
    tenant_id    uuid not null,
    token_id     uuid not null,
    session_id   uuid not null,
    secret_hash  bytea not null,
    expires_at   timestamptz not null,
    used_at      timestamptz,
    created_at   timestamptz not null default now(),
    primary key (tenant_id, token_id),
    foreign key (tenant_id, session_id) references auth.sessions (tenant_id, session_id)
);

create table auth.revoked_tokens (
    tenant_id   uuid not null,
    jti         uuid not null,
    expires_at  timestamptz not null,
    primary key (tenant_id, jti)
);

create table auth.api_keys (
    tenant_id     uuid not null,
    api_key_id    uuid not null,
    user_id       uuid not null,
    name          text not null,
    prefix        text not null,
    secret_hash   bytea not null,
    created_at    timestamptz not null default now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    primary key (tenant_id, api_key_id),
    foreign key (tenant_id, user_id) references auth.users (tenant_id, user_id)
);

-- Idempotency: the first response to (scope, request_id) is replayed to retries.
create table auth.idempotency_keys (
    tenant_id   uuid not null,
    scope       text not null,
    request_id  text not null,
    response    bytea not null,
    created_at  timestamptz not null default now(),
    primary key (tenant_id, scope, request_id)
);

-- Login throttling. Not tenant data: attempts are keyed by the email and IP tried.
create table auth.login_attempts (
    attempt_id  bigint generated always as identity primary key,
    email       text not null,
    client_ip   text not null,
    succeeded   boolean not null,
    at          timestamptz not null default now()
);
create index login_attempts_email on auth.login_attempts (email, at);
create index login_attempts_ip on auth.login_attempts (client_ip, at);

-- Row-level security: enabled and forced on every table with a tenant_id; the plain
-- tables get the plain fail-closed policy, the three lookup tables theirs below.
do $$
declare
    t text;
begin
    foreach t in array array['tenants', 'users', 'sessions', 'refresh_tokens', 'revoked_tokens',
                             'api_keys', 'idempotency_keys'] loop
        execute format('alter table auth.%I enable row level security', t);
        execute format('alter table auth.%I force row level security', t);
    end loop;
    foreach t in array array['tenants', 'sessions', 'revoked_tokens', 'idempotency_keys'] loop
        execute format($p$create policy tenant_isolation on auth.%I
            using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
            with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$p$, t);
    end loop;
end
$$;

-- A login (app.login_email set, no tenant yet) may see the users with that email.
create policy tenant_isolation on auth.users
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or lower(email) = nullif(current_setting('app.login_email', true), ''))
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- A refresh (app.refresh_token_id set) may see that one token.
create policy tenant_isolation on auth.refresh_tokens
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or token_id = nullif(current_setting('app.refresh_token_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- An API key exchange (app.api_key_id set) may see that one key.
create policy tenant_isolation on auth.api_keys
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or api_key_id = nullif(current_setting('app.api_key_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Token state for every service: the only window other services have into auth.
create function auth.token_state(p_tenant uuid, p_user uuid, p_jti uuid, p_session uuid)
returns text
language plpgsql volatile security definer
set search_path = pg_catalog, auth
as $$
declare
    previous text := current_setting('app.tenant_id', true);
    tenant_status text;
    user_status text;
    result text := 'active';
begin
    perform set_config('app.tenant_id', p_tenant::text, true);
    select status into tenant_status from auth.tenants where tenant_id = p_tenant;
    select status into user_status from auth.users where tenant_id = p_tenant and user_id = p_user;
    if tenant_status is distinct from 'active' then
        result := 'tenant_inactive';
    elsif user_status is distinct from 'active' then
        result := 'user_inactive';
    elsif exists (select 1 from auth.revoked_tokens where tenant_id = p_tenant and jti = p_jti)
       or (p_session is not null and exists (
              select 1 from auth.sessions
              where tenant_id = p_tenant and session_id = p_session and revoked_at is not null)) then
        result := 'revoked';
    end if;
    perform set_config('app.tenant_id', coalesce(previous, ''), true);
    return result;
end
$$;

revoke all on function auth.token_state(uuid, uuid, uuid, uuid) from public;
grant usage on schema auth to pp_auth, pp_brands, pp_integrations, pp_insights, pp_observability;
grant execute on function auth.token_state(uuid, uuid, uuid, uuid)
    to pp_auth, pp_brands, pp_integrations, pp_insights, pp_observability;
grant select, insert, update, delete on all tables in schema auth to pp_auth;
revoke all on auth.schema_migrations from pp_auth;
