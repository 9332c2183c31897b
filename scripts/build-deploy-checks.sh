#!/usr/bin/env bash
# The offline checks test/deploy runs, from the Go module proxy (the only place they
# can come from here), cached outside the repo, idempotent, one run at a time:
#   - Kubernetes' own OpenAPI v3 spec (api/openapi-spec/v3 of the k8s.io/kubernetes
#     module: what the API server serves), for the oldest and the newest Kubernetes
#     the chart supports → $GATEHOUSE_CACHE/k8s-schemas/kubernetes-<version>/;
#   - the ServiceMonitor CRD of the prometheus-operator module
#     → $GATEHOUSE_CACHE/k8s-schemas/prometheus-operator-<version>/;
#   - the ExternalSecret CRD of the external-secrets module (External Secrets Operator)
#     → $GATEHOUSE_CACHE/k8s-schemas/external-secrets-<version>/;
#   - checkov (PyPI), the policy scanner test/deploy/policy-suite.test.ts runs over every
#     rendered manifest, in a virtualenv → $GATEHOUSE_CACHE/checkov/<version>/ (~2.5 min once);
#   - actionlint (github.com/rhysd/actionlint), which checks .github/workflows/release.yml
#     → $GATEHOUSE_CACHE/actionlint/<version>/ (~1 min to build once);
#   - compose-spec, compose-go's validator (the loader `docker compose config` uses),
#     built from github.com/compose-spec/compose-go/v2 → $GATEHOUSE_CACHE/compose-spec/<version>/.
# Takes ~10 s to fetch and ~30 s to build on 2 cores the first time. Prints the cache root.
set -euo pipefail

K8S_VERSIONS="${K8S_SCHEMA_VERSIONS:-v1.33.13 v1.36.3}"
PROM_OPERATOR_VERSION="${PROM_OPERATOR_VERSION:-v0.85.0}"
ESO_VERSION="${ESO_VERSION:-v0.20.4}"
COMPOSE_GO_VERSION="${COMPOSE_GO_VERSION:-v2.16.2}"
CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
CACHE_ROOT="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
OUT="$CACHE_ROOT/k8s-schemas"
# Only the API groups the chart renders (core, apps, autoscaling, policy, networking, batch).
GROUPS_WANTED=(api__v1 apis__apps__v1 apis__autoscaling__v2 apis__policy__v1 apis__networking.k8s.io__v1 apis__batch__v1)

mkdir -p "$OUT"
exec 9>"$OUT/.fetch.lock"
flock 9

command -v go >/dev/null || { echo "build-deploy-checks: Go is required" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

module_dir() { # module@version → its read-only directory in the module cache
  (cd "$work" && go mod download -json "$1") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

for v in $K8S_VERSIONS; do
  dest="$OUT/kubernetes-$v"
  [[ -f "$dest/.complete" ]] && continue
  echo "build-deploy-checks: k8s.io/kubernetes@$v (OpenAPI v3) from the Go module proxy" >&2
  src="$(module_dir "k8s.io/kubernetes@$v")"
  [[ -d "$src/api/openapi-spec/v3" ]] || { echo "build-deploy-checks: no api/openapi-spec/v3 in k8s.io/kubernetes@$v" >&2; exit 1; }
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  for g in "${GROUPS_WANTED[@]}"; do cp "$src/api/openapi-spec/v3/${g}_openapi.json" "$dest.tmp/"; done
  cp "$src/LICENSE" "$dest.tmp/LICENSE"
  chmod -R u+w "$dest.tmp"
  touch "$dest.tmp/.complete"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
done

dest="$OUT/prometheus-operator-$PROM_OPERATOR_VERSION"
if [[ ! -f "$dest/.complete" ]]; then
  echo "build-deploy-checks: prometheus-operator@$PROM_OPERATOR_VERSION (ServiceMonitor CRD) from the Go module proxy" >&2
  src="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION")"
  crd="$src/example/prometheus-operator-crd-full/monitoring.coreos.com_servicemonitors.yaml"
  [[ -f "$crd" ]] || { echo "build-deploy-checks: ServiceMonitor CRD not found in the module" >&2; exit 1; }
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  cp "$crd" "$src/LICENSE" "$dest.tmp/"
  chmod -R u+w "$dest.tmp"
  touch "$dest.tmp/.complete"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi

dest="$OUT/external-secrets-$ESO_VERSION"
if [[ ! -f "$dest/.complete" ]]; then
  echo "build-deploy-checks: external-secrets@$ESO_VERSION (ExternalSecret CRD) from the Go module proxy" >&2
  src="$(module_dir "github.com/external-secrets/external-secrets@$ESO_VERSION")"
  crd="$src/config/crds/bases/external-secrets.io_externalsecrets.yaml"
  [[ -f "$crd" ]] || { echo "build-deploy-checks: ExternalSecret CRD not found in the module" >&2; exit 1; }
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  cp "$crd" "$src/LICENSE" "$dest.tmp/"
  chmod -R u+w "$dest.tmp"
  touch "$dest.tmp/.complete"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi

bin="$CACHE_ROOT/compose-spec/$COMPOSE_GO_VERSION/compose-spec"
if [[ ! -x "$bin" ]]; then
  echo "build-deploy-checks: building compose-spec from github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION" >&2
  src="$(module_dir "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION")"
  cp -r "$src" "$work/compose-go" && chmod -R u+w "$work/compose-go"
  mkdir -p "$(dirname "$bin")"
  (cd "$work/compose-go" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp" ./cmd)
  mv "$bin.tmp" "$bin"
fi

bin="$CACHE_ROOT/actionlint/$ACTIONLINT_VERSION/actionlint"
if [[ ! -x "$bin" ]]; then
  echo "build-deploy-checks: building actionlint $ACTIONLINT_VERSION from the Go module proxy" >&2
  mkdir -p "$(dirname "$bin")"
  (cd "$work" && CGO_ENABLED=0 GOBIN="$work/bin" go install -trimpath -ldflags "-s -w" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION")
  mv "$work/bin/actionlint" "$bin"
fi

venv="$CACHE_ROOT/checkov/$CHECKOV_VERSION"
if [[ ! -f "$venv/.complete" ]]; then
  command -v python3 >/dev/null || { echo "build-deploy-checks: python3 is required for checkov" >&2; exit 1; }
  echo "build-deploy-checks: checkov $CHECKOV_VERSION from PyPI into $venv" >&2
  # A virtualenv's scripts name its directory, so it is built in place; .complete marks a finished one.
  rm -rf "$venv" && python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" >&2 || { rm -rf "$venv"; exit 1; }
  touch "$venv/.complete"
fi

echo "$CACHE_ROOT"
