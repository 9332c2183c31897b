#!/usr/bin/env bash
# Builds Caddy from the Go module proxy and caches the binary outside the repo, keyed by
# version, for the forward-auth tests (scripts/lib/go-tool.sh). A cached binary built
# from the right module version is reused (`caddy version` says "unknown" for a
# `go install` build; `go version -m` names the module version).
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-tool.sh"

CADDY_VERSION="${CADDY_VERSION:-v2.11.9}"
go_tool_init caddy "$CADDY_VERSION"
cached() {
  [[ -x "$BIN" ]] &&
    go_tool_says "^[[:space:]]+mod[[:space:]]+github.com/caddyserver/caddy/v2[[:space:]]+${CADDY_VERSION}[[:space:]]" go version -m "$BIN"
}
go_tool_reuse_or_lock

# Caddy's module has no replace directives: `go install` builds it as published
# (GOFLAGS=-mod=mod is for builds inside a module, not for pkg@version).
echo "build-caddy: go install github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION (~1 min on 2 cores)" >&2
GOFLAGS= CGO_ENABLED=0 GOBIN="$GO_TOOL_WORK" \
  go install -trimpath -ldflags "-s -w" "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION"
go_tool_install "$GO_TOOL_WORK/caddy"
