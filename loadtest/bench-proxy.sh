#!/usr/bin/env bash
# Proxy benchmark: ringbridge (1 and 2 workers) against nginx (1 worker), both in front of
# mock-provider (1 worker, zero latency), plus the mock hit directly as a ceiling.
#
#   loadtest/bench-proxy.sh                       # defaults: ROUNDS=3 DURATION=10s CONNS="8 64"
#   ROUNDS=1 DURATION=3s loadtest/bench-proxy.sh  # quick smoke run
#
# Environment knobs (all optional):
#   ROUNDS=3            rounds; each round runs every (concurrency, target) pair once, and
#                       the target order rotates from round to round so drift hits all
#   DURATION=10s        measured wrk run (wrk syntax: 10s, 1m)
#   CONNS="8 64"        wrk connection counts (always -t1)
#   TARGETS="direct nginx rb1 rb2"
#   WARMUP=1s           unmeasured wrk run before each measured run (0 = none)
#   QUIET_IDLE_PCT=85   before each run wait until /proc/stat idle > this over 1 s ...
#   QUIET_MAX_WAIT=30   ... for at most this many seconds (the run is then flagged noisy)
#   NOISE_MAX=0.15      a run during which processes other than wrk, the mock and the target
#                       used more than this many cores is noisy ...
#   NOISE_RETRIES=2     ... and is repeated up to this many times; the least noisy attempt is kept
#   PROFILE=auto        after the runs, profile ringbridge 1w and nginx 1w under load with
#                       `perf record -e cpu-clock` (separate runs, not measured) and add the
#                       top symbols to the report; auto = when perf works, 0 = never, 1 = must
#   PROFILE_SECS=5      length of each profile; PROFILE_CONNS=64 its wrk connections
#   SKIP_BUILD=0        1 = use the existing target/release binaries
#   RESULTS_DIR=loadtest/results
#   KEEP_TMP=0          1 = keep the temp dir (logs, configs, raw wrk output)
#   REPORT_FROM=FILE    only rebuild the Markdown report from a raw proxy-*.tsv of an earlier run
#
# ringbridge is restarted before every run, so its RSS and its overhead quantile gauges
# (cumulative since start) cover that run only (plus its warm-up).
# Needs: cargo, wrk, curl, awk; installs nginx with apt-get when it is missing (run as root).
set -eEuo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-"8 64"}
TARGETS=${TARGETS:-"direct nginx rb1 rb2"}
WARMUP=${WARMUP:-1s}
QUIET_IDLE_PCT=${QUIET_IDLE_PCT:-85}
QUIET_MAX_WAIT=${QUIET_MAX_WAIT:-30}
NOISE_MAX=${NOISE_MAX:-0.15}
NOISE_RETRIES=${NOISE_RETRIES:-2}
SKIP_BUILD=${SKIP_BUILD:-0}
PROFILE=${PROFILE:-auto}
PROFILE_SECS=${PROFILE_SECS:-5}
PROFILE_CONNS=${PROFILE_CONNS:-64}
KEEP_TMP=${KEEP_TMP:-0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release
BENCH=$ROOT/loadtest/bench
RESULTS_DIR=${RESULTS_DIR:-$ROOT/loadtest/results}
LUA_DIRECT=$BENCH/chat.lua          # model "gpt-4o-mini"
LUA_GATEWAY=$BENCH/chat_gateway.lua # model "openai/gpt-4o-mini"
CMDLINE="ROUNDS=$ROUNDS DURATION=$DURATION CONNS=\"$CONNS\" WARMUP=$WARMUP NOISE_RETRIES=$NOISE_RETRIES loadtest/bench-proxy.sh${*:+ $*}"
export PATH="$PATH:/usr/sbin:/sbin"

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# "10s" / "2m" / "10" -> seconds.
to_secs() {
    [[ $1 =~ ^([0-9]+)(s|m|h)?$ ]] || die "bad duration '$1' (use e.g. 10s, 1m)"
    local n=${BASH_REMATCH[1]}
    case ${BASH_REMATCH[2]} in
        m) echo $((n * 60)) ;;
        h) echo $((n * 3600)) ;;
        *) echo "$n" ;;
    esac
}
DUR_S=$(to_secs "$DURATION")
WARMUP_S=$(to_secs "$WARMUP")
((DUR_S > 0)) || die "DURATION must be > 0"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "bad ROUNDS '$ROUNDS'"
[[ $NOISE_RETRIES =~ ^[0-9]+$ ]] || die "bad NOISE_RETRIES '$NOISE_RETRIES'"
[[ $NOISE_MAX =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad NOISE_MAX '$NOISE_MAX'"
for c in $CONNS; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "bad connection count '$c'"; done
for t in $TARGETS; do
    case $t in direct | nginx | rb1 | rb2) ;; *) die "unknown target '$t'" ;; esac
done

# ---------------------------------------------------------------- processes and cleanup
TMP=$(mktemp -d /tmp/bench-proxy.XXXXXX)
chmod 755 "$TMP"
LONG_PIDS=() # mock, nginx master
NGX_PID=""
RB_PID=""
WRK_PID=""
PERF_PID=""

kill_wait() { # kill_wait SECONDS PID... : TERM, wait up to SECONDS, then KILL
    local grace=$1 p deadline alive
    shift
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    deadline=$((SECONDS + grace))
    while :; do
        alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        if ((SECONDS >= deadline)); then
            for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
            break
        fi
        sleep 0.05
    done
    for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pids=() p
    for p in "$PERF_PID" "$WRK_PID" "$RB_PID" $(nginx_workers) "${LONG_PIDS[@]}"; do
        [[ -n $p ]] && pids+=("$p")
    done
    ((${#pids[@]})) && kill_wait 5 "${pids[@]}"
    if [[ $KEEP_TMP == 1 || $rc != 0 ]]; then
        log "temp dir kept: $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR
trap 'log "interrupted"; exit 130' INT
trap 'exit 143' TERM

# A fork-free sleep, used by the samplers so they do not add load themselves.
mkfifo "$TMP/nap"
exec {NAP_FD}<>"$TMP/nap"
nap() { read -r -t "$1" -u "$NAP_FD" _ || true; }

nginx_workers() {
    [[ -n $NGX_PID && -r /proc/$NGX_PID/task/$NGX_PID/children ]] || return 0
    local c
    read -r -a c <"/proc/$NGX_PID/task/$NGX_PID/children" || true
    ((${#c[@]})) && echo "${c[@]}"
    return 0
}

# wait_port FILE REGEX PID: wait (10 s) until FILE has a line matching REGEX whose first
# group is the port; print the port.
wait_port() {
    local file=$1 re=$2 pid=$3 i line
    for ((i = 0; i < 200; i++)); do
        if [[ -s $file ]]; then
            while IFS= read -r line; do
                if [[ $line =~ $re ]]; then
                    echo "${BASH_REMATCH[1]}"
                    return 0
                fi
            done <"$file"
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

smoke() { # smoke PORT MODEL: one request must answer 200 with a chat.completion
    local out
    out=$(curl -sS -m 5 -w '\n%{http_code}' "http://127.0.0.1:$1/v1/chat/completions" \
        -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-bench' \
        -d "{\"model\":\"$2\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}") || return 1
    [[ ${out##*$'\n'} == 200 && $out == *'"chat.completion"'* ]]
}

# ---------------------------------------------------------------- /proc readers (no forks)
# Sum of VmRSS (KiB) over the given pids -> RSS_KB
rss_of() {
    local kb=0 p k v _r
    for p in "$@"; do
        { while read -r k v _r; do
            if [[ $k == VmRSS: ]]; then
                kb=$((kb + v))
                break
            fi
        done <"/proc/$p/status"; } 2>/dev/null || true
    done
    RSS_KB=$kb
}
# Sum of utime+stime (clock ticks) over the given pids (all threads) -> TICKS
ticks_of() {
    local t=0 p f
    for p in "$@"; do
        { read -r -a f <"/proc/$p/stat"; } 2>/dev/null || continue
        # Field 2 (comm) has no spaces for the processes we read.
        t=$((t + f[13] + f[14]))
    done
    TICKS=$t
}
# /proc/stat totals (ticks summed over CPUs) -> CPU_TOTAL, CPU_IDLE, and CPU_TASK: time
# charged to tasks (user + nice + system) plus steal. irq/softirq time is left out of
# CPU_TASK: loopback packet processing lands there and belongs to no process.
cpu_snapshot() {
    local _c u n s i w q sq st _r
    read -r _c u n s i w q sq st _r </proc/stat
    CPU_TOTAL=$((u + n + s + i + w + q + sq + st))
    CPU_IDLE=$((i + w))
    CPU_TASK=$((u + n + s + st))
}

# Wait until the machine is quiet: idle > QUIET_IDLE_PCT over 1 s, for up to QUIET_MAX_WAIT s.
# -> QUIET (idle % of the last 1 s window, suffixed with "!" when the wait timed out)
wait_quiet() {
    local start=$SECONDS t0 i0 pct
    while :; do
        cpu_snapshot
        t0=$CPU_TOTAL i0=$CPU_IDLE
        nap 1
        cpu_snapshot
        pct=$((100 * (CPU_IDLE - i0) / (CPU_TOTAL - t0 > 0 ? CPU_TOTAL - t0 : 1)))
        if ((pct > QUIET_IDLE_PCT)); then
            QUIET=$pct
            return 0
        fi
        if ((SECONDS - start >= QUIET_MAX_WAIT)); then
            QUIET="$pct!"
            log "machine not quiet after ${QUIET_MAX_WAIT}s (idle ${pct}%); running anyway, flagged"
            return 0
        fi
    done
}

# ---------------------------------------------------------------- report
# write_report RAW_TSV STAMP: writes RESULTS_DIR/proxy-STAMP.md (+ .tsv copy) and prints it.
write_report() {
    local RAW=$1 STAMP=$2
    ROUNDS=$(awk -F'\t' 'NR > 1 && $1 + 0 > m { m = $1 + 0 } END { print m + 0 }' "$RAW")
    mkdir -p "$RESULTS_DIR"
    REPORT=$RESULTS_DIR/proxy-$STAMP.md
    cp "$RAW" "$RESULTS_DIR/proxy-$STAMP.tsv"

    CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    MEM_TOTAL=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    NGINX_VER=$(nginx -v 2>&1 | sed 's/^nginx version: //')
    WRK_VER=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 { print $2 }')
    RB_VER=$("$BIN/ringbridge" --version 2>/dev/null || echo ringbridge)
    URING=$(awk '{ print $1 }' /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo n/a)

    {
        echo "# Proxy benchmark: ringbridge vs nginx"
        echo
        echo "- Date: $START_DATE"
        echo "- Machine: $(nproc) vCPU ($CPU_MODEL), $MEM_TOTAL RAM, kernel $(uname -r) (io_uring_disabled=$URING)"
        echo "- Versions: $RB_VER (release build), $NGINX_VER, wrk $WRK_VER"
        echo "- Command (effective settings): \`$CMDLINE\`"
        echo "- Load: \`wrk -t1 -c{$(echo "$CONNS" | tr ' ' ,)} -d${DUR_S}s --latency\`, a POST \`/v1/chat/completions\` with a $(
            awk -F"'" '/wrk.body/ { print length($2) }' "$LUA_DIRECT")-byte JSON body (\`loadtest/bench/chat.lua\`; \`chat_gateway.lua\` with model \`openai/gpt-4o-mini\` for ringbridge)."
        echo "  ${WARMUP_S}s unmeasured warm-up at the same concurrency before each run, then a wait until the machine is idle (>${QUIET_IDLE_PCT}% over 1 s, at most ${QUIET_MAX_WAIT} s)."
        echo "- Upstream: \`mock-provider --workers 1\` (answers instantly, 339-byte JSON body)."
        echo "- Targets: **direct** = the mock itself; **nginx** = 1 worker (\`master_process on\`, upstream \`keepalive 64\`, \`proxy_http_version 1.1\`, \`keepalive_requests 1000000\` both sides, access_log off);"
        echo "  **rb1** / **rb2** = ringbridge \`--workers 1\` / \`--workers 2\`, restarted before every run (\`RINGBRIDGE_LOG=warn\`, \`env_providers = false\`, one \`openai\` provider pointing at the mock)."
        echo "- wrk, the proxy and the mock share the same $(nproc) vCPUs. ringbridge pins worker i to core i; nginx and the mock are not pinned."
        echo "- Rounds: $ROUNDS; in each round every target runs once per concurrency, and the target order rotates between rounds."
        echo
        awk -F'\t' -v rounds="$ROUNDS" -v conns="$CONNS" -v targets="$TARGETS" -v noise_max="$NOISE_MAX" -v retries="$NOISE_RETRIES" '
            function median(key, n, i, j, a, t, m) {
                n = cnt[key]
                for (i = 1; i <= n; i++) a[i] = val[key, i]
                for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
                if (n == 0) return ""
                m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
                return m
            }
            function maxof(key, n, i, m) {
                n = cnt[key]; m = ""
                for (i = 1; i <= n; i++) if (m == "" || val[key, i] > m) m = val[key, i]
                return m
            }
            function add(c, t, name, v) {
                if (v == "-" || v == "") return
                k = c SUBSEP t SUBSEP name
                cnt[k]++; val[k, cnt[k]] = v + 0
            }
            function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.2f", a / b) : "-" }
            function fmt(v, f) { return (v == "") ? "-" : sprintf(f, v) }
            function pct(a, b) { return (b > 0) ? sprintf("%+.1f%%", 100 * (a - b) / b) : "-" }
            NR == 1 { next }
            {
                c = $2; t = $3
                add(c, t, "rps", $4); add(c, t, "p50", $5); add(c, t, "p99", $8)
                add(c, t, "err", $10 + $11); add(c, t, "rss_start", $12); add(c, t, "rss_idle", $13); add(c, t, "rss_load", $14)
                add(c, t, "o50", $15); add(c, t, "o99", $16); add(c, t, "cpu", $17); add(c, t, "other", $20)
                if ($4 > 0) add(c, t, "cpureq", $17 * 1e6 / $4)
                R[c, $1, t, "rps"] = $4; R[c, $1, t, "p50"] = $5; R[c, $1, t, "p99"] = $8
                if ($21 ~ /!/ || $20 > noise_max) noisy++
                runs++
                if (t ~ /^rb/) {
                    if ($12 > rb_start_max[t]) rb_start_max[t] = $12
                    if ($13 > rb_idle_max[t]) rb_idle_max[t] = $13
                    if ($14 > rb_load_max[t]) rb_load_max[t] = $14
                }
            }
            END {
                nc = split(conns, C, " "); nt = split(targets, T, " ")
                name["direct"] = "direct (mock)"; name["nginx"] = "nginx 1w"; name["rb1"] = "ringbridge 1w"; name["rb2"] = "ringbridge 2w"
                for (ci = 1; ci <= nc; ci++) {
                    c = C[ci]
                    printf "## %d connections (median of %d rounds)\n\n", c, rounds
                    print "| target | req/s | p50 ms | p99 ms | req/s ÷ nginx | p50 ÷ nginx | p99 ÷ nginx | errors | RSS idle MiB | RSS load MiB | overhead p50 µs | overhead p99 µs | CPU target | CPU µs/req | CPU other |"
                    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
                    nr = median(c SUBSEP "nginx" SUBSEP "rps"); n50 = median(c SUBSEP "nginx" SUBSEP "p50"); n99 = median(c SUBSEP "nginx" SUBSEP "p99")
                    for (ti = 1; ti <= nt; ti++) {
                        t = T[ti]; k = c SUBSEP t SUBSEP
                        r = median(k "rps"); p5 = median(k "p50"); p9 = median(k "p99")
                        M[c, t, "rps"] = r; M[c, t, "p50"] = p5; M[c, t, "p99"] = p9
                        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                            name[t], fmt(r, "%.0f"), fmt(p5, "%.3f"), fmt(p9, "%.3f"),
                            ratio(r, nr), ratio(p5, n50), ratio(p9, n99), fmt(maxof(k "err"), "%d"),
                            fmt(median(k "rss_idle") / 1024, "%.1f"), fmt(median(k "rss_load") / 1024, "%.1f"),
                            fmt(median(k "o50"), "%.1f"), fmt(median(k "o99"), "%.1f"),
                            fmt(median(k "cpu"), "%.2f"), fmt(median(k "cpureq"), "%.1f"), fmt(median(k "other"), "%.2f")
                    }
                    print ""
                }
                print "Errors = the largest count over the rounds of non-2xx responses plus socket errors. RSS = VmRSS (nginx: master + worker), idle just before the run (after the warm-up), load = the largest 100 ms sample during the run. Overhead = ringbridge'"'"'s `ringbridge_gateway_overhead_quantile_seconds` (request time minus upstream wait), read after the run; it covers that run and its warm-up, since ringbridge is restarted per run. CPU = cores used during the run (ticks / wall time): the target (nginx: master + worker); CPU µs/req = target CPU time per request; CPU other = task time (user + system + steal, irq/softirq excluded) of everything that was neither target, mock nor wrk: noise from other work on the machine."
                print ""
                print "## Paired ratios (each ringbridge run ÷ the nginx run of the same round)"
                print ""
                print "Slow drift of the machine moves whole rounds; a ratio within one round cancels most of it."
                print ""
                print "| conns | target | req/s ÷ nginx per round | median | p50 ÷ nginx per round | median | p99 ÷ nginx per round | median |"
                print "|---|---|---|---:|---|---:|---|---:|"
                for (ci = 1; ci <= nc; ci++) {
                    c = C[ci]
                    for (ti = 1; ti <= nt; ti++) {
                        t = T[ti]
                        if (t == "nginx") continue
                        line = "| " c " | " name[t]
                        for (mi = 1; mi <= 3; mi++) {
                            m = (mi == 1) ? "rps" : (mi == 2) ? "p50" : "p99"
                            list = ""; key = c SUBSEP t SUBSEP "pr_" m
                            for (rr = 1; rr <= rounds; rr++) {
                                a = R[c, rr, t, m]; b = R[c, rr, "nginx", m]
                                if (a == "" || b == "" || b + 0 <= 0) continue
                                list = list (list == "" ? "" : " ") sprintf("%.2f", a / b)
                                add(c, t, "pr_" m, a / b)
                            }
                            P[c, t, m] = median(key)
                            line = line " | " (list == "" ? "-" : list) " | " fmt(P[c, t, m], "%.2f")
                        }
                        print line " |"
                    }
                }
                print ""
                print "## Targets (ringbridge 1 worker vs nginx 1 worker)"
                print ""
                print "Verdicts use the medians of the tables above; the paired median ratio is given alongside."
                print ""
                for (ci = 1; ci <= nc; ci++) {
                    c = C[ci]
                    if (M[c, "rb1", "rps"] == "" || M[c, "nginx", "rps"] == "") continue
                    r = M[c, "rb1", "rps"]; n = M[c, "nginx", "rps"]
                    printf "- c=%d req/s ≥ nginx: **%s** (%.0f vs %.0f, %s; paired median ratio %s)\n", c, (r >= n) ? "met" : "missed", r, n, pct(r, n), fmt(P[c, "rb1", "rps"], "%.2f")
                    r = M[c, "rb1", "p50"]; n = M[c, "nginx", "p50"]
                    printf "- c=%d p50 ≤ nginx: **%s** (%.3f vs %.3f ms, %s; paired median ratio %s)\n", c, (r <= n) ? "met" : "missed", r, n, pct(r, n), fmt(P[c, "rb1", "p50"], "%.2f")
                    r = M[c, "rb1", "p99"]; n = M[c, "nginx", "p99"]
                    printf "- c=%d p99 ≤ nginx: **%s** (%.3f vs %.3f ms, %s; paired median ratio %s)\n", c, (r <= n) ? "met" : "missed", r, n, pct(r, n), fmt(P[c, "rb1", "p99"], "%.2f")
                }
                for (ti = 1; ti <= nt; ti++) {
                    t = T[ti]
                    if (!(t in rb_idle_max)) continue
                    printf "- %s RSS idle < 15 MiB: **%s** (worst run %.1f MiB; %.1f MiB right after start)\n", name[t],
                        (rb_idle_max[t] < 15 * 1024) ? "met" : "missed", rb_idle_max[t] / 1024, rb_start_max[t] / 1024
                    printf "- %s RSS under load < 40 MiB: **%s** (worst run %.1f MiB)\n", name[t],
                        (rb_load_max[t] < 40 * 1024) ? "met" : "missed", rb_load_max[t] / 1024
                }
                print ""
                if (noisy) printf "**Noise:** %d of %d kept runs are noisy: the machine was not quiet before the run (`!` in idle before), or other processes used more than %s cores during it (CPU other) in every one of its %d attempts; the least noisy attempt was kept.\n\n", noisy, runs, noise_max, retries + 1
                else printf "No kept run is noisy (machine idle before every run; other processes used at most %s cores during each; noisy attempts were repeated, up to %d times).\n\n", noise_max, retries
            }' "$RAW"
        if [[ -s ${PROFILE_MD:-} ]]; then
            cat "$PROFILE_MD"
            echo
        fi
        echo "## All runs"
        echo
        echo "| round | conns | target | req/s | p50 ms | p75 ms | p90 ms | p99 ms | requests | non-2xx | socket err | RSS start KiB | RSS idle KiB | RSS load KiB | ovh p50 µs | ovh p99 µs | CPU target | CPU mock | CPU wrk | CPU other | idle before % | attempts |"
        echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' 'NR > 1 { line = "|"; for (i = 1; i <= NF; i++) line = line " " $i " |"; print line }' "$RAW"
        echo
        echo "Raw TSV: \`loadtest/results/proxy-$STAMP.tsv\`."
    } >"$REPORT"

    cat "$REPORT"
    log "report written to $REPORT"
}

if [[ -n ${REPORT_FROM:-} ]]; then # regenerate a report from an earlier raw TSV
    [[ -r $REPORT_FROM ]] || die "cannot read $REPORT_FROM"
    START_DATE="(regenerated from $(basename "$REPORT_FROM"))"
    CMDLINE="REPORT_FROM=$REPORT_FROM loadtest/bench-proxy.sh (the TSV does not record the original command)"
    write_report "$REPORT_FROM" "$(date -u +%Y%m%d-%H%M%S)"
    exit 0
fi

# ---------------------------------------------------------------- build and tools
if [[ $SKIP_BUILD != 1 ]]; then
    log "building release binaries"
    (cd "$ROOT" && cargo build --release --workspace --quiet)
fi
[[ -x $BIN/ringbridge && -x $BIN/mock-provider ]] || die "missing $BIN/ringbridge or $BIN/mock-provider"
command -v wrk >/dev/null || die "wrk not found (apt-get install -y wrk)"
command -v curl >/dev/null || die "curl not found"
if ! command -v nginx >/dev/null; then
    log "installing nginx"
    ((EUID == 0)) || die "nginx is missing and we are not root; install nginx-light"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq nginx-light >&2 || apt-get install -y -qq nginx >&2
    command -v nginx >/dev/null || die "nginx install failed"
fi
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- long-lived servers
log "starting mock-provider"
"$BIN/mock-provider" --listen 127.0.0.1:0 --workers 1 >"$TMP/mock.out" 2>"$TMP/mock.err" &
MOCK_PID=$!
LONG_PIDS+=("$MOCK_PID")
MOCK_PORT=$(wait_port "$TMP/mock.out" '^LISTENING 127\.0\.0\.1:([0-9]+)' "$MOCK_PID") ||
    die "mock-provider did not start: $(cat "$TMP/mock.err")"
smoke "$MOCK_PORT" gpt-4o-mini || die "mock-provider smoke request failed"

start_nginx() {
    local dir=$TMP/nginx attempt port i
    mkdir -p "$dir/logs" "$dir/tmp"
    chmod -R 755 "$dir"
    for ((attempt = 0; attempt < 10; attempt++)); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_busy "$port" && continue
        cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
master_process on;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$port;
        keepalive_requests 1000000;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
        nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$dir/logs/stdout" 2>&1 &
        NGX_PID=$!
        for ((i = 0; i < 100; i++)); do
            if ! kill -0 "$NGX_PID" 2>/dev/null; then break; fi
            if port_busy "$port" && [[ -n $(nginx_workers) ]]; then
                NGX_PORT=$port
                LONG_PIDS+=("$NGX_PID")
                return 0
            fi
            sleep 0.05
        done
        kill_wait 3 "$NGX_PID" $(nginx_workers)
        NGX_PID=""
    done
    die "nginx did not start: $(tail -5 "$dir/logs/error.log" 2>/dev/null)"
}
if [[ " $TARGETS " == *" nginx "* ]]; then
    log "starting nginx"
    start_nginx
    smoke "$NGX_PORT" gpt-4o-mini || die "nginx smoke request failed"
fi

# No request log, as nginx runs with `access_log off`: the log's own cost is
# loadtest/bench-governance.sh's to measure (and the default ringbridge.db
# would land in the caller's working directory).
cat >"$TMP/ringbridge.toml" <<EOF
env_providers = false
store = false

[providers.openai]
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
keys = ["sk-bench"]
EOF
"$BIN/ringbridge" check-config "$TMP/ringbridge.toml" >/dev/null || die "ringbridge config rejected"

RB_SEQ=0
start_rb() { # start_rb WORKERS -> RB_PID, RB_PORT
    RB_SEQ=$((RB_SEQ + 1))
    local out=$TMP/rb-$RB_SEQ.out
    RINGBRIDGE_LOG=warn "$BIN/ringbridge" --listen 127.0.0.1:0 --workers "$1" \
        --config "$TMP/ringbridge.toml" >"$out" 2>"$TMP/rb-$RB_SEQ.err" &
    RB_PID=$!
    RB_PORT=$(wait_port "$out" 'ringbridge listening on http://127\.0\.0\.1:([0-9]+)' "$RB_PID") ||
        die "ringbridge did not start: $(cat "$TMP/rb-$RB_SEQ.err")"
}
stop_rb() {
    [[ -n $RB_PID ]] && kill_wait 10 "$RB_PID"
    RB_PID=""
}
# Overhead quantile gauge (seconds) -> microseconds, or "-"
rb_overhead() { # rb_overhead PORT QUANTILE
    curl -sS -m 5 "http://127.0.0.1:$1/metrics" | awk -v q="$2" '
        index($0, "ringbridge_gateway_overhead_quantile_seconds{quantile=\"" q "\"}") == 1 {
            v = $2; found = 1 }
        END { if (found && v ~ /^[0-9.eE+-]+$/) printf "%.1f", v * 1e6; else printf "-" }'
}

# ---------------------------------------------------------------- one measured run
# run_wrk OUT CONC DURATION_S LUA URL [PIDS...]
# Runs wrk in the background, bounded (it is killed DURATION+30 s after start at the latest).
# With PIDS it samples their RSS every 100 ms -> RSS_MAX, and CPU ticks of PIDS / mock / wrk /
# the whole machine -> T_TARGET T_MOCK T_WRK T_TOTAL_BUSY WALL_US.
run_wrk() {
    local out=$1 conc=$2 dur=$3 lua=$4 url=$5
    shift 5
    local pids=("$@") deadline t0 t1 tgt0 mock0 wrk0=0 wrk_last=0 busy0 rc=0
    wrk -t1 -c"$conc" -d"${dur}s" --latency -s "$lua" "$url" >"$out" 2>&1 &
    WRK_PID=$!
    deadline=$((SECONDS + dur + 30))
    RSS_MAX=0
    if ((${#pids[@]})); then
        t0=${EPOCHREALTIME/./}
        cpu_snapshot
        busy0=$CPU_TASK
        ticks_of "${pids[@]}"
        tgt0=$TICKS
        ticks_of "$MOCK_PID"
        mock0=$TICKS
        ticks_of "$WRK_PID"
        wrk0=$TICKS wrk_last=$TICKS
    fi
    while kill -0 "$WRK_PID" 2>/dev/null; do
        if ((SECONDS > deadline)); then
            log "wrk overran its deadline; killing it"
            kill -KILL "$WRK_PID" 2>/dev/null || true
            break
        fi
        if ((${#pids[@]})); then
            rss_of "${pids[@]}"
            ((RSS_KB > RSS_MAX)) && RSS_MAX=$RSS_KB
            ticks_of "$WRK_PID"
            ((TICKS > wrk_last)) && wrk_last=$TICKS
        fi
        nap 0.1
    done
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    if ((${#pids[@]})); then
        t1=${EPOCHREALTIME/./}
        cpu_snapshot
        T_TOTAL_BUSY=$((CPU_TASK - busy0))
        ticks_of "${pids[@]}"
        T_TARGET=$((TICKS - tgt0))
        ticks_of "$MOCK_PID"
        T_MOCK=$((TICKS - mock0))
        T_WRK=$((wrk_last - wrk0))
        WALL_US=$((t1 - t0))
    fi
    return "$rc"
}

RAW=$TMP/raw.tsv
printf 'round\tconc\ttarget\trps\tp50_ms\tp75_ms\tp90_ms\tp99_ms\trequests\tnon2xx\tsockerr\trss_start_kb\trss_idle_kb\trss_load_kb\tovh_p50_us\tovh_p99_us\tcpu_target\tcpu_mock\tcpu_wrk\tcpu_other\tquiet_idle_pct\tattempts\n' >"$RAW"

measure_once() { # measure_once ROUND CONC TARGET -> ROW (one TSV line, no attempts column)
    local round=$1 conc=$2 target=$3 port lua pids=() rss_start ovh50=- ovh99=- out
    case $target in
        direct) port=$MOCK_PORT lua=$LUA_DIRECT pids=("$MOCK_PID") ;;
        nginx) port=$NGX_PORT lua=$LUA_DIRECT pids=("$NGX_PID" $(nginx_workers)) ;;
        rb1 | rb2)
            start_rb "${target#rb}"
            smoke "$RB_PORT" openai/gpt-4o-mini || die "ringbridge smoke request failed"
            port=$RB_PORT lua=$LUA_GATEWAY pids=("$RB_PID")
            ;;
    esac
    local url=http://127.0.0.1:$port/v1/chat/completions
    rss_of "${pids[@]}"
    rss_start=$RSS_KB
    if ((WARMUP_S > 0)); then
        run_wrk "$TMP/warmup.out" "$conc" "$WARMUP_S" "$lua" "$url" || log "warm-up wrk exited non-zero"
    fi
    wait_quiet
    rss_of "${pids[@]}"
    local rss_idle=$RSS_KB
    out=$TMP/wrk-r$round-c$conc-$target.out
    log "round $round/$ROUNDS  c=$conc  $target  (idle ${QUIET}%)"
    run_wrk "$out" "$conc" "$DUR_S" "$lua" "$url" "${pids[@]}" || log "wrk exited non-zero (see $out)"
    if [[ $target == rb* ]]; then
        ovh50=$(rb_overhead "$RB_PORT" 0.5)
        ovh99=$(rb_overhead "$RB_PORT" 0.99)
        stop_rb
    fi
    ROW=$(awk -v round="$round" -v conc="$conc" -v target="$target" \
        -v rss_start="$rss_start" -v rss_idle="$rss_idle" -v rss_load="$RSS_MAX" \
        -v ovh50="$ovh50" -v ovh99="$ovh99" -v quiet="$QUIET" -v hz="$CLK_TCK" \
        -v tt="$T_TARGET" -v tm="$T_MOCK" -v tw="$T_WRK" -v tb="$T_TOTAL_BUSY" -v wall="$WALL_US" '
        function ms(s, v) {
            v = s + 0
            if (s ~ /us$/) return v / 1000
            if (s ~ /ms$/) return v
            if (s ~ /m$/) return v * 60000
            if (s ~ /s$/) return v * 1000
            return v
        }
        /Requests\/sec:/ { rps = $2 }
        /^[ \t]*50%/ { p50 = ms($2) }
        /^[ \t]*75%/ { p75 = ms($2) }
        /^[ \t]*90%/ { p90 = ms($2) }
        /^[ \t]*99%/ { p99 = ms($2) }
        / requests in / { reqs = $1 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { gsub(/,/, ""); sockerr = $4 + $6 + $8 + $10 }
        END {
            secs = wall / 1e6; if (secs <= 0) secs = 1
            cores = hz * secs
            mock = (target == "direct") ? 0 : tm
            other = (tb - tt - mock - tw) / cores; if (other < 0) other = 0
            printf "%s\t%s\t%s\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%s\n",
                round, conc, target, rps, p50, p75, p90, p99, reqs, non2xx, sockerr,
                rss_start, rss_idle, rss_load, ovh50, ovh99,
                tt / cores, mock / cores, tw / cores, other, quiet
        }' "$out")
    printf '%s\n' "$ROW" | awk -F'\t' '{ printf "    %s rps  p50 %s ms  p99 %s ms  non2xx %s  sockerr %s  RSS idle %d KiB load %d KiB  overhead p50/p99 %s/%s us  cpu target %s other %s\n",
        $4, $5, $8, $10, $11, $13, $14, $15, $16, $17, $20 }' >&2
}

measure() { # measure ROUND CONC TARGET: measure_once, repeated while noisy; appends to RAW
    local attempt best="" best_other="" other
    for ((attempt = 1; attempt <= NOISE_RETRIES + 1; attempt++)); do
        measure_once "$@"
        other=$(printf '%s\n' "$ROW" | awk -F'\t' '{ print $20 }')
        if [[ -z $best ]] || awk -v a="$other" -v b="$best_other" 'BEGIN { exit !(a < b) }'; then
            best=$ROW best_other=$other
        fi
        if awk -v a="$other" -v m="$NOISE_MAX" 'BEGIN { exit !(a <= m) }'; then break; fi
        if ((attempt <= NOISE_RETRIES)); then
            log "    noisy (other processes used $other cores > $NOISE_MAX); repeating"
        fi
    done
    printf '%s\t%d\n' "$best" "$((attempt > NOISE_RETRIES + 1 ? NOISE_RETRIES + 1 : attempt))" >>"$RAW"
}

# ---------------------------------------------------------------- the runs
read -r -a TARGET_LIST <<<"$TARGETS"
NT=${#TARGET_LIST[@]}
START_DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
log "mock :$MOCK_PORT  nginx :${NGX_PORT:--}  rounds $ROUNDS  duration ${DUR_S}s  conns $CONNS"
for ((r = 1; r <= ROUNDS; r++)); do
    for c in $CONNS; do
        for ((k = 0; k < NT; k++)); do
            measure "$r" "$c" "${TARGET_LIST[((k + r - 1) % NT)]}"
        done
    done
done

# ---------------------------------------------------------------- profile (optional)
perf_works() {
    command -v perf >/dev/null &&
        perf record -q -e cpu-clock -o "$TMP/perf-probe.data" -- true >/dev/null 2>&1
}
# profile_target TARGET: perf record of TARGET under wrk load -> appends to PROFILE_MD
profile_target() {
    local target=$1 port lua pids=() deadline list
    case $target in
        nginx) port=$NGX_PORT lua=$LUA_DIRECT pids=("$NGX_PID" $(nginx_workers)) ;;
        rb1)
            start_rb 1
            port=$RB_PORT lua=$LUA_GATEWAY pids=("$RB_PID")
            ;;
    esac
    wait_quiet
    log "profiling $target (c=$PROFILE_CONNS, ${PROFILE_SECS}s)"
    wrk -t1 -c"$PROFILE_CONNS" -d"$((PROFILE_SECS + 2))s" -s "$lua" \
        "http://127.0.0.1:$port/v1/chat/completions" >"$TMP/profile-$target.wrk" 2>&1 &
    WRK_PID=$!
    nap 1
    list=$(IFS=,; echo "${pids[*]}")
    perf record -q -F 999 -e cpu-clock -o "$TMP/perf-$target.data" -p "$list" \
        -- sleep "$PROFILE_SECS" >/dev/null 2>"$TMP/perf-$target.err" &
    PERF_PID=$!
    deadline=$((SECONDS + PROFILE_SECS + 30))
    while kill -0 "$PERF_PID" 2>/dev/null || kill -0 "$WRK_PID" 2>/dev/null; do
        if ((SECONDS > deadline)); then
            log "profile overran; stopping it"
            kill -TERM "$PERF_PID" "$WRK_PID" 2>/dev/null || true
            break
        fi
        nap 0.2
    done
    wait "$PERF_PID" 2>/dev/null || true
    wait "$WRK_PID" 2>/dev/null || true
    PERF_PID="" WRK_PID=""
    [[ $target == rb1 ]] && stop_rb
    {
        echo "### $target: $(awk '/Requests\/sec:/ { printf "%.0f req/s while profiled", $2 }' "$TMP/profile-$target.wrk")"
        echo
        echo '```'
        perf report -i "$TMP/perf-$target.data" --stdio --no-children --sort dso 2>/dev/null |
            awk 'n < 5 && /^ +[0-9.]+%/ { sub(/ +$/, ""); print; n++ }'
        echo
        perf report -i "$TMP/perf-$target.data" --stdio --no-children --sort symbol 2>/dev/null |
            awk 'n < 20 && /^ +[0-9.]+%/ { sub(/[ -]+$/, ""); print substr($0, 1, 120); n++ }'
        echo '```'
        echo
    } >>"$PROFILE_MD"
}
PROFILE_MD=""
if [[ $PROFILE != 0 ]]; then
    if perf_works; then
        PROFILE_MD=$TMP/profile.md
        {
            echo "## Profile (perf record -e cpu-clock -F 999, c=$PROFILE_CONNS, ${PROFILE_SECS} s; separate runs, not measured)"
            echo
            echo "Flat profiles of the proxy process only (nginx: master + worker); \`[k]\` = kernel, \`[.]\` = user space."
            echo
        } >"$PROFILE_MD"
        for t in $TARGETS; do
            case $t in rb1 | nginx) profile_target "$t" ;; esac
        done
    elif [[ $PROFILE == 1 ]]; then
        die "PROFILE=1 but perf does not work here (apt-get install -y linux-perf)"
    else
        log "perf not available; skipping the profile (PROFILE=0 to silence)"
    fi
fi

write_report "$RAW" "$(date -u +%Y%m%d-%H%M%S)"
