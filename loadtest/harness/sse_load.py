#!/usr/bin/env python3
"""Concurrent SSE stream client for loadtest/run (scenario 3). Stdlib only.

Keeps N keep-alive connections, each looping: POST a streamed chat completion, timestamp
every SSE event as it arrives (asyncio Protocol, one timestamp per socket read), until
the duration is over. Prints one line `RESULT {json}`:

  streams_ok / streams_err, ttft_* (ms: request written -> first non-empty content delta),
  gap_* (ms between consecutive content deltas of one stream), chunks, chunk_rps,
  loop_lag_p99_ms (how late a 5 ms timer fired: if large, the client itself is the
  bottleneck and the numbers are not trustworthy), client_cpu (cores).

  sse_load.py --port P --model M [--header 'k: v']... --streams 1000 --duration 20 --ramp 2
"""
import argparse
import asyncio
import json
import resource
import sys
import time

CONTENT = b'"content":"'


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(q / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


class Stats:
    def __init__(self):
        self.ttft = []
        self.gaps = []
        self.ok = 0
        self.err = 0
        self.errors = {}
        self.chunks = 0
        self.first_send = None
        self.last_event = None

    def error(self, kind):
        self.err += 1
        self.errors[kind] = self.errors.get(kind, 0) + 1


class StreamProto(asyncio.Protocol):
    """One connection; one request at a time."""

    def __init__(self, stats):
        self.stats = stats
        self.transport = None
        self.done = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport

    def start(self, request):
        self.buf = b""
        self.head = None
        self.chunked = False
        self.status = 0
        self.scan = 0
        self.seen_done = False
        self.last_content = None
        self.first_content = None
        self.n_content = 0
        self.gaps = []
        self.done = asyncio.get_running_loop().create_future()
        self.t_send = time.perf_counter()
        if self.stats.first_send is None:
            self.stats.first_send = self.t_send
        self.transport.write(request)

    def data_received(self, data):
        now = time.perf_counter()
        if self.done is None or self.done.done():
            return
        self.buf += data
        if self.head is None:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head = self.buf[:i].decode("latin-1").lower()
            self.buf = self.buf[i + 4:]
            self.head = head
            try:
                self.status = int(head.split(" ", 2)[1])
            except (IndexError, ValueError):
                self.status = 0
            self.chunked = "transfer-encoding: chunked" in head
            if self.status != 200:
                self.finish("http_%d" % self.status, close=True)
                return
        # scan complete SSE events ("data: ...\n") past self.scan
        while True:
            j = self.buf.find(b"data:", self.scan)
            if j < 0:
                break
            k = self.buf.find(b"\n", j)
            if k < 0:
                break
            line = self.buf[j:k]
            self.scan = k + 1
            if line.startswith(b"data: [DONE]") or line.startswith(b"data:[DONE]"):
                self.seen_done = True
                continue
            if b'"error"' in line and CONTENT not in line:
                self.finish("error_event", close=True)
                return
            c = line.find(CONTENT)
            if c >= 0 and line[c + len(CONTENT):c + len(CONTENT) + 1] not in (b'"', b""):
                self.n_content += 1
                if self.first_content is None:
                    self.first_content = now
                else:
                    self.gaps.append(now - self.last_content)
                self.last_content = now
        if self.seen_done:
            if not self.chunked:
                self.finish(None, close=True)
            elif self.buf.find(b"\r\n0\r\n\r\n", max(0, self.scan - 8)) >= 0 or self.buf.endswith(b"0\r\n\r\n"):
                self.finish(None, close=False)
        # keep the buffer bounded: drop what was scanned
        if self.scan > 65536:
            self.buf = self.buf[self.scan:]
            self.scan = 0

    def finish(self, err, close):
        st = self.stats
        if err is None and self.first_content is None:
            err = "no_content"
        if err is None:
            st.ok += 1
            st.ttft.append(self.first_content - self.t_send)
            st.gaps.extend(self.gaps)
            st.chunks += self.n_content
            st.last_event = self.last_content
        else:
            st.error(err)
        if close:
            self.transport.close()
            self.closed = True
        if not self.done.done():
            self.done.set_result(err)

    def connection_lost(self, exc):
        self.closed = True
        if self.done is not None and not self.done.done():
            self.stats.error("reset" if exc else "closed")
            self.done.set_result("lost")


async def worker(idx, args, request, stats, t_end, delay):
    loop = asyncio.get_running_loop()
    await asyncio.sleep(delay)
    proto = None
    while time.perf_counter() < t_end:
        if proto is None or proto.closed:
            try:
                _, proto = await asyncio.wait_for(
                    loop.create_connection(lambda: StreamProto(stats), args.host, args.port), 10)
            except (OSError, asyncio.TimeoutError):
                stats.error("connect")
                proto = None
                await asyncio.sleep(0.1)
                continue
        proto.start(request)
        try:
            await asyncio.wait_for(asyncio.shield(proto.done), args.timeout)
        except asyncio.TimeoutError:
            stats.error("timeout")
            if not proto.done.done():
                proto.done.set_result("timeout")  # so connection_lost does not count it again
            proto.transport.close()
            proto = None
    if proto is not None and not proto.closed:
        proto.transport.close()


async def lag_probe(lags, t_end):
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append(time.perf_counter() - t - 0.005)


async def main_async(args):
    body = json.dumps({
        "model": args.model, "stream": True, "max_tokens": args.chunks,
        "messages": [{"role": "user", "content": "Stream a long answer, please."}],
    }).encode()
    hdrs = ["POST %s HTTP/1.1" % args.path, "Host: %s:%d" % (args.host, args.port),
            "Content-Type: application/json", "Accept: text/event-stream",
            "Content-Length: %d" % len(body)]
    hdrs += args.header
    request = ("\r\n".join(hdrs) + "\r\n\r\n").encode() + body
    stats = Stats()
    lags = []
    t0 = time.perf_counter()
    t_end = t0 + args.duration
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    tasks = [asyncio.create_task(worker(i, args, request, stats, t_end, args.ramp * i / max(1, args.streams)))
             for i in range(args.streams)]
    tasks.append(asyncio.create_task(lag_probe(lags, t_end)))
    await asyncio.wait(tasks, timeout=args.duration + args.timeout + 5)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime) / wall
    ttft = sorted(x * 1000 for x in stats.ttft)
    gaps = sorted(x * 1000 for x in stats.gaps)
    lags.sort()
    span = (stats.last_event - stats.first_send) if stats.last_event and stats.first_send else 0
    res = {
        "streams": args.streams, "streams_ok": stats.ok, "streams_err": stats.err, "errors": stats.errors,
        "chunks": stats.chunks, "chunk_rps": round(stats.chunks / span, 1) if span > 0 else 0,
        "stream_rps": round(stats.ok / span, 2) if span > 0 else 0,
        "ttft_mean_ms": round(sum(ttft) / len(ttft), 4) if ttft else None,
        "gap_mean_ms": round(sum(gaps) / len(gaps), 4) if gaps else None,
        "loop_lag_p99_ms": round(pct(lags, 99) * 1000, 3) if lags else None,
        "client_cpu": round(cpu, 3), "wall_s": round(wall, 2),
    }
    for q, name in ((50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p999")):
        res["ttft_%s_ms" % name] = round(pct(ttft, q), 4) if ttft else None
        res["gap_%s_ms" % name] = round(pct(gaps, q), 4) if gaps else None
    print("RESULT " + json.dumps(res), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--model", required=True)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--ramp", type=float, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--chunks", type=int, default=200, help="max_tokens sent (informational)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.streams + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.streams + 1000), hard))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
