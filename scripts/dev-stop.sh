#!/usr/bin/env bash
# Stops the services `make dev` started (not PostgreSQL or Redis).
set -euo pipefail
dev="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.dev"
for pidfile in "${dev}"/{gateway,observability,insights,integrations,brands,auth}.pid; do
  [[ -s "${pidfile}" ]] || continue
  kill "$(cat "${pidfile}")" 2>/dev/null || true
  rm -f "${pidfile}"
done
