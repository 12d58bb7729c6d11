# shellcheck shell=bash
# Shared helpers for the load scripts (sourced by loadtest/run; same techniques as
# bench-proxy.sh: fork-free /proc samplers, quiet-machine wait, bounded kills by PID).
#
# The caller sets: TMP (a private temp dir), QUIET_IDLE_PCT, QUIET_MAX_WAIT, and calls
# lib_init once after TMP exists. Nothing here kills anything but the PIDs it is given.

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${LOG_TAG:-load}" -1 "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

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

# kill_wait SECONDS PID... : TERM, wait up to SECONDS, then KILL; reaps children of this shell.
kill_wait() {
    local grace=$1 p deadline alive
    shift
    (($#)) || return 0
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

# Fork-free sleep for samplers (needs TMP).
lib_init() {
    mkfifo "$TMP/nap"
    exec {NAP_FD}<>"$TMP/nap"
    CLK_TCK=$(getconf CLK_TCK)
}
nap() { read -r -t "$1" -u "$NAP_FD" _ || true; }

# Direct children of PID (e.g. nginx workers, a node/uvicorn master's workers).
children_of() {
    local p=$1 c=() f
    for f in /proc/"$p"/task/*/children; do
        [[ -r $f ]] || continue
        read -r -a c <"$f" || true
        ((${#c[@]})) && echo "${c[@]}"
    done
    return 0
}
# PID and all its descendants.
tree_of() {
    local p=$1 c
    echo "$p"
    for c in $(children_of "$p"); do tree_of "$c"; done
}

# wait_port FILE REGEX PID [TRIES]: wait until FILE has a line matching REGEX whose first
# group is the port (50 ms per try, default 200 tries); print the port.
wait_port() {
    local file=$1 re=$2 pid=$3 tries=${4:-200} i line
    for ((i = 0; i < tries; i++)); do
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

# A free-looking port in 20000..59999 (nothing answers on it).
free_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_busy "$p" || {
            echo "$p"
            return 0
        }
    done
    return 1
}

# wait_http URL SECONDS: until URL answers anything (any status).
wait_http() {
    local url=$1 until=$((SECONDS + $2))
    while ((SECONDS < until)); do
        curl -s -o /dev/null -m 2 "$url" && return 0
        sleep 0.5
    done
    return 1
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
    local t=0 p s f
    for p in "$@"; do
        { read -r s <"/proc/$p/stat"; } 2>/dev/null || continue
        s=${s##*) } # drop "pid (comm) "; comm may contain spaces (node, python)
        read -r -a f <<<"$s"
        t=$((t + f[11] + f[12]))
    done
    TICKS=$t
}
# /proc/stat totals -> CPU_TOTAL, CPU_IDLE, CPU_TASK (user+nice+system+steal)
cpu_snapshot() {
    local _c u n s i w q sq st _r
    read -r _c u n s i w q sq st _r </proc/stat
    CPU_TOTAL=$((u + n + s + i + w + q + sq + st))
    CPU_IDLE=$((i + w))
    CPU_TASK=$((u + n + s + st))
}

# Wait until idle > QUIET_IDLE_PCT over 1 s, for up to QUIET_MAX_WAIT s.
# -> QUIET (idle % of the last window, suffixed "!" when the wait timed out)
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

# sample_while PID DEADLINE_S TARGET_PIDS... : while PID lives (killed with KILL after
# DEADLINE_S seconds), sample RSS of the target pids every 100 ms and CPU ticks.
# -> RSS_MAX (KiB), CPU_TGT / CPU_MOCK / CPU_CLIENT / CPU_OTHER (cores), WALL_S, TIMED_OUT
# Uses SAMPLE_MOCK_PIDS (array, empty when the target is the mock) for the upstream and CLIENT_PID's tree for the load generator.
sample_while() {
    local pid=$1 dl=$2
    shift 2
    local tg=("$@") t0 t1 b0 tg0 m0 c0 c_last tgt mock cl deadline=$((SECONDS + dl))
    TIMED_OUT=0
    RSS_MAX=0
    t0=${EPOCHREALTIME/./}
    cpu_snapshot
    b0=$CPU_TASK
    ticks_of "${tg[@]}"
    tg0=$TICKS
    ticks_of "${SAMPLE_MOCK_PIDS[@]}"
    m0=$TICKS
    ticks_of $(tree_of "$pid")
    c0=$TICKS c_last=$TICKS
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS > deadline)); then
            log "load generator overran its deadline; killing it"
            kill -KILL $(tree_of "$pid") 2>/dev/null || true
            TIMED_OUT=1
            break
        fi
        rss_of "${tg[@]}"
        ((RSS_KB > RSS_MAX)) && RSS_MAX=$RSS_KB
        ticks_of $(tree_of "$pid")
        ((TICKS > c_last)) && c_last=$TICKS
        nap 0.1
    done
    t1=${EPOCHREALTIME/./}
    cpu_snapshot
    ticks_of "${tg[@]}"
    tgt=$((TICKS - tg0))
    ticks_of "${SAMPLE_MOCK_PIDS[@]}"
    mock=$((TICKS - m0))
    cl=$((c_last - c0))
    WALL_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
    read -r CPU_TGT CPU_MOCK CPU_CLIENT CPU_OTHER < <(awk -v w="$WALL_S" -v hz="$CLK_TCK" \
        -v t="$tgt" -v m="$mock" -v c="$cl" -v b="$((CPU_TASK - b0))" 'BEGIN {
            k = hz * (w > 0 ? w : 1); o = (b - t - m - c) / k; if (o < 0) o = 0
            printf "%.3f %.3f %.3f %.3f\n", t / k, m / k, c / k, o }')
}
