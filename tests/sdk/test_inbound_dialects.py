"""Inbound dialects judged by the official clients: the `anthropic` SDK (Messages,
count_tokens, error classes) and the `openai` SDK's Responses API, against every
family of mock upstream.

Targets, one gateway per I/O driver (`dialect_gateway`):
* `anthropic/...`: mock-provider's Messages route, reached as bytes (pass-through);
* `openai/...`: mock-provider's OpenAI chat route, through the chat hub;
* `gemini/...`, `cohere/...`, `bedrock/...`: mock-provider's routes for them,
  through the hub and the gateway's translators;
* `native/...`: mock-provider's Responses route as OpenAI itself (kind `openai`),
  reached as bytes by Responses requests;
* `mock/echo`: the built-in mock, through the hub;
* `*-429`: the same upstreams answering 429.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import anthropic
import openai
import pytest

from conftest import (
    AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY, COHERE_KEY, GEMINI_KEY, GC_MOCKS,
    Proc, start_gateway, spawn_mocks, UPSTREAM_KEY,
)

GATEWAY_KEY = "rb-dialect-key"

# Models through the hub whose mocks answer text, and the ones whose mocks also
# follow a forced tool choice (mock-provider's OpenAI chat route does not).
HUB_MODELS = ["mock/echo", "openai/gpt-4o-mini", "gemini/gemini-2.0-flash",
              "cohere/command-r", "bedrock/anthropic.claude-3-haiku"]
ALL_MODELS = HUB_MODELS + ["anthropic/claude-test"]
TOOL_MODELS = ["mock/echo", "anthropic/claude-test", "gemini/gemini-2.0-flash",
               "cohere/command-r", "bedrock/anthropic.claude-3-haiku"]
LIMITED = ["anthropic-429/claude-test", "openai-429/gpt-4o-mini", "gemini-429/gemini-2.0-flash"]

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]},
}


@pytest.fixture(scope="session")
def dialect_mocks(tmp_dir: Path) -> Iterator[dict[str, Proc]]:
    flags = {
        "anthropic": [], "anthropic-429": ["--fail-mix", "429:1"],
        "openai": [], "openai-429": ["--fail-mix", "429:1"],
        "gemini": [], "gemini-429": ["--fail-mix", "429:1"],
        "cohere": [], "bedrock": [], "native": [],
    }
    yield from spawn_mocks(flags, tmp_dir)


def write_dialect_config(tmp: Path, name: str, mocks: dict[str, Proc]) -> Path:
    parts = ["env_providers = false\n\n[limits]\nshutdown_timeout_ms = 2000\n"
             "[retries]\nattempts = 1\n"]
    for provider, proc in mocks.items():
        kind = provider.split("-")[0]
        if kind == "gemini":
            auth = f'base_url = "{proc.url}/v1beta"\nkeys = ["{GEMINI_KEY}"]\n'
        elif kind == "cohere":
            auth = f'base_url = "{proc.url}"\nkeys = ["{COHERE_KEY}"]\n'
        elif kind == "bedrock":
            auth = (f'base_url = "{proc.url}"\nregion = "{AWS_REGION}"\n'
                    f'aws_access_key_id = "{AWS_ACCESS_KEY_ID}"\n'
                    f'aws_secret_access_key = "{AWS_SECRET_ACCESS_KEY}"\n')
        elif kind == "openai":
            kind = "openai-compatible"
            auth = f'base_url = "{proc.url}/v1"\nkeys = ["{UPSTREAM_KEY}"]\n'
        elif kind == "native":
            # OpenAI itself: Responses requests reach it as bytes.
            kind = "openai"
            auth = f'base_url = "{proc.url}/v1"\nkeys = ["{UPSTREAM_KEY}"]\n'
        else:
            auth = f'base_url = "{proc.url}"\nkeys = ["sk-ant-test"]\n'
        parts.append(f'[providers.{provider}]\nkind = "{kind}"\n{auth}')
    path = tmp / name
    path.write_text("\n".join(parts))
    return path


@pytest.fixture(scope="session")
def dialect_gateway(driver: str, dialect_mocks: dict[str, Proc], tmp_dir: Path) -> Iterator[Proc]:
    cfg = write_dialect_config(tmp_dir, f"dialect-gateway-{driver}.toml", dialect_mocks)
    proc = start_gateway(f"ringbridge-dialects-{driver}", driver, cfg, tmp_dir,
                         {"RINGBRIDGE_API_KEYS": GATEWAY_KEY})
    yield proc
    proc.stop()


@pytest.fixture
def claude(dialect_gateway: Proc) -> Iterator[anthropic.Anthropic]:
    c = anthropic.Anthropic(base_url=dialect_gateway.url, api_key=GATEWAY_KEY,
                            max_retries=0, timeout=10.0)
    yield c
    c.close()


@pytest.fixture
def oai(dialect_gateway: Proc) -> Iterator[openai.OpenAI]:
    c = openai.OpenAI(base_url=f"{dialect_gateway.url}/v1", api_key=GATEWAY_KEY,
                      max_retries=0, timeout=10.0)
    yield c
    c.close()


# ---------------------------------------------------------------- Anthropic Messages


@pytest.mark.parametrize("model", ALL_MODELS)
def test_messages_create(claude: anthropic.Anthropic, model: str) -> None:
    m = claude.messages.create(
        model=model, max_tokens=64, system="You are terse.",
        messages=[{"role": "user", "content": "Say hello."}],
    )
    assert m.type == "message" and m.role == "assistant"
    assert m.id.startswith("msg_")
    assert m.content and m.content[0].type == "text" and m.content[0].text
    assert m.stop_reason == "end_turn"
    assert m.usage.output_tokens > 0


@pytest.mark.parametrize("model", ALL_MODELS)
def test_messages_stream(claude: anthropic.Anthropic, model: str) -> None:
    with claude.messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "Say hello."}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_stream_final_message_equals_the_whole_answer(claude: anthropic.Anthropic) -> None:
    # The built-in mock answers the same text whole and streamed.
    kw = dict(model="mock/echo", max_tokens=64,
              messages=[{"role": "user", "content": "the same words either way"}])
    whole = claude.messages.create(**kw)
    with claude.messages.stream(**kw) as stream:
        final = stream.get_final_message()
    assert [b.model_dump() for b in final.content] == [b.model_dump() for b in whole.content]
    assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == (
        whole.stop_reason, whole.usage.input_tokens, whole.usage.output_tokens)


@pytest.mark.parametrize("model", TOOL_MODELS)
def test_messages_tools_create_and_stream(claude: anthropic.Anthropic, model: str) -> None:
    # Cohere cannot force a named tool; with one tool, "any" forces it.
    choice = {"type": "any"} if model.startswith("cohere/") else {"type": "tool", "name": "get_weather"}
    kw = dict(model=model, max_tokens=64, tools=[WEATHER], tool_choice=choice,
              messages=[{"role": "user", "content": "Weather in Paris?"}])
    m = claude.messages.create(**kw)
    assert m.stop_reason == "tool_use"
    uses = [b for b in m.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather"
    assert isinstance(uses[0].input, dict)
    with claude.messages.stream(**kw) as stream:
        final = stream.get_final_message()
    streamed = [b for b in final.content if b.type == "tool_use"]
    assert len(streamed) == 1 and streamed[0].name == "get_weather"
    assert streamed[0].input == uses[0].input
    # The result turn: tool_result back, a text answer out.
    follow = claude.messages.create(
        model=model, max_tokens=64, tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump() for b in m.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id,
                                          "content": "18C and sunny"}]},
        ],
    )
    assert follow.stop_reason == "end_turn"
    assert any(b.type == "text" for b in follow.content)


def test_count_tokens(claude: anthropic.Anthropic) -> None:
    messages = [{"role": "user", "content": "How many tokens are in this sentence, roughly?"}]
    counted = claude.messages.count_tokens(model="anthropic/claude-test", messages=messages)
    assert counted.input_tokens > 0  # mock-provider's count, through as bytes
    estimated = claude.messages.with_raw_response.count_tokens(
        model="openai/gpt-4o-mini", messages=messages)
    assert estimated.headers["x-ringbridge-token-count"] == "estimate"
    assert 5 <= estimated.parse().input_tokens < 100


@pytest.mark.parametrize("model", LIMITED)
def test_upstream_429_is_a_rate_limit_error(claude: anthropic.Anthropic, model: str) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        claude.messages.create(model=model, max_tokens=16,
                               messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 429
    assert caught.value.body["type"] == "error"


def test_bad_requests_get_anthropic_errors(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model="openai/gpt-4o-mini", max_tokens=16, messages=[],)
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="nowhere/x", max_tokens=16,
                               messages=[{"role": "user", "content": "hi"}])
    bad_key = anthropic.Anthropic(base_url=claude.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad_key.messages.create(model="mock/echo", max_tokens=16,
                                messages=[{"role": "user", "content": "hi"}])


# ---------------------------------------------------------------- OpenAI Responses

FUNCTION = {"type": "function", "name": "get_weather", "description": "Current weather.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}


@pytest.mark.parametrize("model", HUB_MODELS)
def test_responses_create_and_stream(oai: openai.OpenAI, model: str) -> None:
    r = oai.responses.create(model=model, input="Say hello.", instructions="Be terse.",
                             store=False)
    assert r.object == "response" and r.status == "completed"
    assert r.output_text
    assert r.usage.output_tokens > 0
    with oai.responses.stream(model=model, input="Say hello.") as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas and final.output_text == deltas
    assert final.status == "completed"


@pytest.mark.parametrize("model", ["mock/echo", "gemini/gemini-2.0-flash", "cohere/command-r"])
def test_responses_function_calls_and_outputs(oai: openai.OpenAI, model: str) -> None:
    # Cohere cannot force a named function; with one tool, "required" forces it.
    choice = "required" if model.startswith("cohere/") else {"type": "function",
                                                              "name": "get_weather"}
    r = oai.responses.create(model=model, input="Weather in Paris?", tools=[FUNCTION],
                             tool_choice=choice)
    calls = [o for o in r.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    json.loads(calls[0].arguments)
    with oai.responses.stream(model=model, input="Weather in Paris?", tools=[FUNCTION],
                              tool_choice=choice) as s:
        final = s.get_final_response()
    streamed = [o for o in final.output if o.type == "function_call"]
    assert len(streamed) == 1 and streamed[0].arguments == calls[0].arguments
    follow = oai.responses.create(
        model=model, tools=[FUNCTION],
        input=[{"role": "user", "content": "Weather in Paris?"},
               {"type": "function_call", "call_id": calls[0].call_id, "name": "get_weather",
                "arguments": calls[0].arguments},
               {"type": "function_call_output", "call_id": calls[0].call_id,
                "output": "18C and sunny"}],
    )
    assert follow.status == "completed" and follow.output_text


def test_responses_native_pass_through(oai: openai.OpenAI) -> None:
    # mock-provider's Responses route, reached as bytes: its own answer comes back.
    r = oai.responses.create(model="native/gpt-5", input="hi", previous_response_id="resp_1")
    assert r.id == "resp_mock" and r.output_text == "Hello from mock-provider."
    assert r.previous_response_id == "resp_1"
    with oai.responses.stream(model="native/gpt-5", input="hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Hello from mock-provider."
    assert final.usage.output_tokens == 5


def test_responses_errors(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.responses.create(model="openai/gpt-4o-mini", input="hi",
                             previous_response_id="resp_123")
    assert "previous_response_id" in caught.value.message
    with pytest.raises(openai.RateLimitError):
        oai.responses.create(model="openai-429/gpt-4o-mini", input="hi")


# ---------------------------------------------------------------- Gemini (google-genai)

from google import genai  # noqa: E402
from google.genai import errors as genai_errors, types as genai_types  # noqa: E402

GENAI_MODELS = ["mock/echo", "openai/gpt-4o-mini", "anthropic/claude-test", "cohere/command-r",
                "gemini/gemini-2.0-flash"]


@pytest.fixture(params=["", "/genai"])
def gemini_client(request: pytest.FixtureRequest, dialect_gateway: Proc) -> Iterator[genai.Client]:
    # Both base URLs the gateway serves: its root, and under /genai.
    yield genai.Client(api_key=GATEWAY_KEY, http_options=genai_types.HttpOptions(
        base_url=dialect_gateway.url + request.param, timeout=10_000))


@pytest.mark.parametrize("model", GENAI_MODELS)
def test_generate_content_and_stream(gemini_client: genai.Client, model: str) -> None:
    r = gemini_client.models.generate_content(
        model=model, contents="Say hello.",
        config=genai_types.GenerateContentConfig(system_instruction="Be terse.",
                                                 max_output_tokens=64))
    assert r.text
    assert r.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert r.usage_metadata.candidates_token_count > 0
    pieces = list(gemini_client.models.generate_content_stream(model=model, contents="Say hello."))
    assert "".join(p.text or "" for p in pieces)
    assert pieces[-1].candidates[0].finish_reason == genai_types.FinishReason.STOP


@pytest.mark.parametrize("model", ["mock/echo", "anthropic/claude-test", "gemini/gemini-2.0-flash"])
def test_generate_content_function_calls(gemini_client: genai.Client, model: str) -> None:
    weather = genai_types.FunctionDeclaration(
        name="get_weather", description="Current weather.",
        parameters=genai_types.Schema(type="OBJECT", properties={
            "city": genai_types.Schema(type="STRING")}))
    config = genai_types.GenerateContentConfig(
        tools=[genai_types.Tool(function_declarations=[weather])],
        tool_config=genai_types.ToolConfig(function_calling_config=genai_types.FunctionCallingConfig(
            mode="ANY", allowed_function_names=["get_weather"])),
        automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True))
    r = gemini_client.models.generate_content(model=model, contents="Weather in Paris?",
                                              config=config)
    calls = r.function_calls
    assert calls and calls[0].name == "get_weather"


def test_gemini_errors(gemini_client: genai.Client) -> None:
    with pytest.raises(genai_errors.ClientError) as caught:
        gemini_client.models.generate_content(model="gemini-429/gemini-2.0-flash", contents="hi")
    assert caught.value.code == 429
    with pytest.raises(genai_errors.ClientError) as caught:
        gemini_client.models.generate_content(model="nowhere/x", contents="hi")
    assert caught.value.code == 404
