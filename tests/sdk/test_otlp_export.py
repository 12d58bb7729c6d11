"""Traces end to end: a gateway with ``[otlp]`` pointed at a real OTLP/HTTP receiver
(decoding with the official protobuf bindings) exports one span per request with the
GenAI semantic conventions, continues the client's ``traceparent`` and sends its own
span upstream as the parent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import CLIENT_KEY, Proc, make_client, start_gateway
from otlp_receiver import read_spans, serve

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def traced(driver: str, mock_provider: Proc, tmp_dir: Path):
    spans_file = tmp_dir / f"spans-{driver}.jsonl"
    spans_file.unlink(missing_ok=True)
    receiver = serve(spans_file)
    port = receiver.server_address[1]
    config = tmp_dir / f"otlp-gateway-{driver}.toml"
    config.write_text(f"""\
env_providers = false
store = false

[auth]
keys = ["{CLIENT_KEY}"]

[otlp]
endpoint = "http://127.0.0.1:{port}/v1/traces"
service_name = "ringbridge-under-test"
headers = {{ x-collector-key = "collector-secret" }}

[providers.openai]
base_url = "{mock_provider.url}/v1"
keys = ["sk-upstream"]
""")
    gw = start_gateway(f"ringbridge-otlp-{driver}", driver, config, tmp_dir, {})
    yield gw, receiver, spans_file
    gw.stop()
    receiver.shutdown()


def wait_for_spans(path: Path, n: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists():
            spans = read_spans(path)
            if len(spans) >= n:
                return spans
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} spans arrived")


def test_each_request_is_a_genai_span_continuing_the_clients_trace(traced) -> None:
    gw, receiver, spans_file = traced
    client = make_client(gw)
    raw = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "hello there"}],
        extra_headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01", "x-mock-echo": "1"},
    )
    # Upstream got the same trace, with the gateway's span as its parent.
    upstream = raw.headers["x-mock-saw-traceparent"]
    version, trace, parent, flags = upstream.split("-")
    assert (version, trace, flags) == ("00", CLIENT_TRACE, "01")
    assert parent != CLIENT_SPAN
    # A request without a traceparent starts a trace of its own.
    client.embeddings.create(model="openai/text-embedding-3-small", input="x")

    spans = wait_for_spans(spans_file, 2)
    chat = next(s for s in spans if s["trace_id"] == CLIENT_TRACE)
    assert chat["parent_span_id"] == CLIENT_SPAN
    assert chat["span_id"] == parent
    assert chat["name"] == "chat gpt-4o-mini"
    assert chat["kind_name"] == "SPAN_KIND_SERVER"
    assert chat["end_unix_nanos"] > chat["start_unix_nanos"] > 0
    attrs = chat["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    # (mock-provider's echo mode reports no usage: the counts are there, as 0.)
    assert isinstance(attrs["gen_ai.usage.input_tokens"], int)
    assert isinstance(attrs["gen_ai.usage.output_tokens"], int)
    assert attrs["http.response.status_code"] == 200
    assert chat["resource"]["service.name"] == "ringbridge-under-test"
    embed = next(s for s in spans if s["trace_id"] != CLIENT_TRACE)
    assert embed["parent_span_id"] is None
    assert embed["attributes"]["gen_ai.operation.name"] == "embeddings"
    assert embed["attributes"]["gen_ai.usage.input_tokens"] > 0
    # The configured header reached the collector.
    assert any(r["headers"].get("x-collector-key") == "collector-secret" for r in receiver.requests)
    client.close()


def test_an_upstream_failure_is_an_error_span(traced) -> None:
    gw, _, spans_file = traced
    client = make_client(gw)
    with pytest.raises(Exception):
        client.chat.completions.create(
            model="openai/gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-mock-status": "500"},
        )
    spans = wait_for_spans(spans_file, 1)
    failed = [s for s in spans if s["attributes"].get("http.response.status_code", 0) >= 500]
    assert failed and failed[0]["status"]["code"] == 2
    client.close()
