#!/usr/bin/env bash
# Builds Jaeger v2 (an OpenTelemetry Collector distribution with an in-memory trace
# store, the OTLP receivers and the query API) from the Go module proxy and caches the
# binary outside the repo, keyed by version. Same pattern as build-kratos.sh (scripts/lib/go-tool.sh).
# The module zip carries no built UI (it is a separate npm project), so the binary
# serves Jaeger's placeholder page at / and the full query API at /api.
# Prints the binary's path on stdout; progress goes to stderr.
# v1.75.0 is the Go module version of the Jaeger v2.12.0 release (cmd/jaeger).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-tool.sh"

JAEGER_VERSION="${JAEGER_VERSION:-v1.75.0}"
JAEGER_V2_VERSION="${JAEGER_V2_VERSION:-v2.12.0}"
go_tool_init jaeger "$JAEGER_VERSION"
cached() { [[ -x "$BIN" ]] && go_tool_says "$JAEGER_V2_VERSION" "$BIN" version; }
go_tool_reuse_or_lock

go_tool_source github.com/jaegertracing/jaeger "$JAEGER_VERSION"
pkg=github.com/jaegertracing/jaeger/internal/version
ldflags="-s -w -X $pkg.latestVersion=$JAEGER_V2_VERSION -X $pkg.commitSHA=module-proxy-$JAEGER_VERSION"
ldflags+=" -X $pkg.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "build-jaeger: compiling ./cmd/jaeger (several minutes on 2 cores)" >&2
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$GO_TOOL_WORK/jaeger-bin" ./cmd/jaeger
go_tool_install "$GO_TOOL_WORK/jaeger-bin"
