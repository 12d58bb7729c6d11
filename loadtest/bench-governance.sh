#!/usr/bin/env bash
# The request log's cost on the hot path: two ringbridge gateways (1 worker
# each), the same 1,000 virtual keys with rate limits and budgets at the key
# and team levels, in front of one mock-provider; one with `store = false`,
# the other logging every request to SQLite (the default). Each round runs
# wrk against one, then the other, with the same key, so drift hits both.
#
#   loadtest/bench-governance.sh          # ROUNDS=6 DURATION=5s CONNS=64
set -euo pipefail
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(cd "$ROOT" && cargo build --release --workspace --quiet)
BIN=$ROOT/target/release

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
wait_line() {
  for _ in $(seq 100); do v=$(sed -n "$2" "$1"); [ -n "$v" ] && { echo "$v"; return; }; sleep 0.1; done
  echo "no address in $1" >&2; exit 1
}

"$BIN/mock-provider" --listen 127.0.0.1:0 --workers 1 >"$tmp/mock.out" 2>/dev/null & pids+=($!)
mock=$(wait_line "$tmp/mock.out" 's/^LISTENING //p')
keys() {
  cat <<TOML
env_providers = false
[[teams]]
id = "bench-team"
rate_limit = { rpm = 1000000000, tpm = 1000000000 }
budget = { limit_usd = 1000000, period = "monthly" }
[providers.openai]
base_url = "http://$mock/v1"
keys = ["sk-bench"]
TOML
  for k in $(seq 0 999); do
    printf '[[virtual_keys]]\nname = "vk-%d"\nkey = "rb-bench-vk-%06d"\nteam_id = "bench-team"\nmodels = ["openai/*"]\nrate_limit = { rpm = 1000000000, tpm = 1000000000 }\nbudget = { limit_usd = 1000000, period = "daily" }\n' "$k" "$k"
  done
}
{ echo 'store = false'; keys; } >"$tmp/off.toml"
{ keys; printf '[store]\nsqlite = "%s/log.db"\n' "$tmp"; } >"$tmp/on.toml"
declare -A addr
for g in off on; do
  RINGBRIDGE_LOG=warn "$BIN/ringbridge" --listen 127.0.0.1:0 --workers 1 --config "$tmp/$g.toml" >"$tmp/$g.out" & pids+=($!)
  addr[$g]=$(wait_line "$tmp/$g.out" 's|.*listening on http://||p')
done

BODY='{"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence, please."}],"temperature":0.2,"max_tokens":64}'
KEY=rb-bench-vk-000737
for g in off on; do
  code=$(curl -s -o "$tmp/check" -w '%{http_code}' -X POST "http://${addr[$g]}/v1/chat/completions" \
    -H 'content-type: application/json' -H "authorization: Bearer $KEY" --data "$BODY")
  [ "$code" = 200 ] || { echo "$g answered $code: $(cat "$tmp/check")" >&2; exit 1; }
done

declare -A total
total[off]=0; total[on]=0
for r in $(seq "$ROUNDS"); do
  for g in off on; do
    out=$(DIALECT_BODY="$BODY" DIALECT_KEY="$KEY" wrk -t1 -c"$CONNS" -d"$DURATION" --latency \
      -s "$ROOT/loadtest/bench/dialect.lua" "http://${addr[$g]}/v1/chat/completions")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "round=$r logging=$g rps=$rps p99=$p99 non2xx=${non2xx:-0}"
    total[$g]=$(awk -v a="${total[$g]}" -v b="$rps" 'BEGIN {print a + b}')
  done
done
sleep 1
rows=$(curl -s "http://${addr[on]}/metrics" | awk '/^ringbridge_log_rows_(written|dropped|failed)_total/ {printf "%s=%s ", $1, $2}')
echo
awk -v off="${total[off]}" -v on="${total[on]}" -v n="$ROUNDS" \
  'BEGIN {printf "logging off %10.0f rps\nlogging on  %10.0f rps  (%.3f of off)\n", off / n, on / n, on / off}'
echo "store: $rows"
