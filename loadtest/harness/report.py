#!/usr/bin/env python3
"""Markdown report for loadtest/run: report.py OUTDIR > OUTDIR/report.md (stdlib only).

Reads OUTDIR/results.jsonl (one JSON object per measured run) and OUTDIR/meta.json.
"""
import json
import os
import sys

NAMES = {"direct": "direct (mock)", "nginx": "nginx 1w", "rb1": "ringbridge 1w", "rb2": "ringbridge 2w",
         "litellm": "LiteLLM", "portkey": "Portkey"}
ORDER = ["direct", "nginx", "rb1", "rb2", "litellm", "portkey"]
TITLES = {
    1: "Scenario 1: max throughput (zero-latency upstream, non-stream, wrk -t1)",
    2: "Scenario 2: fixed 5,000 req/s, upstream latency lognormal(50 ms, σ 0.1)",
    3: "Scenario 3: streaming (200 chunks, TTFT 20 ms, 20 ms per chunk)",
    4: "Scenario 4: many keep-alive connections",
    5: "Scenario 5: large bodies",
    6: "Scenario 6: failure mix (upstream 5% 500, 2% reset)",
}


def load(out):
    rows = []
    with open(os.path.join(out, "results.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    meta = {}
    try:
        meta = json.load(open(os.path.join(out, "meta.json")))
    except (OSError, ValueError):
        pass
    for r in rows:
        r["errors_n"] = errors(r)
    return rows, meta


def errors(r):
    if "streams_err" in r:
        return int(r.get("streams_err") or 0)
    if "conns_open" in r:
        e = r.get("errors") or {}
        return sum(e.values()) if isinstance(e, dict) else int(e)
    n = 0
    for k in ("err_status", "err_connect", "err_read", "err_write", "err_timeout", "err_socket"):
        n += int(r.get(k) or 0)
    return n


def by(rows, scen, var=None):
    out = {}
    for r in rows:
        if r.get("scenario") == scen and "target" in r and (var is None or r.get("variant") == var):
            out[r["target"]] = r
    return out


def variants(rows, scen):
    seen = []
    for r in rows:
        if r.get("scenario") == scen and "variant" in r and r["variant"] not in seen:
            seen.append(r["variant"])
    return seen


def f(v, fmt="%.2f"):
    return "-" if v is None or v == "" else fmt % v


def added(r, d, key, scale=1.0):
    if not r or not d or r.get(key) is None or d.get(key) is None:
        return None
    return (r[key] - d[key]) * scale


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return "-"
    v = a / b
    return "%.2f" % v if abs(v) >= 0.1 else "%.2g" % v


def mib(kb):
    return None if kb in (None, 0) else kb / 1024.0


def table(head, lines):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    out += ["| " + " | ".join(str(c) for c in l) + " |" for l in lines]
    return "\n".join(out)


def targets_of(rs):
    return [t for t in ORDER if t in rs]


def flag(r):
    s = ""
    if r.get("noisy"):
        s += " ⚠noisy"
    if r.get("timed_out"):
        s += " ⚠timeout"
    return s


def ratio_lines(rs, metric_name, getter, lower_better=False):
    """ringbridge ÷ nginx / LiteLLM / Portkey for a metric."""
    parts = []
    for rb in ("rb1", "rb2"):
        if rb not in rs:
            continue
        v = getter(rs[rb])
        bits = []
        for o in ("nginx", "litellm", "portkey"):
            if o in rs:
                bits.append("÷ %s %s" % (NAMES[o], ratio(v, getter(rs[o]))))
        if bits:
            parts.append("%s %s: %s" % (NAMES[rb], metric_name, ", ".join(bits)))
    return parts


def main():
    out = sys.argv[1]
    rows, meta = load(out)
    P = []
    P.append("# Load harness: ringbridge vs direct upstream, nginx and peer gateways\n")
    P.append("- Date: %s" % meta.get("date", "?"))
    P.append("- Machine: %s" % meta.get("machine", "?"))
    P.append("- Versions: %s" % meta.get("versions", "?"))
    P.append("- Command: `%s`%s" % (meta.get("command", "loadtest/run"), " (quick mode: short runs, smaller counts)" if meta.get("quick") else ""))
    peers = meta.get("peers") or {}
    if peers:
        P.append("- Peers: " + "; ".join("%s: %s" % (k, v) for k, v in peers.items()))
    P.append("- Upstream: `mock-provider --workers 1` on 127.0.0.1, restarted per scenario with that scenario's flags; "
             "ringbridge restarted before every run (`RINGBRIDGE_LOG=warn`); nginx 1 worker with upstream keep-alive; "
             "LiteLLM proxy 1 worker (`litellm --config`, master key, model list pointing at the mock); Portkey gateway "
             "on node (`x-portkey-provider: openai`, `x-portkey-custom-host`).")
    P.append("- All processes (load generator, gateway, mock) share the same vCPUs, so throughput numbers are relative, "
             "not absolute. Each run: unmeasured warm-up, then a wait for an idle machine; a run during which other "
             "processes used more than the noise limit is repeated once and the less noisy attempt is kept (⚠noisy = still noisy). "
             "RSS = max sampled every 100 ms during the run (whole process tree for nginx/LiteLLM); "
             "CPU% = the target's CPU time over the run (100% = one core).")
    notes = meta.get("notes") or []
    if notes:
        P.append("- Notes:")
        P += ["  - " + n for n in notes]
    P.append("")
    checks = []

    skipped = {r["scenario"]: r["skipped"] for r in rows if "skipped" in r}

    def section(s):
        P.append("## " + TITLES[s] + "\n")
        if s in skipped:
            P.append("Skipped: %s.\n" % skipped[s])
            return False
        return True

    def chart(s):
        if os.path.exists(os.path.join(out, "s%d-chart.svg" % s)):
            P.append("![%s](s%d-chart.svg)\n" % (TITLES[s], s))

    # ---- 1
    if any(r.get("scenario") == 1 for r in rows) and section(1):
        for v in variants(rows, 1):
            rs = by(rows, 1, v)
            d, n = rs.get("direct"), rs.get("nginx")
            P.append("### %s connections\n" % v[1:])
            lines = []
            for t in targets_of(rs):
                r = rs[t]
                lines.append([NAMES[t] + flag(r), f(r.get("rps"), "%.0f"), f(r.get("p50_ms"), "%.3f"),
                              f(r.get("p90_ms"), "%.3f"), f(r.get("p99_ms"), "%.3f"), f(r.get("p999_ms"), "%.3f"),
                              r["errors_n"], f(mib(r.get("rss_max_kb")), "%.1f"), f(r.get("cpu_pct"), "%.0f"),
                              ratio(r.get("rps"), n.get("rps") if n else None),
                              f(added(r, d, "p99_ms", 1000), "%.0f") if t != "direct" else "-"])
            P.append(table(["target", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors", "RSS MiB",
                            "CPU %", "req/s ÷ nginx", "added p99 µs"], lines))
            P.append("")
            P += ["- " + l for l in ratio_lines(rs, "req/s", lambda r: r.get("rps"))]
            P += ["- " + l for l in ratio_lines(rs, "added p99", lambda r: added(r, d, "p99_ms"))]
            P.append("")
            if "rb1" in rs and n:
                ok = (rs["rb1"].get("rps") or 0) >= (n.get("rps") or 0)
                checks.append(("S1 %s: ringbridge 1w req/s ≥ nginx" % v, ok,
                               "%.0f vs %.0f" % (rs["rb1"].get("rps") or 0, n.get("rps") or 0)))
        chart(1)

    # ---- 2
    if any(r.get("scenario") == 2 for r in rows) and section(2):
        for v in variants(rows, 2):
            rs = by(rows, 2, v)
            d = rs.get("direct")
            lines = []
            for t in targets_of(rs):
                r = rs[t]
                lines.append([NAMES[t] + flag(r), f(r.get("rps"), "%.0f"), f(r.get("mean_ms"), "%.3f"),
                              f(r.get("p50_ms"), "%.3f"), f(r.get("p90_ms"), "%.3f"), f(r.get("p99_ms"), "%.3f"),
                              f(r.get("p999_ms"), "%.3f"),
                              f(added(r, d, "mean_ms", 1000), "%.0f") if t != "direct" else "-",
                              f(added(r, d, "p50_ms", 1000), "%.0f") if t != "direct" else "-",
                              f(added(r, d, "p99_ms", 1000), "%.0f") if t != "direct" else "-",
                              r["errors_n"], f(mib(r.get("rss_max_kb")), "%.1f"), f(r.get("cpu_pct"), "%.0f"),
                              f(r.get("ovh_p99_us"), "%.1f")])
            P.append("`oha -q %s -c 500 --latency-correction` for the run length; added = target − direct.\n" % v[1:])
            P.append(table(["target", "req/s", "mean ms", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
                            "added mean µs", "added p50 µs", "added p99 µs", "errors", "RSS MiB", "CPU %",
                            "self-reported overhead p99 µs"], lines))
            P.append("")
            P += ["- " + l for l in ratio_lines(rs, "req/s", lambda r: r.get("rps"))]
            P += ["- " + l for l in ratio_lines(rs, "added p99", lambda r: added(r, d, "p99_ms"))]
            P.append("")
            for rb in ("rb1", "rb2"):
                if rb in rs and d:
                    a99 = added(rs[rb], d, "p99_ms", 1000)
                    am = added(rs[rb], d, "mean_ms", 1000)
                    checks.append(("S2 %s added p99 < 100 µs" % NAMES[rb], a99 is not None and a99 < 100, "%s µs" % f(a99, "%.0f")))
                    checks.append(("S2 %s added mean < 20 µs" % NAMES[rb], am is not None and am < 20, "%s µs" % f(am, "%.0f")))
        chart(2)

    # ---- 3
    if any(r.get("scenario") == 3 for r in rows) and section(3):
        for v in variants(rows, 3):
            rs = by(rows, 3, v)
            d = rs.get("direct")
            lines = []
            for t in targets_of(rs):
                r = rs[t]
                lines.append([NAMES[t] + flag(r), "%s/%s" % (r.get("streams_ok"), r.get("streams_err")),
                              f(r.get("ttft_p50_ms"), "%.2f"), f(r.get("ttft_p99_ms"), "%.2f"),
                              f(added(r, d, "ttft_p50_ms"), "%.2f") if t != "direct" else "-",
                              f(added(r, d, "ttft_p99_ms"), "%.2f") if t != "direct" else "-",
                              f(r.get("gap_mean_ms"), "%.3f"), f(r.get("gap_p99_ms"), "%.2f"),
                              f(added(r, d, "gap_mean_ms", 1000), "%.0f") if t != "direct" else "-",
                              f(added(r, d, "gap_p99_ms"), "%.2f") if t != "direct" else "-",
                              f(r.get("chunk_rps"), "%.0f"), f(mib(r.get("rss_max_kb")), "%.1f"),
                              f(r.get("cpu_pct"), "%.0f"), f(r.get("loop_lag_p99_ms"), "%.1f")])
            nstreams = next((r.get("streams") for r in rs.values() if r.get("streams")), "?")
            P.append("%s concurrent streams (`harness/sse_load.py`, one asyncio process; each stream is a keep-alive "
                     "connection looping over requests). TTFT = request written → first non-empty content delta; "
                     "gap = time between consecutive content deltas of a stream; streams ok/errored.\n" % nstreams)
            P.append(table(["target", "streams ok/err", "TTFT p50 ms", "TTFT p99 ms", "added TTFT p50 ms",
                            "added TTFT p99 ms", "gap mean ms", "gap p99 ms", "added gap mean µs",
                            "added gap p99 ms", "chunks/s", "RSS MiB", "CPU %", "client loop lag p99 ms"], lines))
            P.append("")
            lag = max((r.get("loop_lag_p99_ms") or 0) for r in rs.values())
            if lag > 5:
                P.append("Client loop lag p99 reached %.1f ms: the Python client was itself loaded, so absolute "
                         "TTFT/gap numbers include client delay (the same for every target at the same chunk rate).\n" % lag)
            P += ["- " + l for l in ratio_lines(rs, "chunks/s", lambda r: r.get("chunk_rps"))]
            P += ["- " + l for l in ratio_lines(rs, "added TTFT p99", lambda r: added(r, d, "ttft_p99_ms"))]
            P.append("")
        chart(3)

    # ---- 4
    if any(r.get("scenario") == 4 for r in rows) and section(4):
        for v in variants(rows, 4):
            rs = by(rows, 4, v)
            d = rs.get("direct")
            lines = []
            for t in targets_of(rs):
                r = rs[t]
                lines.append([NAMES[t] + flag(r), "%s/%s" % (r.get("conns_open"), r.get("conns_requested")),
                              f(r.get("open_s"), "%.1f"),
                              f(mib(r.get("rss_before_kb")), "%.1f"), f(mib(r.get("rss_idle_kb")), "%.1f"),
                              f(mib(max(r.get("rss_load_kb") or 0, r.get("rss_max_kb") or 0)), "%.1f"),
                              f(r.get("rps"), "%.0f"), f(r.get("p50_ms"), "%.2f"), f(r.get("p99_ms"), "%.2f"),
                              f(r.get("p999_ms"), "%.2f"), r["errors_n"], f(r.get("cpu_pct"), "%.0f")])
            P.append("`harness/many_conns.py`: open the connections (one request each), hold them idle 4 s "
                     "(RSS at rest), then a fixed request rate spread over all of them (RSS under load; latency from "
                     "the scheduled send time).\n")
            P.append(table(["target", "conns open", "open s", "RSS before MiB", "RSS at rest MiB", "RSS under load MiB",
                            "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "CPU %"], lines))
            P.append("")
            P += ["- " + l for l in ratio_lines(rs, "RSS under load", lambda r: max(r.get("rss_load_kb") or 0, r.get("rss_max_kb") or 0))]
            P.append("")
            for rb in ("rb1", "rb2"):
                if rb in rs:
                    m = mib(max(rs[rb].get("rss_load_kb") or 0, rs[rb].get("rss_max_kb") or 0)) or 0
                    checks.append(("S4 %s RSS < 200 MB with %s connections" % (NAMES[rb], rs[rb].get("conns_open")),
                                   m < 200 * 1e6 / 1048576 and (rs[rb].get("conns_open") or 0) >= 0.99 * (rs[rb].get("conns_requested") or 1),
                                   "%.1f MiB, %s open" % (m, rs[rb].get("conns_open"))))
        chart(4)

    # ---- 5
    if any(r.get("scenario") == 5 for r in rows) and section(5):
        for v in variants(rows, 5):
            rs = by(rows, 5, v)
            d, n = rs.get("direct"), rs.get("nginx")
            P.append("### %s (wrk -t1 -c8)\n" % {"prompt1MB": "1 MB prompts", "answer100KB": "100 KB answers"}.get(v, v))
            lines = []
            for t in targets_of(rs):
                r = rs[t]
                lines.append([NAMES[t] + flag(r), f(r.get("rps"), "%.0f"), f(r.get("p50_ms"), "%.3f"),
                              f(r.get("p99_ms"), "%.3f"), f(r.get("p999_ms"), "%.3f"), r["errors_n"],
                              f(mib(r.get("rss_max_kb")), "%.1f"), f(r.get("cpu_pct"), "%.0f"),
                              ratio(r.get("rps"), n.get("rps") if n else None),
                              f(added(r, d, "p99_ms", 1000), "%.0f") if t != "direct" else "-"])
            P.append(table(["target", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "RSS MiB", "CPU %",
                            "req/s ÷ nginx", "added p99 µs"], lines))
            P.append("")
            P += ["- " + l for l in ratio_lines(rs, "req/s", lambda r: r.get("rps"))]
            P += ["- " + l for l in ratio_lines(rs, "added p99", lambda r: added(r, d, "p99_ms"))]
            P.append("")
        chart(5)

    # ---- 6
    if any(r.get("scenario") == 6 for r in rows) and section(6):
        for v in variants(rows, 6):
            rs = by(rows, 6, v)
            d = rs.get("direct")
            lines = []
            for t in targets_of(rs):
                r = rs[t]
                req = r.get("requests") or 0
                lines.append([NAMES[t] + flag(r), f(r.get("rps"), "%.0f"), req, r["errors_n"],
                              f(100.0 * r["errors_n"] / req, "%.2f") if req else "-",
                              "%s/%s/%s" % (r.get("err_status", "-"), r.get("err_read", "-"), r.get("err_connect", "-")),
                              f(r.get("p50_ms"), "%.3f"), f(r.get("p99_ms"), "%.3f"), f(r.get("p999_ms"), "%.3f"),
                              f(mib(r.get("rss_max_kb")), "%.1f"), f(r.get("cpu_pct"), "%.0f")])
            P.append("wrk -t1 -c64; errors = non-2xx responses + socket errors as the client sees them "
                     "(expected ≈ 7% if the gateway neither retries nor hides failures).\n")
            P.append(table(["target", "req/s", "requests", "errors", "error %", "non-2xx/read/connect",
                            "p50 ms", "p99 ms", "p99.9 ms", "RSS MiB", "CPU %"], lines))
            P.append("")
            P += ["- " + l for l in ratio_lines(rs, "req/s", lambda r: r.get("rps"))]
            P.append("")
        chart(6)

    # ---- errors check for 1..5
    for rb in ("rb1", "rb2"):
        errs = [(r["scenario"], r.get("variant"), r["errors_n"]) for r in rows
                if r.get("target") == rb and r.get("scenario") in (1, 2, 3, 4, 5)]
        if errs:
            bad = [e for e in errs if e[2]]
            checks.append(("%s: no errors in scenarios 1–5" % NAMES[rb], not bad,
                           "none" if not bad else ", ".join("S%s %s: %d" % e for e in bad)))
    P.append("## Reproduce\n")
    P.append("```sh\n%s\n```\n" % meta.get("command", "loadtest/run"))
    P.append("`loadtest/run --help` lists the flags. The harness lives in `loadtest/run` (orchestration), "
             "`loadtest/lib.sh` (samplers, quiet-machine wait, PID cleanup) and `loadtest/harness/` "
             "(`wrk.lua`, `sse_load.py`, `many_conns.py`, `oha_result.py`, `report.py`, `chart.py`). Raw results: "
             "`results.jsonl` and `meta.json` next to the report; `python3 loadtest/harness/report.py DIR` "
             "rebuilds the report from them.\n")
    if checks:
        tgt = ["## Targets\n", table(["target", "met?", "measured"],
                                     [[c[0], "✅ met" if c[1] else "❌ missed", c[2]] for c in checks]), ""]
        i = P.index("") + 1
        P[i:i] = tgt
    print("\n".join(P))


if __name__ == "__main__":
    main()
