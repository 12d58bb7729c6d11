#!/usr/bin/env python3
"""Grouped-bar SVG charts for loadtest/run: chart.py OUTDIR -> OUTDIR/sN-chart.svg (stdlib only)."""
import math
import os
import sys
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import NAMES, ORDER, by, load, mib, variants  # noqa: E402

COLORS = {"direct": "#9e9e9e", "nginx": "#2e7d32", "rb1": "#1565c0", "rb2": "#42a5f5",
          "litellm": "#ef6c00", "portkey": "#8e24aa"}


def svg_bars(path, title, ylabel, groups, targets):
    """groups: [(label, {target: value or None})]."""
    W, H = 860, 420
    L, R, T, B = 70, 20, 50, 90
    pw, ph = W - L - R, H - T - B
    vals = [v for _, g in groups for v in g.values() if v is not None]
    pos = [v for v in vals if v > 0]
    # log axis when the values span more than ~2 decades (peers vs ringbridge); negatives
    # (noise: faster than direct) are then drawn at the bottom with their value printed
    logy = bool(pos) and max(pos) / min(pos) > 100
    if logy:
        lo = 10 ** math.floor(math.log10(min(pos)))
        hi = 10 ** math.ceil(math.log10(max(pos) * 1.05))
        vmin, top = lo, hi

        def y(v):
            v = max(v, lo)
            return T + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
        ticks = [10 ** e for e in range(int(math.log10(lo)), int(math.log10(hi)) + 1)]
    else:
        vmax = max(vals) if vals else 1
        vmin = min(0, min(vals) if vals else 0)
        top = vmin + ((vmax - vmin) or 1) * 1.1

        def y(v):
            return T + ph - (v - vmin) / (top - vmin) * ph
        ticks = [vmin + (top - vmin) * i / 5 for i in range(6)]
    if logy:
        ylabel += " (log scale)"
    base = vmin if logy else 0

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>' % (L, escape(title))]
    for v in ticks:
        yy = y(v)
        o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e0e0e0"/>' % (L, W - R, yy, yy))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (L - 6, yy + 4, fmt(v)))
    o.append('<text transform="translate(16,%d) rotate(-90)" text-anchor="middle">%s</text>' % (T + ph // 2, escape(ylabel)))
    ng = max(1, len(groups))
    gw = pw / ng
    nb = max(1, len(targets))
    bw = min(40, gw * 0.8 / nb)
    for gi, (label, g) in enumerate(groups):
        x0 = L + gi * gw + (gw - bw * nb) / 2
        for bi, t in enumerate(targets):
            v = g.get(t)
            if v is None:
                continue
            x = x0 + bi * bw
            y1, y0 = (y(max(v, base)), y(base)) if logy else (y(max(v, 0)), y(min(v, 0)))
            o.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>'
                     % (x, y1, bw - 2, max(0.5, y0 - y1), COLORS.get(t, "#555"), escape(NAMES.get(t, t)), fmt(v)))
            o.append('<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle">%s</text>' % (x + bw / 2 - 1, y1 - 3, fmt(v)))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (L + gi * gw + gw / 2, T + ph + 18, escape(label)))
    o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#333"/>' % (L, W - R, y(base), y(base)))
    lx = L
    for t in targets:
        o.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (lx, H - 30, COLORS.get(t, "#555")))
        o.append('<text x="%d" y="%d">%s</text>' % (lx + 16, H - 20, escape(NAMES.get(t, t))))
        lx += 30 + 7 * len(NAMES.get(t, t))
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def fmt(v):
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def main():
    out = sys.argv[1]
    rows, _ = load(out)

    def tg(rs):
        return [t for t in ORDER if t in rs]

    def add(r, d, k, s=1.0):
        if r is None or d is None or r.get(k) is None or d.get(k) is None:
            return None
        return (r[k] - d[k]) * s

    # 1: req/s per connection count
    vs = variants(rows, 1)
    if vs:
        groups = [("%s connections" % v[1:], {t: r.get("rps") for t, r in by(rows, 1, v).items()}) for v in vs]
        ts = [t for t in ORDER if any(t in g for _, g in groups)]
        svg_bars(os.path.join(out, "s1-chart.svg"), "Scenario 1: max throughput (req/s, higher is better)", "req/s", groups, ts)
    # 2: added latency vs direct
    for v in variants(rows, 2)[:1]:
        rs = by(rows, 2, v)
        d = rs.get("direct")
        ts = [t for t in tg(rs) if t != "direct"]
        groups = [(name, {t: add(rs[t], d, k, 1000) for t in ts}) for name, k in
                  (("added mean", "mean_ms"), ("added p50", "p50_ms"), ("added p99", "p99_ms"))]
        svg_bars(os.path.join(out, "s2-chart.svg"), "Scenario 2: latency added at 5,000 req/s (µs, lower is better)", "µs", groups, ts)
    # 3: added TTFT / gap
    for v in variants(rows, 3)[:1]:
        rs = by(rows, 3, v)
        d = rs.get("direct")
        ts = [t for t in tg(rs) if t != "direct"]
        groups = [(name, {t: add(rs[t], d, k) for t in ts}) for name, k in
                  (("added TTFT p50", "ttft_p50_ms"), ("added TTFT p99", "ttft_p99_ms"),
                   ("added gap mean", "gap_mean_ms"), ("added gap p99", "gap_p99_ms"))]
        svg_bars(os.path.join(out, "s3-chart.svg"), "Scenario 3: streaming, delay added vs direct (ms, lower is better)", "ms", groups, ts)
    # 4: RSS
    for v in variants(rows, 4)[:1]:
        rs = by(rows, 4, v)
        ts = tg(rs)
        groups = [("RSS at rest", {t: mib(rs[t].get("rss_idle_kb")) for t in ts}),
                  ("RSS under load", {t: mib(max(rs[t].get("rss_load_kb") or 0, rs[t].get("rss_max_kb") or 0)) for t in ts})]
        svg_bars(os.path.join(out, "s4-chart.svg"), "Scenario 4: memory with %s connections (MiB, lower is better)" % v[1:], "MiB", groups, ts)
    # 5: req/s per body case
    vs = variants(rows, 5)
    if vs:
        groups = [(v, {t: r.get("rps") for t, r in by(rows, 5, v).items()}) for v in vs]
        ts = [t for t in ORDER if any(t in g for _, g in groups)]
        svg_bars(os.path.join(out, "s5-chart.svg"), "Scenario 5: large bodies (req/s, higher is better)", "req/s", groups, ts)
    # 6: error rate and p99
    for v in variants(rows, 6)[:1]:
        rs = by(rows, 6, v)
        ts = tg(rs)
        groups = [("client-visible error %", {t: 100.0 * rs[t]["errors_n"] / rs[t]["requests"] if rs[t].get("requests") else None for t in ts})]
        svg_bars(os.path.join(out, "s6-chart.svg"), "Scenario 6: failure mix, error rate seen by the client (%)", "%", groups, ts)


if __name__ == "__main__":
    main()
