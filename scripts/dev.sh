#!/usr/bin/env bash
# `make dev`: the whole product on this machine.
#
# Starts PostgreSQL, Redis and the Pub/Sub emulator if needed, creates roles and the
# database, migrates, starts every built service and the gateway, seeds a demo tenant
# (admin + two brands, each connected to a generated demo store: 90 days of orders,
# products, inventory and ad spend, synced by the integrations service), and prints
# how to use it. Ctrl-C stops the
# services. PULSEPOINT_DEV_DETACH=1 returns after start-up, leaving them running
# (stop them with `make dev-stop`).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
dev="${repo_root}/.dev"
mkdir -p "${dev}/logs"
bin="${CARGO_TARGET_DIR:-${repo_root}/target}/release"

log() { printf '[dev] %s\n' "$*" >&2; }

command -v cargo >/dev/null || { log "cargo not found: install Rust (rustup) first"; exit 1; }
log "building (release)"
cargo build --release --bins -p pulsepoint-auth -p pulsepoint-brands -p pulsepoint-observability -p pulsepoint-integrations -p pulsepoint-insights -p pulsepoint-gateway -p pulsepoint-e2e

bash scripts/backing-services.sh --pubsub || log "Pub/Sub emulator unavailable; continuing without events"
bash scripts/tools.sh
bash scripts/db-bootstrap.sh pulsepoint
bash scripts/dev-stop.sh >/dev/null 2>&1 || true

owner_url="postgres://pulsepoint_owner:pulsepoint_owner_dev@127.0.0.1:5432/pulsepoint"
role_url() { echo "postgres://pp_$1:pp_$1_dev@127.0.0.1:5432/pulsepoint"; }

[[ -s "${dev}/signing-key.pem" ]] || { umask 077; "${bin}/pulsepoint-auth" keygen > "${dev}/signing-key.pem"; }
# Provider tokens are sealed with this local key file in development (Cloud KMS in
# production); the gateway and integrations share a webhook credential.
[[ -s "${dev}/token-keys" ]] || { umask 077; "${bin}/pulsepoint-integrations" keygen "${dev}/token-keys"; }
[[ -s "${dev}/webhook-credential" ]] || { umask 077; head -c 32 /dev/urandom | base64 | tr -d '\n/+=' > "${dev}/webhook-credential"; }
export PULSEPOINT_WEBHOOK_CREDENTIAL="$(cat "${dev}/webhook-credential")"

export PULSEPOINT_LOG_FORMAT="${PULSEPOINT_LOG_FORMAT:-json}"
export PULSEPOINT_REDIS_URL="redis://127.0.0.1:6379"
export PULSEPOINT_AUTH_URL="http://127.0.0.1:50051"
export PULSEPOINT_SHUTDOWN_DELAY_MS=200
export PUBSUB_EMULATOR_HOST=127.0.0.1:8085
# Outbox relays publish to the emulator (topic pulsepoint-events) when it is up.
export PULSEPOINT_PUBSUB_PROJECT=pulsepoint-dev
export PULSEPOINT_PUBSUB_SUBSCRIPTIONS=pulsepoint-events-observability,pulsepoint-events-insights  # the emulator bootstrap creates them with the topic

log "migrating"
PULSEPOINT_DATABASE_URL="$(role_url auth)" PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" \
  PULSEPOINT_SIGNING_KEY_FILE="${dev}/signing-key.pem" "${bin}/pulsepoint-auth" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-brands" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-integrations" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-insights" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-observability" migrate

start() { # name binary env...
  local name=$1 binary=$2; shift 2
  env "$@" "${bin}/${binary}" >"${dev}/logs/${name}.log" 2>&1 &
  echo $! > "${dev}/${name}.pid"
}

start auth pulsepoint-auth PULSEPOINT_LISTEN_ADDR=127.0.0.1:50051 \
  PULSEPOINT_DATABASE_URL="$(role_url auth)" PULSEPOINT_SIGNING_KEY_FILE="${dev}/signing-key.pem"
start brands pulsepoint-brands PULSEPOINT_LISTEN_ADDR=127.0.0.1:50052 PULSEPOINT_DATABASE_URL="$(role_url brands)"
start integrations pulsepoint-integrations PULSEPOINT_LISTEN_ADDR=127.0.0.1:50053 \
  PULSEPOINT_DATABASE_URL="$(role_url integrations)" PULSEPOINT_TOKEN_KEY_FILE="${dev}/token-keys" \
  PULSEPOINT_OAUTH_REDIRECT_URIS="${PULSEPOINT_OAUTH_REDIRECT_URIS:-http://localhost:5173/oauth/callback}"
start insights pulsepoint-insights PULSEPOINT_LISTEN_ADDR=127.0.0.1:50054 \
  PULSEPOINT_DATABASE_URL="$(role_url insights)" PULSEPOINT_INTEGRATIONS_URL=http://127.0.0.1:50053 \
  PULSEPOINT_OBSERVABILITY_URL=http://127.0.0.1:50055
start observability pulsepoint-observability PULSEPOINT_LISTEN_ADDR=127.0.0.1:50055 PULSEPOINT_DATABASE_URL="$(role_url observability)"
start gateway pulsepoint-gateway PULSEPOINT_LISTEN_ADDR=127.0.0.1:8080 \
  PULSEPOINT_CORS_ORIGINS="${PULSEPOINT_CORS_ORIGINS:-http://localhost:5173,http://127.0.0.1:8080,http://localhost:8080}" \
  PULSEPOINT_STATIC_DIR="${repo_root}/frontend/dist"

grpcurl="${repo_root}/.tools/venv/bin/grpcurl"
for target in 127.0.0.1:50051 127.0.0.1:50052 127.0.0.1:50053 127.0.0.1:50054 127.0.0.1:50055 127.0.0.1:8080; do
  for i in $(seq 1 100); do
    "${grpcurl}" -plaintext "${target}" grpc.health.v1.Health/Check >/dev/null 2>&1 && break
    [[ $i == 100 ]] && { log "${target} did not become healthy; see ${dev}/logs"; exit 1; }
    sleep 0.2
  done
done

log "seeding the demo tenant (two brands, each syncing a generated demo store)"
seed_out="$("${bin}/pulsepoint-seed" --gateway http://127.0.0.1:8080)"
tenant_id="$(sed -n 's/^tenant_id=//p' <<<"${seed_out}")"

cat <<TXT

  Pulsepoint is running.

  Gateway (gRPC, grpc-web):  http://127.0.0.1:8080   (serves frontend/dist once the frontend is built)
  Services: auth :50051 · brands :50052 · integrations :50053 · insights :50054 · observability :50055
  logs: .dev/logs/
  Shopify webhooks: POST http://127.0.0.1:8080/webhooks/shopify
  Events: outbox → Pub/Sub emulator 127.0.0.1:8085 (topic pulsepoint-events) → observability, insights
  Demo login:  demo@pulsepoint.dev / pulsepoint-demo-password   (tenant ${tenant_id})

  Try (grpcurl is in .tools/venv/bin):
    export PATH=\$PWD/.tools/venv/bin:\$PATH
    grpcurl -plaintext 127.0.0.1:8080 list
    grpcurl -plaintext 127.0.0.1:8080 grpc.health.v1.Health/Check
    TOKEN=\$(grpcurl -plaintext -d '{"email":"demo@pulsepoint.dev","password":"pulsepoint-demo-password"}' \\
        127.0.0.1:8080 pulsepoint.auth.v1.AuthService/Login | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["accessToken"])')
    grpcurl -plaintext -H "authorization: Bearer \$TOKEN" 127.0.0.1:8080 pulsepoint.brands.v1.BrandService/ListBrands
    grpcurl -plaintext -H "authorization: Bearer \$TOKEN" -d '{"dateRange":{"startDate":{"year":2026,"month":1,"day":1},"endDate":{"year":2026,"month":12,"day":31}}}' \\
        127.0.0.1:8080 pulsepoint.brands.v1.BrandService/GetPortfolio
    grpcurl -plaintext -H "authorization: Bearer \$TOKEN" 127.0.0.1:8080 pulsepoint.integrations.v1.IntegrationService/ListIntegrations
    BRAND=\$(grpcurl -plaintext -H "authorization: Bearer \$TOKEN" 127.0.0.1:8080 pulsepoint.brands.v1.BrandService/ListBrands | python3 -c 'import json,sys; print(json.load(sys.stdin)["brands"][0]["brandId"])')
    grpcurl -plaintext -H "authorization: Bearer \$TOKEN" -d "{\"brandId\":\"\$BRAND\",\"dateRange\":{\"startDate\":{\"year\":2026,\"month\":1,\"day\":1},\"endDate\":{\"year\":2026,\"month\":3,\"day\":31}}}" \
        127.0.0.1:8080 pulsepoint.insights.v1.InsightsService/GetDashboard
    grpcurl -plaintext -H "authorization: Bearer \$TOKEN" -d '{"pageSize":5}' 127.0.0.1:8080 pulsepoint.observability.v1.ObservabilityService/ListEvents

TXT

if [[ "${PULSEPOINT_DEV_DETACH:-0}" == 1 ]]; then exit 0; fi
trap 'bash scripts/dev-stop.sh; exit 0' INT TERM
log "Ctrl-C stops the services"
wait
