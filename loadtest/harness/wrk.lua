-- wrk script for loadtest/run: POST with a body read from a file, headers from the
-- environment, and a machine-readable summary line at the end.
--   WRK_BODY_FILE=path   request body (JSON)
--   WRK_HEADERS="k: v|k: v"   extra headers (Content-Type is always application/json)
-- done() prints one line: RESULT {"requests":..,"rps":..,"p50_ms":..,...}
local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
for h in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^|]+") do
  local k, v = string.match(h, "^%s*([^:]+):%s*(.*)$")
  if k then wrk.headers[k] = v end
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local function p(q) return latency:percentile(q) / 1000 end
  io.write(string.format(
    'RESULT {"requests":%d,"rps":%.1f,"mean_ms":%.4f,"p50_ms":%.4f,"p90_ms":%.4f,"p99_ms":%.4f,"p999_ms":%.4f,"max_ms":%.4f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"duration_s":%.3f,"bytes":%d}\n',
    summary.requests, summary.requests / secs, latency.mean / 1000, p(50), p(90), p(99), p(99.9), latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, secs, summary.bytes))
end
