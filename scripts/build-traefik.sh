#!/usr/bin/env bash
# Builds Traefik from the Go module proxy (no release download is reachable here) and
# caches the binary outside the repo, keyed by version, for the forward-auth tests
# (test/proxies). Traefik's go.mod has replace directives, so `go install` refuses it:
# the exact version is downloaded as one module and built in a copy. Idempotent: a
# cached binary that reports the right version is reused. Same pattern as build-kratos.sh.
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail

TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.6.12}"
CACHE_ROOT="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
OUT_DIR="$CACHE_ROOT/traefik/$TRAEFIK_VERSION"
BIN="$OUT_DIR/traefik"

cached() { [[ -x "$BIN" ]] && "$BIN" version 2>/dev/null | grep -Eq "^Version:[[:space:]]+${TRAEFIK_VERSION#v}$"; }

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

command -v go >/dev/null || { echo "build-traefik: Go is required (go1.24+)" >&2; exit 1; }

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "build-traefik: fetching github.com/traefik/traefik/v3@$TRAEFIK_VERSION from the Go module proxy" >&2
src="$(cd "$work" && go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$src" ]] || { echo "build-traefik: module download failed" >&2; exit 1; }
cp -r "$src" "$work/traefik"
chmod -R u+w "$work/traefik"
cd "$work/traefik"

# The ldflags of Traefik's Makefile (pkg/version), so `traefik version` names the version.
pkg=github.com/traefik/traefik/v3/pkg/version
ldflags="-s -w -X $pkg.Version=${TRAEFIK_VERSION#v} -X $pkg.Codename=module-proxy"
ldflags+=" -X $pkg.BuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"

echo "build-traefik: compiling ./cmd/traefik (~5 min on 2 cores)" >&2
go build -trimpath -ldflags "$ldflags" -o "$work/traefik-bin" ./cmd/traefik

mv "$work/traefik-bin" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
"$BIN" version >&2
cached || { echo "build-traefik: the binary does not report version $TRAEFIK_VERSION" >&2; exit 1; }
echo "$BIN"
