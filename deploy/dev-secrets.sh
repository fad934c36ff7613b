#!/usr/bin/env bash
# Writes development secrets for deploy/docker-compose.yml into deploy/.secrets/ (gitignored).
# Random passwords and a fresh Ed25519 signing key. Idempotent: existing files are kept (delete
# deploy/.secrets/ and the postgres-data volume to start over).
# One <svc>.env per service in the compose file (auth, brands, observability, gateway).
# postgres.env also holds passwords for pp_integrations and pp_insights: those roles must exist
# because the migrations grant to them (libs/db/sql/bootstrap.sql creates all five).
# Re-running it after a service was added writes only the missing <svc>.env.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${here}/.secrets"
mkdir -p "${dir}"
chmod 0700 "${dir}"

rand() { openssl rand -hex 24; }

write() { # write FILE: content from stdin, only if FILE is missing
  local file="${dir}/$1"
  if [[ -e "${file}" ]]; then
    cat >/dev/null
    echo "kept    ${file}"
  else
    (umask 077 && cat >"${file}")
    echo "created ${file}"
  fi
}

if [[ -e "${dir}/postgres.env" ]]; then
  # shellcheck disable=SC1091
  source "${dir}/postgres.env"
else
  POSTGRES_PASSWORD="$(rand)"
  PULSEPOINT_OWNER_PASSWORD="$(rand)"
  PULSEPOINT_AUTH_DB_PASSWORD="$(rand)"
  PULSEPOINT_BRANDS_DB_PASSWORD="$(rand)"
  PULSEPOINT_INTEGRATIONS_DB_PASSWORD="$(rand)"
  PULSEPOINT_INSIGHTS_DB_PASSWORD="$(rand)"
  PULSEPOINT_OBSERVABILITY_DB_PASSWORD="$(rand)"
fi

write postgres.env <<ENV
POSTGRES_PASSWORD=${POSTGRES_PASSWORD}
PULSEPOINT_OWNER_PASSWORD=${PULSEPOINT_OWNER_PASSWORD}
PULSEPOINT_AUTH_DB_PASSWORD=${PULSEPOINT_AUTH_DB_PASSWORD}
PULSEPOINT_BRANDS_DB_PASSWORD=${PULSEPOINT_BRANDS_DB_PASSWORD}
PULSEPOINT_INTEGRATIONS_DB_PASSWORD=${PULSEPOINT_INTEGRATIONS_DB_PASSWORD}
PULSEPOINT_INSIGHTS_DB_PASSWORD=${PULSEPOINT_INSIGHTS_DB_PASSWORD}
PULSEPOINT_OBSERVABILITY_DB_PASSWORD=${PULSEPOINT_OBSERVABILITY_DB_PASSWORD}
ENV

db() { echo "postgres://$1:$2@postgres:5432/pulsepoint?sslmode=disable"; }
redis_url="redis://redis:6379/0"

write migrate.env <<ENV
PULSEPOINT_DATABASE_OWNER_URL=$(db pulsepoint_owner "${PULSEPOINT_OWNER_PASSWORD}")
ENV
write auth.env <<ENV
PULSEPOINT_DATABASE_URL=$(db pp_auth "${PULSEPOINT_AUTH_DB_PASSWORD}")
PULSEPOINT_REDIS_URL=${redis_url}
ENV
write brands.env <<ENV
PULSEPOINT_DATABASE_URL=$(db pp_brands "${PULSEPOINT_BRANDS_DB_PASSWORD}")
PULSEPOINT_REDIS_URL=${redis_url}
ENV
write observability.env <<ENV
PULSEPOINT_DATABASE_URL=$(db pp_observability "${PULSEPOINT_OBSERVABILITY_DB_PASSWORD}")
PULSEPOINT_REDIS_URL=${redis_url}
ENV
write gateway.env <<ENV
PULSEPOINT_REDIS_URL=${redis_url}
ENV

if [[ ! -e "${dir}/signing-key.pem" ]]; then
  openssl genpkey -algorithm ed25519 -out "${dir}/signing-key.pem"
  # Compose mounts file secrets as-is; the service runs as uid 65532 and must read it.
  # Development only: in Kubernetes/Cloud Run the key is a Secret volume with mode 0440.
  chmod 0644 "${dir}/signing-key.pem"
  echo "created ${dir}/signing-key.pem"
else
  echo "kept    ${dir}/signing-key.pem"
fi
