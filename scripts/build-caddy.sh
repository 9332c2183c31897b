#!/usr/bin/env bash
# Builds Caddy from the Go module proxy (no release download is reachable here) and
# caches the binary outside the repo, keyed by version, for the forward-auth tests
# (test/proxies). Idempotent: a cached binary built from the right module version is
# reused (`caddy version` says "unknown" for a `go install` build; `go version -m`
# names the module version). Same pattern as build-kratos.sh.
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail

CADDY_VERSION="${CADDY_VERSION:-v2.11.9}"
CACHE_ROOT="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
OUT_DIR="$CACHE_ROOT/caddy/$CADDY_VERSION"
BIN="$OUT_DIR/caddy"

cached() {
  [[ -x "$BIN" ]] && go version -m "$BIN" 2>/dev/null |
    grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/caddyserver/caddy/v2[[:space:]]+${CADDY_VERSION}[[:space:]]"
}

command -v go >/dev/null || { echo "build-caddy: Go is required (go1.25+)" >&2; exit 1; }
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

export GOTOOLCHAIN=local CGO_ENABLED=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "build-caddy: go install github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION (~1 min on 2 cores)" >&2
GOBIN="$work" go install -trimpath -ldflags "-s -w" "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION"

mv "$work/caddy" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
cached || { echo "build-caddy: the binary does not name module version $CADDY_VERSION" >&2; exit 1; }
echo "$BIN"
