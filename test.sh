#!/usr/bin/env bash
# The whole test suite: unit and integration tests on both I/O drivers
# (io_uring, then epoll via MONOIO_FORCE_LEGACY_DRIVER=1), the official OpenAI
# Python SDK against the real gateway, and a build of the benchmarks.
# Installs what it needs (a Python venv in .venv); talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")"

# The translation tests replay recorded provider traffic kept outside the repo.
fixtures=${RINGBRIDGE_FIXTURES:-../shared/fixtures}
if [ ! -d "$fixtures" ]; then
    echo "test.sh: recorded fixtures not found at $fixtures" >&2
    echo "  put the shared folder beside this clone (../shared/fixtures)," >&2
    echo "  or set RINGBRIDGE_FIXTURES to the directory that holds them" >&2
    exit 2
fi

# The Postgres store tests need a server: a throwaway one on 127.0.0.1, for
# both cargo passes, stopped on any exit (installed if missing, as root with
# apt-get; without one those tests print "skipped" and pass).
pg_state=$(mktemp "${TMPDIR:-/tmp}/ringbridge-postgres-state.XXXXXX")
trap 'bash scripts/postgres.sh stop "$pg_state"' EXIT
trap 'exit 130' INT TERM
bash scripts/postgres.sh start "$pg_state"
set -a
# shellcheck disable=SC1090
. "$pg_state"
set +a

echo "== build"
cargo build --workspace --all-targets

echo "== unit + integration tests (io_uring where available)"
cargo test --workspace

echo "== integration tests on the epoll driver"
MONOIO_FORCE_LEGACY_DRIVER=1 cargo test --workspace --tests

echo "== OpenAI SDK conformance"
bash scripts/sdk-tests.sh
