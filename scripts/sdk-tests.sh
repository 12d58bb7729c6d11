#!/usr/bin/env bash
# Run the OpenAI-SDK conformance tests (tests/sdk) against the real gateway binary.
#
#   bash scripts/sdk-tests.sh [extra pytest args]
#
# Creates (or reuses) a virtualenv at <repo>/.venv, installs tests/sdk/requirements.txt
# into it when that file changed (a hash stamp lives inside the venv), builds the
# binaries if they are missing (honours CARGO_TARGET_DIR), then runs pytest and exits
# with its status. "No tests collected" (pytest exit 5) counts as a failure.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

req="tests/sdk/requirements.txt"
venv="$repo/.venv"
py="$venv/bin/python"
stamp="$venv/.sdk-requirements.sha256"

if [[ ! -x "$py" ]] || ! "$py" -m pip --version >/dev/null 2>&1; then
    echo "sdk-tests: creating virtualenv at $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [[ "$want" != "$have" ]]; then
    echo "sdk-tests: installing $req" >&2
    "$py" -m pip install -q --disable-pip-version-check -r "$req" </dev/null
    echo "$want" >"$stamp"
fi

# Node judges (Claude Code, @anthropic-ai/sdk, the Vercel AI SDK): installed from
# the lockfile when Node.js and npm are present; their tests skip otherwise.
agents="$repo/tests/agents"
if command -v node >/dev/null && command -v npm >/dev/null; then
    lock_hash="$(sha256sum "$agents/package-lock.json" | cut -d' ' -f1)"
    if [[ "$(cat "$agents/node_modules/.ringbridge-lock.sha256" 2>/dev/null || true)" != "$lock_hash" ]]; then
        echo "sdk-tests: installing tests/agents (npm ci)" >&2
        (cd "$agents" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
        echo "$lock_hash" >"$agents/node_modules/.ringbridge-lock.sha256"
    fi
else
    echo "sdk-tests: Node.js/npm not found; the Node client and agent tests will be skipped" >&2
fi

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in
    /*) ;;
    *) target_dir="$repo/$target_dir" ;;
esac
# Always build: a no-op when up to date, and a stale binary would test old code.
cargo build --workspace --quiet </dev/null
export RINGBRIDGE_TARGET_DIR="$target_dir"

set +e
"$py" -m pytest tests/sdk -q -p no:cacheprovider "$@" </dev/null
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
    echo "sdk-tests: no tests were collected" >&2
    rc=1
fi
exit "$rc"
