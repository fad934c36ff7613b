#!/usr/bin/env bash
# `make bench`: the load generator against the real release binaries, each comparison
# run as alternating baseline/variant rounds; figures to target/bench/results.json,
# the table to docs/performance.md (between the bench markers). Method: that page.
#
# This script only orchestrates: it builds, starts the database, servers and emulator,
# runs the rows and cleans up. Each run side appends one line to target/bench/runs.jsonl
# (`pulsepoint-loadgen record`; format in tests/src/bench/runs.rs), and `pulsepoint-loadgen
# report` turns that file into results.json and the table (tests/src/bench/report/).
#
# Uses a fresh database and free ports; stops everything it started, drops its
# database and its role on exit. Nothing here asserts timings: targets are reported.
#
# Knobs (environment): PP_BENCH_ROUNDS (3), PP_BENCH_SECONDS (5), PP_BENCH_WARMUP (1),
# PP_BENCH_CONNECTIONS (4), PP_BENCH_CONCURRENCY (32, echo rows),
# PP_BENCH_DB_CONCURRENCY (16, database rows and pgbench -c), PP_BENCH_EVENTS (20000,
# events pushed through the Pub/Sub emulator; 0 skips that row), PP_BENCH_SKIP_BUILD=1,
# PP_BENCH_EVENT_ROUNDS (9, the api_events row), PP_BENCH_KEEP_LOGS=1 (server logs to
# target/bench/logs even on success), PP_BENCH_NO_DOC=1 (leave docs/performance.md alone), PP_BENCH_ROWS (space-separated row
# names to run, e.g. "api_events events_e2e"; default all; rows not run keep their line
# in docs/performance.md, marked with the run it came from), PP_BENCH_SYNC_ORDERS (20000,
# orders per sync_upsert run), PP_BENCH_DEMO_SMALL_ORDERS (100000) and PP_BENCH_DEMO_ORDERS
# (1000000): the demo_generator row's two runs; PP_BENCH_DASHBOARD_ORDERS (1000000),
# PP_BENCH_DASHBOARD_SECONDS (10), PP_BENCH_DASHBOARD_RAW_SECONDS (45),
# PP_BENCH_DASHBOARD_CONCURRENCY (2): the dashboard rows (and the ask rows, on the same
# brand); PP_BENCH_ASK_SECONDS (10): the ask_rpc and ask_planner rows.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
target_dir="${CARGO_TARGET_DIR:-${repo_root}/target}"
bin="${target_dir}/release"
out_dir="${target_dir}/bench"
admin_url="${PULSEPOINT_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

rounds="${PP_BENCH_ROUNDS:-3}"
seconds="${PP_BENCH_SECONDS:-5}"
warmup="${PP_BENCH_WARMUP:-1}"
connections="${PP_BENCH_CONNECTIONS:-4}"
concurrency="${PP_BENCH_CONCURRENCY:-32}"
db_concurrency="${PP_BENCH_DB_CONCURRENCY:-16}"
events="${PP_BENCH_EVENTS:-20000}"

log() { printf '[bench] %s\n' "$*" >&2; }
# A failed run is recorded with the end of its stderr: keep anyhow's backtraces out of it
# (a panic still prints its own under RUST_BACKTRACE).
export RUST_LIB_BACKTRACE=0

work="$(mktemp -d)"
db="pp_bench_$(date +%s)_$$"
bypass_role="pp_bench_bypass_$$"
bypass_password="bench_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
pids=()
started_db=0
started_role=0
emulator_java=""

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
  # gcloud leaves the emulator's Java process behind: it is stopped by its own pid.
  [[ -n "${emulator_java}" ]] && kill -9 "${emulator_java}" 2>/dev/null || true
  for pid in "${pids[@]}"; do wait "${pid}" 2>/dev/null || true; done
  if [[ ${started_db} == 1 ]]; then
    psql "${admin_url}" -q -c "drop database if exists \"${db}\" with (force)" >/dev/null 2>&1 || true
  fi
  if [[ ${started_role} == 1 ]]; then
    psql "${admin_url}" -q -c "drop role if exists ${bypass_role}" >/dev/null 2>&1 || true
  fi
  if [[ ${status} != 0 || "${PP_BENCH_KEEP_LOGS:-0}" == 1 ]]; then
    mkdir -p "${out_dir}/logs"
    cp "${work}"/*.log "${out_dir}/logs/" 2>/dev/null || true
    log "failed (exit ${status}); server logs copied to ${out_dir}/logs"
  fi
  rm -rf "${work}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_started=$(date +%s)
if [[ "${PP_BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  log "building (release)"
  cargo build --release -p pulsepoint-e2e -p pulsepoint-auth -p pulsepoint-brands -p pulsepoint-gateway \
    -p pulsepoint-observability -p pulsepoint-integrations -p pulsepoint-insights
fi
loadgen="${bin}/pulsepoint-loadgen"
bash scripts/backing-services.sh
command -v pgbench >/dev/null || { log "pgbench not found (Debian: postgresql-client)"; exit 1; }

# Pinning: servers on core 0, load (loadgen, pgbench) on core 1.
server_pin=()
load_pin=()
cores="$(nproc)"
if command -v taskset >/dev/null && (( cores >= 2 )); then
  server_pin=(taskset -c 0)
  load_pin=(taskset -c 1)
  pinning="servers on CPU 0, load on CPU 1 (taskset); PostgreSQL unpinned"
elif ! command -v taskset >/dev/null; then
  pinning="unpinned: taskset not found"
else
  pinning="unpinned: only ${cores} core(s)"
fi
log "${pinning}"
read -r load1 _ < /proc/loadavg
mkdir -p "${out_dir}"
runs="${out_dir}/runs.jsonl"
: > "${runs}"

# --- database, roles, keys -----------------------------------------------------------
log "database ${db}"
started_db=1
bash scripts/db-bootstrap.sh "${db}"
owner_url="postgres://pulsepoint_owner:pulsepoint_owner_dev@127.0.0.1:5432/${db}"
db_admin_url="${admin_url%/*}/${db}"
role_url() { echo "postgres://pp_$1:pp_$1_dev@127.0.0.1:5432/${db}"; }
"${bin}/pulsepoint-auth" keygen > "${work}/key.pem"
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-auth" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-brands" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-observability" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-integrations" migrate
PULSEPOINT_DATABASE_OWNER_URL="${owner_url}" "${bin}/pulsepoint-insights" migrate

# The RLS-bypass variant: a login role with BYPASSRLS and exactly pp_brands' grants
# (it inherits them by membership). Dropped on exit.
started_role=1
psql "${admin_url}" -v ON_ERROR_STOP=1 -q \
  -c "create role ${bypass_role} login password '${bypass_password}' nosuperuser bypassrls nocreaterole nocreatedb inherit" \
  -c "grant pp_brands to ${bypass_role}" >/dev/null
bypass_url="postgres://${bypass_role}:${bypass_password}@127.0.0.1:5432/${db}"

log "pgbench -i (scale 1) in ${db}"
pgbench -i -q -s 1 "${db_admin_url}" >"${work}/pgbench-init.log" 2>&1

# --- servers ---------------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port name
  for _ in $(seq 1 300); do port_open "$1" && return 0; sleep 0.1; done
  log "$2 did not listen on port $1; see ${work}/$2.log"; tail -n 20 "${work}/$2.log" >&2 || true; return 1
}
start() { # name command... (env assignments first, via env)
  local name=$1; shift
  "${server_pin[@]}" env "$@" >"${work}/${name}.log" 2>&1 &
  local pid=$!
  pids+=("${pid}")
  eval "pid_${name//-/_}=${pid}"
}

ports="$("${loadgen}" free-ports 10)"
read -r auth_port brands_port bypass_port cached_port cached_events_port gateway_port bare_port \
  echo_auth_port echo_full_port echo_events_port <<<"${ports}"

export PULSEPOINT_LOG_FORMAT=json PULSEPOINT_SHUTDOWN_DELAY_MS=0 PULSEPOINT_SHUTDOWN_GRACE_MS=1000
# Rate limits out of the way (the defaults, 100/s per user and 5/s per client address on
# the public RPCs the set-up calls, would be the bottleneck or refuse the set-up).
export PULSEPOINT_TENANT_RATE_PER_SEC=100000000 PULSEPOINT_USER_RATE_PER_SEC=100000000
export PULSEPOINT_PUBLIC_RATE_PER_SEC=100000000
auth_url="http://127.0.0.1:${auth_port}"
live_redis="redis://127.0.0.1:6379"
# Brands with Redis unreachable: the brand cache misses, so every GetBrand runs the
# token check + RLS transaction + select (token state is then cached in-process only).
dead_redis="redis://127.0.0.1:1"

start auth PULSEPOINT_LISTEN_ADDR="127.0.0.1:${auth_port}" PULSEPOINT_DATABASE_URL="$(role_url auth)" \
  PULSEPOINT_SIGNING_KEY_FILE="${work}/key.pem" PULSEPOINT_REDIS_URL="${live_redis}" "${bin}/pulsepoint-auth"
wait_port "${auth_port}" auth
start brands PULSEPOINT_LISTEN_ADDR="127.0.0.1:${brands_port}" PULSEPOINT_DATABASE_URL="$(role_url brands)" \
  PULSEPOINT_AUTH_URL="${auth_url}" PULSEPOINT_REDIS_URL="${dead_redis}" "${bin}/pulsepoint-brands"
start brands-bypass PULSEPOINT_LISTEN_ADDR="127.0.0.1:${bypass_port}" PULSEPOINT_DATABASE_URL="${bypass_url}" \
  PULSEPOINT_AUTH_URL="${auth_url}" PULSEPOINT_REDIS_URL="${dead_redis}" "${bin}/pulsepoint-brands"
# The production read path (Redis up, brand cache hits), with api.request recording
# off and on: the api_events row. Small pools: every server here shares PostgreSQL's
# 100 connections (the token-state lookups and the event writer need few).
start brands-cached PULSEPOINT_LISTEN_ADDR="127.0.0.1:${cached_port}" PULSEPOINT_DATABASE_URL="$(role_url brands)" \
  PULSEPOINT_AUTH_URL="${auth_url}" PULSEPOINT_REDIS_URL="${live_redis}" PULSEPOINT_API_EVENTS=off \
  PULSEPOINT_DATABASE_POOL_SIZE=4 "${bin}/pulsepoint-brands"
start brands-cached-events PULSEPOINT_LISTEN_ADDR="127.0.0.1:${cached_events_port}" PULSEPOINT_DATABASE_URL="$(role_url brands)" \
  PULSEPOINT_AUTH_URL="${auth_url}" PULSEPOINT_REDIS_URL="${live_redis}" PULSEPOINT_DATABASE_POOL_SIZE=4 "${bin}/pulsepoint-brands"
start gateway PULSEPOINT_LISTEN_ADDR="127.0.0.1:${gateway_port}" PULSEPOINT_CORS_ORIGINS="https://app.pulsepoint.test" \
  PULSEPOINT_BACKEND_AUTH="${auth_url}" PULSEPOINT_BACKEND_BRANDS="http://127.0.0.1:${brands_port}" \
  PULSEPOINT_STATIC_DIR="${work}" "${bin}/pulsepoint-gateway"
start echo-bare "${loadgen}" serve-echo --stack bare --addr "127.0.0.1:${bare_port}"
start echo-auth "${loadgen}" serve-echo --stack auth --addr "127.0.0.1:${echo_auth_port}" \
  --auth-url "${auth_url}" --database-url "$(role_url brands)" --redis-url "${live_redis}"
start echo-full "${loadgen}" serve-echo --stack full --addr "127.0.0.1:${echo_full_port}" \
  --auth-url "${auth_url}" --database-url "$(role_url brands)" --redis-url "${live_redis}"
start echo-events "${loadgen}" serve-echo --stack full-events --addr "127.0.0.1:${echo_events_port}" \
  --auth-url "${auth_url}" --database-url "$(role_url brands)" --redis-url "${live_redis}"
for pair in "${brands_port}:brands" "${bypass_port}:brands-bypass" "${gateway_port}:gateway" \
  "${cached_port}:brands-cached" "${cached_events_port}:brands-cached-events" \
  "${bare_port}:echo-bare" "${echo_auth_port}:echo-auth" "${echo_full_port}:echo-full" \
  "${echo_events_port}:echo-events"; do
  wait_port "${pair%%:*}" "${pair#*:}"
done

log "tenant, token and brand through the API"
setup="$("${loadgen}" setup --auth-url "${auth_url}" --brands-url "http://127.0.0.1:${brands_port}" --format words)"
read -r tenant_id token brand_id <<<"${setup}"

# --- runs --------------------------------------------------------------------------------
record() { # rows round side command... (the command prints the run's JSON line; rows: one
  # name, or several separated by commas, each recording the same run)
  local rows=$1 round=$2 side=$3 status=0 out row
  shift 3
  out="$("$@" 2>"${work}/run.err")" || status=$?
  for row in ${rows//,/ }; do
    "${loadgen}" record --runs "${runs}" --row "${row}" --round "${round}" --side "${side}" \
      --status "${status}" --stderr "${work}/run.err" <<<"${out}"
  done
}
record_info() { # row json: figures about a row that are not a run (merged into the row's info)
  "${loadgen}" record --runs "${runs}" --row "$1" --side info <<<"$2"
}

load() { # label args...
  local label=$1; shift
  "${load_pin[@]}" "${loadgen}" load --label "${label}" --duration "${seconds}" --warmup "${warmup}" \
    --token "${token}" --db-comm postgres "$@"
}

# Each row: a baseline and a variant command (bash functions taking a label), run in
# alternating order (B,V then V,B …) for ${rounds} rounds.
wanted() { [[ -z "${PP_BENCH_ROWS:-}" || " ${PP_BENCH_ROWS} " == *" $1 "* ]]; }
row() { # name baseline_fn variant_fn [rounds]
  local name=$1 base=$2 variant=$3 n=${4:-${rounds}} r
  wanted "${name}" || return 0
  log "row ${name} (${n} rounds)"
  for r in $(seq 1 "${n}"); do
    if (( r % 2 == 1 )); then
      record "${name}" "${r}" baseline "${base}" "${name}-b${r}"
      record "${name}" "${r}" variant "${variant}" "${name}-v${r}"
    else
      record "${name}" "${r}" variant "${variant}" "${name}-v${r}"
      record "${name}" "${r}" baseline "${base}" "${name}-b${r}"
    fi
  done
}

echo_bare() { load "$1" --target "http://127.0.0.1:${bare_port}" --rpc echo \
  --connections "${connections}" --concurrency "${concurrency}" --server-pid "${pid_echo_bare}"; }
echo_auth() { load "$1" --target "http://127.0.0.1:${echo_auth_port}" --rpc echo \
  --connections "${connections}" --concurrency "${concurrency}" --server-pid "${pid_echo_auth}"; }
echo_full() { load "$1" --target "http://127.0.0.1:${echo_full_port}" --rpc echo \
  --connections "${connections}" --concurrency "${concurrency}" --server-pid "${pid_echo_full}"; }
echo_events() { load "$1" --target "http://127.0.0.1:${echo_events_port}" --rpc echo \
  --connections "${connections}" --concurrency "${concurrency}" --server-pid "${pid_echo_events}"; }
get_brand() { load "$1" --target "http://127.0.0.1:${brands_port}" --rpc get-brand --brand-id "${brand_id}" \
  --connections "${connections}" --concurrency "${db_concurrency}" --server-pid "${pid_brands}"; }
get_brand_bypass() { load "$1" --target "http://127.0.0.1:${bypass_port}" --rpc get-brand --brand-id "${brand_id}" \
  --connections "${connections}" --concurrency "${db_concurrency}" --server-pid "${pid_brands_bypass}"; }
get_brand_web() { load "$1" --target "http://127.0.0.1:${gateway_port}" --rpc get-brand-web --brand-id "${brand_id}" \
  --connections "${connections}" --concurrency "${db_concurrency}" --server-pid "${pid_gateway}" --server-pid "${pid_brands}"; }
get_brand_cached() { load "$1" --target "http://127.0.0.1:${cached_port}" --rpc get-brand --brand-id "${brand_id}" \
  --connections "${connections}" --concurrency "${db_concurrency}" --server-pid "${pid_brands_cached}"; }
get_brand_cached_events() { load "$1" --target "http://127.0.0.1:${cached_events_port}" --rpc get-brand --brand-id "${brand_id}" \
  --connections "${connections}" --concurrency "${db_concurrency}" --server-pid "${pid_brands_cached_events}"; }
pgbench_s() { "${load_pin[@]}" "${loadgen}" pgbench --label "$1" --url "${db_admin_url}" \
  --clients "${db_concurrency}" --seconds "${seconds}"; }

log "warming up (pgbench, GetBrand)"
"${load_pin[@]}" pgbench -n -S -M prepared -c "${db_concurrency}" -j 1 -T 2 "${db_admin_url}" >/dev/null 2>&1 || true
get_brand warm >/dev/null || log "warm-up GetBrand failed (see the rows' errors)"

row echo_auth echo_bare echo_auth
row echo_full_stack echo_bare echo_full
row get_brand_vs_pgbench pgbench_s get_brand
row rls get_brand_bypass get_brand
row grpc_web get_brand get_brand_web
if wanted api_events; then
  get_brand_cached warm >/dev/null || log "warm-up of the api_events servers failed"
  get_brand_cached_events warm >/dev/null || log "warm-up of the api_events servers failed"
fi
# Small effect, noisy machine: more rounds (an off/off run of this row spread 0.87–1.15).
row api_events get_brand_cached get_brand_cached_events "${PP_BENCH_EVENT_ROUNDS:-9}"
if wanted api_events; then
  # What the event writer did meanwhile: api.request rows of GetBrand calls in brands.outbox
  # (warm-up and the other GetBrand rows included).
  outbox_rows="$(psql "${db_admin_url}" -At -c \
    "select count(*) from brands.outbox o, regexp_split_to_table(o.batch, E'\\n') as line(json)
     where o.batch is not null and line.json like '%\"api.request\"%BrandService/GetBrand%'")"
  record_info api_events "$(printf '{"outbox_rows":%d}' "${outbox_rows:-0}")"
fi
row api_events_echo echo_full echo_events
if wanted api_events_echo; then
  # api.request rows of echo calls in brands.outbox and records dropped with the channel full.
  outbox_echo_rows="$(psql "${db_admin_url}" -At -c \
    "select count(*) from brands.outbox o, regexp_split_to_table(o.batch, E'\\n') as line(json)
     where o.batch is not null and line.json like '%\"api.request\"%EchoService%'")"
  dropped="$(sed -n 's/^api events dropped: //p' "${work}/echo-events.log" | tail -n1)"
  record_info api_events_echo "$(printf '{"outbox_rows":%d,"dropped":%d}' "${outbox_echo_rows:-0}" "${dropped:-0}")"
fi

# --- integrations: orders through the real sync path vs binary COPY; the demo generator --
# sync_upsert: COPY of the order rows (baseline) vs the sync (variant); sync_upsert_all_tables:
# COPY of every row the sync writes vs the same sync run. Each round runs the sync between
# the two COPYs, which swap places every round. tests/src/bench/sync_upsert.rs has the details.
sync_orders="${PP_BENCH_SYNC_ORDERS:-20000}"
sync_upsert() { # label method
  "${load_pin[@]}" "${loadgen}" sync-upsert --label "$1" --method "$2" --orders "${sync_orders}" \
    --database-url "$(role_url integrations)" --copy-url "${db_admin_url}" --tenant-id "${tenant_id}"
}
if wanted sync_upsert || wanted sync_upsert_all_tables; then
  log "rows sync_upsert, sync_upsert_all_tables (${rounds} rounds, ${sync_orders} orders a run)"
  sync_rows="$(wanted sync_upsert && printf sync_upsert,)$(wanted sync_upsert_all_tables && printf sync_upsert_all_tables)"
  for r in $(seq 1 "${rounds}"); do
    first=(sync_upsert copy-orders) last=(sync_upsert_all_tables copy-all)
    if (( r % 2 == 0 )); then first=(sync_upsert_all_tables copy-all) last=(sync_upsert copy-orders); fi
    if wanted "${first[0]}"; then
      record "${first[0]}" "${r}" baseline sync_upsert "${first[0]}-b${r}" "${first[1]}"
    fi
    record "${sync_rows%,}" "${r}" variant sync_upsert "sync_upsert-v${r}" sync
    if wanted "${last[0]}"; then
      record "${last[0]}" "${r}" baseline sync_upsert "${last[0]}-b${r}" "${last[1]}"
    fi
  done
fi

# demo_generator: `pulsepoint-integrations demo` (generate + upsert through the real path,
# streaming) at two sizes, each into its own new tenant and brand; the report compares
# their peak RSS.
demo_run() { # orders
  local demo_tenant demo_brand
  read -r demo_tenant _ demo_brand <<<"$("${loadgen}" setup --auth-url "${auth_url}" \
    --brands-url "http://127.0.0.1:${brands_port}" --format words)"
  PULSEPOINT_DATABASE_URL="$(role_url integrations)" "${load_pin[@]}" "${bin}/pulsepoint-integrations" \
    demo --orders "$1" --seed 1 --days 730 --tenant "${demo_tenant}" --brand "${demo_brand}" --quiet
}
if wanted demo_generator; then
  demo_small="${PP_BENCH_DEMO_SMALL_ORDERS:-100000}"
  demo_large="${PP_BENCH_DEMO_ORDERS:-1000000}"
  log "row demo_generator (${demo_small} then ${demo_large} orders)"
  record demo_generator 1 baseline demo_run "${demo_small}"
  record demo_generator 1 variant demo_run "${demo_large}"
fi

# --- dashboard: GetDashboard over the rollups vs its own SQL vs a raw scan --------------
# A demo brand of PP_BENCH_DASHBOARD_ORDERS (1,000,000) orders over 730 days, its rollups
# built as the service builds them the first time (timed, reported as info), then the
# last 90 complete days (UTC, the set-up brand's zone) three ways: the RPC through the
# insights server (Redis cache off, so every call runs the engine; integrations running
# for the freshness call), the RPC's own SQL in-process, and the same figures from a raw
# scan of commerce.* (checked equal to the rollups' before timing). Closed loop with
# PP_BENCH_DASHBOARD_CONCURRENCY (2) calls in flight for PP_BENCH_DASHBOARD_SECONDS (10;
# the raw scan, seconds a call, PP_BENCH_DASHBOARD_RAW_SECONDS, 45).
dashboard_rows() {
  wanted dashboard_rollups || wanted dashboard_rpc || wanted ask_rpc || wanted ask_planner || return 0
  local orders="${PP_BENCH_DASHBOARD_ORDERS:-1000000}" ports integrations_port insights_port
  ports="$("${loadgen}" free-ports 2)"
  read -r integrations_port insights_port <<<"${ports}"
  read -r dash_tenant dash_token dash_brand <<<"$("${loadgen}" setup --auth-url "${auth_url}" \
    --brands-url "http://127.0.0.1:${brands_port}" --format words)"
  log "dashboard rows: ${orders} demo orders"
  PULSEPOINT_DATABASE_URL="$(role_url integrations)" "${load_pin[@]}" "${bin}/pulsepoint-integrations" \
    demo --orders "${orders}" --seed 1 --days 730 --tenant "${dash_tenant}" --brand "${dash_brand}" \
    --quiet >"${work}/dashboard-demo.json"
  record_info dashboard_rollups "$("${loadgen}" rollups --database-url "$(role_url insights)" \
    --tenant-id "${dash_tenant}" --brand-id "${dash_brand}")"
  "${bin}/pulsepoint-integrations" keygen "${work}/token-keys"
  start integrations PULSEPOINT_LISTEN_ADDR="127.0.0.1:${integrations_port}" \
    PULSEPOINT_DATABASE_URL="$(role_url integrations)" PULSEPOINT_AUTH_URL="${auth_url}" \
    PULSEPOINT_REDIS_URL="${live_redis}" PULSEPOINT_TOKEN_KEY_FILE="${work}/token-keys" \
    PULSEPOINT_WEBHOOK_CREDENTIAL="bench-webhook-credential-0123456789" \
    "${bin}/pulsepoint-integrations"
  start insights PULSEPOINT_LISTEN_ADDR="127.0.0.1:${insights_port}" \
    PULSEPOINT_DATABASE_URL="$(role_url insights)" PULSEPOINT_AUTH_URL="${auth_url}" \
    PULSEPOINT_REDIS_URL="${live_redis}" PULSEPOINT_INSIGHTS_CACHE_TTL_MS=0 \
    PULSEPOINT_INTEGRATIONS_URL="http://127.0.0.1:${integrations_port}" "${bin}/pulsepoint-insights"
  wait_port "${integrations_port}" integrations
  wait_port "${insights_port}" insights
  dash_end="$(date -u -d yesterday +%F)"
  dash_start="$(date -u -d '90 days ago' +%F)"
  dash_load() { # label seconds args...
    local label=$1 seconds=$2; shift 2
    "${load_pin[@]}" "${loadgen}" load --label "${label}" --duration "${seconds}" \
      --warmup "${warmup}" --token "${dash_token}" --brand-id "${dash_brand}" --start "${dash_start}" \
      --end "${dash_end}" --connections 1 --concurrency "${PP_BENCH_DASHBOARD_CONCURRENCY:-2}" \
      --db-comm postgres "$@"
  }
  dashboard_rpc_run() { dash_load "$1" "${PP_BENCH_DASHBOARD_SECONDS:-10}" --target "http://127.0.0.1:${insights_port}" --rpc get-dashboard \
    --server-pid "${pid_insights}" --server-pid "${pid_auth}"; }
  dashboard_sql_run() { dash_load "$1" "${PP_BENCH_DASHBOARD_SECONDS:-10}" --target in-process --rpc dashboard-sql \
    --database-url "$(role_url insights)" --tenant-id "${dash_tenant}"; }
  # A raw scan takes seconds: a longer window, so several calls complete inside it.
  dashboard_raw_run() { dash_load "$1" "${PP_BENCH_DASHBOARD_RAW_SECONDS:-45}" --target in-process --rpc dashboard-raw \
    --database-url "$(role_url insights)" --tenant-id "${dash_tenant}"; }
  row dashboard_rollups dashboard_raw_run dashboard_rpc_run
  row dashboard_rpc dashboard_sql_run dashboard_rpc_run
  # AskQuestion with the built-in planner on the same brand: ten typical questions in
  # turn (tests/src/bench/ask.rs), PP_BENCH_ASK_SECONDS (10) a side.
  ask_rpc_run() { dash_load "$1" "${PP_BENCH_ASK_SECONDS:-10}" --target "http://127.0.0.1:${insights_port}" --rpc ask-question \
    --server-pid "${pid_insights}" --server-pid "${pid_auth}"; }
  ask_sql_run() { dash_load "$1" "${PP_BENCH_ASK_SECONDS:-10}" --target in-process --rpc ask-sql \
    --database-url "$(role_url insights)" --tenant-id "${dash_tenant}"; }
  ask_planner_run() { dash_load "$1" "${PP_BENCH_ASK_SECONDS:-10}" --target in-process --rpc ask-planner \
    --database-url "$(role_url insights)" --tenant-id "${dash_tenant}"; }
  row ask_rpc ask_sql_run ask_rpc_run
  row ask_planner ask_sql_run ask_planner_run
}
dashboard_rows

# --- events end to end: outbox → relay → Pub/Sub emulator → observability -------------
# Informational, one run: a brands process whose relay publishes to an emulator on a
# free port, the observability service subscribed; `loadgen events` writes the events
# into brands.outbox and times them into observability.events.
events_e2e() {
  command -v gcloud >/dev/null || { log "gcloud not found: events row skipped"; return 0; }
  local pubsub_port relay_port obs_port host java_pid="" ports
  ports="$("${loadgen}" free-ports 3)"
  read -r pubsub_port relay_port obs_port <<<"${ports}"
  host="127.0.0.1:${pubsub_port}"
  mkdir -p "${work}/pubsub"
  log "row events_e2e: Pub/Sub emulator on ${host}"
  gcloud beta emulators pubsub start --host-port="${host}" --data-dir="${work}/pubsub" \
    >"${work}/pubsub.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 600); do
    [[ -z "${java_pid}" ]] && java_pid="$(pgrep -f "java.*--port=${pubsub_port}" | head -n1 || true)"
    [[ -n "${java_pid}" ]] && emulator_java="${java_pid}"
    curl -fsS "http://${host}/" 2>/dev/null | grep -q Ok && break
    sleep 0.1
  done
  curl -fsS "http://${host}/" 2>/dev/null | grep -q Ok || { log "emulator did not start; see ${work}/pubsub.log"; return 1; }
  # Earlier rows left api.request events unpublished in brands.outbox (no relay ran);
  # mark them sent so the relay starts with an empty backlog.
  psql "${db_admin_url}" -q -c "update brands.outbox set published_at = now() where published_at is null"
  local pubsub_env=(PULSEPOINT_PUBSUB_PROJECT=pp-bench PUBSUB_EMULATOR_HOST="${host}"
    PULSEPOINT_PUBSUB_SUBSCRIPTIONS=pulsepoint-events-observability)
  start brands-relay "${pubsub_env[@]}" PULSEPOINT_LISTEN_ADDR="127.0.0.1:${relay_port}" \
    PULSEPOINT_DATABASE_URL="$(role_url brands)" PULSEPOINT_AUTH_URL="${auth_url}" \
    PULSEPOINT_REDIS_URL="${dead_redis}" "${bin}/pulsepoint-brands"
  start observability "${pubsub_env[@]}" PULSEPOINT_LISTEN_ADDR="127.0.0.1:${obs_port}" \
    PULSEPOINT_DATABASE_URL="$(role_url observability)" PULSEPOINT_AUTH_URL="${auth_url}" \
    PULSEPOINT_REDIS_URL="${live_redis}" "${bin}/pulsepoint-observability"
  wait_port "${relay_port}" brands-relay || return 1
  wait_port "${obs_port}" observability || return 1
  [[ -z "${emulator_java}" ]] && emulator_java="$(pgrep -f "java.*--port=${pubsub_port}" | head -n1 || true)"
  record events_e2e 1 variant events_run
}
events_run() {
  "${load_pin[@]}" "${loadgen}" events --label events_e2e --count "${events}" \
    --database-url "$(role_url brands)" --store-url "${db_admin_url}" --tenant-id "${tenant_id}" \
    --server-pid "${pid_brands_relay}" --server-pid "${pid_observability}" \
    ${emulator_java:+--broker-pid "${emulator_java}"} --db-comm postgres
}
if (( events > 0 )) && wanted events_e2e; then events_e2e || log "events row failed"; fi

# --- results -----------------------------------------------------------------------------
doc_args=(--doc docs/performance.md)
[[ "${PP_BENCH_NO_DOC:-0}" == 1 ]] && doc_args=()
"${loadgen}" report --runs "${runs}" --results "${out_dir}/results.json" "${doc_args[@]}" \
  --commit "$(git rev-parse --short HEAD 2>/dev/null || true)" --cores "${cores}" --pinning "${pinning}" \
  --load-average "${load1}" --rounds "${rounds}" --seconds "${seconds}" --warmup "${warmup}" \
  --connections "${connections}" --concurrency "${concurrency}" --db-concurrency "${db_concurrency}" \
  --started "${bench_started}"
log "results: ${out_dir}/results.json ($(( $(date +%s) - bench_started )) s)"
