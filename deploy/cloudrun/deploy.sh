#!/usr/bin/env bash
# Deploys Pulsepoint to Cloud Run: migrations as Cloud Run jobs, then every service.
#
#   PROJECT_ID=pulsepoint-prod REGION=europe-west1 IMAGE_TAG=0.1.0 deploy/cloudrun/deploy.sh
#
# Required env:
#   PROJECT_ID          Google Cloud project
#   REGION              Cloud Run region, e.g. europe-west1
#   IMAGE_TAG           tag of the images built from deploy/Dockerfile (never "latest")
# Optional env:
#   REGISTRY            default ${REGION}-docker.pkg.dev/${PROJECT_ID}/pulsepoint
#   SERVICES            default "auth brands integrations insights observability gateway" (every
#                       service the workspace builds)
#   NETWORK, SUBNET     VPC for Direct VPC egress (Memorystore, private Cloud SQL, and the
#                       gateway's calls to internal-only services); default "pulsepoint"
#   CLOUDSQL_INSTANCE   PROJECT:REGION:INSTANCE to attach (Cloud SQL connector socket)
#   PUBLIC_URL          public origin of the gateway, for JWT issuer and CORS
#                       (default https://app.pulsepoint.example.com)
#   OTEL_ENDPOINT       OTLP/gRPC collector URL (optional)
#   TOKEN_KMS_KEY       Cloud KMS crypto key integrations seals provider tokens with (default
#                       projects/PROJECT_ID/locations/REGION/keyRings/pulsepoint/cryptoKeys/integrations-tokens)
#   OAUTH_REDIRECT_URIS comma list of the OAuth redirect URIs integrations accepts
#                       (default PUBLIC_URL/oauth/callback)
#   PLATFORMS           platforms whose app secrets integrations gets, any of
#                       "shopify meta tiktok google-ads" (default none: only the demo store works;
#                       every secret of a listed platform must exist in Secret Manager)
#   GOOGLE_ADS_LOGIN_CUSTOMER_ID  Google Ads manager account id (optional, not secret)
#   SKIP_MIGRATIONS=1   deploy services only
#   DRY_RUN=1           print the gcloud commands instead of running them
#
# Secrets come from Secret Manager (never from this script or the image):
#   pulsepoint-db-owner-url              owner role URL, migration jobs only
#   pulsepoint-<svc>-db-url              each backend's own login role
#   pulsepoint-redis-url
#   pulsepoint-auth-signing-key          Ed25519 PKCS#8 PEM, mounted as a file
#   pulsepoint-webhook-credential        shared by gateway and integrations (Shopify webhooks)
#   pulsepoint-shopify-api-key, pulsepoint-shopify-api-secret           PLATFORMS=shopify
#   pulsepoint-meta-app-id, pulsepoint-meta-app-secret                  PLATFORMS=meta
#   pulsepoint-tiktok-app-id, pulsepoint-tiktok-secret                  PLATFORMS=tiktok
#   pulsepoint-google-ads-client-id, pulsepoint-google-ads-client-secret,
#   pulsepoint-google-ads-developer-token                               PLATFORMS=google-ads
# Each service runs as its own service account pulsepoint-<svc>@PROJECT.iam.gserviceaccount.com
# with secretAccessor on its secrets and Cloud SQL client. Pub/Sub (PULSEPOINT_PUBSUB_PROJECT is
# set on every backend, which turns on its outbox relay): auth, brands, integrations, insights
# and observability need roles/pubsub.publisher on topic pulsepoint-events; observability and
# insights also need roles/pubsub.subscriber on their subscriptions
# pulsepoint-events-observability and pulsepoint-events-insights (streaming pull).
# deploy/pubsub/setup.sh creates the topic and subscription and grants these roles.
# integrations also needs roles/cloudkms.cryptoKeyEncrypterDecrypter on TOKEN_KMS_KEY (access
# tokens from the metadata server) and reaches the platform APIs over the internet (its VPC
# egress is private-ranges-only, so public traffic leaves Cloud Run directly).
# insights calls integrations (internal ingress) for data freshness, so like the gateway it
# sends all traffic through the VPC.
#
# When a service crate is added, add it to PORT, GRPC_SERVICE, MIGRATION_ORDER, DEPLOY_ORDER and
# the gateway's PULSEPOINT_BACKEND_<SVC> following the auth/brands pattern.
#
# Backends: --ingress internal and HTTP/2 end to end (gRPC). They accept unauthenticated
# invocations at the Cloud Run layer on purpose: the `authorization` header carries the
# caller's Pulsepoint JWT, which every service verifies itself (libs/auth); the network
# boundary is ingress=internal. The gateway is public (--ingress all) and reaches the backends
# through the VPC (--vpc-egress all-traffic), which Cloud Run counts as internal traffic.
set -euo pipefail

: "${PROJECT_ID:?set PROJECT_ID}"
: "${REGION:?set REGION}"
: "${IMAGE_TAG:?set IMAGE_TAG}"
if [[ "${IMAGE_TAG}" == "latest" ]]; then
  echo "deploy.sh: use an explicit IMAGE_TAG, not latest" >&2
  exit 2
fi

REGISTRY="${REGISTRY:-${REGION}-docker.pkg.dev/${PROJECT_ID}/pulsepoint}"
SERVICES="${SERVICES:-auth brands integrations insights observability gateway}"
NETWORK="${NETWORK:-pulsepoint}"
SUBNET="${SUBNET:-pulsepoint-${REGION}}"
CLOUDSQL_INSTANCE="${CLOUDSQL_INSTANCE:-}"
PUBLIC_URL="${PUBLIC_URL:-https://app.pulsepoint.example.com}"
OTEL_ENDPOINT="${OTEL_ENDPOINT:-}"
TOKEN_KMS_KEY="${TOKEN_KMS_KEY:-projects/${PROJECT_ID}/locations/${REGION}/keyRings/pulsepoint/cryptoKeys/integrations-tokens}"
OAUTH_REDIRECT_URIS="${OAUTH_REDIRECT_URIS:-${PUBLIC_URL}/oauth/callback}"
PLATFORMS="${PLATFORMS:-}"
GOOGLE_ADS_LOGIN_CUSTOMER_ID="${GOOGLE_ADS_LOGIN_CUSTOMER_ID:-}"
SKIP_MIGRATIONS="${SKIP_MIGRATIONS:-0}"
DRY_RUN="${DRY_RUN:-0}"

declare -A PORT=([auth]=50051 [brands]=50052 [integrations]=50053 [insights]=50054 [observability]=50055 [gateway]=8080)
declare -A GRPC_SERVICE=(
  [auth]=pulsepoint.auth.v1.AuthService
  [brands]=pulsepoint.brands.v1.BrandService
  [integrations]=pulsepoint.integrations.v1.IntegrationService
  [insights]=pulsepoint.insights.v1.InsightsService
  [observability]=pulsepoint.observability.v1.ObservabilityService
  [gateway]=""
)
# integrations migrates schemas commerce (read by brands) then integrations.
MIGRATION_ORDER=(auth brands integrations insights observability)
# auth first (everyone needs its URL), gateway last (it needs every backend's URL).
DEPLOY_ORDER=(auth brands integrations insights observability gateway)
# Secret Manager secrets of each platform's app: ENV_VAR=secret-name.
declare -A PLATFORM_SECRETS=(
  [shopify]="PULSEPOINT_SHOPIFY_API_KEY=pulsepoint-shopify-api-key PULSEPOINT_SHOPIFY_API_SECRET=pulsepoint-shopify-api-secret"
  [meta]="PULSEPOINT_META_APP_ID=pulsepoint-meta-app-id PULSEPOINT_META_APP_SECRET=pulsepoint-meta-app-secret"
  [tiktok]="PULSEPOINT_TIKTOK_APP_ID=pulsepoint-tiktok-app-id PULSEPOINT_TIKTOK_SECRET=pulsepoint-tiktok-secret"
  [google-ads]="PULSEPOINT_GOOGLE_ADS_CLIENT_ID=pulsepoint-google-ads-client-id PULSEPOINT_GOOGLE_ADS_CLIENT_SECRET=pulsepoint-google-ads-client-secret PULSEPOINT_GOOGLE_ADS_DEVELOPER_TOKEN=pulsepoint-google-ads-developer-token"
)

gc=(gcloud --project "${PROJECT_ID}" --quiet)
declare -A URL=()

run() {
  if [[ "${DRY_RUN}" == "1" ]]; then
    { printf '+'; printf ' %q' "$@"; printf '\n'; } >&2
  else
    "$@"
  fi
}

wanted() { [[ " ${SERVICES} " == *" $1 "* ]]; }
image() { echo "${REGISTRY}/pulsepoint-$1:${IMAGE_TAG}"; }
sa() { echo "pulsepoint-$1@${PROJECT_ID}.iam.gserviceaccount.com"; }
join() { local IFS="$1"; shift; echo "$*"; }

# service_url SVC: the https URL of a deployed service (placeholder in dry-run mode).
service_url() {
  if [[ -n "${URL[$1]:-}" ]]; then
    echo "${URL[$1]}"
  elif [[ "${DRY_RUN}" == "1" ]]; then
    echo "https://pulsepoint-$1-HASH.a.run.app"
  else
    "${gc[@]}" run services describe "pulsepoint-$1" --region "${REGION}" --format='value(status.url)'
  fi
}

vpc_flags() { # vpc_flags EGRESS
  printf '%s\n' --network="${NETWORK}" --subnet="${SUBNET}" --vpc-egress="$1"
}

# ------------------------------------------------------------------------------- migrations
migrate() {
  local svc="$1" job="pulsepoint-migrate-$1"
  local flags=(
    --region "${REGION}"
    --image "$(image "${svc}")"
    --command "/app/pulsepoint-${svc}"
    --args migrate
    --service-account "$(sa migrate)"
  )
  # `pulsepoint-<svc> migrate` needs only the owner URL.
  local env=(PULSEPOINT_LOG_FORMAT=json RUST_LOG=info "OTEL_SERVICE_NAME=pulsepoint-${svc}-migrate")
  flags+=(
    --set-secrets "PULSEPOINT_DATABASE_OWNER_URL=pulsepoint-db-owner-url:latest"
    --set-env-vars "^|^$(join '|' "${env[@]}")"
    --tasks 1
    --max-retries 1
    --task-timeout 15m
    --cpu 1
    --memory 512Mi
  )
  mapfile -t -O "${#flags[@]}" flags < <(vpc_flags private-ranges-only)
  [[ -n "${CLOUDSQL_INSTANCE}" ]] && flags+=(--set-cloudsql-instances "${CLOUDSQL_INSTANCE}")
  echo "==> migrate ${svc}" >&2
  run "${gc[@]}" run jobs deploy "${job}" "${flags[@]}"
  run "${gc[@]}" run jobs execute "${job}" --region "${REGION}" --wait
}

# --------------------------------------------------------------------------------- services
deploy_service() {
  local svc="$1" port="${PORT[$1]}"
  local env=(
    "PULSEPOINT_LISTEN_ADDR=0.0.0.0:${port}"
    "PULSEPOINT_LOG_FORMAT=json"
    "PULSEPOINT_REFLECTION=false"
    "RUST_LOG=info"
    "OTEL_SERVICE_NAME=pulsepoint-${svc}"
    "PULSEPOINT_JWT_ISSUER=${PUBLIC_URL}"
    "PULSEPOINT_JWT_AUDIENCE=pulsepoint"
    "PULSEPOINT_PUBSUB_PROJECT=${PROJECT_ID}"
    "PULSEPOINT_PUBSUB_TOPIC=pulsepoint-events"
  )
  [[ -n "${OTEL_ENDPOINT}" ]] && env+=("OTEL_EXPORTER_OTLP_ENDPOINT=${OTEL_ENDPOINT}")
  local secrets=("PULSEPOINT_REDIS_URL=pulsepoint-redis-url:latest")
  local flags=(
    --region "${REGION}"
    --image "$(image "${svc}")"
    --service-account "$(sa "${svc}")"
    --port "${port}"
    --use-http2
    --allow-unauthenticated
    --execution-environment gen2
    --cpu-boost
    --timeout 3600
    --concurrency 80
  )
  local probe="grpc.port=${port}"
  [[ -n "${GRPC_SERVICE[$svc]}" ]] && probe+=",grpc.service=${GRPC_SERVICE[$svc]}"
  flags+=(
    --startup-probe "${probe},periodSeconds=2,failureThreshold=30,timeoutSeconds=2"
    --liveness-probe "grpc.port=${port},periodSeconds=10,failureThreshold=3,timeoutSeconds=2"
  )

  if [[ "${svc}" == gateway ]]; then
    env+=(
      "PULSEPOINT_STATIC_DIR=/app/static"
      "PULSEPOINT_CORS_ORIGINS=${PUBLIC_URL}"
      "PULSEPOINT_AUTH_URL=$(service_url auth)"
      "PULSEPOINT_BACKEND_AUTH=$(service_url auth)"
      "PULSEPOINT_BACKEND_BRANDS=$(service_url brands)"
      "PULSEPOINT_BACKEND_INTEGRATIONS=$(service_url integrations)"
      "PULSEPOINT_BACKEND_INSIGHTS=$(service_url insights)"
      "PULSEPOINT_BACKEND_OBSERVABILITY=$(service_url observability)"
      # Cloud Run's front end connects from a link-local address and appends the client
      # to x-forwarded-for (docs/operations.md, "Client addresses behind proxies").
      "PULSEPOINT_TRUSTED_PROXIES=${GATEWAY_TRUSTED_PROXIES:-169.254.0.0/16}"
    )
    # Presented to integrations when forwarding POST /webhooks/shopify.
    secrets+=("PULSEPOINT_WEBHOOK_CREDENTIAL=pulsepoint-webhook-credential:latest")
    flags+=(--ingress all --cpu 1 --memory 512Mi --min-instances 1 --max-instances 20)
    mapfile -t -O "${#flags[@]}" flags < <(vpc_flags all-traffic)
  else
    secrets+=("PULSEPOINT_DATABASE_URL=pulsepoint-${svc}-db-url:latest")
    # Outbox relay, Pub/Sub subscriber (observability's streaming pull) and SKIP LOCKED job
    # runners work between requests: keep CPU allocated and one instance warm.
    flags+=(--ingress internal --no-cpu-throttling --min-instances 1 --max-instances 10)
    local egress=private-ranges-only
    [[ "${svc}" == insights ]] && egress=all-traffic
    mapfile -t -O "${#flags[@]}" flags < <(vpc_flags "${egress}")
    [[ -n "${CLOUDSQL_INSTANCE}" ]] && flags+=(--add-cloudsql-instances "${CLOUDSQL_INSTANCE}")
    [[ "${svc}" != auth ]] && env+=("PULSEPOINT_AUTH_URL=$(service_url auth)")
    case "${svc}" in
      auth)
        # The gateway reaches auth through the VPC: trust the front end and the range
        # its egress comes from, so the client the gateway found is the one throttled.
        env+=("PULSEPOINT_TRUSTED_PROXIES=${AUTH_TRUSTED_PROXIES:-169.254.0.0/16,10.0.0.0/8}")
        secrets+=("/var/secrets/pulsepoint/signing/signing-key.pem=pulsepoint-auth-signing-key:latest")
        env+=("PULSEPOINT_SIGNING_KEY_FILE=/var/secrets/pulsepoint/signing/signing-key.pem")
        flags+=(--cpu 2 --memory 1Gi)  # argon2id is CPU and memory bound
        ;;
      integrations)
        # Provider tokens sealed with Cloud KMS; the platforms' apps only for PLATFORMS.
        env+=(
          "PULSEPOINT_TOKEN_KMS_KEY=${TOKEN_KMS_KEY}"
          "PULSEPOINT_OAUTH_REDIRECT_URIS=${OAUTH_REDIRECT_URIS}"
        )
        [[ -n "${GOOGLE_ADS_LOGIN_CUSTOMER_ID}" ]] \
          && env+=("PULSEPOINT_GOOGLE_ADS_LOGIN_CUSTOMER_ID=${GOOGLE_ADS_LOGIN_CUSTOMER_ID}")
        secrets+=("PULSEPOINT_WEBHOOK_CREDENTIAL=pulsepoint-webhook-credential:latest")
        local platform pair
        for platform in ${PLATFORMS}; do
          for pair in ${PLATFORM_SECRETS[${platform}]}; do
            secrets+=("${pair}:latest")
          done
        done
        flags+=(--cpu 1 --memory 512Mi)
        ;;
      insights)
        env+=(
          "PULSEPOINT_PUBSUB_SUBSCRIPTION=pulsepoint-events-insights"
          "PULSEPOINT_INTEGRATIONS_URL=$(service_url integrations)"
          "PULSEPOINT_OBSERVABILITY_URL=$(service_url observability)"
        )
        flags+=(--cpu 1 --memory 512Mi)
        ;;
      observability)
        env+=("PULSEPOINT_PUBSUB_SUBSCRIPTION=pulsepoint-events-observability")
        flags+=(--cpu 1 --memory 512Mi)
        ;;
      *)
        flags+=(--cpu 1 --memory 512Mi)
        ;;
    esac
  fi

  flags+=(
    --set-env-vars "^|^$(join '|' "${env[@]}")"
    --set-secrets "$(join ',' "${secrets[@]}")"
  )
  echo "==> deploy ${svc}" >&2
  run "${gc[@]}" run deploy "pulsepoint-${svc}" "${flags[@]}"
  URL[${svc}]="$(service_url "${svc}")"
  echo "    ${svc}: ${URL[${svc}]}" >&2
}

for svc in ${SERVICES}; do
  if [[ -z "${PORT[${svc}]:-}" ]]; then
    echo "deploy.sh: unknown service '${svc}' in SERVICES" >&2
    exit 2
  fi
done
for platform in ${PLATFORMS}; do
  if [[ -z "${PLATFORM_SECRETS[${platform}]:-}" ]]; then
    echo "deploy.sh: unknown platform '${platform}' in PLATFORMS (shopify meta tiktok google-ads)" >&2
    exit 2
  fi
done

if [[ "${SKIP_MIGRATIONS}" != "1" ]]; then
  for svc in "${MIGRATION_ORDER[@]}"; do
    wanted "${svc}" && migrate "${svc}"
  done
fi

for svc in "${DEPLOY_ORDER[@]}"; do
  wanted "${svc}" && deploy_service "${svc}"
done

echo "deployed ${SERVICES} (${IMAGE_TAG}) to ${PROJECT_ID}/${REGION}" >&2
