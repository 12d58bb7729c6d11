"""Conformance: the official `openai` Python SDK against the gateway's Anthropic path.

The gateway translates OpenAI chat requests into Anthropic Messages API requests for
providers of kind `anthropic`; here they point at mock-provider's `POST /v1/messages`
route (see loadtest/README.md). It answers "Hello from mock-provider." (usage 12/5), a
stream of "tok0 ", "tok1 ", ... text deltas, and a `tool_use` block with input
`{"arg":"value"}` when `tool_choice` forces a tool.

The gateway forwards no `x-mock-*` headers to Anthropic upstreams, so failure modes
come from extra providers (`anthropic-429`, `anthropic-529`, `anthropic-cut`), each on
a mock-provider started with flags that force the behaviour (conftest.ANTHROPIC_MOCKS).
Every test runs once per I/O driver (the `anthropic_gateway` fixture is parametrized).
"""

from __future__ import annotations

import json
import time
from typing import Iterator

import openai
import pytest

from conftest import Proc, collect_tool_calls, finish_reasons, make_client, stream_text

HELLO = "Hello from mock-provider."
UPSTREAM_MODEL = "claude-test"
MODEL = f"anthropic/{UPSTREAM_MODEL}"
MODEL_NAMES = {UPSTREAM_MODEL, MODEL}
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


@pytest.fixture
def aclient(anthropic_gateway: Proc) -> Iterator[openai.OpenAI]:
    c = make_client(anthropic_gateway)
    yield c
    c.close()


# ---------------------------------------------------------------- chat


def test_chat_non_stream(aclient: openai.OpenAI) -> None:
    r = aclient.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert r.object == "chat.completion"
    assert r.model in MODEL_NAMES
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == HELLO
    assert not choice.message.tool_calls
    assert choice.finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (12, 5, 17)


def test_chat_stream_with_usage(aclient: openai.OpenAI) -> None:
    stream = aclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks, "empty stream"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.model in MODEL_NAMES for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == stream_text(5)
    assert finish_reasons(chunks) == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (12, 5, 17)
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_without_usage(aclient: openai.OpenAI) -> None:
    with aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
        chunks = list(stream)
    assert all(c.choices for c in chunks), "no usage chunk unless include_usage"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == stream_text(5)
    assert finish_reasons(chunks) == ["stop"]


def test_mock_headers_do_not_reach_anthropic_upstream(aclient: openai.OpenAI) -> None:
    # Only `anthropic-beta` is forwarded: an x-mock-status header has no effect.
    r = aclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, extra_headers={"x-mock-status": "429"}
    )
    assert r.choices[0].message.content == HELLO


# ---------------------------------------------------------------- tools


def test_tools_required_non_stream(aclient: openai.OpenAI) -> None:
    r = aclient.chat.completions.create(
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


def test_tools_named_choice_non_stream(aclient: openai.OpenAI) -> None:
    r = aclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert r.choices[0].finish_reason == "tool_calls"
    calls = r.choices[0].message.tool_calls
    assert calls is not None and [c.function.name for c in calls] == ["get_time"]


def test_tools_auto_answers_with_text(aclient: openai.OpenAI) -> None:
    r = aclient.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == HELLO
    assert not r.choices[0].message.tool_calls


def test_tools_required_stream(aclient: openai.OpenAI) -> None:
    stream = aclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, tools=TOOLS, tool_choice="required",
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


# ---------------------------------------------------------------- errors


def test_upstream_429_is_rate_limit_error(aclient: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as ei:
        aclient.chat.completions.create(model="anthropic-429/claude-test", messages=MESSAGES)
    assert ei.value.status_code == 429
    assert ei.value.response.headers.get("retry-after") == "1"
    assert ei.value.type == "rate_limit_error"


def test_upstream_429_on_stream_is_rate_limit_error(aclient: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        aclient.chat.completions.create(
            model="anthropic-429/claude-test", messages=MESSAGES, stream=True
        )


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_529_overloaded_is_503(aclient: openai.OpenAI, stream: bool) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        aclient.chat.completions.create(
            model="anthropic-529/claude-test", messages=MESSAGES, stream=stream
        )
    assert ei.value.status_code == 503
    assert ei.value.type == "overloaded_error"


def test_cut_stream_raises_api_error(aclient: openai.OpenAI) -> None:
    # The upstream stops after "tok4 " of 10 tokens, without message_stop: the gateway
    # must end the stream with an error event, which the SDK raises.
    text = ""
    with pytest.raises(openai.APIError) as ei:
        stream = aclient.chat.completions.create(
            model="anthropic-cut/claude-test", messages=MESSAGES, stream=True
        )
        for c in stream:
            if c.choices:
                text += c.choices[0].delta.content or ""
                assert c.choices[0].finish_reason is None, "a cut stream must not finish"
    # An error event from the gateway, not a dropped connection.
    assert not isinstance(ei.value, openai.APIConnectionError), repr(ei.value)
    assert "anthropic-cut" in ei.value.message
    assert text == stream_text(5), "the tokens before the cut are delivered"


def test_cut_non_stream_is_server_error(aclient: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        aclient.chat.completions.create(model="anthropic-cut/claude-test", messages=MESSAGES)
    assert ei.value.status_code == 502


def test_embeddings_on_anthropic_is_bad_request(aclient: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        aclient.embeddings.create(model=MODEL, input="hello")


def test_legacy_completions_on_anthropic_is_bad_request(aclient: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        aclient.completions.create(model=MODEL, prompt="hello")


def test_models_list_includes_anthropic_models(aclient: openai.OpenAI) -> None:
    # The gateway fetches the provider's /v1/models in the background.
    ids: set[str] = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ids = {m.id for m in aclient.models.list()}
        if "anthropic/mock-small" in ids:
            break
        time.sleep(0.2)
    assert {"anthropic/mock-small", "anthropic/mock-large"} <= ids, ids
