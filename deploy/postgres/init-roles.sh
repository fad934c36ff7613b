#!/usr/bin/env bash
# Runs once, on the first start of the compose PostgreSQL (docker-entrypoint-initdb.d).
# Creates the owner role (runs migrations, owns the schemas) and one login role per service
# that owns nothing; each service's migrations grant its own role what it needs.
# Passwords come from deploy/.secrets/postgres.env (written by deploy/dev-secrets.sh).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB}" \
  -v owner_pw="${PULSEPOINT_OWNER_PASSWORD}" \
  -v auth_pw="${PULSEPOINT_AUTH_DB_PASSWORD}" \
  -v brands_pw="${PULSEPOINT_BRANDS_DB_PASSWORD}" \
  -v integrations_pw="${PULSEPOINT_INTEGRATIONS_DB_PASSWORD}" \
  -v insights_pw="${PULSEPOINT_INSIGHTS_DB_PASSWORD}" \
  -v observability_pw="${PULSEPOINT_OBSERVABILITY_DB_PASSWORD}" <<'SQL'
CREATE ROLE pulsepoint_owner LOGIN PASSWORD :'owner_pw';
ALTER DATABASE pulsepoint OWNER TO pulsepoint_owner;
REVOKE ALL ON DATABASE pulsepoint FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE ROLE pulsepoint_auth LOGIN NOINHERIT PASSWORD :'auth_pw';
CREATE ROLE pulsepoint_brands LOGIN NOINHERIT PASSWORD :'brands_pw';
CREATE ROLE pulsepoint_integrations LOGIN NOINHERIT PASSWORD :'integrations_pw';
CREATE ROLE pulsepoint_insights LOGIN NOINHERIT PASSWORD :'insights_pw';
CREATE ROLE pulsepoint_observability LOGIN NOINHERIT PASSWORD :'observability_pw';
GRANT CONNECT ON DATABASE pulsepoint TO pulsepoint_auth, pulsepoint_brands,
  pulsepoint_integrations, pulsepoint_insights, pulsepoint_observability;
SQL
