#!/usr/bin/env bash
# Runs once, on the first start of the compose PostgreSQL (docker-entrypoint-initdb.d).
# Creates the roles of libs/db/sql/bootstrap.sql with random passwords: pulsepoint_owner (runs
# migrations, owns the schemas) and pp_<svc>, one login role per service that owns nothing;
# the migrations grant each role what it needs (insights' SELECT on brands and commerce is
# granted by the brands and integrations migrations).
# Passwords come from deploy/.secrets/postgres.env (written by deploy/dev-secrets.sh).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB}" \
  -v owner_pw="${PULSEPOINT_OWNER_PASSWORD}" \
  -v auth_pw="${PULSEPOINT_AUTH_DB_PASSWORD}" \
  -v brands_pw="${PULSEPOINT_BRANDS_DB_PASSWORD}" \
  -v integrations_pw="${PULSEPOINT_INTEGRATIONS_DB_PASSWORD}" \
  -v insights_pw="${PULSEPOINT_INSIGHTS_DB_PASSWORD}" \
  -v observability_pw="${PULSEPOINT_OBSERVABILITY_DB_PASSWORD}" <<'SQL'
CREATE ROLE pulsepoint_owner LOGIN PASSWORD :'owner_pw' NOSUPERUSER NOBYPASSRLS NOCREATEROLE;
ALTER DATABASE pulsepoint OWNER TO pulsepoint_owner;
REVOKE ALL ON DATABASE pulsepoint FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE ROLE pp_auth LOGIN PASSWORD :'auth_pw' NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOINHERIT;
CREATE ROLE pp_brands LOGIN PASSWORD :'brands_pw' NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOINHERIT;
CREATE ROLE pp_integrations LOGIN PASSWORD :'integrations_pw' NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOINHERIT;
CREATE ROLE pp_insights LOGIN PASSWORD :'insights_pw' NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOINHERIT;
CREATE ROLE pp_observability LOGIN PASSWORD :'observability_pw' NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOINHERIT;
GRANT CONNECT ON DATABASE pulsepoint TO pp_auth, pp_brands, pp_integrations, pp_insights,
  pp_observability;
SQL
