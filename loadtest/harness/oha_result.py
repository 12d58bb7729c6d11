#!/usr/bin/env python3
"""Convert `oha --output-format json` output to the harness's RESULT line (ms units)."""
import json
import sys

d = json.load(open(sys.argv[1]))
s = d.get("summary", {})
lp = d.get("latencyPercentiles", {})
codes = d.get("statusCodeDistribution", {}) or {}
errs = d.get("errorDistribution", {}) or {}
ok = sum(v for k, v in codes.items() if str(k).startswith("2"))
non2xx = sum(v for k, v in codes.items() if not str(k).startswith("2"))
aborted = sum(v for k, v in errs.items() if "deadline" in k.lower())
sock = sum(errs.values()) - aborted
total = ok + non2xx


def ms(v):
    return None if v is None else round(float(v) * 1000, 4)


res = {
    "requests": total, "rps": round(float(s.get("requestsPerSec") or 0), 1),
    "mean_ms": ms(s.get("average")), "p50_ms": ms(lp.get("p50")), "p90_ms": ms(lp.get("p90")),
    "p99_ms": ms(lp.get("p99")), "p999_ms": ms(lp.get("p99.9")), "max_ms": ms(s.get("slowest")),
    "err_status": non2xx, "err_socket": sock, "aborted_at_deadline": aborted, "errors_detail": {**{"http_" + str(k): v for k, v in codes.items()
                                                                    if not str(k).startswith("2")}, **errs},
}
print("RESULT " + json.dumps(res))
