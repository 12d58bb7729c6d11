#!/usr/bin/env bash
# Translated path against the pass-through path, same gateway, same mock:
# ringbridge (1 worker) in front of mock-provider, which plays both OpenAI's
# and Anthropic's shapes. Alternating wrk runs so machine drift hits both.
#
#   loadtest/bench-translate.sh            # ROUNDS=4 DURATION=5s CONNS=64
set -euo pipefail
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(cd "$ROOT" && cargo build --release --workspace --quiet)
BIN=$ROOT/target/release

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
wait_line() {
  for _ in $(seq 100); do v=$(sed -n "$2" "$1"); [ -n "$v" ] && { echo "$v"; return; }; sleep 0.1; done
  echo "no address in $1" >&2; exit 1
}

"$BIN/mock-provider" --listen 127.0.0.1:0 --workers 1 >"$tmp/mock.out" 2>/dev/null & pids+=($!)
mock=$(wait_line "$tmp/mock.out" 's/^LISTENING //p')
cat >"$tmp/rb.toml" <<TOML
env_providers = false
[providers.openai]
base_url = "http://$mock/v1"
keys = ["sk-bench"]
[providers.anthropic]
base_url = "http://$mock"
keys = ["sk-bench"]
TOML
RINGBRIDGE_LOG=warn "$BIN/ringbridge" --listen 127.0.0.1:0 --workers 1 --config "$tmp/rb.toml" >"$tmp/rb.out" & pids+=($!)
rb=$(wait_line "$tmp/rb.out" 's|.*listening on http://||p')

declare -A total=([passthrough]=0 [anthropic]=0)
for r in $(seq "$ROUNDS"); do
  for t in passthrough anthropic; do
    lua=$ROOT/loadtest/bench/chat_gateway.lua
    [ "$t" = anthropic ] && lua=$ROOT/loadtest/bench/chat_anthropic.lua
    out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$lua" "http://$rb/v1/chat/completions")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "round=$r $t rps=$rps p99=$p99 non2xx=${non2xx:-0}"
    total[$t]=$(awk -v a="${total[$t]}" -v b="$rps" 'BEGIN {print a + b}')
  done
done
awk -v a="${total[anthropic]}" -v p="${total[passthrough]}" 'BEGIN {printf "anthropic / passthrough throughput = %.2f\n", a / p}'
