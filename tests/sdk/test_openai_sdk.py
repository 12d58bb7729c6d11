"""Conformance: the official `openai` Python SDK, unchanged, against the real gateway.

Upstream behaviour comes from mock-provider (see loadtest/README.md): chat answers
"Hello from mock-provider." with usage 12/5/17; a stream sends "tok0 ", "tok1 ", ...;
`x-mock-*` request headers (sent with `extra_headers`) select errors, delays and pacing.
Every test runs once per I/O driver (the `gateway` fixture is parametrized).
"""

from __future__ import annotations

import base64
import concurrent.futures
import math
import struct
import time

import openai
import pytest

from conftest import (
    CLIENT_KEY,
    GATEWAY_KEYS,
    Proc,
    UPSTREAM_KEY,
    make_client,
    saw_authorization,
    stream_text,
)

HELLO = "Hello from mock-provider."
MESSAGES = [{"role": "user", "content": "Say hello."}]
UPSTREAM_MODEL = "gpt-4o-mini"
MODEL = f"openai/{UPSTREAM_MODEL}"
# The model field a client sees may be the upstream's or the routed name.
MODEL_NAMES = {UPSTREAM_MODEL, MODEL}
# The built-in mock provider quotes the last user message.
MOCK_REPLY = "Mock reply to: Say hello."


# ---------------------------------------------------------------- chat, non-stream


def test_chat_non_stream_via_upstream(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert r.object == "chat.completion"
    assert r.id == "chatcmpl-mock"
    assert r.model in MODEL_NAMES
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == HELLO
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (12, 5, 17)
    # The SDK exposes the x-request-id response header.
    assert r._request_id


def test_chat_forwards_request_body(client: openai.OpenAI) -> None:
    # x-mock-echo makes the upstream answer with the body it received.
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=MESSAGES,
        temperature=0.25,
        max_tokens=7,
        extra_body={"x_custom_field": {"a": [1, 2]}},
        extra_headers={"x-mock-echo": "1"},
    )
    assert raw.status_code == 200
    sent = raw.http_response.json()
    assert sent["model"] == UPSTREAM_MODEL, "the provider prefix must be stripped upstream"
    assert sent["messages"] == MESSAGES
    assert sent["temperature"] == 0.25
    assert sent["max_tokens"] == 7
    assert sent["x_custom_field"] == {"a": [1, 2]}, "unknown fields must pass through"
    # The upstream sees the provider's key, never the client's.
    saw = saw_authorization(raw.headers)
    if saw is not None:
        assert saw == f"Bearer {UPSTREAM_KEY}"
        assert CLIENT_KEY not in saw
        # The upstream's echo of the key is masked on the way back.
        assert UPSTREAM_KEY not in raw.headers.get("x-mock-saw-authorization", "")


def test_chat_non_stream_builtin_mock(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="mock/echo", messages=MESSAGES)
    assert r.object == "chat.completion"
    assert r.model == "mock/echo"
    assert r.id.startswith("chatcmpl-")
    assert len(r.choices) == 1
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == MOCK_REPLY
    assert r.usage is not None
    assert r.usage.completion_tokens == len(MOCK_REPLY.split())
    assert r.usage.prompt_tokens == 2
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # Deterministic: the same request gives the same answer.
    again = client.chat.completions.create(model="mock/echo", messages=MESSAGES)
    assert again.model_dump() == r.model_dump()


def test_chat_builtin_mock_max_tokens_and_tools(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="mock/fast", messages=MESSAGES, max_tokens=2)
    assert r.choices[0].finish_reason == "length"
    assert r.choices[0].message.content == "Mock reply"
    tools = [{
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }]
    r = client.chat.completions.create(
        model="mock/echo", messages=MESSAGES, tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    assert r.choices[0].finish_reason == "tool_calls"
    calls = r.choices[0].message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert calls[0].function.arguments == "{}"


# ---------------------------------------------------------------- chat, stream


def test_chat_stream_with_usage(client: openai.OpenAI) -> None:
    n = 7
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-mock-chunks": str(n)},
    )
    chunks = list(stream)
    # role chunk + n content chunks + finish chunk + usage chunk
    assert len(chunks) == n + 3, [c.model_dump() for c in chunks]
    for c in chunks:
        assert c.object == "chat.completion.chunk"
        assert c.id == "chatcmpl-mock"
        assert c.model in MODEL_NAMES
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == stream_text(n)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (12, n, 12 + n)
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_without_usage(client: openai.OpenAI) -> None:
    with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
        chunks = list(stream)
    assert all(c.choices for c in chunks), "no usage chunk unless include_usage"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == stream_text(5)


def test_chat_stream_is_incremental(client: openai.OpenAI) -> None:
    # 5 content chunks, each preceded by a 300 ms pause upstream: ~1.5 s in all.
    # A gateway that buffered the stream would deliver every chunk at the very end.
    delay_s, n = 0.3, 5
    start = time.monotonic()
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-mock-chunks": str(n), "x-mock-chunk-delay-ms": str(int(delay_s * 1000))},
    )
    arrivals: list[float] = []
    text = ""
    for c in stream:
        if c.choices and c.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
            text += c.choices[0].delta.content
    end = time.monotonic() - start
    assert text == stream_text(n)
    assert len(arrivals) == n
    assert end >= (n - 0.5) * delay_s, "the upstream's pacing did not apply"
    # The first token must reach the client well before the stream ends: at least
    # 2 of the remaining 4 pauses (1.2 s expected) apart.
    assert end - arrivals[0] >= 2 * delay_s, f"first token at {arrivals[0]:.2f}s, end at {end:.2f}s"


def test_chat_stream_builtin_mock(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="mock/echo", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert all(c.model == "mock/echo" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content]
    assert len(pieces) == len(MOCK_REPLY.split()), "one chunk per word"
    assert "".join(pieces) == MOCK_REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == len(pieces)
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


# ---------------------------------------------------------------- legacy completions


def test_legacy_completion(client: openai.OpenAI) -> None:
    r = client.completions.create(model="openai/gpt-3.5-turbo-instruct", prompt="Say hello.")
    assert r.object == "text_completion"
    assert r.id == "cmpl-mock"
    assert r.model in {"gpt-3.5-turbo-instruct", "openai/gpt-3.5-turbo-instruct"}
    assert len(r.choices) == 1
    assert r.choices[0].text == HELLO
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (12, 5, 17)


def test_legacy_completion_stream(client: openai.OpenAI) -> None:
    chunks = list(
        client.completions.create(
            model="openai/gpt-3.5-turbo-instruct",
            prompt="Say hello.",
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-mock-chunks": "4"},
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == stream_text(4)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


# ---------------------------------------------------------------- embeddings

EMBED_MODEL = "openai/text-embedding-3-small"
EMBED_DIM = 8  # mock-provider's embedding size


def test_embeddings_float(client: openai.OpenAI) -> None:
    r = client.embeddings.create(model=EMBED_MODEL, input=["hello world", "x"], encoding_format="float")
    assert r.object == "list"
    assert r.model in {"text-embedding-3-small", EMBED_MODEL}
    assert [d.index for d in r.data] == [0, 1]
    for d in r.data:
        assert d.object == "embedding"
        assert len(d.embedding) == EMBED_DIM
        assert all(isinstance(x, float) and -1.0 <= x <= 1.0 for x in d.embedding)
    assert r.data[0].embedding != r.data[1].embedding
    # ceil(11/4) + ceil(1/4)
    assert r.usage.prompt_tokens == 4
    assert r.usage.total_tokens == 4


def test_embeddings_sdk_default_base64(client: openai.OpenAI) -> None:
    # Without encoding_format the SDK asks for base64 and decodes it (or accepts floats).
    floats = client.embeddings.create(model=EMBED_MODEL, input="hello world", encoding_format="float")
    default = client.embeddings.create(model=EMBED_MODEL, input="hello world")
    vec = default.data[0].embedding
    assert isinstance(vec, list) and len(vec) == EMBED_DIM
    for a, b in zip(vec, floats.data[0].embedding):
        assert math.isclose(a, b, abs_tol=1e-6)


def decode_b64(v: object) -> list[float]:
    if isinstance(v, list):  # an upstream that ignores encoding_format
        return v
    assert isinstance(v, str)
    raw = base64.b64decode(v)
    assert len(raw) % 4 == 0
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def test_embeddings_explicit_base64(client: openai.OpenAI) -> None:
    floats = client.embeddings.create(model=EMBED_MODEL, input="abc", encoding_format="float")
    r = client.embeddings.create(model=EMBED_MODEL, input="abc", encoding_format="base64")
    vec = decode_b64(r.data[0].embedding)
    assert len(vec) == EMBED_DIM
    for a, b in zip(vec, floats.data[0].embedding):
        assert math.isclose(a, b, abs_tol=1e-6)


def test_embeddings_builtin_mock(client: openai.OpenAI) -> None:
    f = client.embeddings.create(model="mock/embed", input=["one", "two"], encoding_format="float")
    assert f.model == "mock/embed"
    assert [d.index for d in f.data] == [0, 1]
    assert [len(d.embedding) for d in f.data] == [16, 16]
    for d in f.data:
        assert math.isclose(math.fsum(x * x for x in d.embedding), 1.0, abs_tol=1e-4), "unit vectors"
    assert f.data[0].embedding != f.data[1].embedding
    assert f.usage.prompt_tokens == 2
    # The SDK's default (base64 on the wire, decoded by the SDK) gives the same vectors.
    d = client.embeddings.create(model="mock/embed", input=["one", "two"])
    assert [len(x.embedding) for x in d.data] == [16, 16]
    for i in range(2):
        for a, b in zip(d.data[i].embedding, f.data[i].embedding):
            assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)
    # Explicit base64: the SDK hands back the string; it decodes to float32s.
    b64 = client.embeddings.create(model="mock/embed", input="one", encoding_format="base64")
    assert isinstance(b64.data[0].embedding, str)
    vec = decode_b64(b64.data[0].embedding)
    assert len(vec) == 16
    for a, b in zip(vec, f.data[0].embedding):
        assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)
    # `dimensions` is honoured.
    r = client.embeddings.create(model="mock/embed", input="one", dimensions=64, encoding_format="float")
    assert len(r.data[0].embedding) == 64


# ---------------------------------------------------------------- models


def test_models_list(client: openai.OpenAI) -> None:
    deadline = time.monotonic() + 10.0
    ids: list[str] = []
    while True:
        page = client.models.list()
        models = list(page)
        ids = [m.id for m in models]
        if {"mock/echo", "openai/mock-small"} <= set(ids):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"models.list() never listed mock/echo and openai/mock-small; last: {ids}")
        time.sleep(0.2)
    assert {"mock/fast", "mock/embed", "openai/mock-large"} <= set(ids)
    assert len(ids) == len(set(ids)), f"duplicate ids: {ids}"
    for m in models:
        assert m.object == "model"
        assert isinstance(m.owned_by, str)
    # Providers that cannot be reached do not break the listing.
    assert not any(i.startswith("down/") for i in ids)


def test_models_retrieve(client: openai.OpenAI) -> None:
    m = client.models.retrieve("mock/echo")
    assert (m.id, m.object, m.owned_by) == ("mock/echo", "model", "mock")
    with pytest.raises(openai.NotFoundError) as ei:
        client.models.retrieve("mock/no-such-model")
    assert ei.value.code == "model_not_found"


# ---------------------------------------------------------------- errors


def test_upstream_429_is_rate_limit_error(client: openai.OpenAI) -> None:
    model = f"limited-1/{UPSTREAM_MODEL}"
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(model=model, messages=MESSAGES, extra_headers={"x-mock-status": "429"})
    e = ei.value
    assert e.status_code == 429
    assert "mock error 429" in e.message
    assert e.response.headers.get("retry-after") == "1", "Retry-After must reach the client"
    assert e.request_id, "error responses carry x-request-id too"


def test_upstream_429_on_stream_is_rate_limit_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(
            model=f"limited-2/{UPSTREAM_MODEL}", messages=MESSAGES, stream=True, extra_headers={"x-mock-status": "429"}
        )
    assert ei.value.status_code == 429
    assert "mock error 429" in ei.value.message


def test_upstream_429_is_retried_and_the_attempts_are_reported(client: openai.OpenAI) -> None:
    model = f"limited-3/{UPSTREAM_MODEL}"
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(model=model, messages=MESSAGES, extra_headers={"x-mock-status": "429"})
    attempts = ei.value.response.headers.get("x-ringbridge-attempts")
    # The retry waits out the key's one-second rest, then meets the 429 again.
    assert attempts == f"2; {model}=429, {model}=429", attempts
    # Until the rest ends, the gateway answers for the key: 429 with Retry-After,
    # without calling the upstream.
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(model=model, messages=MESSAGES)
    assert ei.value.response.headers.get("retry-after") == "1"
    assert ei.value.code == "rate_limit_exceeded"


def test_fallbacks_in_extra_body_answer_when_the_model_fails(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=MESSAGES,
        extra_headers={"x-mock-status": "503"},
        extra_body={"fallbacks": ["mock/echo"]},
    )
    completion = raw.parse()
    assert raw.headers.get("x-ringbridge-provider") == "mock"
    assert raw.headers.get("x-ringbridge-attempts") == f"3; {MODEL}=503, {MODEL}=503, mock/echo=200"
    assert completion.choices[0].message.content


def test_upstream_400_is_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, extra_headers={"x-mock-status": "400"})
    assert ei.value.status_code == 400
    assert "mock error 400" in ei.value.message


def test_upstream_401_is_authentication_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError) as ei:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, extra_headers={"x-mock-status": "401"})
    assert ei.value.status_code == 401
    assert "mock error 401" in ei.value.message


def test_unknown_provider_is_model_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as ei:
        client.chat.completions.create(model="nope/x", messages=MESSAGES)
    e = ei.value
    assert e.status_code == 404
    assert e.code == "model_not_found"
    assert "nope" in e.message
    for name in ("openai", "mock"):
        assert name in e.message, f"available providers should be listed: {e.message!r}"
    assert isinstance(e.body, dict) and e.body.get("type"), e.body


def test_unknown_bare_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as ei:
        client.chat.completions.create(model="gpt-nonexistent", messages=MESSAGES)
    assert ei.value.status_code == 404
    assert "gpt-nonexistent" in ei.value.message


def test_upstream_down_is_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(model="down/gpt-4o-mini", messages=MESSAGES)
    e = ei.value
    assert e.status_code == 502
    assert e.message
    assert isinstance(e.body, dict) and e.body.get("type"), e.body


def test_upstream_down_stream_is_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(model="down/gpt-4o-mini", messages=MESSAGES, stream=True)
    assert ei.value.status_code == 502


def test_slow_upstream_is_504(client: openai.OpenAI) -> None:
    # [providers.slow] has first_byte_timeout_ms = 300; the upstream waits 3 s.
    start = time.monotonic()
    with pytest.raises(openai.InternalServerError) as ei:
        client.chat.completions.create(
            model="slow/gpt-4o-mini", messages=MESSAGES, extra_headers={"x-mock-delay-ms": "3000"}
        )
    elapsed = time.monotonic() - start
    assert ei.value.status_code == 504
    assert elapsed < 2.5, f"the gateway waited {elapsed:.2f}s, past its 300 ms first-byte timeout"


def test_slow_provider_within_timeout_works(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="slow/gpt-4o-mini", messages=MESSAGES)
    assert r.choices[0].message.content == HELLO


# ---------------------------------------------------------------- headers


def test_raw_response_headers(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    assert raw.headers.get("x-request-id")
    assert raw.headers.get("x-ringbridge-provider") == "openai"
    assert raw.parse().choices[0].message.content == HELLO

    raw = client.chat.completions.with_raw_response.create(model="mock/echo", messages=MESSAGES)
    assert raw.headers.get("x-ringbridge-provider") == "mock"
    first = raw.headers.get("x-request-id")
    assert first
    raw2 = client.chat.completions.with_raw_response.create(model="mock/echo", messages=MESSAGES)
    assert raw2.headers.get("x-request-id") != first, "request ids must be unique"


def test_client_request_id_is_echoed(client: openai.OpenAI) -> None:
    rid = "sdk-conformance-0123456789"
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES, extra_headers={"x-request-id": rid}
    )
    assert raw.headers.get("x-request-id") == rid
    r = client.chat.completions.create(model="mock/echo", messages=MESSAGES, extra_headers={"x-request-id": rid})
    assert r._request_id == rid
    with pytest.raises(openai.NotFoundError) as ei:
        client.chat.completions.create(
            model="gpt-nonexistent", messages=MESSAGES, extra_headers={"x-request-id": rid}
        )
    assert ei.value.request_id == rid


def test_stream_raw_response_headers(client: openai.OpenAI) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES, stream=True
    ) as resp:
        assert resp.headers.get("x-request-id")
        assert resp.headers.get("x-ringbridge-provider") == "openai"
        assert resp.headers.get("content-type", "").startswith("text/event-stream")
        text = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
    assert text == stream_text(5)


# ---------------------------------------------------------------- concurrency


def test_concurrent_requests_share_one_client(client: openai.OpenAI) -> None:
    def one(i: int) -> str:
        if i % 3 == 0:
            s = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            return "".join(c.choices[0].delta.content or "" for c in s if c.choices)
        model = MODEL if i % 3 == 1 else "mock/echo"
        return client.chat.completions.create(model=model, messages=MESSAGES).choices[0].message.content or ""

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(48)))
    for i, r in enumerate(results):
        expected = stream_text(5) if i % 3 == 0 else HELLO if i % 3 == 1 else MOCK_REPLY
        assert r == expected, (i, r)


# ---------------------------------------------------------------- inbound auth


def test_gateway_auth_wrong_key(auth_gateway: Proc) -> None:
    c = make_client(auth_gateway, api_key="rb-wrong-key")
    try:
        with pytest.raises(openai.AuthenticationError) as ei:
            c.chat.completions.create(model="mock/echo", messages=MESSAGES)
        assert ei.value.status_code == 401
        assert ei.value.message
        with pytest.raises(openai.AuthenticationError):
            c.models.list()
        with pytest.raises(openai.AuthenticationError):
            c.embeddings.create(model="mock/embed", input="x")
    finally:
        c.close()


@pytest.mark.parametrize("key", GATEWAY_KEYS)
def test_gateway_auth_right_key(auth_gateway: Proc, key: str) -> None:
    c = make_client(auth_gateway, api_key=key)
    try:
        r = c.chat.completions.create(model="mock/echo", messages=MESSAGES)
        assert r.choices[0].message.content == MOCK_REPLY
        raw = c.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
        assert raw.parse().choices[0].message.content == HELLO
        saw = saw_authorization(raw.headers)
        if saw is not None:
            assert saw == f"Bearer {UPSTREAM_KEY}", "the gateway key must not be forwarded upstream"
    finally:
        c.close()
