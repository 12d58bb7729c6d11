-- wrk script: one request shape per inbound dialect, picked by the
-- DIALECT_BODY environment variable (the JSON body) and sent as POST with
-- the gateway key in both the bearer and x-api-key headers, plus the
-- anthropic-version header Anthropic's SDKs send. bench-dialects.sh sets it.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.body = os.getenv("DIALECT_BODY")
