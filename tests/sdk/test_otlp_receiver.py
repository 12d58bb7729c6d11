"""The gateway's hand-written OTLP encoding against the official protobuf bindings.

``otlp_golden_request.hex`` is what the Rust encoder writes for the spans in
``src/telemetry/otlp/golden.rs`` (a Rust unit test fails if the two drift apart). Here the
real decoder (opentelemetry-proto) reads it field by field, through otlp_receiver.py over
HTTP as a collector would, and re-encodes it to the very same bytes.
"""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import otlp_receiver

GOLDEN = Path(__file__).with_name("otlp_golden_request.hex")

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SERVER_SPAN = "5345525645520001"
CLIENT_SPAN = "434c49454e540002"
RESOURCE = {"service.name": "ringbridge-golden", "service.version": "1.2.3"}
SCOPE = {"name": "ringbridge", "version": "0.0.0-golden"}

EXPECTED = [
    {
        "trace_id": TRACE_ID,
        "span_id": SERVER_SPAN,
        "parent_span_id": "00f067aa0ba902b7",
        "name": "chat gpt-4o-mini",
        "kind": 2,
        "kind_name": "SPAN_KIND_SERVER",
        "start_unix_nanos": 1_754_000_000_123_456_789,
        "end_unix_nanos": 1_754_000_001_987_654_321,
        "status": {"code": 1, "message": ""},
        "attributes": {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "aws.bedrock",
            "gen_ai.system": "aws.bedrock",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.input_tokens": 1234,
            "gen_ai.usage.output_tokens": 0,
            "http.response.status_code": 200,
            "ringbridge.cost_usd": 0.00042,
            "ringbridge.attempts": -7,
            "ringbridge.key_id": "key_01",
            "ringbridge.team_id": "",
            "ringbridge.dialect": "anthropic – ünïcode",
            "ringbridge.cached": False,
            "ringbridge.streamed": True,
        },
        "resource": RESOURCE,
        "scope": SCOPE,
    },
    {
        "trace_id": TRACE_ID,
        "span_id": CLIENT_SPAN,
        "parent_span_id": SERVER_SPAN,
        "name": "chat",
        "kind": 3,
        "kind_name": "SPAN_KIND_CLIENT",
        "start_unix_nanos": 1_754_000_000_200_000_000,
        "end_unix_nanos": 1_754_000_001_900_000_000,
        "status": {"code": 2, "message": "upstream timed out"},
        "attributes": {
            "server.address": "bedrock-runtime.us-east-1.amazonaws.com",
            "http.response.status_code": 504,
            "ringbridge.provider": "bedrock-east",
        },
        "resource": RESOURCE,
        "scope": SCOPE,
    },
    {
        "trace_id": TRACE_ID,
        "span_id": "ffffffffffffffff",
        "parent_span_id": None,
        "name": "x" * 200,
        "kind": 2,
        "kind_name": "SPAN_KIND_SERVER",
        "start_unix_nanos": 2**64 - 1,
        "end_unix_nanos": 0,
        "status": {"code": 0, "message": ""},
        "attributes": {},
        "resource": RESOURCE,
        "scope": SCOPE,
    },
]


def golden_bytes() -> bytes:
    return bytes.fromhex(GOLDEN.read_text())


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[otlp_receiver.ReceiverServer, Path]]:
    out = tmp_path / "spans.jsonl"
    server = otlp_receiver.serve(out)
    yield server, out
    server.shutdown()
    server.server_close()


def post(server: otlp_receiver.ReceiverServer, body: bytes, headers: dict[str, str],
         path: str = "/v1/traces") -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_official_decoder_reads_every_field_of_the_golden_request() -> None:
    request = ExportTraceServiceRequest()
    request.ParseFromString(golden_bytes())
    assert otlp_receiver.span_records(request) == EXPECTED


def test_official_encoder_writes_the_same_bytes_back() -> None:
    # Fields in number order, no unknown fields, oneof members kept: the encoding is the
    # canonical one, so nothing was dropped or misnumbered on the way through.
    body = golden_bytes()
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    assert request.SerializeToString(deterministic=True) == body


def test_receiver_records_each_span_as_a_json_line_and_answers_an_empty_response(receiver) -> None:
    server, out = receiver
    status, answer = post(server, golden_bytes(), {
        "content-type": "application/x-protobuf", "authorization": "Bearer t",
    })
    assert status == 200
    response = ExportTraceServiceResponse()
    response.ParseFromString(answer)
    assert not response.HasField("partial_success")
    assert otlp_receiver.read_spans(out) == EXPECTED
    assert server.requests == [{
        "path": "/v1/traces",
        "headers": server.requests[0]["headers"],
        "spans": 3,
    }]
    assert server.requests[0]["headers"]["authorization"] == "Bearer t"


def test_receiver_accepts_gzip_and_appends(receiver) -> None:
    server, out = receiver
    headers = {"content-type": "application/x-protobuf"}
    assert post(server, golden_bytes(), headers)[0] == 200
    assert post(server, gzip.compress(golden_bytes()),
                {**headers, "content-encoding": "gzip"})[0] == 200
    assert otlp_receiver.read_spans(out) == EXPECTED + EXPECTED


def test_receiver_refuses_what_a_collector_would_refuse(receiver) -> None:
    server, out = receiver
    protobuf = {"content-type": "application/x-protobuf"}
    assert post(server, golden_bytes(), {"content-type": "application/json"})[0] == 415
    assert post(server, golden_bytes(), protobuf, path="/v1/logs")[0] == 404
    assert post(server, b"\x0a\x05ab", protobuf)[0] == 400
    assert otlp_receiver.read_spans(out) == []
