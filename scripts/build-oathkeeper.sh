#!/usr/bin/env bash
# Builds Ory Oathkeeper (the peer of bench/peer.ts) from the Go module proxy and
# caches it outside the repo by version, like build-kratos.sh. `go install` refuses
# its module (it has `replace` directives), so: download the exact version, build there.
set -euo pipefail

OATHKEEPER_VERSION="${OATHKEEPER_VERSION:-v0.40.9}"
CACHE_ROOT="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
OUT_DIR="$CACHE_ROOT/oathkeeper/$OATHKEEPER_VERSION"
BIN="$OUT_DIR/oathkeeper"

built() { [[ -x "$BIN" ]] && "$BIN" version 2>/dev/null | grep -q "$OATHKEEPER_VERSION"; }
if built; then echo "$BIN"; exit 0; fi

mkdir -p "$OUT_DIR"
exec 9>"$OUT_DIR/.build.lock"
flock 9
if built; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || { echo "build-oathkeeper: Go is required" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "build-oathkeeper: fetching github.com/ory/oathkeeper@$OATHKEEPER_VERSION from the Go module proxy" >&2
src="$(cd "$work" && go mod download -json "github.com/ory/oathkeeper@$OATHKEEPER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$src" ]] || { echo "build-oathkeeper: module download failed" >&2; exit 1; }
cp -r "$src" "$work/oathkeeper"
chmod -R u+w "$work/oathkeeper"
cd "$work/oathkeeper"
echo "build-oathkeeper: compiling (about 3 minutes on 2 cores)" >&2
go build -trimpath \
  -ldflags "-s -w -X github.com/ory/oathkeeper/x.Version=$OATHKEEPER_VERSION -X github.com/ory/oathkeeper/x.Commit=module-proxy -X github.com/ory/oathkeeper/x.Date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -o "$work/oathkeeper-bin" .
mv "$work/oathkeeper-bin" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
"$BIN" version >&2
echo "$BIN"
