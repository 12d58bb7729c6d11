#!/usr/bin/env python3
"""Many keep-alive connections for loadtest/run (scenario 4). Stdlib only.

1. opens N connections (ramped) and sends one non-stream request on each;
2. holds them all open and idle for --idle seconds, sampling the RSS of --pids
   (VmRSS summed, KiB) in the middle of that window: "RSS at rest";
3. sends --rate requests/s for --duration seconds spread round-robin over the open
   connections (one in flight per connection), latency measured from the scheduled
   send time (so a stall is not hidden), sampling RSS every 100 ms: "RSS under load".
Prints `RESULT {json}`.
"""
import argparse
import asyncio
import json
import resource
import sys
import time


def rss_kb(pids):
    kb = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        kb += int(line.split()[1])
                        break
        except OSError:
            pass
    return kb


def pct(v, q):
    if not v:
        return None
    return v[min(len(v) - 1, max(0, int(round(q / 100.0 * len(v) + 0.5)) - 1))]


class Conn(asyncio.Protocol):
    def __init__(self, owner):
        self.owner = owner
        self.transport = None
        self.fut = None
        self.closed = False

    def connection_made(self, t):
        self.transport = t

    def send(self, req):
        self.buf = b""
        self.need = None
        self.head_len = None
        self.chunked = False
        self.status = 0
        self.fut = asyncio.get_running_loop().create_future()
        self.transport.write(req)
        return self.fut

    def data_received(self, d):
        if self.fut is None or self.fut.done():
            return
        self.buf += d
        if self.head_len is None:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head = self.buf[:i].decode("latin-1").lower()
            self.head_len = i + 4
            try:
                self.status = int(head.split(" ", 2)[1])
            except (IndexError, ValueError):
                self.status = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    self.need = int(line.split(":", 1)[1])
                elif line.startswith("transfer-encoding:") and "chunked" in line:
                    self.chunked = True
        body = len(self.buf) - self.head_len
        if (self.need is not None and body >= self.need) or (self.chunked and self.buf.endswith(b"0\r\n\r\n")):
            self.fut.set_result(self.status)

    def connection_lost(self, exc):
        self.closed = True
        if self.fut is not None and not self.fut.done():
            self.fut.set_result(-1)


async def main_async(a):
    loop = asyncio.get_running_loop()
    body = json.dumps({"model": a.model, "messages": [{"role": "user", "content": "hi"}]}).encode()
    hdrs = ["POST %s HTTP/1.1" % a.path, "Host: %s:%d" % (a.host, a.port),
            "Content-Type: application/json", "Content-Length: %d" % len(body)] + a.header
    req = ("\r\n".join(hdrs) + "\r\n\r\n").encode() + body
    conns = []
    errors = {}

    def err(k):
        errors[k] = errors.get(k, 0) + 1

    t0 = time.perf_counter()

    async def open_one(i):
        await asyncio.sleep(a.ramp * i / a.conns)
        try:
            _, c = await asyncio.wait_for(loop.create_connection(lambda: Conn(None), a.host, a.port), 30)
        except (OSError, asyncio.TimeoutError):
            err("connect")
            return
        try:
            st = await asyncio.wait_for(c.send(req), 30)
        except asyncio.TimeoutError:
            st = -2
        if st != 200:
            err("open_status_%d" % st)
            c.transport.close()
            return
        conns.append(c)

    await asyncio.gather(*(open_one(i) for i in range(a.conns)))
    open_s = time.perf_counter() - t0
    await asyncio.sleep(a.idle / 2)
    idle_rss = rss_kb(a.pids)
    await asyncio.sleep(a.idle / 2)
    idle_rss = max(idle_rss, rss_kb(a.pids))
    alive = [c for c in conns if not c.closed]

    lat = []
    inflight = set()
    free = list(alive)
    sent = 0
    load_rss = 0
    t_start = time.perf_counter()
    t_end = t_start + a.duration

    async def one(c, t_sched):
        try:
            st = await asyncio.wait_for(c.send(req), a.timeout)
        except asyncio.TimeoutError:
            st = -2
        if st == 200:
            lat.append(time.perf_counter() - t_sched)
        else:
            err("status_%d" % st)
        if not c.closed and st == 200:
            free.append(c)

    next_rss = t_start
    while True:
        now = time.perf_counter()
        if now >= t_end:
            break
        due = int((now - t_start) * a.rate) - sent
        while due > 0 and free:
            c = free.pop(0)
            t_sched = t_start + sent / a.rate
            sent += 1
            due -= 1
            t = asyncio.ensure_future(one(c, t_sched))
            inflight.add(t)
            t.add_done_callback(inflight.discard)
        if due > 0 and not free:
            err("no_free_conn")
            sent += due
        if now >= next_rss:
            load_rss = max(load_rss, rss_kb(a.pids))
            next_rss = now + 0.1
        await asyncio.sleep(0.001)
    if inflight:
        await asyncio.wait(list(inflight), timeout=a.timeout + 1)
    wall = time.perf_counter() - t_start
    lat = sorted(x * 1000 for x in lat)
    still_open = sum(1 for c in conns if not c.closed)
    for c in conns:
        if not c.closed:
            c.transport.close()
    res = {"conns_requested": a.conns, "conns_open": len(alive), "conns_open_after": still_open,
           "open_s": round(open_s, 2), "rss_idle_kb": idle_rss, "rss_load_kb": max(load_rss, idle_rss),
           "requests": len(lat), "rps": round(len(lat) / wall, 1), "errors": errors,
           "mean_ms": round(sum(lat) / len(lat), 4) if lat else None}
    for q, n in ((50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p999")):
        res[n + "_ms"] = round(pct(lat, q), 4) if lat else None
    print("RESULT " + json.dumps(res), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--model", required=True)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--ramp", type=float, default=5)
    ap.add_argument("--idle", type=float, default=4)
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--pids", type=lambda s: [int(x) for x in s.split(",") if x], default=[])
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.conns + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want) if hard > 0 else want, hard))
    asyncio.run(main_async(a))


if __name__ == "__main__":
    sys.exit(main())
