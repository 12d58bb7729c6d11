"""Conformance: the official `openai` Python SDK against the gateway's AWS Bedrock path.

The gateway translates OpenAI chat requests for providers of kind `bedrock` to the
Converse API (`/model/{id}/converse`, and `/converse-stream`, whose body is an AWS
event stream, not SSE) and embeddings to InvokeModel (`/model/{id}/invoke`: Amazon
Titan, one call per text, and Cohere Embed), signing every request with SigV4 from
the fake static credentials in conftest. Here the providers point at mock-provider's
Bedrock routes (see loadtest/README.md): "Hello from mock-provider." (usage 12/5), a
stream of "tok0 ", "tok1 ", ... deltas, a tool call with input `{"arg":"value"}` when
`toolChoice` forces one, and 8-dimensional embeddings that are a pure function of the
text (the same vector on every route).

Failure modes come from extra providers (`bedrock-429`, `bedrock-cut`) on
mock-providers started with flags that force them (conftest.BEDROCK_MOCKS). Every test
runs once per I/O driver (the `bedrock_gateway` fixture is parametrized).
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Iterator

import openai
import pytest

from conftest import Proc, collect_tool_calls, finish_reasons, make_client, stream_text

HELLO = "Hello from mock-provider."
UPSTREAM_MODEL = "amazon.nova-lite-v1:0"
MODEL = f"bedrock/{UPSTREAM_MODEL}"
MODEL_NAMES = {UPSTREAM_MODEL, MODEL}
TITAN = "bedrock/amazon.titan-embed-text-v2:0"
TITAN_V1 = "bedrock/amazon.titan-embed-text-v1"
COHERE = "bedrock/cohere.embed-english-v3"
EMBEDDERS = [TITAN, TITAN_V1, COHERE]
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello."},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    },
]
TOOL_ARGS = {"arg": "value"}
EMBED_DIM = 8


def tokens(text: str) -> int:
    """mock-provider's token count for an embedded text: ceil(bytes / 4), at least 1."""
    return max(1, -(-len(text.encode()) // 4))


@pytest.fixture
def bclient(bedrock_gateway: Proc) -> Iterator[openai.OpenAI]:
    c = make_client(bedrock_gateway)
    yield c
    c.close()


# ---------------------------------------------------------------- chat


def test_chat_non_stream(bclient: openai.OpenAI) -> None:
    r = bclient.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert r.object == "chat.completion"
    assert r.model in MODEL_NAMES
    assert r.id
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == HELLO
    assert not choice.message.tool_calls
    assert choice.finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (12, 5, 17)


def test_chat_stream_with_usage(bclient: openai.OpenAI) -> None:
    stream = bclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks, "empty stream"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.model in MODEL_NAMES for c in chunks)
    assert len({c.id for c in chunks}) == 1, "one id for the whole stream"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == stream_text(5)
    assert finish_reasons(chunks) == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (12, 5, 17)
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_without_usage(bclient: openai.OpenAI) -> None:
    with bclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
        chunks = list(stream)
    assert all(c.choices for c in chunks), "no usage chunk unless include_usage"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == stream_text(5)
    assert finish_reasons(chunks) == ["stop"]


def test_chat_stream_raw_is_server_sent_events(bclient: openai.OpenAI) -> None:
    # Bedrock streams AWS event-stream frames; the client must get SSE ending in [DONE].
    with bclient.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES, stream=True
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)


# ---------------------------------------------------------------- tools


def test_tools_required_non_stream(bclient: openai.OpenAI) -> None:
    r = bclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, tools=TOOLS, tool_choice="required"
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].id
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == TOOL_ARGS


def test_tools_named_choice(bclient: openai.OpenAI) -> None:
    r = bclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert r.choices[0].finish_reason == "tool_calls"
    calls = r.choices[0].message.tool_calls
    assert calls is not None and [c.function.name for c in calls] == ["get_time"]
    assert json.loads(calls[0].function.arguments) == TOOL_ARGS


@pytest.mark.parametrize("include_usage", [True, False])
def test_tools_required_stream(bclient: openai.OpenAI, include_usage: bool) -> None:
    stream = bclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, tools=TOOLS, tool_choice="required",
        stream=True, stream_options={"include_usage": include_usage},
    )
    chunks = list(stream)
    calls = collect_tool_calls(chunks)
    assert list(calls) == [0], calls
    assert calls[0]["id"]
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == TOOL_ARGS
    assert finish_reasons(chunks) == ["tool_calls"]
    if include_usage:
        usage = chunks[-1].usage
        assert usage is not None
        assert (usage.prompt_tokens, usage.completion_tokens) == (12, 5)
    else:
        assert all(c.usage is None for c in chunks)


def test_tools_auto_answers_with_text(bclient: openai.OpenAI) -> None:
    r = bclient.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == HELLO
    assert not r.choices[0].message.tool_calls


def test_tool_result_round_trip(bclient: openai.OpenAI) -> None:
    # A second turn carrying the tool call and its result goes upstream and is answered.
    first = bclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, tools=TOOLS, tool_choice="required"
    )
    call = first.choices[0].message.tool_calls[0]
    messages = MESSAGES + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    r = bclient.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    assert r.choices[0].message.content == HELLO


# ---------------------------------------------------------------- errors


def test_429_is_rate_limit_error(bclient: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as ei:
        bclient.chat.completions.create(model=f"bedrock-429/{UPSTREAM_MODEL}", messages=MESSAGES)
    assert ei.value.status_code == 429
    assert "mock error 429" in ei.value.message


def test_429_on_stream_is_rate_limit_error(bclient: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        bclient.chat.completions.create(
            model=f"bedrock-429/{UPSTREAM_MODEL}", messages=MESSAGES, stream=True
        )


@pytest.mark.parametrize("model", ["amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"])
def test_429_on_embeddings_is_rate_limit_error(bclient: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.RateLimitError):
        bclient.embeddings.create(model=f"bedrock-429/{model}", input=["a", "b"])


def test_cut_stream_raises_api_error(bclient: openai.OpenAI) -> None:
    # The upstream stops after "tok4 " of 10 tokens, without messageStop: the gateway
    # must end the stream with an error event, which the SDK raises.
    text = ""
    with pytest.raises(openai.APIError) as ei:
        stream = bclient.chat.completions.create(
            model=f"bedrock-cut/{UPSTREAM_MODEL}", messages=MESSAGES, stream=True
        )
        for c in stream:
            if c.choices:
                text += c.choices[0].delta.content or ""
                assert c.choices[0].finish_reason is None, "a cut stream must not finish"
    # An error event from the gateway, not a dropped connection.
    assert not isinstance(ei.value, openai.APIConnectionError), repr(ei.value)
    assert "bedrock-cut" in ei.value.message
    assert text == stream_text(5), "the tokens before the cut are delivered"


def test_cut_non_stream_is_server_error(bclient: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        bclient.chat.completions.create(model=f"bedrock-cut/{UPSTREAM_MODEL}", messages=MESSAGES)
    assert ei.value.status_code == 502


def test_legacy_completions_is_bad_request(bclient: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        bclient.completions.create(model=MODEL, prompt="hello")


# ---------------------------------------------------------------- embeddings


@pytest.mark.parametrize("model", EMBEDDERS)
def test_embeddings_single_input(bclient: openai.OpenAI, model: str) -> None:
    r = bclient.embeddings.create(model=model, input="hello", encoding_format="float")
    assert r.object == "list"
    assert r.model in {model, model.split("/", 1)[1]}
    assert len(r.data) == 1
    d = r.data[0]
    assert (d.object, d.index) == ("embedding", 0)
    assert len(d.embedding) == EMBED_DIM
    assert all(-1.0 <= x <= 1.0 for x in d.embedding)
    assert (r.usage.prompt_tokens, r.usage.total_tokens) == (tokens("hello"), tokens("hello"))


@pytest.mark.parametrize("model", EMBEDDERS)
def test_embeddings_several_inputs_keep_order_and_sum_usage(bclient: openai.OpenAI, model: str) -> None:
    # Titan embeds one text per InvokeModel call: the gateway makes one call per
    # input and gathers them; Cohere takes them in one call.
    texts = ["hello", "world, a longer text", "x"]
    r = bclient.embeddings.create(model=model, input=texts, encoding_format="float")
    assert [d.index for d in r.data] == [0, 1, 2]
    singles = [
        bclient.embeddings.create(model=model, input=t, encoding_format="float").data[0].embedding
        for t in texts
    ]
    for d, single in zip(r.data, singles):
        assert d.embedding == pytest.approx(single, abs=1e-6)
    assert len({tuple(d.embedding) for d in r.data}) == 3
    assert r.usage.prompt_tokens == sum(tokens(t) for t in texts)


@pytest.mark.parametrize("model", EMBEDDERS)
def test_embeddings_base64_default(bclient: openai.OpenAI, model: str) -> None:
    # The SDK asks for base64 by default and decodes it to floats; the values must
    # match the float answer (to f32 precision).
    floats = bclient.embeddings.create(model=model, input="hello", encoding_format="float").data[0].embedding
    got = bclient.embeddings.create(model=model, input="hello").data[0].embedding
    assert len(got) == EMBED_DIM
    assert got == pytest.approx(floats, abs=1e-6)


@pytest.mark.parametrize("model", [TITAN, COHERE])
def test_embeddings_base64_raw(bclient: openai.OpenAI, model: str) -> None:
    raw = bclient.embeddings.with_raw_response.create(
        model=model, input=["hello", "world"], encoding_format="base64"
    )
    body = json.loads(raw.http_response.text)
    assert [d["index"] for d in body["data"]] == [0, 1]
    for d in body["data"]:
        assert isinstance(d["embedding"], str)
        data = base64.b64decode(d["embedding"])
        assert len(data) == 4 * EMBED_DIM
        assert all(-1.0 <= x <= 1.0 for x in struct.unpack(f"<{EMBED_DIM}f", data))


def test_embeddings_agree_across_titan_and_cohere(bclient: openai.OpenAI) -> None:
    # mock-provider derives the vector from the text alone, on every route.
    vecs = [
        bclient.embeddings.create(model=m, input="same text", encoding_format="float").data[0].embedding
        for m in EMBEDDERS
    ]
    for v in vecs[1:]:
        assert v == pytest.approx(vecs[0], abs=1e-6)


def test_embeddings_dimensions_reach_titan_v2(bclient: openai.OpenAI) -> None:
    # 256 is one of Titan V2's sizes; 100 is not, and Bedrock's 400 comes back.
    r = bclient.embeddings.create(model=TITAN, input="hello", dimensions=256, encoding_format="float")
    assert len(r.data) == 1
    with pytest.raises(openai.BadRequestError) as ei:
        bclient.embeddings.create(model=TITAN, input="hello", dimensions=100)
    assert "dimensions" in ei.value.message


@pytest.mark.parametrize(
    "model, kwargs",
    [
        (TITAN_V1, {"input": "hello", "dimensions": 256}),
        (COHERE, {"input": "hello", "dimensions": 256}),
        (TITAN, {"input": [[1, 2, 3]]}),
        (COHERE, {"input": [1, 2, 3]}),
        (TITAN, {"input": ""}),
        (MODEL, {"input": "hello"}),
    ],
)
def test_embeddings_the_gateway_refuses(bclient: openai.OpenAI, model: str, kwargs: dict) -> None:
    with pytest.raises(openai.BadRequestError):
        bclient.embeddings.create(model=model, **kwargs)
