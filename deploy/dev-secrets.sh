#!/usr/bin/env bash
# Writes development secrets for deploy/docker-compose.yml into deploy/.secrets/ (gitignored).
# Random passwords, a fresh Ed25519 signing key, the webhook credential and the provider-token
# key file. Idempotent: existing files are kept (delete deploy/.secrets/ and the postgres-data
# volume to start over).
# One <svc>.env per service in the compose file (auth, brands, integrations, insights,
# observability, gateway), plus:
#   webhook.env   PULSEPOINT_WEBHOOK_CREDENTIAL, read by both gateway and integrations (the
#                 gateway presents it when it forwards POST /webhooks/shopify)
#   token-keys    the local key file integrations seals provider tokens with (dev only; Cloud
#                 KMS in production), mounted as a compose secret
# Re-running it after a service was added writes only the missing files.
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
write insights.env <<ENV
PULSEPOINT_DATABASE_URL=$(db pp_insights "${PULSEPOINT_INSIGHTS_DB_PASSWORD}")
PULSEPOINT_REDIS_URL=${redis_url}
ENV
write observability.env <<ENV
PULSEPOINT_DATABASE_URL=$(db pp_observability "${PULSEPOINT_OBSERVABILITY_DB_PASSWORD}")
PULSEPOINT_REDIS_URL=${redis_url}
ENV
# The platforms' apps are optional: a platform without its app cannot be connected (the demo
# store needs none). Uncomment and fill in the ones you have.
write integrations.env <<ENV
PULSEPOINT_DATABASE_URL=$(db pp_integrations "${PULSEPOINT_INTEGRATIONS_DB_PASSWORD}")
PULSEPOINT_REDIS_URL=${redis_url}
# PULSEPOINT_SHOPIFY_API_KEY=
# PULSEPOINT_SHOPIFY_API_SECRET=
# PULSEPOINT_META_APP_ID=
# PULSEPOINT_META_APP_SECRET=
# PULSEPOINT_TIKTOK_APP_ID=
# PULSEPOINT_TIKTOK_SECRET=
# PULSEPOINT_GOOGLE_ADS_CLIENT_ID=
# PULSEPOINT_GOOGLE_ADS_CLIENT_SECRET=
# PULSEPOINT_GOOGLE_ADS_DEVELOPER_TOKEN=
# PULSEPOINT_GOOGLE_ADS_LOGIN_CUSTOMER_ID=
ENV
write gateway.env <<ENV
PULSEPOINT_REDIS_URL=${redis_url}
ENV
# Shared by gateway and integrations (both list webhook.env under env_file).
write webhook.env <<ENV
PULSEPOINT_WEBHOOK_CREDENTIAL=$(openssl rand -hex 32)
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

# The key file format of `pulsepoint-integrations keygen PATH`: comment lines, then
# `<key id> <standard base64 of 32 random bytes>`; the first key seals, every key opens.
# Written here with openssl so no image has to be built first.
if [[ ! -e "${dir}/token-keys" ]]; then
  (
    umask 077
    {
      echo "# Pulsepoint key-encryption keys: \`<key id> <base64 of 32 random bytes>\`, one per line."
      echo "# The first key encrypts new records; every key listed can decrypt. Never commit this file."
      echo "local-$(date -u +%Y%m%d%H%M%S) $(openssl rand -base64 32)"
    } >"${dir}/token-keys"
  )
  # Mounted as-is by compose for uid 65532, like the signing key. Development only.
  chmod 0644 "${dir}/token-keys"
  echo "created ${dir}/token-keys"
else
  echo "kept    ${dir}/token-keys"
fi
