#!/usr/bin/env bash
# Creates the Pub/Sub + BigQuery topology of Pulsepoint in a Google Cloud project. Idempotent:
# anything that exists is left as it is (describe first, create only when missing).
#
#   PROJECT_ID=pulsepoint-prod deploy/pubsub/setup.sh
#
#   topic         pulsepoint-events            publishers set ordering key = tenant id,
#                                              attributes event_type, tenant_id; JSON envelope
#   topic         pulsepoint-events-dlq        dead letters of every subscription
#   subscription  pulsepoint-events-observability   pulled (streaming pull) by
#                                              pulsepoint-observability; unordered, dead-letter
#                                              after 10 tries; unacked messages kept 7 days
#   subscription  pulsepoint-events-insights   pulled by pulsepoint-insights, the same settings,
#                                              filtered to event_type data.sync_completed
#   subscription  pulsepoint-events-dlq-hold   keeps dead letters for inspection (7 days)
#   table         pulsepoint_analytics.events  partitioned by publish_time (DAY), clustered
#                                              by tenant_id, event_type
#   subscription  pulsepoint-events-bigquery   BigQuery subscription into that table
#                                              (use_topic_schema=false, write_metadata=true,
#                                              use_table_schema=true: envelope fields -> columns)
#   IAM           pulsepoint-<svc>@PROJECT service accounts (Workload Identity on GKE, the
#                 Cloud Run service identity): roles/pubsub.publisher on pulsepoint-events for
#                 every outbox relay (auth, brands, integrations, insights, observability);
#                 roles/pubsub.subscriber on pulsepoint-events-<svc> for each subscriber
#                 (observability, insights). Accounts that do not exist
#                 yet are reported and skipped; run the script again once they do.
#
# Env: PROJECT_ID (required), BQ_LOCATION (default EU), DRY_RUN=1 prints the commands only,
#      PUBLISHERS (default "auth brands integrations insights observability"), SUBSCRIBERS
#      (default "observability insights"; each pulls pulsepoint-events-<svc>).
set -euo pipefail

: "${PROJECT_ID:?set PROJECT_ID}"
BQ_LOCATION="${BQ_LOCATION:-EU}"
PUBLISHERS="${PUBLISHERS:-auth brands integrations insights observability}"
SUBSCRIBERS="${SUBSCRIBERS:-observability insights}"
DRY_RUN="${DRY_RUN:-0}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
schema="${here}/bigquery-events-schema.json"

TOPIC=pulsepoint-events
DLQ_TOPIC=pulsepoint-events-dlq
DLQ_HOLD=pulsepoint-events-dlq-hold
OBS_SUB=pulsepoint-events-observability
INSIGHTS_SUB=pulsepoint-events-insights
BQ_SUB=pulsepoint-events-bigquery
DATASET=pulsepoint_analytics
TABLE=events

run() {
  if [[ "${DRY_RUN}" == "1" ]]; then
    { printf '+'; printf ' %q' "$@"; printf '\n'; } >&2
  else
    "$@"
  fi
}

# exists CMD...: true when a describe/show command succeeds (never in dry-run mode).
exists() {
  [[ "${DRY_RUN}" == "1" ]] && return 1
  "$@" >/dev/null 2>&1
}

gc=(gcloud --project "${PROJECT_ID}" --quiet)

if [[ "${DRY_RUN}" == "1" ]]; then
  project_number="PROJECT_NUMBER"
else
  project_number="$(gcloud projects describe "${PROJECT_ID}" --format='value(projectNumber)')"
fi
pubsub_agent="serviceAccount:service-${project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

# ------------------------------------------------------------------------------------ topics
for topic in "${TOPIC}" "${DLQ_TOPIC}"; do
  if exists "${gc[@]}" pubsub topics describe "${topic}"; then
    echo "topic ${topic}: exists"
  else
    run "${gc[@]}" pubsub topics create "${topic}" --message-retention-duration=7d
  fi
done

# Dead letters are kept on a plain subscription so they can be inspected and replayed.
if exists "${gc[@]}" pubsub subscriptions describe "${DLQ_HOLD}"; then
  echo "subscription ${DLQ_HOLD}: exists"
else
  run "${gc[@]}" pubsub subscriptions create "${DLQ_HOLD}" \
    --topic="${DLQ_TOPIC}" \
    --ack-deadline=60 \
    --message-retention-duration=7d \
    --expiration-period=never
fi

# -------------------------------------------------------------- observability subscription
# Consumed by pulsepoint-observability (streaming pull, PULSEPOINT_PUBSUB_SUBSCRIPTION): it
# stores each event idempotently by event_id and acks; a message it cannot store is nacked and
# redelivered. Its backlog (num_undelivered_messages, oldest_unacked_message_age) is the
# service's lag: see docs/operations.md, "Observability".
# Ordering is a property of the subscription and is left off here: the store is idempotent
# and order-insensitive, and an ordered subscription delivers one tenant's messages one
# batch at a time (a busy tenant would lag). Publishers still set the ordering key (tenant
# id), so a future consumer that needs per-tenant order can subscribe with ordering on.
# Redelivery with backoff; after 10 attempts, dead letter.
if exists "${gc[@]}" pubsub subscriptions describe "${OBS_SUB}"; then
  echo "subscription ${OBS_SUB}: exists"
else
  run "${gc[@]}" pubsub subscriptions create "${OBS_SUB}" \
    --topic="${TOPIC}" \
    --ack-deadline=60 \
    --message-retention-duration=7d \
    --expiration-period=never \
    --min-retry-delay=10s \
    --max-retry-delay=600s \
    --dead-letter-topic="${DLQ_TOPIC}" \
    --max-delivery-attempts=10
fi

# ------------------------------------------------------------------ insights subscription
# Consumed by pulsepoint-insights: each data.sync_completed refreshes the brand's rollups
# (idempotent by event_id). Only that event type is delivered (a subscription filter).
if exists "${gc[@]}" pubsub subscriptions describe "${INSIGHTS_SUB}"; then
  echo "subscription ${INSIGHTS_SUB}: exists"
else
  run "${gc[@]}" pubsub subscriptions create "${INSIGHTS_SUB}" \
    --topic="${TOPIC}" \
    --message-filter='attributes.event_type = "data.sync_completed"' \
    --ack-deadline=60 \
    --message-retention-duration=7d \
    --expiration-period=never \
    --min-retry-delay=10s \
    --max-retry-delay=600s \
    --dead-letter-topic="${DLQ_TOPIC}" \
    --max-delivery-attempts=10
fi

# -------------------------------------------------------------------------- BigQuery table
if exists bq --project_id="${PROJECT_ID}" show --dataset "${PROJECT_ID}:${DATASET}"; then
  echo "dataset ${DATASET}: exists"
else
  run bq --project_id="${PROJECT_ID}" mk --dataset \
    --location="${BQ_LOCATION}" \
    --description="Pulsepoint event stream (Pub/Sub BigQuery subscription)" \
    "${PROJECT_ID}:${DATASET}"
fi

if exists bq --project_id="${PROJECT_ID}" show "${PROJECT_ID}:${DATASET}.${TABLE}"; then
  echo "table ${DATASET}.${TABLE}: exists"
else
  run bq --project_id="${PROJECT_ID}" mk --table \
    --schema="${schema}" \
    --time_partitioning_type=DAY \
    --time_partitioning_field=publish_time \
    --require_partition_filter=true \
    --clustering_fields=tenant_id,event_type \
    --description="Pulsepoint events: one row per Pub/Sub message (at-least-once; dedupe on event_id)" \
    "${PROJECT_ID}:${DATASET}.${TABLE}"
fi

# ---------------------------------------------------------------------------------- IAM
# The Pub/Sub service agent forwards dead letters and writes to BigQuery.
run "${gc[@]}" pubsub topics add-iam-policy-binding "${DLQ_TOPIC}" \
  --member="${pubsub_agent}" --role=roles/pubsub.publisher >/dev/null
run bq --project_id="${PROJECT_ID}" add-iam-policy-binding \
  --member="${pubsub_agent}" --role=roles/bigquery.dataEditor \
  "${PROJECT_ID}:${DATASET}.${TABLE}" >/dev/null

# ------------------------------------------------------------------ BigQuery subscription
# use_topic_schema=false (the topic has no schema), write_metadata=true (subscription_name,
# message_id, publish_time, attributes columns), use_table_schema=true (JSON envelope fields
# land in the columns of the same name), drop_unknown_fields=true (new envelope fields never
# stall the stream; add the column to start keeping them).
if exists "${gc[@]}" pubsub subscriptions describe "${BQ_SUB}"; then
  echo "subscription ${BQ_SUB}: exists"
else
  run "${gc[@]}" pubsub subscriptions create "${BQ_SUB}" \
    --topic="${TOPIC}" \
    --bigquery-table="${PROJECT_ID}:${DATASET}.${TABLE}" \
    --write-metadata \
    --use-table-schema \
    --drop-unknown-fields \
    --message-retention-duration=7d \
    --expiration-period=never \
    --dead-letter-topic="${DLQ_TOPIC}" \
    --max-delivery-attempts=5
fi

for sub in "${OBS_SUB}" "${INSIGHTS_SUB}" "${BQ_SUB}"; do
  run "${gc[@]}" pubsub subscriptions add-iam-policy-binding "${sub}" \
    --member="${pubsub_agent}" --role=roles/pubsub.subscriber >/dev/null
done

# ------------------------------------------------------------------ service identities
# Least privilege, on the resources themselves: publishers may publish to the events topic
# only, each consumer may pull its own subscription only.
# grant_sa SVC KIND RESOURCE ROLE: bind pulsepoint-SVC@PROJECT if that account exists.
grant_sa() {
  local svc="$1" kind="$2" resource="$3" role="$4"
  local sa="pulsepoint-${svc}@${PROJECT_ID}.iam.gserviceaccount.com"
  if [[ "${DRY_RUN}" != "1" ]] && ! exists "${gc[@]}" iam service-accounts describe "${sa}"; then
    echo "service account ${sa}: missing, ${role} on ${resource} not granted" >&2
    return 0
  fi
  run "${gc[@]}" pubsub "${kind}" add-iam-policy-binding "${resource}" \
    --member="serviceAccount:${sa}" --role="${role}" >/dev/null
}
for svc in ${PUBLISHERS}; do
  grant_sa "${svc}" topics "${TOPIC}" roles/pubsub.publisher
done
for svc in ${SUBSCRIBERS}; do
  grant_sa "${svc}" subscriptions "pulsepoint-events-${svc}" roles/pubsub.subscriber
done

echo "pub/sub topology ready in ${PROJECT_ID}"
