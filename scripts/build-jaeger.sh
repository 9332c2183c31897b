#!/usr/bin/env bash
# Builds Jaeger v2 (an OpenTelemetry Collector distribution with an in-memory trace
# store, the OTLP receivers and the query API) from the Go module proxy and caches the
# binary outside the repo, keyed by version. Same pattern as build-kratos.sh.
# The module zip carries no built UI (it is a separate npm project), so the binary
# serves Jaeger's placeholder page at / and the full query API at /api.
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail

# v1.75.0 is the Go module version of the Jaeger v2.12.0 release (cmd/jaeger).
JAEGER_VERSION="${JAEGER_VERSION:-v1.75.0}"
JAEGER_V2_VERSION="${JAEGER_V2_VERSION:-v2.12.0}"
CACHE_ROOT="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
OUT_DIR="$CACHE_ROOT/jaeger/$JAEGER_VERSION"
BIN="$OUT_DIR/jaeger"

cached() { [[ -x "$BIN" ]] && "$BIN" version 2>/dev/null | grep -q "$JAEGER_V2_VERSION"; }

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

command -v go >/dev/null || { echo "build-jaeger: Go is required (go1.24+)" >&2; exit 1; }

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "build-jaeger: fetching github.com/jaegertracing/jaeger@$JAEGER_VERSION from the Go module proxy" >&2
src="$(cd "$work" && go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$src" ]] || { echo "build-jaeger: module download failed" >&2; exit 1; }
cp -r "$src" "$work/jaeger"
chmod -R u+w "$work/jaeger"
cd "$work/jaeger"

# The ldflags of Jaeger's Makefile (scripts/makefiles/BuildInfo.mk), v2 flavour.
pkg=github.com/jaegertracing/jaeger/internal/version
ldflags="-s -w -X $pkg.latestVersion=$JAEGER_V2_VERSION -X $pkg.commitSHA=module-proxy-$JAEGER_VERSION"
ldflags+=" -X $pkg.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"

echo "build-jaeger: compiling ./cmd/jaeger (several minutes on 2 cores)" >&2
go build -trimpath -ldflags "$ldflags" -o "$work/jaeger-bin" ./cmd/jaeger

mv "$work/jaeger-bin" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
"$BIN" version >&2
echo "$BIN"
