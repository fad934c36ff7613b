#!/usr/bin/env bash
# Creates the Pulsepoint roles and the database DB (default: pulsepoint) owned by
# pulsepoint_owner. Runs as a PostgreSQL superuser (PULSEPOINT_ADMIN_URL, default the
# local postgres superuser over TCP). Idempotent.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
admin_url="${PULSEPOINT_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="${1:-pulsepoint}"

psql "${admin_url}" -v ON_ERROR_STOP=1 -q -f "${repo_root}/libs/db/sql/bootstrap.sql" >/dev/null
if [[ "$(psql "${admin_url}" -tAc "select 1 from pg_database where datname = '${db//\'/}'")" != "1" ]]; then
  psql "${admin_url}" -v ON_ERROR_STOP=1 -q -c "create database \"${db}\" owner pulsepoint_owner" >/dev/null
fi
# The owner creates the service schemas; nobody else may create anything.
psql "${admin_url%/*}/${db}" -v ON_ERROR_STOP=1 -q \
  -c "revoke create on schema public from public; grant create on database \"${db}\" to pulsepoint_owner" >/dev/null
