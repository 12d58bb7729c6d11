#!/usr/bin/env bash
# A/B two ringbridge binaries (1 worker each) against one mock-provider, with
# alternating wrk runs so machine drift hits both alike.
#
#   loadtest/ab-binaries.sh OLD_BINARY NEW_BINARY     # ROUNDS=4 DURATION=5s CONNS="64 8" WORKERS=1
#   NEW_EXTRA='store = false' loadtest/ab-binaries.sh …  # top-level config lines for NEW only
#
# Build the old one from a worktree, e.g.:
#   git worktree add /tmp/rb-old <rev> && (cd /tmp/rb-old && CARGO_TARGET_DIR=/tmp/rb-old-target cargo build --release -p ringbridge)
set -euo pipefail
OLD=${1:?old binary}
NEW=${2:?new binary}
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-"64 8"}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MOCK=$ROOT/target/release/mock-provider
[ -x "$MOCK" ] || (cd "$ROOT" && cargo build --release -p ringbridge-loadtest)

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
# The gateway keeps its default store (ringbridge.db) in the working directory.
cd "$tmp"

wait_line() { # file sed-expression
  for _ in $(seq 100); do v=$(sed -n "$2" "$1"); [ -n "$v" ] && { echo "$v"; return; }; sleep 0.1; done
  echo "no address in $1" >&2; exit 1
}

"$MOCK" --listen 127.0.0.1:0 --workers 1 >"$tmp/mock.out" 2>/dev/null & pids+=($!)
mock=$(wait_line "$tmp/mock.out" 's/^LISTENING //p')
printf 'env_providers = false\n[providers.openai]\nbase_url = "http://%s/v1"\nkeys = ["sk-bench"]\n' "$mock" >"$tmp/rb.toml"
{ printf '%s\n' "${NEW_EXTRA:-}"; cat "$tmp/rb.toml"; } >"$tmp/rb-new.toml"
RINGBRIDGE_LOG=warn "$OLD" --listen 127.0.0.1:0 --workers "${WORKERS:-1}" --config "$tmp/rb.toml" >"$tmp/old.out" & pids+=($!)
RINGBRIDGE_LOG=warn "$NEW" --listen 127.0.0.1:0 --workers "${WORKERS:-1}" --config "$tmp/rb-new.toml" >"$tmp/new.out" & pids+=($!)
old=$(wait_line "$tmp/old.out" 's|.*listening on http://||p')
new=$(wait_line "$tmp/new.out" 's|.*listening on http://||p')

for c in $CONNS; do
  for r in $(seq "$ROUNDS"); do
    for t in old new; do
      addr=$old; [ "$t" = new ] && addr=$new
      out=$(wrk -t1 -c"$c" -d"$DURATION" --latency -s "$ROOT/loadtest/bench/chat_gateway.lua" "http://$addr/v1/chat/completions")
      rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
      p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
      echo "c=$c round=$r $t rps=$rps p99=$p99"
    done
  done
done
