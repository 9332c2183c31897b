#!/usr/bin/env bash
# Packs the Node packages people install outside this workspace (@gatehouse/guard and
# what it depends on at run time) as npm tarballs into the given directory:
#   scripts/pack-node-packages.sh /tmp/gatehouse-packages
#   npm install /tmp/gatehouse-packages/*.tgz
# Each package's prepack builds dist/ (tsc -b tsconfig.build.json: ESM + .d.ts), and
# pnpm pack writes its publishConfig.exports over the workspace's src/ exports and
# replaces workspace:* with the version. Prints the tarballs' paths.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:?usage: scripts/pack-node-packages.sh <directory for the tarballs>}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# Dependencies first, so the guard's prepack finds their dist/ up to date.
for pkg in contracts tokens kratos guard; do
  (cd "$ROOT/packages/$pkg" && pnpm pack --pack-destination "$OUT" >/dev/null)
done
ls "$OUT"/gatehouse-{contracts,tokens,kratos,guard}-*.tgz
