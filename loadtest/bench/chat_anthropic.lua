-- wrk script: the same non-stream chat body as chat_gateway.lua, routed to an
-- Anthropic-kind provider through ringbridge (translated path).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"anthropic/claude-test","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence, please."}],"temperature":0.2,"max_tokens":64,"stream":false}'
