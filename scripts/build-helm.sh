#!/usr/bin/env bash
# Builds Helm from the Go module proxy (no release download is reachable here) and
# caches the binary outside the repo, keyed by version. Idempotent: a cached binary
# that reports the right version is reused. Same pattern as build-kratos.sh.
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
OUT_DIR="$CACHE_ROOT/helm/$HELM_VERSION"
BIN="$OUT_DIR/helm"

cached() { [[ -x "$BIN" ]] && "$BIN" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; }

if cached; then
  echo "$BIN"
  exit 0
fi

# One build at a time: a second caller waits for the first and reuses its binary.
mkdir -p "$OUT_DIR"
exec 9>"$OUT_DIR/.build.lock"
flock 9
if cached; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "build-helm: Go is required (go1.26+ for Helm $HELM_VERSION)" >&2; exit 1; }

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "build-helm: fetching helm.sh/helm/v3@$HELM_VERSION from the Go module proxy" >&2
src="$(cd "$work" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$src" ]] || { echo "build-helm: module download failed" >&2; exit 1; }
cp -r "$src" "$work/helm"
chmod -R u+w "$work/helm"
cd "$work/helm"

# The ldflags of Helm's Makefile: the version, and the Kubernetes version that
# `helm lint` / `helm template` assume (client-go v0.X.Y → Kubernetes 1.X).
k8s="$(go list -f '{{.Version}}' -m k8s.io/client-go)" # e.g. v0.37.0
k8s_minor="$(echo "$k8s" | cut -d. -f2)"
pkg=helm.sh/helm/v3
ldflags="-s -w -X $pkg/internal/version.version=$HELM_VERSION -X $pkg/internal/version.gitTreeState=clean"
ldflags+=" -X $pkg/internal/version.gitCommit=module-proxy-$HELM_VERSION"
ldflags+=" -X $pkg/pkg/lint/rules.k8sVersionMajor=1 -X $pkg/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
ldflags+=" -X $pkg/pkg/chartutil.k8sVersionMajor=1 -X $pkg/pkg/chartutil.k8sVersionMinor=$k8s_minor"

echo "build-helm: compiling ./cmd/helm (a few minutes on 2 cores)" >&2
go build -trimpath -ldflags "$ldflags" -o "$work/helm-bin" ./cmd/helm

mv "$work/helm-bin" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
"$BIN" version >&2
echo "$BIN"
