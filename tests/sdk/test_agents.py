"""Real clients in Node.js: Claude Code (the coding agent, in print mode) and the
official `@anthropic-ai/sdk` and Vercel AI SDK (`ai` + `@ai-sdk/openai`, whose
default model speaks the Responses API), all with only their base URL and key
pointed at the gateway.

Claude Code is routed to `agent/agent-model`: an OpenAI-shaped upstream
(scripted_upstream.py) that plays a model using the `Read` tool, so the whole
turn crosses the gateway's hub twice each way (Anthropic Messages -> chat ->
Anthropic events), tool call and tool result included.

The Node packages are installed by scripts/sdk-tests.sh into tests/agents when
Node.js and npm are present; without them these tests are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

import scripted_upstream
from conftest import REPO, Proc, start_gateway, spawn_mocks

AGENTS = REPO / "tests" / "agents"
GATEWAY_KEY = "rb-agent-key"


def node_tool(name: str) -> Path:
    node = shutil.which("node")
    tool = AGENTS / "node_modules" / ".bin" / name
    if not node or not tool.exists():
        pytest.skip(f"Node.js or {name} is not installed (scripts/sdk-tests.sh installs "
                    "tests/agents with npm when Node.js is present)")
    return tool


@pytest.fixture(scope="session")
def scripted() -> Iterator[str]:
    server = scripted_upstream.serve()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def agent_mocks(tmp_dir: Path) -> Iterator[dict[str, Proc]]:
    yield from spawn_mocks({"anthropic": []}, tmp_dir)


@pytest.fixture(scope="session")
def agent_gateway(driver: str, scripted: str, agent_mocks: dict[str, Proc],
                  tmp_dir: Path) -> Iterator[Proc]:
    cfg = tmp_dir / f"agent-gateway-{driver}.toml"
    cfg.write_text(
        "env_providers = false\n[limits]\nshutdown_timeout_ms = 2000\n"
        f'[providers.agent]\nkind = "openai-compatible"\nbase_url = "{scripted}/v1"\n'
        f'[providers.anthropic]\nbase_url = "{agent_mocks["anthropic"].url}"\n'
        'keys = ["sk-ant-test"]\n'
    )
    proc = start_gateway(f"ringbridge-agents-{driver}", driver, cfg, tmp_dir,
                         {"RINGBRIDGE_API_KEYS": GATEWAY_KEY})
    yield proc
    proc.stop()


def quiet_env(home: Path) -> dict[str, str]:
    """An environment with no route out but the gateway."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "OPENAI_", "CLAUDE_"))}
    env.update({
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    return env


def test_claude_code_finishes_a_turn_that_uses_a_tool(agent_gateway: Proc, tmp_path: Path) -> None:
    claude = node_tool("claude")
    work = tmp_path / "work"
    work.mkdir()
    notes = work / "notes.txt"
    notes.write_text("the secret word is ringbridge-7741\n")
    home = tmp_path / "home"
    home.mkdir()
    env = quiet_env(home)
    env.update({
        "ANTHROPIC_BASE_URL": agent_gateway.url,
        "ANTHROPIC_API_KEY": GATEWAY_KEY,
        # Claude Code's side requests (titles, topics) go to the same route.
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "agent/agent-model",
        "ANTHROPIC_SMALL_FAST_MODEL": "agent/agent-model",
    })
    scripted_upstream.seen.clear()
    done = subprocess.run(
        [str(claude), "-p", f"READ {notes}", "--output-format", "json",
         "--model", "agent/agent-model", "--allowedTools", "Read"],
        cwd=work, env=env, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, f"stdout: {done.stdout}\nstderr: {done.stderr}"
    result = json.loads(done.stdout)
    assert result["is_error"] is False, result
    assert "ringbridge-7741" in result["result"], result
    # The tool's output reached the model as a chat tool message.
    tool_turns = [m for r in scripted_upstream.seen for m in r.get("messages", [])
                  if m.get("role") == "tool"]
    assert any("ringbridge-7741" in json.dumps(m) for m in tool_turns), tool_turns


NODE_JUDGE = """
import Anthropic from '@anthropic-ai/sdk';
import { generateText, streamText, tool, jsonSchema } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';

const [base, key] = process.argv.slice(2);
const out = {};
const claude = new Anthropic({ baseURL: base, apiKey: key, maxRetries: 0 });
const weather = { name: 'get_weather', description: 'Weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const made = await claude.messages.create({ model: 'mock/echo', max_tokens: 64,
  messages: [{ role: 'user', content: 'hello from node' }] });
out.anthropicText = made.content[0].text;
const stream = claude.messages.stream({ model: 'anthropic/claude-test', max_tokens: 64,
  tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' },
  messages: [{ role: 'user', content: 'Weather in Paris?' }] });
const final = await stream.finalMessage();
out.anthropicTool = final.content.find((b) => b.type === 'tool_use');
out.anthropicStop = final.stop_reason;

const openai = createOpenAI({ baseURL: base + '/v1', apiKey: key });
const text = await generateText({ model: openai('mock/echo'), prompt: 'hello from the ai sdk' });
out.aiText = text.text;
const streamed = streamText({ model: openai('mock/echo'), prompt: 'stream from the ai sdk' });
let parts = '';
for await (const piece of streamed.textStream) parts += piece;
out.aiStream = parts;
const called = await generateText({ model: openai('mock/echo'), prompt: 'Weather in Paris?',
  tools: { get_weather: tool({ description: 'Weather in a city',
    inputSchema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } } }) }) },
  toolChoice: { type: 'tool', toolName: 'get_weather' } });
out.aiToolCalls = called.toolCalls.map((c) => c.toolName);
console.log(JSON.stringify(out));
"""


def test_node_sdks(agent_gateway: Proc, tmp_path: Path) -> None:
    node_tool("claude")  # the packages are installed together
    script = AGENTS / f"judge-{os.getpid()}.mjs"
    script.write_text(NODE_JUDGE)
    try:
        done = subprocess.run(["node", str(script), agent_gateway.url, GATEWAY_KEY],
                              env=quiet_env(tmp_path), capture_output=True, text=True,
                              timeout=120)
    finally:
        script.unlink()
    assert done.returncode == 0, f"stdout: {done.stdout}\nstderr: {done.stderr}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["anthropicText"]
    assert out["anthropicTool"]["name"] == "get_weather" and out["anthropicStop"] == "tool_use"
    assert out["aiText"] and out["aiStream"]
    assert out["aiToolCalls"] == ["get_weather"]
