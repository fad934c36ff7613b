#!/usr/bin/env bash
# The service images `make docker` builds, one per line: every `FROM … AS pulsepoint-*`
# target of deploy/Dockerfile. The Dockerfile is the one list; scripts/validate-deploy.sh
# (check "binaries") fails unless these are exactly the binaries of services/*/Cargo.toml,
# each with a compose service and a Kubernetes Deployment.
set -euo pipefail
dockerfile="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/deploy/Dockerfile}"
targets="$(sed -nE 's/^[[:space:]]*[Ff][Rr][Oo][Mm][[:space:]].*[[:space:]][Aa][Ss][[:space:]]+(pulsepoint-[A-Za-z0-9_.-]+)[[:space:]]*$/\1/p' "${dockerfile}")"
if [[ -z "${targets}" ]]; then
  echo "${dockerfile}: no \`FROM … AS pulsepoint-*\` target" >&2
  exit 1
fi
echo "${targets}"
