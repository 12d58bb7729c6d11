-- wrk script: streamed chat completion (5 SSE chunks + [DONE]) against mock-provider.
-- wrk -t1 -c64 -d5s -s loadtest/bench/chat_stream.lua http://127.0.0.1:PORT/v1/chat/completions
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence, please."}],"temperature":0.2,"max_tokens":64,"stream":true}'
