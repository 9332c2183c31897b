#!/usr/bin/env bash
# Builds Traefik from the Go module proxy and caches the binary outside the repo, keyed
# by version, for the forward-auth tests (scripts/lib/go-tool.sh). Traefik's go.mod has
# replace directives, so `go install` refuses it: the exact version is downloaded as one
# module and built in a copy. A cached binary that reports the right version is reused.
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-tool.sh"

TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.6.12}"
go_tool_init traefik "$TRAEFIK_VERSION"
cached() { [[ -x "$BIN" ]] && go_tool_says "^Version:[[:space:]]+${TRAEFIK_VERSION#v}$" "$BIN" version; }
go_tool_reuse_or_lock

go_tool_source github.com/traefik/traefik/v3 "$TRAEFIK_VERSION"
pkg=github.com/traefik/traefik/v3/pkg/version
ldflags="-s -w -X $pkg.Version=${TRAEFIK_VERSION#v} -X $pkg.Codename=module-proxy"
ldflags+=" -X $pkg.BuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "build-traefik: compiling ./cmd/traefik (~5 min on 2 cores)" >&2
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$GO_TOOL_WORK/traefik-bin" ./cmd/traefik
go_tool_install "$GO_TOOL_WORK/traefik-bin"
