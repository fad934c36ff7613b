-- Login throttling counted before the password is checked (see domain/throttle.rs):
-- one row per counter ('pair:<client>|<email>', 'account:<email>', 'client:<client>'),
-- a fixed window each. Not tenant data: keyed by what was tried, read before any
-- tenant is known. Replaces the per-attempt log, which was read before hashing and
-- written after it (concurrent guesses all passed).
create table auth.login_throttle (
    key           text primary key,
    window_start  timestamptz not null,
    failures      integer not null check (failures >= 0)
);
create index login_throttle_window on auth.login_throttle (window_start);
grant select, insert, update, delete on auth.login_throttle to pp_auth;

drop table auth.login_attempts;
