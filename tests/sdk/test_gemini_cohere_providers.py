"""Conformance: the official `openai` Python SDK against the gateway's Gemini and Cohere paths.

The gateway translates OpenAI chat and embeddings requests for providers of kind
`gemini` (`…/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
`:batchEmbedContents`) and `cohere` (`/v2/chat`, `/v2/embed`); here they point at
mock-provider's routes for those shapes (see loadtest/README.md). Both answer
"Hello from mock-provider." (usage 12/5), a stream of "tok0 ", "tok1 ", ... chunks, a
tool call with arguments `{"arg":"value"}` when a tool is forced, and 8-dimensional
embeddings that are a pure function of the text (the same vector on both routes).

Failure modes come from extra providers (`gemini-429`, `cohere-429`) on mock-providers
started with `--fail-mix 429:1` (conftest.GC_MOCKS). Every test runs once per I/O driver
(the `gc_gateway` fixture is parametrized).
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
GEMINI_MODEL = "gemini/gemini-test"
COHERE_MODEL = "cohere/command-test"
MODELS = {"gemini": GEMINI_MODEL, "cohere": COHERE_MODEL}
PROVIDERS = list(MODELS)
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
                "additionalProperties": False,
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


def model_names(provider: str) -> set[str]:
    full = MODELS[provider]
    return {full, full.split("/", 1)[1]}


@pytest.fixture
def gclient(gc_gateway: Proc) -> Iterator[openai.OpenAI]:
    c = make_client(gc_gateway)
    yield c
    c.close()


# ---------------------------------------------------------------- chat


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat_non_stream(gclient: openai.OpenAI, provider: str) -> None:
    r = gclient.chat.completions.create(model=MODELS[provider], messages=MESSAGES)
    assert r.object == "chat.completion"
    assert r.model in model_names(provider)
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == HELLO
    assert not choice.message.tool_calls
    assert choice.finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (12, 5, 17)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat_stream_with_usage(gclient: openai.OpenAI, provider: str) -> None:
    stream = gclient.chat.completions.create(
        model=MODELS[provider], messages=MESSAGES, stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks, "empty stream"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.model in model_names(provider) for c in chunks)
    assert len({c.id for c in chunks}) == 1, "one id for the whole stream"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == stream_text(5)
    assert finish_reasons(chunks) == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (12, 5, 17)
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat_stream_without_usage(gclient: openai.OpenAI, provider: str) -> None:
    with gclient.chat.completions.create(
        model=MODELS[provider], messages=MESSAGES, stream=True
    ) as stream:
        chunks = list(stream)
    assert all(c.choices for c in chunks), "no usage chunk unless include_usage"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == stream_text(5)
    assert finish_reasons(chunks) == ["stop"]


# ---------------------------------------------------------------- tools


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tools_required_non_stream(gclient: openai.OpenAI, provider: str) -> None:
    r = gclient.chat.completions.create(
        model=MODELS[provider], messages=MESSAGES, tools=TOOLS, tool_choice="required"
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].id
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == TOOL_ARGS


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tools_required_stream(gclient: openai.OpenAI, provider: str) -> None:
    stream = gclient.chat.completions.create(
        model=MODELS[provider], messages=MESSAGES, tools=TOOLS, tool_choice="required",
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    calls = collect_tool_calls(chunks)
    assert list(calls) == [0], calls
    assert calls[0]["id"]
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == TOOL_ARGS
    assert finish_reasons(chunks) == ["tool_calls"]
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 12


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tools_auto_answers_with_text(gclient: openai.OpenAI, provider: str) -> None:
    r = gclient.chat.completions.create(model=MODELS[provider], messages=MESSAGES, tools=TOOLS)
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == HELLO
    assert not r.choices[0].message.tool_calls


def test_gemini_tools_named_choice(gclient: openai.OpenAI) -> None:
    r = gclient.chat.completions.create(
        model=GEMINI_MODEL, messages=MESSAGES, tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert r.choices[0].finish_reason == "tool_calls"
    calls = r.choices[0].message.tool_calls
    assert calls is not None and [c.function.name for c in calls] == ["get_time"]
    assert json.loads(calls[0].function.arguments) == TOOL_ARGS


def test_cohere_tools_named_choice_is_bad_request(gclient: openai.OpenAI) -> None:
    # Cohere cannot force one named tool; the gateway refuses rather than guesses.
    with pytest.raises(openai.BadRequestError):
        gclient.chat.completions.create(
            model=COHERE_MODEL, messages=MESSAGES, tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        )


def test_cohere_tool_plan_is_reasoning_content(gclient: openai.OpenAI) -> None:
    r = gclient.chat.completions.create(
        model=COHERE_MODEL, messages=MESSAGES, tools=TOOLS, tool_choice="required"
    )
    msg = r.choices[0].message
    assert (msg.model_extra or {}).get("reasoning_content") == "I will call the tool."


def test_tool_result_round_trip(gclient: openai.OpenAI) -> None:
    # A second turn carrying the tool call and its result goes upstream and is answered.
    first = gclient.chat.completions.create(
        model=GEMINI_MODEL, messages=MESSAGES, tools=TOOLS, tool_choice="required"
    )
    call = first.choices[0].message.tool_calls[0]
    for model in MODELS.values():
        messages = MESSAGES + [
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
        ]
        r = gclient.chat.completions.create(model=model, messages=messages, tools=TOOLS)
        assert r.choices[0].message.content == HELLO, model


# ---------------------------------------------------------------- embeddings


@pytest.mark.parametrize("provider", PROVIDERS)
def test_embeddings_float(gclient: openai.OpenAI, provider: str) -> None:
    r = gclient.embeddings.create(
        model=MODELS[provider], input=["hello", "world"], encoding_format="float"
    )
    assert r.object == "list"
    assert [d.index for d in r.data] == [0, 1]
    for d in r.data:
        assert d.object == "embedding"
        assert len(d.embedding) == EMBED_DIM
        assert all(-1.0 <= x <= 1.0 for x in d.embedding)
    assert r.data[0].embedding != r.data[1].embedding


@pytest.mark.parametrize("provider", PROVIDERS)
def test_embeddings_base64_default(gclient: openai.OpenAI, provider: str) -> None:
    # The SDK asks for base64 by default and decodes it to floats; the values must
    # match the float answer (to f32 precision).
    floats = gclient.embeddings.create(
        model=MODELS[provider], input="hello", encoding_format="float"
    ).data[0].embedding
    r = gclient.embeddings.create(model=MODELS[provider], input="hello")
    got = r.data[0].embedding
    assert len(got) == EMBED_DIM
    assert got == pytest.approx(floats, abs=1e-6)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_embeddings_base64_raw(gclient: openai.OpenAI, provider: str) -> None:
    raw = gclient.embeddings.with_raw_response.create(
        model=MODELS[provider], input="hello", encoding_format="base64"
    )
    body = json.loads(raw.http_response.text)
    b64 = body["data"][0]["embedding"]
    assert isinstance(b64, str)
    data = base64.b64decode(b64)
    assert len(data) == 4 * EMBED_DIM
    assert all(-1.0 <= x <= 1.0 for x in struct.unpack(f"<{EMBED_DIM}f", data))


def test_embeddings_agree_across_providers(gclient: openai.OpenAI) -> None:
    # mock-provider derives the vector from the text alone, on both routes.
    vecs = [
        gclient.embeddings.create(model=m, input="same text", encoding_format="float").data[0].embedding
        for m in MODELS.values()
    ]
    assert vecs[0] == pytest.approx(vecs[1], abs=1e-6)


# ---------------------------------------------------------------- errors


def test_gemini_429_is_rate_limit_error_with_retry_after(gclient: openai.OpenAI) -> None:
    # Gemini says when to retry in google.rpc.RetryInfo ("2s"); the gateway must turn
    # that into a Retry-After header.
    with pytest.raises(openai.RateLimitError) as ei:
        gclient.chat.completions.create(model="gemini-429/gemini-test", messages=MESSAGES)
    assert ei.value.status_code == 429
    assert ei.value.response.headers.get("retry-after") == "2"


def test_gemini_429_with_raw_response(gclient: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as ei:
        gclient.chat.completions.with_raw_response.create(
            model="gemini-429/gemini-test", messages=MESSAGES
        )
    assert ei.value.response.headers.get("retry-after") == "2"


def test_cohere_429_is_rate_limit_error(gclient: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as ei:
        gclient.chat.completions.create(model="cohere-429/command-test", messages=MESSAGES)
    assert ei.value.status_code == 429
    assert ei.value.response.headers.get("retry-after") == "1"
    assert "mock error 429" in ei.value.message


@pytest.mark.parametrize("provider", ["gemini-429", "cohere-429"])
def test_429_on_stream_is_rate_limit_error(gclient: openai.OpenAI, provider: str) -> None:
    with pytest.raises(openai.RateLimitError):
        gclient.chat.completions.create(model=f"{provider}/m", messages=MESSAGES, stream=True)


@pytest.mark.parametrize("provider", ["gemini-429", "cohere-429"])
def test_429_on_embeddings_is_rate_limit_error(gclient: openai.OpenAI, provider: str) -> None:
    with pytest.raises(openai.RateLimitError):
        gclient.embeddings.create(model=f"{provider}/m", input="hello")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_legacy_completions_is_bad_request(gclient: openai.OpenAI, provider: str) -> None:
    with pytest.raises(openai.BadRequestError):
        gclient.completions.create(model=MODELS[provider], prompt="hello")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_n_greater_than_one_or_audio_refused(gclient: openai.OpenAI, provider: str) -> None:
    # Gemini refuses n > 1; both refuse audio parts.
    with pytest.raises(openai.BadRequestError):
        gclient.chat.completions.create(
            model=MODELS[provider],
            messages=[{"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            ]}],
        )
