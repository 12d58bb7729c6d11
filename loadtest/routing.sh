#!/usr/bin/env bash
# Routing under failure and overload (the routing issue's two load scenarios),
# one ringbridge worker against mock-providers on 127.0.0.1:
#
#   loadtest/routing.sh                 # DURATION=10s CONNS=64 OVERLOAD_CONNS=200
#
# failmix  upstream A answers 5% 500s and resets 2% of requests (--fail-mix
#          500:0.05,reset:0.02); upstream B is clean. Rows: B direct (the
#          baseline), A direct (what a client sees without a gateway), the gateway
#          on A alone (retries only), and the route `failmix` = A with B as
#          fallback, with default retries and with `attempts = 1`. Reports
#          client-visible errors and the p50/p99 added over B direct.
# overload upstream answers in 50 ms; the provider has max_in_flight = 16 and
#          queue = 16 (capacity 16 / 50 ms = 320 req/s); OVERLOAD_CONNS closed-loop
#          connections ask for CONNS / 50 ms (200: 4,000 req/s, 12.5x). Reports
#          answered req/s, the 429 share, the most requests the upstream saw at
#          once (it must stay at or under the limit) and the gateway's peak RSS.
#
# Needs wrk (apt-get install wrk). Every run is bounded; only PIDs started here
# are stopped.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
OVERLOAD_CONNS=${OVERLOAD_CONNS:-200}
LOG_TAG=routing
TMP=$(mktemp -d)
# shellcheck source=lib.sh
source "$ROOT/loadtest/lib.sh"
lib_init
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
[[ -x $BIN/ringbridge && -x $BIN/mock-provider ]] ||
    (cd "$ROOT" && cargo build --release -p ringbridge -p ringbridge-loadtest)

PIDS=()
cleanup() { kill_wait 5 "${PIDS[@]}"; rm -rf "$TMP"; }
trap cleanup EXIT

start_mock() { # start_mock NAME FLAGS... -> sets PORT_<NAME>
    "$BIN/mock-provider" --listen 127.0.0.1:0 --workers 1 "${@:2}" >"$TMP/$1.out" 2>"$TMP/$1.err" &
    PIDS+=($!)
    local port
    port=$(wait_port "$TMP/$1.out" '^LISTENING 127\.0\.0\.1:([0-9]+)' "$!") || die "mock $1 did not start"
    printf -v "PORT_$1" '%s' "$port"
}

GW_SEQ=0
start_gateway() { # start_gateway CONFIG_TEXT -> GW_PORT GW_PID
    GW_SEQ=$((GW_SEQ + 1))
    local out=$TMP/gw-$GW_SEQ
    printf '%s\n' "$1" >"$out.toml"
    RINGBRIDGE_LOG=error "$BIN/ringbridge" --listen 127.0.0.1:0 --workers 1 --config "$out.toml" \
        >"$out.out" 2>"$out.err" &
    GW_PID=$!
    PIDS+=("$GW_PID")
    GW_PORT=$(wait_port "$out.out" 'ringbridge listening on http://127\.0\.0\.1:([0-9]+)' "$GW_PID") ||
        die "ringbridge did not start: $(cat "$out.err")"
}
stop_gateway() { kill_wait 10 "$GW_PID"; }

body() { # body MODEL -> path of a small chat body naming MODEL
    local f=$TMP/body-${1//\//_}.json
    printf '{"model":"%s","messages":[{"role":"user","content":"Say hi in one word."}]}' "$1" >"$f"
    echo "$f"
}

run() { # run LABEL PORT MODEL CONNS -> prints one row, sets R (RESULT json)
    local out=$TMP/wrk-$1.out
    WRK_BODY_FILE=$(body "$3") WRK_HEADERS="Authorization: Bearer sk-bench" \
        timeout 120 wrk -t1 -c"$4" -d"$DURATION" --timeout 20s -s "$ROOT/loadtest/harness/wrk.lua" \
        "http://127.0.0.1:$2/v1/chat/completions" >"$out" 2>&1 || true
    R=$(sed -n 's/^RESULT //p' "$out")
    [[ -n $R ]] || die "wrk gave no result for $1: $(tail -n 3 "$out")"
}

field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$R" "$1"; }
errors() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["err_status"]+r["err_read"]+r["err_write"]+r["err_connect"]+r["err_timeout"])' "$R"; }

# ------------------------------------------------------------------ failmix
start_mock a --fail-mix 500:0.05,reset:0.02 --seed 1
start_mock b
providers="env_providers = false
[providers.a]
kind = \"openai-compatible\"
base_url = \"http://127.0.0.1:$PORT_a/v1\"
keys = [\"sk-bench\"]
[providers.b]
kind = \"openai-compatible\"
base_url = \"http://127.0.0.1:$PORT_b/v1\"
keys = [\"sk-bench\"]
[routes.failmix]
targets = [\"a/gpt-4o-mini\"]
fallbacks = [\"b/gpt-4o-mini\"]"

echo "## failmix: upstream A 5% 500s + 2% resets, B clean; wrk -c$CONNS -d$DURATION, 1 worker"
echo
echo "| target | req/s | p50 ms | p99 ms | client-visible errors | of requests |"
echo "|---|---|---|---|---|---|"
row() { printf '| %s | %.0f | %.3f | %.3f | %s | %s |\n' "$1" "$(field rps)" "$(field p50_ms)" "$(field p99_ms)" "$(errors)" "$(field requests)"; }
run direct-b "$PORT_b" gpt-4o-mini "$CONNS"
row "B direct (clean baseline)"
BASE_P50=$(field p50_ms) BASE_P99=$(field p99_ms)
run direct-a "$PORT_a" gpt-4o-mini "$CONNS"
row "A direct (no gateway)"
start_gateway "$providers"
run gw-a "$GW_PORT" a/gpt-4o-mini "$CONNS"
row "gateway, A only (retries)"
run gw-route "$GW_PORT" failmix "$CONNS"
row "gateway, route A → fallback B (default retries)"
ROUTE_P50=$(field p50_ms) ROUTE_P99=$(field p99_ms) ROUTE_ERR=$(errors)
stop_gateway
start_gateway "$providers
[retries]
attempts = 1"
run gw-route-1 "$GW_PORT" failmix "$CONNS"
row "gateway, route A → fallback B (attempts = 1)"
ONE_P50=$(field p50_ms) ONE_P99=$(field p99_ms) ONE_ERR=$(errors)
stop_gateway
echo
awk -v b50="$BASE_P50" -v b99="$BASE_P99" -v r50="$ROUTE_P50" -v r99="$ROUTE_P99" -v o50="$ONE_P50" -v o99="$ONE_P99" \
    'BEGIN { printf "Added over B direct: default retries p50 %+.3f ms, p99 %+.3f ms; attempts = 1 p50 %+.3f ms, p99 %+.3f ms.\n", r50 - b50, r99 - b99, o50 - b50, o99 - b99 }'
echo "Client-visible errors behind the fallback: $ROUTE_ERR (default retries), $ONE_ERR (attempts = 1)."
kill_wait 5 "${PIDS[@]}"
PIDS=()

# ------------------------------------------------------------------ overload
start_mock slow --latency fixed:50
start_gateway "env_providers = false
[providers.p]
kind = \"openai-compatible\"
base_url = \"http://127.0.0.1:$PORT_slow/v1\"
keys = [\"sk-bench\"]
max_in_flight = 16
queue = 16
queue_timeout_ms = 100"
rss_of "$GW_PID"
RSS_IDLE=$RSS_KB
# The most requests the upstream holds at once, sampled from the gateway's gauge.
(
    peak=0
    while kill -0 "$GW_PID" 2>/dev/null; do
        n=$(curl -s -m 1 "http://127.0.0.1:$GW_PORT/metrics" | awk -F'} ' '/^ringbridge_provider_in_flight\{provider="p"\}/ { print $2 }')
        [[ -n $n && $n -gt $peak ]] && peak=$n && echo "$peak" >"$TMP/peak"
        sleep 0.05
    done
) &
SAMPLER=$!
run overload "$GW_PORT" p/gpt-4o-mini "$OVERLOAD_CONNS"
kill "$SAMPLER" 2>/dev/null || true
HWM=$(awk '/^VmHWM/ { print $2 }' "/proc/$GW_PID/status")
echo
echo "## overload: upstream 50 ms, max_in_flight = 16, queue = 16 (capacity 320 req/s); wrk -c$OVERLOAD_CONNS -d$DURATION"
echo
python3 - "$R" "$RSS_IDLE" "$HWM" "$(cat "$TMP/peak" 2>/dev/null || echo 0)" "$OVERLOAD_CONNS" <<'EOF'
import json, sys
r, idle, hwm, peak, conns = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
answered = r["requests"] - r["err_status"]
secs = r["duration_s"]
print("| demand | answered req/s | 429 share | other errors | upstream in flight, peak | RSS idle → peak |")
print("|---|---|---|---|---|---|")
print("| %d conns / 50 ms = %.0f req/s (%.1fx) | %.0f | %.1f%% | %d | %d (limit 16) | %.1f → %.1f MiB |" % (
    conns, conns / 0.05, conns / 0.05 / 320, answered / secs, 100.0 * r["err_status"] / max(1, r["requests"]),
    r["err_read"] + r["err_write"] + r["err_connect"] + r["err_timeout"], peak, idle / 1024, hwm / 1024))
EOF
