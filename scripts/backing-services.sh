#!/usr/bin/env bash
# Makes sure PostgreSQL, Redis and (with --pubsub) the Google Pub/Sub emulator are
# running on this machine, installing Debian packages when they are missing.
# Idempotent; safe to run as root on a fresh Debian 12 machine. Used by `make dev`
# and `make test`.
#
#   scripts/backing-services.sh [--pubsub]       start what is not running
#   scripts/backing-services.sh --stop-pubsub    stop the emulator this script started
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state_dir="${repo_root}/.dev"
mkdir -p "${state_dir}"

log() { printf '[services] %s\n' "$*" >&2; }

apt_install() {
  if ! command -v apt-get >/dev/null; then
    log "apt-get not available; install $* by hand"; return 1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds name
  for _ in $(seq 1 $(( $2 * 10 ))); do port_open "$1" && return 0; sleep 0.1; done
  log "$3 did not come up on port $1"; return 1
}

ensure_postgres() {
  if port_open 5432 && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null; then apt_install postgresql postgresql-client; fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  log "starting PostgreSQL ${version}"
  pg_ctlcluster --skip-systemctl-redirect "${version}" main start || true
  wait_port 5432 30 PostgreSQL
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 0.2; done
  log "PostgreSQL is not accepting connections"; return 1
}

ensure_redis() {
  if port_open 6379; then return 0; fi
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "${state_dir}" --logfile "${state_dir}/redis.log"
  wait_port 6379 10 Redis
}

ensure_pubsub() {
  if port_open 8085; then return 0; fi
  if ! command -v gcloud >/dev/null; then
    log "gcloud is not installed: the Pub/Sub emulator cannot start"; return 1
  fi
  log "starting the Pub/Sub emulator on 127.0.0.1:8085"
  mkdir -p "${state_dir}/pubsub"
  nohup gcloud beta emulators pubsub start --host-port=127.0.0.1:8085 \
    --data-dir="${state_dir}/pubsub" >"${state_dir}/pubsub.log" 2>&1 &
  wait_port 8085 60 "Pub/Sub emulator"
  # gcloud starts a Java child that outlives gcloud; remember the Java pid.
  pgrep -f 'pubsub-emulator.*8085|cloud-pubsub-emulator' | head -n1 > "${state_dir}/pubsub.pid" || true
}

stop_pubsub() {
  if [[ -s "${state_dir}/pubsub.pid" ]]; then
    kill "$(cat "${state_dir}/pubsub.pid")" 2>/dev/null || true
    rm -f "${state_dir}/pubsub.pid"
  fi
}

case "${1:-}" in
  --stop-pubsub) stop_pubsub ;;
  --pubsub) ensure_postgres; ensure_redis; ensure_pubsub ;;
  "") ensure_postgres; ensure_redis ;;
  *) echo "usage: $0 [--pubsub|--stop-pubsub]" >&2; exit 2 ;;
esac
