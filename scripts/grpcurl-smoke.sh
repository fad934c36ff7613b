#!/usr/bin/env bash
# Real clients against the real binaries (run by `make test`):
#   grpcurl 1.8.6 (reflection v1alpha) lists services, checks health, signs up, logs in,
#   creates and lists a brand, directly and through the gateway, connects a demo store
#   and waits for its sync (integrations), gets the portfolio of the synced orders and the
#   brand's dashboard (insights, which calls integrations for data freshness), asks a
#   question (AskQuestion, the built-in planner); curl
#   posts a Shopify webhook to the gateway's route (unsigned: 401); curl sends a grpc-web
#   request over HTTP/1.1 through the gateway and a CORS preflight from a disallowed
#   origin, which must not be approved.
# Uses a fresh database and free ports; leaves nothing running.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
bin="${CARGO_TARGET_DIR:-${repo_root}/target}/debug"
grpcurl="${repo_root}/.tools/venv/bin/grpcurl"
work="$(mktemp -d)"
db="pp_smoke_$(date +%s)_$$"
admin_url="${PULSEPOINT_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "${admin_url}" -q -c "drop database if exists ${db} with (force)" >/dev/null 2>&1 || true
  rm -rf "${work}"
}
trap cleanup EXIT

fail() { echo "grpcurl-smoke: FAIL: $*" >&2; for f in "${work}"/*.log; do echo "--- ${f}" >&2; tail -n 20 "${f}" >&2; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

bash scripts/tools.sh
bash scripts/db-bootstrap.sh "${db}"
owner_url="postgres://pulsepoint_owner:pulsepoint_owner_dev@127.0.0.1:5432/${db}"
role_url() { echo "postgres://pp_$1:pp_$1_dev@127.0.0.1:5432/${db}"; }
"${bin}/pulsepoint-auth" keygen > "${work}/key.pem"
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-auth" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-brands" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-integrations" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-insights" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-observability" migrate
"${bin}/pulsepoint-integrations" keygen "${work}/token-keys"

auth_port=$(free_port); brands_port=$(free_port); obs_port=$(free_port); gateway_port=$(free_port)
int_port=$(free_port); insights_port=$(free_port)
export PULSEPOINT_WEBHOOK_CREDENTIAL="smoke-webhook-credential-$$"
export PULSEPOINT_LOG_FORMAT=json PULSEPOINT_SHUTDOWN_DELAY_MS=0 PULSEPOINT_REDIS_URL=redis://127.0.0.1:6379
PULSEPOINT_LISTEN_ADDR="127.0.0.1:${auth_port}" PULSEPOINT_DATABASE_URL="$(role_url auth)" \
  PULSEPOINT_SIGNING_KEY_FILE="${work}/key.pem" "${bin}/pulsepoint-auth" >"${work}/auth.log" 2>&1 &
pids+=($!)
PULSEPOINT_LISTEN_ADDR="127.0.0.1:${brands_port}" PULSEPOINT_DATABASE_URL="$(role_url brands)" \
  PULSEPOINT_AUTH_URL="http://127.0.0.1:${auth_port}" "${bin}/pulsepoint-brands" >"${work}/brands.log" 2>&1 &
pids+=($!)
PULSEPOINT_LISTEN_ADDR="127.0.0.1:${int_port}" PULSEPOINT_DATABASE_URL="$(role_url integrations)" \
  PULSEPOINT_AUTH_URL="http://127.0.0.1:${auth_port}" PULSEPOINT_TOKEN_KEY_FILE="${work}/token-keys" \
  PULSEPOINT_SHOPIFY_API_KEY=smoke-key PULSEPOINT_SHOPIFY_API_SECRET=smoke-secret \
  PULSEPOINT_SYNC_POLL_MS=100 "${bin}/pulsepoint-integrations" >"${work}/integrations.log" 2>&1 &
pids+=($!)
PULSEPOINT_LISTEN_ADDR="127.0.0.1:${insights_port}" PULSEPOINT_DATABASE_URL="$(role_url insights)" \
  PULSEPOINT_AUTH_URL="http://127.0.0.1:${auth_port}" PULSEPOINT_INTEGRATIONS_URL="http://127.0.0.1:${int_port}" \
  PULSEPOINT_OBSERVABILITY_URL="http://127.0.0.1:${obs_port}" \
  "${bin}/pulsepoint-insights" >"${work}/insights.log" 2>&1 &
pids+=($!)
PULSEPOINT_LISTEN_ADDR="127.0.0.1:${obs_port}" PULSEPOINT_DATABASE_URL="$(role_url observability)" \
  PULSEPOINT_AUTH_URL="http://127.0.0.1:${auth_port}" "${bin}/pulsepoint-observability" >"${work}/observability.log" 2>&1 &
pids+=($!)
PULSEPOINT_LISTEN_ADDR="127.0.0.1:${gateway_port}" PULSEPOINT_CORS_ORIGINS="https://app.pulsepoint.test" \
  PULSEPOINT_BACKEND_AUTH="http://127.0.0.1:${auth_port}" PULSEPOINT_BACKEND_BRANDS="http://127.0.0.1:${brands_port}" PULSEPOINT_BACKEND_OBSERVABILITY="http://127.0.0.1:${obs_port}" \
  PULSEPOINT_BACKEND_INTEGRATIONS="http://127.0.0.1:${int_port}" PULSEPOINT_BACKEND_INSIGHTS="http://127.0.0.1:${insights_port}" \
  PULSEPOINT_STATIC_DIR="${work}" "${bin}/pulsepoint-gateway" >"${work}/gateway.log" 2>&1 &
pids+=($!)

for port in "${auth_port}" "${brands_port}" "${int_port}" "${insights_port}" "${obs_port}" "${gateway_port}"; do
  for i in $(seq 1 150); do
    status=$("${grpcurl}" -plaintext "127.0.0.1:${port}" grpc.health.v1.Health/Check 2>/dev/null | json 'd["status"]' 2>/dev/null || true)
    [[ "${status}" == SERVING ]] && break
    [[ $i == 150 ]] && fail "port ${port} never became SERVING"
    sleep 0.2
  done
done
echo "ok   health SERVING on auth, brands, integrations, insights, observability, gateway"

for port in "${auth_port}" "${brands_port}" "${int_port}" "${insights_port}" "${obs_port}" "${gateway_port}"; do
  services=$("${grpcurl}" -plaintext "127.0.0.1:${port}" list) || fail "reflection list on ${port}"
  grep -q '^grpc.health.v1.Health$' <<<"${services}" || fail "health not listed on ${port}"
done
# (Captured first: `grep -q` closing the pipe early would fail it under pipefail.)
gateway_services=$("${grpcurl}" -plaintext "127.0.0.1:${gateway_port}" list) || fail "gateway reflection"
grep -q '^pulsepoint.brands.v1.BrandService$' <<<"${gateway_services}" || fail "gateway reflection lacks BrandService"
"${grpcurl}" -plaintext "127.0.0.1:${brands_port}" describe pulsepoint.brands.v1.BrandService.CreateBrand >/dev/null || fail "describe"
echo "ok   reflection (v1alpha) lists services on every server"

email="smoke-$$@example.com"
signup=$("${grpcurl}" -plaintext -d "{\"tenantName\":\"Smoke Co\",\"email\":\"${email}\",\"password\":\"smoke-test-password\"}" \
  "127.0.0.1:${gateway_port}" pulsepoint.auth.v1.AuthService/SignUp) || fail "sign up"
tenant_id=$(json 'd["tenant"]["tenantId"]' <<<"${signup}")
token=$("${grpcurl}" -plaintext -d "{\"email\":\"${email}\",\"password\":\"smoke-test-password\"}" \
  "127.0.0.1:${gateway_port}" pulsepoint.auth.v1.AuthService/Login | json 'd["tokens"]["accessToken"]') || fail "login"
echo "ok   sign up (tenant ${tenant_id}) and log in through the gateway"

"${grpcurl}" -plaintext -H "authorization: Bearer ${token}" -d '{"brand":{"name":"Smoke Brand","currencyCode":"EUR","timeZone":"Europe/Paris"},"requestId":"smoke-1"}' \
  "127.0.0.1:${brands_port}" pulsepoint.brands.v1.BrandService/CreateBrand >/dev/null || fail "create brand"
listed=$("${grpcurl}" -plaintext -H "authorization: Bearer ${token}" "127.0.0.1:${gateway_port}" pulsepoint.brands.v1.BrandService/ListBrands) || fail "list brands"
[[ "$(json 'd["brands"][0]["name"]' <<<"${listed}")" == "Smoke Brand" ]] || fail "listed brand: ${listed}"
echo "ok   create brand (direct) and list brands (gateway)"

"${grpcurl}" -plaintext -H "authorization: Bearer ${token}" -d '{"eventTypes":["budget.warning"]}' "127.0.0.1:${gateway_port}" \
  pulsepoint.observability.v1.ObservabilityService/ListEvents >/dev/null || fail "list events"
"${grpcurl}" -plaintext -H "authorization: Bearer ${token}" -d '{"budget":{"period":"BUDGET_PERIOD_MONTHLY","limit":{"currencyCode":"USD","units":"50"}}}' \
  "127.0.0.1:${gateway_port}" pulsepoint.observability.v1.ObservabilityService/SetCostBudget >/dev/null || fail "set budget"
echo "ok   observability through the gateway (ListEvents, SetCostBudget)"

brand_id=$(json 'd["brands"][0]["brandId"]' <<<"${listed}")
connected=$("${grpcurl}" -plaintext -H "authorization: Bearer ${token}" \
  -d "{\"brandId\":\"${brand_id}\",\"platforms\":[\"PLATFORM_SHOPIFY\"],\"historyDays\":14,\"seed\":\"3\",\"requestId\":\"smoke-demo\"}" \
  "127.0.0.1:${gateway_port}" pulsepoint.integrations.v1.IntegrationService/ConnectDemoStore) || fail "connect demo store"
run_id=$(json 'd["syncRuns"][0]["syncRunId"]' <<<"${connected}")
for i in $(seq 1 150); do
  run=$("${grpcurl}" -plaintext -H "authorization: Bearer ${token}" -d "{\"syncRunId\":\"${run_id}\"}" \
    "127.0.0.1:${gateway_port}" pulsepoint.integrations.v1.IntegrationService/GetSyncRun) || fail "get sync run"
  state=$(json 'd["syncRun"]["state"]' <<<"${run}")
  [[ "${state}" == SYNC_RUN_STATE_SUCCEEDED ]] && break
  [[ "${state}" == SYNC_RUN_STATE_QUEUED || "${state}" == SYNC_RUN_STATE_RUNNING ]] || fail "demo sync ended ${state}: ${run}"
  [[ $i == 150 ]] && fail "demo sync did not finish: ${run}"
  sleep 0.2
done
today=$(date -u +%Y-%m-%d); start=$(date -u -d '-30 days' +%Y-%m-%d)
portfolio=$("${grpcurl}" -plaintext -H "authorization: Bearer ${token}" \
  -d "{\"dateRange\":{\"startDate\":{\"year\":${start:0:4},\"month\":$((10#${start:5:2})),\"day\":$((10#${start:8:2}))},\"endDate\":{\"year\":${today:0:4},\"month\":$((10#${today:5:2})),\"day\":$((10#${today:8:2}))}}}" \
  "127.0.0.1:${gateway_port}" pulsepoint.brands.v1.BrandService/GetPortfolio) || fail "portfolio"
orders=$(json 'sum(int(b.get("orderCount", 0)) for b in d["brands"])' <<<"${portfolio}")
[[ "${orders}" -gt 0 ]] || fail "portfolio has no synced orders: ${portfolio}"
echo "ok   demo store connected and synced (integrations); GetPortfolio counts ${orders} orders"

dashboard=$("${grpcurl}" -plaintext -H "authorization: Bearer ${token}" \
  -d "{\"brandId\":\"${brand_id}\",\"dateRange\":{\"startDate\":{\"year\":${start:0:4},\"month\":$((10#${start:5:2})),\"day\":$((10#${start:8:2}))},\"endDate\":{\"year\":${today:0:4},\"month\":$((10#${today:5:2})),\"day\":$((10#${today:8:2}))}}}" \
  "127.0.0.1:${gateway_port}" pulsepoint.insights.v1.InsightsService/GetDashboard) || fail "dashboard"
[[ "$(json 'len(d["kpis"])' <<<"${dashboard}")" == 7 ]] || fail "dashboard KPIs: ${dashboard}"
[[ "$(json 'd["dataFreshness"][0]["platform"]' <<<"${dashboard}")" == PLATFORM_SHOPIFY ]] \
  || fail "dashboard freshness (insights -> integrations with the caller's token): ${dashboard}"
echo "ok   GetDashboard through the gateway: 7 KPIs, Shopify freshness from integrations"

answer=$("${grpcurl}" -plaintext -H "authorization: Bearer ${token}" \
  -d "{\"brandId\":\"${brand_id}\",\"text\":\"how many orders did we get in the last 30 days?\"}" \
  "127.0.0.1:${gateway_port}" pulsepoint.insights.v1.InsightsService/AskQuestion) || fail "ask question"
[[ "$(json 'd["question"]["answer"]["answerable"]' <<<"${answer}")" == True ]] || fail "AskQuestion: ${answer}"
[[ "$(json 'd["question"]["answer"]["figures"][0]["metric"]' <<<"${answer}")" == orders ]] || fail "AskQuestion figure: ${answer}"
[[ "$(json 'd["question"]["answer"]["engine"]' <<<"${answer}")" == ANSWER_ENGINE_PLANNER ]] || fail "AskQuestion engine: ${answer}"
echo "ok   AskQuestion through the gateway: the built-in planner answers with the orders figure"

code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' \
  -H 'x-shopify-topic: orders/create' -H 'x-shopify-shop-domain: smoke.myshopify.com' \
  -H 'x-shopify-webhook-id: smoke-1' -H 'x-shopify-hmac-sha256: bm90LWEtc2lnbmF0dXJl' \
  --data '{"id":1}' "http://127.0.0.1:${gateway_port}/webhooks/shopify") || fail "webhook post"
[[ "${code}" == 401 ]] || fail "unsigned webhook answered ${code}, expected 401"
echo "ok   POST /webhooks/shopify through the gateway: a bad signature is 401"

if "${grpcurl}" -plaintext "127.0.0.1:${brands_port}" pulsepoint.brands.v1.BrandService/ListBrands >"${work}/noauth.out" 2>&1; then
  fail "ListBrands without a token succeeded"
fi
grep -q "Unauthenticated" "${work}/noauth.out" || fail "expected Unauthenticated: $(cat "${work}/noauth.out")"
echo "ok   no token: Unauthenticated"

# grpc-web over HTTP/1.1: ListBrands (empty request = one empty frame).
printf '\x00\x00\x00\x00\x00' > "${work}/frame.bin"
curl -sS --http1.1 -D "${work}/web.headers" -o "${work}/web.body" -X POST \
  -H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1' -H "authorization: Bearer ${token}" \
  -H 'origin: https://app.pulsepoint.test' --data-binary @"${work}/frame.bin" \
  "http://127.0.0.1:${gateway_port}/pulsepoint.brands.v1.BrandService/ListBrands" || fail "grpc-web request"
grep -qi '^HTTP/1.1 200' "${work}/web.headers" || fail "grpc-web status: $(head -1 "${work}/web.headers")"
grep -qi '^access-control-allow-origin: https://app.pulsepoint.test' "${work}/web.headers" || fail "CORS approval missing for allowed origin"
grep -aq 'Smoke Brand' "${work}/web.body" || fail "grpc-web body lacks the brand"
grep -aq 'grpc-status:0' "${work}/web.body" || fail "grpc-web trailers: $(cat -v "${work}/web.body")"
echo "ok   grpc-web over HTTP/1.1 through the gateway"

curl -sS --http1.1 -D "${work}/preflight.headers" -o /dev/null -X OPTIONS \
  -H 'origin: https://evil.example' -H 'access-control-request-method: POST' \
  -H 'access-control-request-headers: content-type,x-grpc-web,authorization' \
  "http://127.0.0.1:${gateway_port}/pulsepoint.auth.v1.AuthService/Login" || fail "preflight"
if grep -qi '^access-control-allow-origin' "${work}/preflight.headers"; then
  fail "a disallowed origin got CORS approval"
fi
echo "ok   CORS preflight from a disallowed origin is not approved"
echo "grpcurl-smoke: all checks passed"
