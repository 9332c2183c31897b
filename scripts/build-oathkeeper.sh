#!/usr/bin/env bash
# Builds Ory Oathkeeper (the peer of bench/peer.ts) from the Go module proxy and
# caches it outside the repo by version (scripts/lib/go-tool.sh). `go install` refuses
# its module (it has `replace` directives), so: download the exact version, build there.
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-tool.sh"

OATHKEEPER_VERSION="${OATHKEEPER_VERSION:-v0.40.9}"
go_tool_init oathkeeper "$OATHKEEPER_VERSION"
cached() { [[ -x "$BIN" ]] && go_tool_says "$OATHKEEPER_VERSION" "$BIN" version; }
go_tool_reuse_or_lock

go_tool_source github.com/ory/oathkeeper "$OATHKEEPER_VERSION"
echo "build-oathkeeper: compiling (about 3 minutes on 2 cores)" >&2
pkg=github.com/ory/oathkeeper/x
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X $pkg.Version=$OATHKEEPER_VERSION -X $pkg.Commit=module-proxy -X $pkg.Date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -o "$GO_TOOL_WORK/oathkeeper-bin" .
go_tool_install "$GO_TOOL_WORK/oathkeeper-bin"
