-- wrk script: one request shape per inbound dialect, picked by the
-- DIALECT_BODY environment variable (the JSON body) and sent as POST with
-- the gateway key (DIALECT_KEY, default sk-bench) in both the bearer and
-- x-api-key headers, plus the anthropic-version header Anthropic's SDKs
-- send. bench-dialects.sh sets them.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("DIALECT_KEY") or "sk-bench"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["x-api-key"] = key
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.body = os.getenv("DIALECT_BODY")
