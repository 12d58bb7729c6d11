#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store tests, on 127.0.0.1 only.
#
#   scripts/postgres.sh start STATE_FILE   start one; write to STATE_FILE
#                                          RINGBRIDGE_TEST_POSTGRES_URL=postgres://...
#                                          (and where it lives, for stop)
#   scripts/postgres.sh stop STATE_FILE    stop it, delete its files and STATE_FILE
#
# Source STATE_FILE with `set -a` to export the URL. The server binaries
# (initdb, pg_ctl, postgres) come from PATH, else /usr/lib/postgresql/*/bin;
# when they are missing and we are root with apt-get, Debian's `postgresql`
# package is installed. If they are still missing, start says so, leaves
# STATE_FILE empty and exits 0: the Postgres tests then skip themselves.
# Postgres refuses to run as root, so as root the server runs as the
# `postgres` system user (created if missing).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop STATE_FILE" >&2
    exit 2
}

[ $# -eq 2 ] || usage
command=$1
state_file=$2

log() { echo "postgres.sh: $*" >&2; }

# Sets $pg_bin to a directory holding initdb, pg_ctl and postgres, or fails.
find_server_binaries() {
    local initdb dir
    if initdb=$(command -v initdb) && command -v pg_ctl >/dev/null && command -v postgres >/dev/null; then
        # Debian links them into /usr/local/bin; pg_ctl finds postgres
        # beside its real path, so use the real directory.
        pg_bin=$(dirname "$(readlink -f "$initdb")")
        [ -x "$pg_bin/pg_ctl" ] && [ -x "$pg_bin/postgres" ] && return 0
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            pg_bin=$dir
            return 0
        fi
    done
    return 1
}

install_server() {
    [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null || return 1
    log "installing Debian's postgresql package"
    # Keep the package from starting its own cluster: we start ours. A
    # policy-rc.d that exits 101 tells invoke-rc.d not to start services.
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        added_policy=1
    fi
    local status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; } ||
        status=$?
    [ -z "$added_policy" ] || rm -f "$policy"
    return $status
}

# Runs a command as the server's owner: ourselves, or `postgres` under root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    : >"$state_file"
    if ! find_server_binaries; then
        install_server || log "could not install postgresql"
        if ! find_server_binaries; then
            log "skipped: no PostgreSQL server binaries (initdb, pg_ctl, postgres); the Postgres store tests will skip"
            return 0
        fi
    fi

    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    local dir password port attempt
    dir=$(mktemp -d "${TMPDIR:-/tmp}/ringbridge-postgres.XXXXXX")
    # Recorded first, so stop cleans up even after a failed start.
    echo "RINGBRIDGE_TEST_POSTGRES_DIR=$dir" >"$state_file"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$dir"
    fi
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$password" >"$dir/pwfile"
    [ "$(id -u)" -ne 0 ] || chown postgres "$dir/pwfile"
    # Password authentication over TCP, so the tests can check that a wrong
    # one is refused and never echoed; fsync off: the data is thrown away.
    (cd "$dir" && as_owner "$pg_bin/initdb" -D "$dir/data" -U ringbridge \
        --pwfile="$dir/pwfile" --auth-host=scram-sha-256 --auth-local=trust \
        --encoding=UTF8 --locale=C -N >"$dir/initdb.log" 2>&1) || {
        log "initdb failed:"
        cat "$dir/initdb.log" >&2
        return 1
    }
    rm -f "$dir/pwfile"

    for attempt in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 30000))
        port_in_use "$port" && continue
        if (cd "$dir" && as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=100" \
            start >/dev/null); then
            break
        fi
        log "start on port $port failed (attempt $attempt)"
        port=""
    done
    if [ -z "$port" ]; then
        log "could not start the server:"
        tail -n 20 "$dir/server.log" >&2 || true
        return 1
    fi

    # A database of our own when createdb is there, else initdb's default.
    local database=postgres
    if [ -x "$pg_bin/createdb" ]; then
        (cd "$dir" && as_owner "$pg_bin/createdb" -h "$dir" -p "$port" -U ringbridge ringbridge_test)
        database=ringbridge_test
    fi
    local url="postgres://ringbridge:$password@127.0.0.1:$port/$database"
    echo "RINGBRIDGE_TEST_POSTGRES_URL=$url" >>"$state_file"
    log "server on 127.0.0.1:$port (data in $dir); URL in $state_file"
}

stop() {
    [ -f "$state_file" ] || return 0
    local dir
    dir=$(sed -n 's/^RINGBRIDGE_TEST_POSTGRES_DIR=//p' "$state_file")
    if [ -n "$dir" ] && [ -d "$dir" ]; then
        local pid_file="$dir/data/postmaster.pid"
        if [ -f "$pid_file" ] && find_server_binaries; then
            (cd "$dir" && as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null) ||
                log "pg_ctl stop failed; see $dir/server.log"
        fi
        # Still there (pg_ctl failed or is gone)? End our postmaster by its pid.
        if [ -f "$pid_file" ]; then
            local pid
            pid=$(head -n 1 "$pid_file")
            if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
                for _ in $(seq 50); do
                    kill -0 "$pid" 2>/dev/null || break
                    sleep 0.1
                done
            fi
        fi
        rm -rf "$dir"
    fi
    rm -f "$state_file"
}

case $command in
start) start ;;
stop) stop ;;
*) usage ;;
esac
