"""Conformance: the official `openai` Python SDK against providers authenticated with
OAuth access tokens the gateway fetches and renews itself.

* `vertex` (kind `vertex`): a Google service-account key file whose `token_uri` is
  mock-provider's `/token`. The gateway signs an RS256 JWT with the key (made here with
  openssl), trades it for an access token and calls the Vertex AI routes
  (`/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:…`),
  which the mock only answers with a token it issued. Chat, streams and tools use
  Gemini's wire format; embeddings use Vertex's `:predict`.
* `azure` (kind `azure`): Microsoft Entra ID client credentials; mock-provider plays the
  authority (`/{tenant}/oauth2/v2.0/token`) and the Azure OpenAI deployment routes,
  which refuse anything but an `api-key` or a bearer token it issued.

Every test runs once per I/O driver (the `cloud_gateway` fixture is parametrized).
"""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import time
from pathlib import Path
from typing import Iterator

import openai
import pytest

from conftest import Proc, binary, make_client, spawn, start_gateway, stream_text

HELLO = "Hello from mock-provider."
VERTEX_MODEL = "vertex/gemini-test"
VERTEX_EMBED = "vertex/text-embedding-test"
AZURE_MODEL = "azure/gpt-test"
MESSAGES = [{"role": "user", "content": "Say hello."}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
EMBED_DIM = 8
# mock-provider's default stream length (`--chunks`).
DEFAULT_CHUNKS = 5


@pytest.fixture(scope="module")
def cloud_mock(tmp_dir: Path) -> Iterator[Proc]:
    proc = spawn(
        "mock-cloud",
        [binary("mock-provider"), "--listen", "127.0.0.1:0"],
        "LISTENING",
        {},
        tmp_dir,
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def service_account(tmp_dir: Path, cloud_mock: Proc) -> Path:
    key = tmp_dir / "vertex-key.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)],
        check=True,
        capture_output=True,
    )
    path = tmp_dir / "vertex-sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "sdk-project",
                "private_key_id": "key-1",
                "private_key": key.read_text(),
                "client_email": "gateway@sdk-project.iam.gserviceaccount.com",
                "token_uri": f"{cloud_mock.url}/token",
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def cloud_gateway(driver: str, cloud_mock: Proc, service_account: Path, tmp_dir: Path) -> Iterator[Proc]:
    cfg = tmp_dir / f"cloud-gateway-{driver}.toml"
    cfg.write_text(
        f"""\
env_providers = false

[limits]
shutdown_timeout_ms = 2000

[providers.vertex]
base_url = "{cloud_mock.url}/v1"
credentials_file = "{service_account}"
location = "europe-west4"

[providers.azure]
base_url = "{cloud_mock.url}"
tenant_id = "tenant-sdk"
client_id = "client-sdk"
client_secret = "secret-sdk"
authority_host = "{cloud_mock.url}"
"""
    )
    proc = start_gateway(f"ringbridge-cloud-{driver}", driver, cfg, tmp_dir, {})
    # Tokens are fetched by the control thread right after start.
    c = make_client(proc)
    deadline = time.monotonic() + 15
    try:
        for model in (VERTEX_MODEL, AZURE_MODEL):
            while True:
                try:
                    c.chat.completions.create(model=model, messages=MESSAGES)
                    break
                except openai.APIStatusError as e:
                    if e.status_code != 503 or time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
    finally:
        c.close()
    yield proc
    proc.stop()


@pytest.fixture
def cclient(cloud_gateway: Proc) -> Iterator[openai.OpenAI]:
    c = make_client(cloud_gateway)
    yield c
    c.close()


def test_vertex_chat_with_a_service_account_token(cclient: openai.OpenAI) -> None:
    r = cclient.chat.completions.create(model=VERTEX_MODEL, messages=MESSAGES)
    assert r.choices[0].message.content == HELLO
    assert r.choices[0].finish_reason == "stop"
    assert r.model in (VERTEX_MODEL, "gemini-test")
    assert r.usage is not None and r.usage.prompt_tokens > 0


def test_vertex_stream_with_usage(cclient: openai.OpenAI) -> None:
    chunks = list(
        cclient.chat.completions.create(
            model=VERTEX_MODEL,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == stream_text(DEFAULT_CHUNKS)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_vertex_forced_tool_call(cclient: openai.OpenAI) -> None:
    r = cclient.chat.completions.create(
        model=VERTEX_MODEL,
        messages=MESSAGES,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    calls = r.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather"
    json.loads(calls[0].function.arguments)
    assert r.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_vertex_embeddings_report_token_counts(cclient: openai.OpenAI, encoding: str) -> None:
    r = cclient.embeddings.create(model=VERTEX_EMBED, input=["alpha", "beta gamma"], encoding_format=encoding)
    assert [d.index for d in r.data] == [0, 1]
    for d in r.data:
        vec = d.embedding
        if isinstance(vec, str):
            raw = base64.b64decode(vec)
            vec = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        assert len(vec) == EMBED_DIM
    assert r.data[0].embedding != r.data[1].embedding
    # The mock counts words per instance; Vertex's token counts become usage.
    assert r.usage.prompt_tokens == 3


def test_azure_entra_client_credentials(cclient: openai.OpenAI) -> None:
    # The mock's deployment routes refuse anything but an api-key or a token it issued.
    r = cclient.chat.completions.create(model=AZURE_MODEL, messages=MESSAGES)
    assert r.choices[0].message.content
    chunks = list(cclient.chat.completions.create(model=AZURE_MODEL, messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == stream_text(DEFAULT_CHUNKS)


def test_vertex_refuses_a_request_without_the_issued_token(cloud_mock: Proc) -> None:
    # The check the two tests above rely on: the mock really demands the token.
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        f"{cloud_mock.url}/v1/projects/p/locations/l/publishers/google/models/m:generateContent",
        data=b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}',
        headers={"authorization": "Bearer mock-google-999999", "content-type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 401


def test_tokens_are_fetched_once_and_reused(cloud_gateway: Proc, cloud_mock: Proc, cclient: openai.OpenAI) -> None:
    import urllib.request

    before = json.load(urllib.request.urlopen(f"{cloud_mock.url}/__stats"))
    for _ in range(5):
        cclient.chat.completions.create(model=VERTEX_MODEL, messages=MESSAGES)
        cclient.chat.completions.create(model=AZURE_MODEL, messages=MESSAGES)
    after = json.load(urllib.request.urlopen(f"{cloud_mock.url}/__stats"))
    assert before["tokens_issued"] >= 2
    assert after["tokens_issued"] == before["tokens_issued"], (before, after)
