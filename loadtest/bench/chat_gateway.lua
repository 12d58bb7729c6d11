-- wrk script: non-stream chat completion through ringbridge (provider-prefixed model).
-- Same request as chat.lua except the model, which the gateway rewrites to "gpt-4o-mini".
-- wrk -t1 -c64 -d10s --latency -s loadtest/bench/chat_gateway.lua http://127.0.0.1:PORT/v1/chat/completions
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence, please."}],"temperature":0.2,"max_tokens":64,"stream":false}'
