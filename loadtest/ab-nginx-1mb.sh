#!/usr/bin/env bash
# 1 MB prompts (load harness scenario 5) through nginx and ringbridge (1
# worker each, no access log, no request log) in front of one mock-provider,
# wrk -t1 -c8 alternating between the two each round, so the machine's drift
# hits both alike (loadtest/run measures its targets one after the other).
#
#   loadtest/ab-nginx-1mb.sh          # ROUNDS=6 DUR=5s
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(cd "$ROOT" && cargo build --release --workspace --quiet)
BIN=$ROOT/target/release; ROUNDS=${ROUNDS:-6}; DUR=${DUR:-5s}
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT; cd $tmp
wait_line() { for _ in $(seq 100); do v=$(sed -n "$2" "$1"); [ -n "$v" ] && { echo "$v"; return; }; sleep 0.1; done; exit 1; }
"$BIN/mock-provider" --listen 127.0.0.1:0 --workers 1 >mock.out 2>/dev/null & pids+=($!)
mock=$(wait_line mock.out 's/^LISTENING //p')
mkdir -p ngx/logs ngx/tmp
nport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > ngx/nginx.conf <<NG
worker_processes 1; master_process on; daemon off; pid $tmp/ngx/nginx.pid; error_log $tmp/ngx/logs/error.log crit;
events { worker_connections 32768; }
http { access_log off; client_max_body_size 64m; client_body_buffer_size 2m; proxy_buffer_size 16k; proxy_buffers 16 16k;
 client_body_temp_path $tmp/ngx/tmp/body; proxy_temp_path $tmp/ngx/tmp/proxy;
 upstream mock { server $mock max_fails=0; keepalive 256; keepalive_requests 1000000; }
 server { listen 127.0.0.1:$nport backlog=16384; keepalive_requests 1000000;
  location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; } } }
NG
nginx -p $tmp/ngx -c $tmp/ngx/nginx.conf & pids+=($!)
printf 'env_providers = false\nstore = false\n[providers.openai]\nbase_url = "http://%s/v1"\nkeys = ["sk-bench"]\n' "$mock" > rb.toml
RINGBRIDGE_LOG=warn "$BIN/ringbridge" --listen 127.0.0.1:0 --workers 1 --config rb.toml >rb.out & pids+=($!)
rb=$(wait_line rb.out 's|.*listening on http://||p')
python3 - <<'PY'
import json
big=[{"role":"user","content":("lorem ipsum dolor sit amet "*40000)[:1048576]}]
for name,model in (("direct","gpt-4o-mini"),("gw","openai/gpt-4o-mini")):
    json.dump({"model":model,"messages":big,"temperature":0.2,"max_tokens":64,"stream":False},open(f"big-{name}.json","w"),separators=(",",":"))
PY
sleep 0.5
run() { WRK_BODY_FILE=$2 wrk -t1 -c8 -d$DUR -s $ROOT/loadtest/harness/wrk.lua "$1" | sed -n 's/^RESULT //p' | python3 -c 'import json,sys;print(json.load(sys.stdin)["rps"])'; }
run "http://127.0.0.1:$nport/v1/chat/completions" big-direct.json >/dev/null; run "http://$rb/v1/chat/completions" big-gw.json >/dev/null
n=0; r=0
for i in $(seq $ROUNDS); do
  a=$(run "http://127.0.0.1:$nport/v1/chat/completions" big-direct.json); b=$(run "http://$rb/v1/chat/completions" big-gw.json)
  echo "round $i nginx=$a ringbridge=$b ratio=$(python3 -c "print(round($b/$a,3))")"
  n=$(python3 -c "print($n+$a)"); r=$(python3 -c "print($r+$b)")
done
python3 -c "print('mean nginx %.0f ringbridge %.0f ratio %.3f' % ($n/$ROUNDS, $r/$ROUNDS, $r/$n))"
