# Sourced by scripts/build-*.sh: a Go program built from the Go module proxy (no release
# download is reachable here) once per version, cached outside the repo under
# $GATEHOUSE_CACHE/<name>/<version>/ (default ~/.cache/gatehouse). Several worktrees and
# CI may ask at once: one builds under a lock, the others wait for it (and say so) and
# reuse its binary. The caller defines `cached` (is $BIN there and built from the right
# version?) and then:
#   go_tool_init <name> <version>      sets TOOL, OUT_DIR and BIN (= $OUT_DIR/<name>)
#   go_tool_reuse_or_lock              prints $BIN and exits when cached; else holds the lock
#   go_tool_source <module> <version>  copies that module's source to a writable temp dir, cd there
#   go_tool_install <built file>       moves it to $BIN, checks `cached`, prints $BIN
#   go_tool_says <ERE> <command...>    whether the command's output matches (for `cached`)
# Progress goes to stderr; stdout carries only the binary's path.

go_tool_init() {
  TOOL="$1"
  OUT_DIR="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}/$1/$2"
  BIN="$OUT_DIR/$1"
}

go_tool_reuse_or_lock() {
  if cached; then echo "$BIN"; exit 0; fi
  mkdir -p "$OUT_DIR"
  exec 9>"$OUT_DIR/.build.lock"
  if ! flock -n 9; then
    echo "build-$TOOL: another build of $TOOL holds $OUT_DIR/.build.lock; waiting for it" >&2
    flock 9
  fi
  if cached; then echo "$BIN"; exit 0; fi
  command -v go >/dev/null || { echo "build-$TOOL: Go is required (see go.mod's go line)" >&2; exit 1; }
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod
  GO_TOOL_WORK="$(mktemp -d)"
  # Module cache copies are read-only: make them writable so the temp dir can go.
  trap 'chmod -R u+w "$GO_TOOL_WORK" 2>/dev/null; rm -rf "$GO_TOOL_WORK"' EXIT
}

go_tool_source() {
  echo "build-$TOOL: fetching $1@$2 from the Go module proxy" >&2
  local src
  src="$(cd "$GO_TOOL_WORK" && go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$src" ]] || { echo "build-$TOOL: downloading $1@$2 failed" >&2; exit 1; }
  cp -r "$src" "$GO_TOOL_WORK/src"
  chmod -R u+w "$GO_TOOL_WORK/src"
  cd "$GO_TOOL_WORK/src"
}

go_tool_install() {
  mv "$1" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
  cached || { echo "build-$TOOL: the binary built does not name the expected version" >&2; exit 1; }
  echo "$BIN"
}

# The output is read whole before matching: `cmd | grep -q` under pipefail fails at
# random when grep exits first and the command dies writing to the closed pipe.
go_tool_says() {
  local pattern="$1" out
  shift
  out="$("$@" 2>/dev/null)" || return 1
  grep -Eq -- "$pattern" <<<"$out"
}
