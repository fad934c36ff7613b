#!/usr/bin/env bash
# Static validation of everything under deploy/ and k8s/ (run by `make k8s-validate`).
#
# Checks, one summary line each:
#   tools       repo-local venv .tools/deploy-venv with kubernetes-validate, checkov,
#               check-jsonschema (installed from PyPI once; later runs reuse it)
#   render      `kubectl kustomize k8s/overlays/<x>` for every overlay; no Secret objects
#   schema      every rendered object against the Kubernetes ${K8S_VERSION} OpenAPI schemas
#               (kubernetes-validate --strict: unknown fields are errors; works offline)
#   checkov     deploy/Dockerfile and the rendered manifests; every skip must carry a reason
#   compose     deploy/docker-compose.yml against the Compose specification schema
#   binaries    deploy/Dockerfile matches the workspace in both directions: every package it
#               names (`cargo build -p/--bin <pkg>`, `FROM ... AS pulsepoint-*` targets) is a
#               workspace member declared in services/*/Cargo.toml, and every binary of a
#               services/*/Cargo.toml has a build stage, a target named after it, a compose
#               service built from that target and, in every rendered overlay, a Deployment
#               running that image; the compose build targets and the pulsepoint-* images of
#               the rendered manifests are Dockerfile targets; scripts/docker-targets.sh (the
#               list `make docker` builds) reads exactly the Dockerfile's pulsepoint-* targets
#   images      every FROM in deploy/Dockerfile is one of its own stages or a registry image
#               pinned to a version tag or digest (never implicit/latest); covers the
#               stage-selecting `FROM ${SERVICE}` that checkov cannot resolve
#   bigquery    deploy/pubsub/bigquery-events-schema.json is valid and has the columns the
#               Pub/Sub subscription, partitioning and clustering need
#   lint        shellcheck on deploy/**/*.sh, this script and scripts/docker-targets.sh
#               (skipped without shellcheck)
#
# Needs: bash, python3 (3.11+, with venv), kubectl. Network: only PyPI, on the first run.
# Env: K8S_VERSION (default 1.32.0), PYTHON (default python3), VERBOSE=1 shows tool output.
# Exit status: 0 when every check passed or was skipped, 1 otherwise.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

K8S_VERSION="${K8S_VERSION:-1.32.0}"
python="${PYTHON:-python3}"
venv="${repo_root}/.tools/deploy-venv"
# Pinned so a new checkov policy or schema release cannot turn a green tree red overnight.
requirements=(
  "kubernetes-validate==1.37.0"
  "checkov==3.3.30"
  "check-jsonschema==0.39.0"
)
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

# Keep checkov (and anything else) off the network and quick: no policy/guideline downloads,
# no Bridgecrew platform mapping, no version check, no package (SCA) scanning.
export BC_SKIP_MAPPING=TRUE
export CHECKOV_SKIP_DOWNLOAD=TRUE
export CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
export SKIP_CHECKOV_UPDATE_CHECK=TRUE
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PYTHONWARNINGS=ignore
export NO_COLOR=1

passed=0
failed=0
skipped=0
failed_names=()

# report STATUS NAME MESSAGE [LOGFILE]: one summary line; the log is shown on failure.
report() {
  local status="$1" name="$2" message="$3" log="${4:-}"
  printf '%-4s  %-10s  %s\n' "${status}" "${name}" "${message}"
  case "${status}" in
    PASS) passed=$((passed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
    FAIL)
      failed=$((failed + 1))
      failed_names+=("${name}")
      if [[ -n "${log}" && -s "${log}" ]]; then
        sed 's/^/      | /' "${log}" | head -n 80
      fi
      ;;
  esac
  if [[ "${VERBOSE:-0}" == "1" && "${status}" != "FAIL" && -n "${log}" && -s "${log}" ]]; then
    sed 's/^/      | /' "${log}"
  fi
}

joined() { local out; out="$(printf '%s; ' "$@")"; echo "${out%; }"; }

# ------------------------------------------------------------------------------------ tools
check_tools() {
  local log="${work}/tools.log" stamp="${venv}/.pulsepoint-deploy-requirements"
  local want
  want="$(printf '%s\n' "${requirements[@]}")"
  if ! command -v kubectl >/dev/null 2>&1; then
    echo "kubectl not found on PATH (needed for 'kubectl kustomize')" >"${log}"
    report FAIL tools "kubectl is missing" "${log}"
    return 1
  fi
  if [[ -x "${venv}/bin/kubernetes-validate" && -x "${venv}/bin/checkov" \
        && -x "${venv}/bin/check-jsonschema" && -f "${stamp}" \
        && "$(cat "${stamp}")" == "${want}" ]]; then
    report PASS tools "reusing ${venv#"${repo_root}"/} (${requirements[*]})"
    return 0
  fi
  mkdir -p "${repo_root}/.tools"
  if [[ ! -x "${venv}/bin/python" ]] || ! "${venv}/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "${venv}"
    if ! "${python}" -m venv "${venv}" >"${log}" 2>&1; then
      report FAIL tools "could not create venv with ${python} (Debian: apt-get install python3-venv)" "${log}"
      return 1
    fi
  fi
  if ! "${venv}/bin/python" -m pip install --quiet "${requirements[@]}" >"${log}" 2>&1; then
    report FAIL tools "pip install ${requirements[*]} failed" "${log}"
    return 1
  fi
  printf '%s\n' "${requirements[@]}" >"${stamp}"
  report PASS tools "installed ${requirements[*]} into ${venv#"${repo_root}"/}"
}

# ----------------------------------------------------------------------------------- render
overlays=()
check_render() {
  local log="${work}/render.log" dir name out summary=() bad=0 count secrets
  mkdir -p "${work}/rendered"
  : >"${log}"
  for dir in k8s/overlays/*/; do
    [[ -f "${dir}kustomization.yaml" || -f "${dir}kustomization.yml" || -f "${dir}Kustomization" ]] || continue
    name="$(basename "${dir}")"
    out="${work}/rendered/${name}.yaml"
    if ! kubectl kustomize "${dir}" >"${out}" 2>>"${log}"; then
      echo "kubectl kustomize ${dir} failed" >>"${log}"
      bad=1
      rm -f "${out}"
      continue
    fi
    count="$(grep -c '^kind: ' "${out}" || true)"
    secrets="$(grep -c '^kind: Secret$' "${out}" || true)"
    if [[ "${count}" -eq 0 ]]; then
      echo "${dir}: rendered no objects" >>"${log}"
      bad=1
    fi
    if [[ "${secrets}" -ne 0 ]]; then
      echo "${dir}: renders ${secrets} Secret object(s); secrets must be created out of band, never kept in git" >>"${log}"
      bad=1
    fi
    overlays+=("${name}")
    summary+=("${name}: ${count} objects")
  done
  if [[ ${#overlays[@]} -eq 0 && ${bad} -eq 0 ]]; then
    echo "no overlays found under k8s/overlays/" >>"${log}"
    bad=1
  fi
  if [[ ${bad} -ne 0 ]]; then
    report FAIL render "kustomize rendering failed" "${log}"
    return 1
  fi
  report PASS render "$(joined "${summary[@]}")"
}

# ----------------------------------------------------------------------------------- schema
check_schema() {
  local log="${work}/schema.log"
  if [[ ${#overlays[@]} -eq 0 ]]; then
    report SKIP schema "nothing rendered"
    return 0
  fi
  local files=("${work}"/rendered/*.yaml)
  if "${venv}/bin/kubernetes-validate" --kubernetes-version "${K8S_VERSION}" --strict --quiet \
      "${files[@]}" >"${log}" 2>&1; then
    report PASS schema "$(cat "${files[@]}" | grep -c '^kind: ') objects valid against Kubernetes ${K8S_VERSION} (strict)" "${log}"
  else
    report FAIL schema "objects do not validate against Kubernetes ${K8S_VERSION}" "${log}"
    return 1
  fi
}

# ---------------------------------------------------------------------------------- checkov
checkov_run() { # checkov_run LOG ARGS...: bounded in time; never waits on the network.
  local log="$1"
  shift
  timeout 300 "${venv}/bin/checkov" --skip-download --quiet --compact --output cli \
    "$@" >"${log}" 2>&1
}

check_checkov() {
  local log="${work}/checkov.log" rc=0 msgs=()
  : >"${log}"
  # Every skip must say why: Dockerfile comments and manifest annotations alike.
  local bare
  bare="$( { grep -nE 'checkov:skip=' deploy/Dockerfile | grep -vE 'checkov:skip=CKV2?_[A-Z0-9_]+: *[^ ]' || true; } )"
  if [[ -n "${bare}" ]]; then
    printf 'Dockerfile checkov skip without a reason:\n%s\n' "${bare}" >>"${log}"
    rc=1
  fi
  if [[ ${#overlays[@]} -gt 0 ]]; then
    bare="$( { grep -hE '^\s+checkov\.io/skip[0-9]+:' "${work}"/rendered/*.yaml \
              | grep -vE 'checkov\.io/skip[0-9]+: *"?CKV2?_[A-Z0-9_]+=[^ ]' || true; } )"
    if [[ -n "${bare}" ]]; then
      printf 'manifest checkov skip without a reason (use CKV_K8S_xx=reason):\n%s\n' "${bare}" >>"${log}"
      rc=1
    fi
  fi

  local dlog="${work}/checkov-dockerfile.log"
  if checkov_run "${dlog}" --framework dockerfile -f deploy/Dockerfile; then
    msgs+=("Dockerfile $(grep -m1 -oE 'Passed checks: [0-9]+, Failed checks: [0-9]+, Skipped checks: [0-9]+' "${dlog}" || echo ok)")
  else
    local code=$?
    [[ ${code} -eq 124 ]] && echo "checkov on deploy/Dockerfile timed out after 300 s" >>"${log}"
    { echo "--- checkov deploy/Dockerfile (exit ${code})"; cat "${dlog}"; } >>"${log}"
    rc=1
  fi
  if [[ ${#overlays[@]} -gt 0 ]]; then
    local klog="${work}/checkov-k8s.log"
    if checkov_run "${klog}" --framework kubernetes -d "${work}/rendered"; then
      msgs+=("manifests $(grep -m1 -oE 'Passed checks: [0-9]+, Failed checks: [0-9]+, Skipped checks: [0-9]+' "${klog}" || echo ok)")
    else
      local code=$?
      [[ ${code} -eq 124 ]] && echo "checkov on the rendered manifests timed out after 300 s" >>"${log}"
      { echo "--- checkov rendered overlays ${overlays[*]} (exit ${code})"; cat "${klog}"; } >>"${log}"
      rc=1
    fi
  fi
  if [[ ${rc} -ne 0 ]]; then
    report FAIL checkov "policy violations (fix them, or skip with a reason inline)" "${log}"
    return 1
  fi
  report PASS checkov "$(joined "${msgs[@]}")"
}

# ---------------------------------------------------------------------------------- compose
check_compose() {
  local log="${work}/compose.log"
  if "${venv}/bin/check-jsonschema" --builtin-schema vendor.compose-spec \
      deploy/docker-compose.yml >"${log}" 2>&1; then
    report PASS compose "deploy/docker-compose.yml matches the Compose specification" "${log}"
  else
    report FAIL compose "deploy/docker-compose.yml does not match the Compose specification" "${log}"
    return 1
  fi
}

# --------------------------------------------------------------------------------- binaries
check_binaries() {
  local log="${work}/binaries.log" docker_targets="${work}/docker-targets.txt"
  bash scripts/docker-targets.sh >"${docker_targets}" 2>/dev/null || true
  if "${venv}/bin/python" -u - "${repo_root}" "${work}/rendered" "${docker_targets}" >"${log}" 2>&1 <<'PY'
import glob, os, re, sys, tomllib
import yaml

root, rendered, docker_targets = sys.argv[1], sys.argv[2], sys.argv[3]
rel = lambda p: os.path.relpath(p, root)
text = open(os.path.join(root, "deploy/Dockerfile"), encoding="utf-8").read()
# Join continuation lines, drop comments, then collect `cargo build ... -p NAME` / `--bin NAME`
# and the stage names.
logical = re.sub(r"\\\n", " ", text)
built, stages = [], []
for line in logical.splitlines():
    if line.lstrip().startswith("#"):
        continue
    for cmd in re.findall(r"cargo\s+build\b[^&;|]*", line):
        built += re.findall(r"(?:-p|--package|--bin)[\s=]+([A-Za-z0-9_-]+)", cmd)
    m = re.match(r"(?i)\s*FROM\s+(?:--platform=\S+\s+)?\S+\s+AS\s+(\S+)", line)
    if m:
        stages.append(m.group(1))
built = list(dict.fromkeys(built))
targets = [t for t in stages if t.startswith("pulsepoint-")]
if not built:
    print("deploy/Dockerfile: no `cargo build -p <package>` found in any build stage")
    sys.exit(1)

with open(os.path.join(root, "Cargo.toml"), "rb") as f:
    members = tomllib.load(f).get("workspace", {}).get("members", [])
member_dirs = {os.path.realpath(d) for m in members for d in glob.glob(os.path.join(root, m))}

# Every services/*/Cargo.toml: package -> (dir, binaries). Binaries are the explicit [[bin]]
# targets plus the default one (src/main.rs, named after the package).
services = {}
for manifest in sorted(glob.glob(os.path.join(root, "services/*/Cargo.toml"))):
    with open(manifest, "rb") as f:
        data = tomllib.load(f)
    pkg = data.get("package", {}).get("name")
    if not pkg:
        continue
    d = os.path.dirname(manifest)
    bins = [b["name"] for b in data.get("bin", []) if "name" in b]
    if os.path.exists(os.path.join(d, "src/main.rs")) and pkg not in bins:
        bins.append(pkg)
    services[pkg] = (d, bins)
binaries = {b: pkg for pkg, (_, bins) in services.items() for b in bins}

errors = []
# 1. Everything the Dockerfile names exists and is built by the workspace.
for name in list(dict.fromkeys(built + targets)):
    pkg = name if name in services else binaries.get(name)
    if pkg is None:
        errors.append(f"{name}: deploy/Dockerfile names it, but no services/*/Cargo.toml declares "
                      f"this package or binary (workspace services: {', '.join(sorted(services)) or 'none'})")
    elif os.path.realpath(services[pkg][0]) not in member_dirs:
        errors.append(f"{name}: declared in {rel(services[pkg][0])}/Cargo.toml but not a workspace "
                      "member (root Cargo.toml [workspace].members)")
# 2. Every service binary has a build stage and a final target.
for b, pkg in sorted(binaries.items()):
    if pkg not in built and b not in built:
        errors.append(f"{b}: {rel(services[pkg][0])}/Cargo.toml builds it, but no deploy/Dockerfile "
                      f"stage runs `cargo build -p {pkg}` (add build-<svc> like auth/brands)")
    if b not in stages:
        errors.append(f"{b}: {rel(services[pkg][0])}/Cargo.toml builds it, but deploy/Dockerfile has "
                      f"no `FROM runtime AS {b}` target (add it like auth/brands)")
# 3. Compose build targets and rendered pulsepoint-* images are Dockerfile targets.
compose = open(os.path.join(root, "deploy/docker-compose.yml"), encoding="utf-8").read()
compose_targets = set(re.findall(r"^\s+target:\s*[\"']?([A-Za-z0-9_.-]+)", compose, re.M))
for t in sorted(compose_targets):
    if t not in stages:
        errors.append(f"deploy/docker-compose.yml: build target {t} is not a stage of deploy/Dockerfile")
# 4. Every service binary runs somewhere: a compose service built from its target, and a
#    Deployment with its image in every rendered overlay.
for b, pkg in sorted(binaries.items()):
    if b not in compose_targets:
        errors.append(f"{b}: {rel(services[pkg][0])}/Cargo.toml builds it, but no deploy/docker-compose.yml "
                      f"service builds `target: {b}` (add one like auth/brands)")
overlay_files = sorted(glob.glob(os.path.join(rendered, "*.yaml")))
if not overlay_files:
    errors.append("no rendered k8s overlay to look for the services' Deployments in (see check render)")
for path in overlay_files:
    deployed = set()
    for doc in yaml.safe_load_all(open(path, encoding="utf-8")):
        if not isinstance(doc, dict) or doc.get("kind") != "Deployment":
            continue
        pod = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in pod.get("containers") or []:
            image = str(container.get("image", ""))
            deployed.add(image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0])
    for b, pkg in sorted(binaries.items()):
        if b not in deployed:
            errors.append(f"{b}: {rel(services[pkg][0])}/Cargo.toml builds it, but k8s overlay "
                          f"{os.path.basename(path)[:-5]} renders no Deployment running image {b} "
                          "(add k8s/base/<svc>.yaml like auth/brands)")
# 5. `make docker` builds what this check validated: scripts/docker-targets.sh reads the same targets.
listed = open(docker_targets, encoding="utf-8").read().split()
if sorted(listed) != sorted(targets):
    errors.append(f"scripts/docker-targets.sh (make docker) lists {' '.join(listed) or 'nothing'}, but the "
                  f"pulsepoint-* targets of deploy/Dockerfile are {' '.join(targets) or 'none'}")
images = set()
for path in overlay_files:
    for img in re.findall(r"^\s+image:\s*[\"']?(\S+?)[\"']?\s*$", open(path, encoding="utf-8").read(), re.M):
        base = img.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
        if base.startswith("pulsepoint-"):
            images.add(base)
            if base not in targets:
                errors.append(f"k8s overlay {os.path.basename(path)[:-5]}: image {img} is not a "
                              "deploy/Dockerfile target")

for e in dict.fromkeys(errors):
    print(e)
if errors:
    sys.exit(1)
print(f"{len(binaries)} service binaries, each with a build stage and a target: "
      f"{' '.join(sorted(binaries)) or '-'}; each in compose and deployed in {len(overlay_files)} overlays; "
      f"compose targets, {len(images)} k8s images and make docker match",
      file=sys.stderr)
PY
  then
    report PASS binaries "$(tail -n1 "${log}")"
  else
    report FAIL binaries "deploy/Dockerfile (or compose/k8s) and services/*/Cargo.toml disagree" "${log}"
    return 1
  fi
}

# ----------------------------------------------------------------------------------- images
check_images() {
  local log="${work}/images.log"
  if "${venv}/bin/python" -u - deploy/Dockerfile >"${log}" 2>&1 <<'PY'
import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
args, stages, bad, external = {}, set(), [], []
def expand(v):
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), ""), v)
for n, line in enumerate(text.splitlines(), 1):
    line = line.strip()
    m = re.match(r"(?i)ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?", line)
    if m and m.group(2) is not None and m.group(1) not in args:
        args[m.group(1)] = m.group(2).strip('"')
    m = re.match(r"(?i)FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line)
    if not m:
        continue
    image = expand(m.group(1))
    if image in stages or image == "scratch":
        pass
    elif "@sha256:" in image:
        external.append(image)
    else:
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else ""
        if not image or not tag or tag == "latest":
            bad.append(f"{path}:{n}: FROM {m.group(1)} -> '{image}' is neither a stage of this file "
                       "nor pinned to a version tag/digest")
        else:
            external.append(image)
    if m.group(2):
        stages.add(m.group(2))
for b in bad:
    print(b)
print(f"{len(stages)} stages, {len(set(external))} pinned base images", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
  then
    report PASS images "deploy/Dockerfile: $(tail -n1 "${log}")"
  else
    report FAIL images "deploy/Dockerfile uses an unpinned base image" "${log}"
    return 1
  fi
}

# --------------------------------------------------------------------------------- bigquery
check_bigquery() {
  local log="${work}/bigquery.log" schema="deploy/pubsub/bigquery-events-schema.json"
  if "${venv}/bin/python" - "${schema}" >"${log}" 2>&1 <<'PY'
import json, sys
path = sys.argv[1]
fields = {f["name"]: f for f in json.load(open(path, encoding="utf-8"))}
need = {
    # written by the subscription (write_metadata)
    "subscription_name": "STRING", "message_id": "STRING", "publish_time": "TIMESTAMP",
    "attributes": "JSON",
    # the event envelope (use_table_schema): partitioning and clustering columns among them
    "event_id": "STRING", "tenant_id": "STRING", "event_type": "STRING",
    "occurred_at": "TIMESTAMP", "payload": "JSON",
}
bad = [f"{n}: expected {t}, found {fields[n]['type'] if n in fields else 'nothing'}"
       for n, t in need.items() if n not in fields or fields[n]["type"] != t]
for n, f in fields.items():
    if f.get("mode") == "REQUIRED" and n not in ("message_id", "publish_time"):
        bad.append(f"{n}: REQUIRED columns make the subscription reject messages without it")
for b in bad:
    print(f"{path}: {b}")
sys.exit(1 if bad else 0)
PY
  then
    report PASS bigquery "${schema} has metadata, envelope, partition and cluster columns" "${log}"
  else
    report FAIL bigquery "${schema} is not what the BigQuery subscription needs" "${log}"
    return 1
  fi
}

# ------------------------------------------------------------------------------- shellcheck
check_shellcheck() {
  local log="${work}/shellcheck.log" files=()
  if ! command -v shellcheck >/dev/null 2>&1; then
    report SKIP lint "shellcheck not installed (apt-get install shellcheck)"
    return 0
  fi
  mapfile -t files < <(find deploy -type f -name '*.sh' | sort)
  files+=(scripts/validate-deploy.sh scripts/docker-targets.sh)
  if shellcheck "${files[@]}" >"${log}" 2>&1; then
    report PASS lint "shellcheck: ${#files[@]} scripts clean"
  else
    report FAIL lint "shellcheck findings in deploy scripts" "${log}"
    return 1
  fi
}

# ------------------------------------------------------------------------------------- main
start=${SECONDS}
if check_tools; then
  check_render || true
  check_schema || true
  check_checkov || true
  check_compose || true
  check_binaries || true
  check_images || true
  check_bigquery || true
else
  for name in render schema checkov compose binaries images bigquery; do
    report FAIL "${name}" "not run: validation tools unavailable"
  done
fi
check_shellcheck || true

elapsed=$((SECONDS - start))
if [[ ${failed} -ne 0 ]]; then
  echo "validate-deploy: FAILED (${failed_names[*]}); ${passed} ok, ${skipped} skipped, ${elapsed}s" >&2
  exit 1
fi
echo "validate-deploy: OK (${passed} checks ok, ${skipped} skipped, ${elapsed}s)"
