#!/usr/bin/env bash
# Inbound dialects against OpenAI chat pass-through, same gateway, same mock:
# ringbridge (1 worker) in front of mock-provider, which plays OpenAI chat and
# Responses, Anthropic Messages and Gemini. Each round runs every scenario in
# turn (wrk, non-stream, same short conversation), so machine drift hits all.
#
#   loadtest/bench-dialects.sh             # ROUNDS=4 DURATION=5s CONNS=64
#   ONLY="chat_passthrough messages_passthrough" loadtest/bench-dialects.sh
#
# Scenarios (client dialect -> provider, how):
#   chat_passthrough       OpenAI chat -> openai        bytes (the reference)
#   messages_passthrough   Anthropic   -> anthropic     bytes
#   responses_passthrough  Responses   -> openai        bytes
#   gemini_passthrough     Gemini      -> gemini        bytes
#   messages_to_chat       Anthropic   -> compat (chat) through the hub
#   responses_to_chat      Responses   -> compat (chat) through the hub
#   gemini_to_chat         Gemini      -> compat (chat) through the hub
#   messages_to_gemini     Anthropic   -> gemini        hub + Gemini translator
#   chat_virtual_key       OpenAI chat -> openai        bytes, authenticated by one of
#                                                       1,000 virtual keys with limits
#                                                       (the others use a plain key)
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
# The gateway keeps its default store (ringbridge.db) in the working directory.
cd "$tmp"
wait_line() {
  for _ in $(seq 100); do v=$(sed -n "$2" "$1"); [ -n "$v" ] && { echo "$v"; return; }; sleep 0.1; done
  echo "no address in $1" >&2; exit 1
}

"$BIN/mock-provider" --listen 127.0.0.1:0 --workers 1 >"$tmp/mock.out" 2>/dev/null & pids+=($!)
mock=$(wait_line "$tmp/mock.out" 's/^LISTENING //p')
# No request log: it costs every scenario alike (bench-governance.sh measures it).
cat >"$tmp/rb.toml" <<TOML
env_providers = false
store = false
[auth]
keys = ["sk-bench"]
[[teams]]
id = "bench-team"
rate_limit = { rpm = 1000000000, tpm = 1000000000 }
[providers.openai]
base_url = "http://$mock/v1"
keys = ["sk-bench"]
[providers.compat]
kind = "openai-compatible"
base_url = "http://$mock/v1"
keys = ["sk-bench"]
[providers.anthropic]
base_url = "http://$mock"
keys = ["sk-bench"]
[providers.gemini]
base_url = "http://$mock/v1beta"
keys = ["sk-bench"]
TOML
for k in $(seq 0 999); do
  printf '[[virtual_keys]]\nname = "vk-%d"\nkey = "rb-bench-vk-%06d"\nteam_id = "bench-team"\nmodels = ["openai/*", "compat/*"]\nrate_limit = { rpm = 1000000000, tpm = 1000000000 }\n' "$k" "$k" >>"$tmp/rb.toml"
done
RINGBRIDGE_LOG=warn "$BIN/ringbridge" --listen 127.0.0.1:0 --workers 1 --config "$tmp/rb.toml" >"$tmp/rb.out" & pids+=($!)
rb=$(wait_line "$tmp/rb.out" 's|.*listening on http://||p')

SYSTEM="You are a helpful assistant."
ASK="Say hello in one short sentence, please."
chat() { echo "{\"model\":\"$1\",\"messages\":[{\"role\":\"system\",\"content\":\"$SYSTEM\"},{\"role\":\"user\",\"content\":\"$ASK\"}],\"temperature\":0.2,\"max_tokens\":64}"; }
messages() { echo "{\"model\":\"$1\",\"system\":\"$SYSTEM\",\"messages\":[{\"role\":\"user\",\"content\":\"$ASK\"}],\"temperature\":0.2,\"max_tokens\":64}"; }
responses() { echo "{\"model\":\"$1\",\"instructions\":\"$SYSTEM\",\"input\":\"$ASK\",\"temperature\":0.2,\"max_output_tokens\":64}"; }
gemini() { echo "{\"systemInstruction\":{\"parts\":[{\"text\":\"$SYSTEM\"}]},\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"$ASK\"}]}],\"generationConfig\":{\"temperature\":0.2,\"maxOutputTokens\":64}}"; }

declare -A path body key
scenario() { path[$1]=$2; body[$1]=$3; key[$1]=${4:-sk-bench}; }
scenario chat_passthrough /v1/chat/completions "$(chat openai/gpt-4o-mini)"
scenario messages_passthrough /v1/messages "$(messages anthropic/claude-test)"
scenario responses_passthrough /v1/responses "$(responses openai/gpt-4o-mini)"
scenario gemini_passthrough "/genai/v1beta/models/gemini/gemini-2.5-flash:generateContent" "$(gemini)"
scenario messages_to_chat /v1/messages "$(messages compat/gpt-4o-mini)"
scenario responses_to_chat /v1/responses "$(responses compat/gpt-4o-mini)"
scenario gemini_to_chat "/genai/v1beta/models/compat/gpt-4o-mini:generateContent" "$(gemini)"
scenario messages_to_gemini /v1/messages "$(messages gemini/gemini-2.5-flash)"
scenario chat_virtual_key /v1/chat/completions "$(chat openai/gpt-4o-mini)" rb-bench-vk-000737
order=(chat_passthrough messages_passthrough responses_passthrough gemini_passthrough
       messages_to_chat responses_to_chat gemini_to_chat messages_to_gemini chat_virtual_key)
# ONLY: a subset, in its own order (chat_passthrough must be in it: the reference).
if [ -n "${ONLY:-}" ]; then read -r -a order <<<"$ONLY"; fi

# Every scenario must answer 200 before it is measured.
for s in "${order[@]}"; do
  code=$(curl -s -o "$tmp/check" -w '%{http_code}' -X POST "http://$rb${path[$s]}" \
    -H 'content-type: application/json' -H "authorization: Bearer ${key[$s]}" \
    -H 'anthropic-version: 2023-06-01' --data "${body[$s]}")
  [ "$code" = 200 ] || { echo "$s answered $code: $(cat "$tmp/check")" >&2; exit 1; }
done

declare -A total p99s
for s in "${order[@]}"; do total[$s]=0; p99s[$s]=""; done
for r in $(seq "$ROUNDS"); do
  for s in "${order[@]}"; do
    out=$(DIALECT_BODY="${body[$s]}" DIALECT_KEY="${key[$s]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency \
      -s "$ROOT/loadtest/bench/dialect.lua" "http://$rb${path[$s]}")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "round=$r $s rps=$rps p99=$p99 non2xx=${non2xx:-0}"
    total[$s]=$(awk -v a="${total[$s]}" -v b="$rps" 'BEGIN {print a + b}')
    p99s[$s]="${p99s[$s]} $p99"
  done
done
echo
printf '%-22s %10s %8s  %s\n' scenario "mean rps" "vs chat" "p99 per round"
for s in "${order[@]}"; do
  awk -v s="$s" -v t="${total[$s]}" -v ref="${total[chat_passthrough]}" -v n="$ROUNDS" -v p="${p99s[$s]}" \
    'BEGIN {printf "%-22s %10.0f %8.3f %s\n", s, t / n, t / ref, p}'
done
