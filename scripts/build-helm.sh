#!/usr/bin/env bash
# Builds Helm from the Go module proxy (no release download is reachable here) and
# caches the binary outside the repo, keyed by version. Idempotent: a cached binary
# that reports the right version is reused (scripts/lib/go-tool.sh).
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-tool.sh"

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
go_tool_init helm "$HELM_VERSION"
cached() { [[ -x "$BIN" ]] && go_tool_says "^${HELM_VERSION}$" "$BIN" version --template '{{.Version}}'; }
go_tool_reuse_or_lock

go_tool_source helm.sh/helm/v3 "$HELM_VERSION"
# Helm stamps the Kubernetes version it was built against (lint and capabilities).
k8s="$(go list -f '{{.Version}}' -m k8s.io/client-go)" # e.g. v0.37.0
k8s_minor="$(echo "$k8s" | cut -d. -f2)"
pkg=helm.sh/helm/v3
ldflags="-s -w -X $pkg/internal/version.version=$HELM_VERSION -X $pkg/internal/version.gitTreeState=clean"
ldflags+=" -X $pkg/internal/version.gitCommit=module-proxy-$HELM_VERSION"
ldflags+=" -X $pkg/pkg/lint/rules.k8sVersionMajor=1 -X $pkg/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
ldflags+=" -X $pkg/pkg/chartutil.k8sVersionMajor=1 -X $pkg/pkg/chartutil.k8sVersionMinor=$k8s_minor"
echo "build-helm: compiling ./cmd/helm (a few minutes on 2 cores)" >&2
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$GO_TOOL_WORK/helm-bin" ./cmd/helm
go_tool_install "$GO_TOOL_WORK/helm-bin"
