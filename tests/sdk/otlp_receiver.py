"""A minimal OTLP/HTTP trace receiver for tests, decoding with the official protobuf
bindings (``opentelemetry-proto``), so what it records is what a real collector would see.

It accepts ``POST /v1/traces`` with ``content-type: application/x-protobuf`` (optionally
``content-encoding: gzip``), decodes an ``ExportTraceServiceRequest``, appends each span as
one JSON line to a file, and answers 200 with an empty ``ExportTraceServiceResponse``.
A body that does not decode gets 400, another content type 415, another path 404.

A span's line::

    {"trace_id": "<32 hex>", "span_id": "<16 hex>", "parent_span_id": "<16 hex>" | null,
     "name": "...", "kind": 2, "kind_name": "SPAN_KIND_SERVER",
     "start_unix_nanos": ..., "end_unix_nanos": ...,
     "status": {"code": 0|1|2, "message": "..."},
     "attributes": {"gen_ai.request.model": "...", ...},
     "resource": {"service.name": "...", ...},
     "scope": {"name": "ringbridge", "version": "..."}}

In-process: ``server = serve(path)``, then ``server.server_address[1]`` is the port,
``server.requests`` lists each request's path, headers and span count, and
``read_spans(path)`` loads the lines. Standalone:
``python otlp_receiver.py OUT.jsonl [--port N]`` prints ``LISTENING 127.0.0.1:<port>``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

TRACES_PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"


def any_value(v: AnyValue) -> Any:
    """An ``AnyValue`` as plain JSON (bytes as hex); ``None`` when no member is set."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def span_records(request: ExportTraceServiceRequest) -> list[dict]:
    """One JSON-ready dict per span, with its resource and scope."""
    out = []
    for rs in request.resource_spans:
        resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            scope = {"name": ss.scope.name, "version": ss.scope.version}
            for span in ss.spans:
                out.append({
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex() or None,
                    "name": span.name,
                    "kind": span.kind,
                    "kind_name": Span.SpanKind.Name(span.kind),
                    "start_unix_nanos": span.start_time_unix_nano,
                    "end_unix_nanos": span.end_time_unix_nano,
                    "status": {"code": span.status.code, "message": span.status.message},
                    "attributes": {kv.key: any_value(kv.value) for kv in span.attributes},
                    "resource": resource,
                    "scope": scope,
                })
    return out


def read_spans(path: Path) -> list[dict]:
    """The spans recorded so far, in arrival order."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line]


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, out_path: Path, port: int) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.out_path = Path(out_path)
        self.lock = threading.Lock()
        self.requests: list[dict] = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ReceiverServer

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if self.path != TRACES_PATH:
            self.reply(404, "text/plain", b"not found")
            return
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != PROTOBUF:
            self.reply(415, "text/plain", b"only application/x-protobuf")
            return
        try:
            if self.headers.get("content-encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
        except (DecodeError, OSError, EOFError) as e:
            self.reply(400, "text/plain", f"undecodable: {e}".encode())
            return
        records = span_records(request)
        with self.server.lock:
            self.server.requests.append({
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "spans": len(records),
            })
            with open(self.server.out_path, "a", encoding="utf-8") as f:
                for r in records:
                    f.write(json.dumps(r, sort_keys=True) + "\n")
        self.reply(200, PROTOBUF, ExportTraceServiceResponse().SerializeToString())

    def reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(out_path: Path, port: int = 0) -> ReceiverServer:
    """Starts the receiver on 127.0.0.1 (`port` 0: a free one) in a daemon thread."""
    server = ReceiverServer(out_path, port)
    threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True).start()
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="file to append one JSON line per span to")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    args = parser.parse_args()
    srv = serve(args.out, args.port)
    print(f"LISTENING 127.0.0.1:{srv.server_address[1]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sys.exit(0)
