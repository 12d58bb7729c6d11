"""Fixtures for the OpenAI-SDK conformance tests.

They start the real binaries on 127.0.0.1 with ephemeral ports:

* ``mock_provider``: one ``mock-provider`` (an OpenAI-shaped upstream) for the session;
* ``gateway``: ``ringbridge`` with a temp config whose providers point at it, once per
  I/O driver (``io_uring``, and ``epoll`` via ``MONOIO_FORCE_LEGACY_DRIVER=1``);
* ``auth_gateway``: the same, with inbound keys set through ``RINGBRIDGE_API_KEYS``.
* ``anthropic_gateway``: ``ringbridge`` whose ``anthropic`` (and ``anthropic-429``,
  ``anthropic-529``, ``anthropic-cut``) providers point at ``anthropic_mocks``, one
  ``mock-provider`` per provider, started with flags that force the failure mode.
* ``cloud_gateway`` (in test_cloud_auth_providers.py): ``vertex`` and ``azure``
  providers authenticated with tokens the gateway fetches from mock-provider.
* ``gc_gateway``: ``ringbridge`` whose ``gemini`` and ``cohere`` (and ``gemini-429``,
  ``cohere-429``) providers point at ``gc_mocks``, the same way.
* ``bedrock_gateway``: ``ringbridge`` whose ``bedrock`` (and ``bedrock-429``,
  ``bedrock-cut``) providers, with fake static AWS credentials, point at
  ``bedrock_mocks``, the same way.

Binaries come from ``$RINGBRIDGE_TARGET_DIR/debug`` (set by scripts/sdk-tests.sh), else
``$CARGO_TARGET_DIR/debug``, else ``<repo>/target/debug``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import openai
import pytest

REPO = Path(__file__).resolve().parents[2]

# Variables that would change which providers the gateway enables, where they point,
# or whether inbound auth is on. Cleared from every child's environment.
PROVIDER_ENV = [
    f"{kind}_{suffix}"
    for kind in (
        "OPENAI", "GROQ", "MISTRAL", "DEEPSEEK", "TOGETHER", "FIREWORKS",
        "OPENROUTER", "XAI", "CEREBRAS", "PERPLEXITY", "ANTHROPIC", "GEMINI", "COHERE",
        "AZURE_OPENAI",
    )
    for suffix in ("API_KEY", "BASE_URL")
] + [
    "AZURE_OPENAI_ENDPOINT", "OLLAMA_BASE_URL", "OLLAMA_HOST", "RINGBRIDGE_API_KEYS", "RINGBRIDGE_CONFIG",
    "RINGBRIDGE_LISTEN", "RINGBRIDGE_WORKERS", "RINGBRIDGE_KEY", "MONOIO_FORCE_LEGACY_DRIVER",
    # Bedrock: region, credentials and endpoint come from the test config only.
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_PROFILE",
    # Vertex AI and Azure Entra ID: credentials come from the test config only.
    "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "VERTEX_BASE_URL",
    "AZURE_OPENAI_AD_TOKEN", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
]

# The SDK itself reads OPENAI_* variables (base URL, org, project...): keep the test
# process deterministic too, and never send loopback traffic through a proxy.
for _k in list(os.environ):
    if _k.startswith("OPENAI_"):
        del os.environ[_k]
for _k in ("NO_PROXY", "no_proxy"):
    os.environ[_k] = ",".join(x for x in (os.environ.get(_k), "127.0.0.1", "localhost") if x)

UPSTREAM_KEY = "sk-test-key"
CLIENT_KEY = "sk-client-not-forwarded"
GATEWAY_KEYS = ("rb-key-one", "rb-key-two")
DRIVERS = ["io_uring", "epoll"]
START_TIMEOUT_S = 30.0


def bin_dir() -> Path:
    target = os.environ.get("RINGBRIDGE_TARGET_DIR") or os.environ.get("CARGO_TARGET_DIR")
    base = Path(target) if target else REPO / "target"
    if not base.is_absolute():
        base = REPO / base
    return base / "debug"


def binary(name: str) -> str:
    path = bin_dir() / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `cargo build --workspace` (or scripts/sdk-tests.sh)")
    return str(path)


@dataclass
class Proc:
    """A child process that announced its address on stdout."""

    name: str
    popen: subprocess.Popen
    stderr_path: Path
    host_port: str = ""
    stdout_lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        p = self.popen
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            except ProcessLookupError:
                pass
        if p.stdout:
            p.stdout.close()


def spawn(name: str, argv: list[str], marker: str, env_extra: dict[str, str], tmp: Path) -> Proc:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV}
    env.setdefault("RINGBRIDGE_LOG", "info")
    env.update(env_extra)
    stderr_path = tmp / f"{name}.stderr"
    with open(stderr_path, "wb") as err:
        popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env,
            text=True, bufsize=1, cwd=tmp,
        )
    proc = Proc(name, popen, stderr_path)
    announced = threading.Event()

    def pump() -> None:
        # Read until the announcement, then keep draining so the child never blocks.
        assert popen.stdout is not None
        for line in popen.stdout:
            proc.stdout_lines.append(line.rstrip("\n"))
            if not announced.is_set() and marker in line:
                rest = line.split(marker, 1)[1].strip()
                proc.host_port = rest.removeprefix("http://").rstrip("/")
                announced.set()
        announced.set()

    threading.Thread(target=pump, name=f"{name}-stdout", daemon=True).start()
    if not announced.wait(START_TIMEOUT_S) or not proc.host_port:
        proc.stop()
        pytest.fail(
            f"{name} did not announce its address (exit={popen.poll()})\n"
            f"stdout: {proc.stdout_lines}\nstderr:\n{proc.stderr()}"
        )
    return proc


@pytest.fixture(scope="session")
def tmp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ringbridge-sdk-") as d:
        yield Path(d)


def spawn_mocks(flags_by_name: dict[str, list[str]], tmp: Path) -> Iterator[dict[str, Proc]]:
    """One mock-provider per entry (provider name -> extra flags), stopped afterwards."""
    procs: dict[str, Proc] = {}
    try:
        for name, flags in flags_by_name.items():
            procs[name] = spawn(
                f"mock-{name}",
                [binary("mock-provider"), "--listen", "127.0.0.1:0", *flags],
                "LISTENING",
                {},
                tmp,
            )
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture(scope="session")
def mock_provider(tmp_dir: Path) -> Iterator[Proc]:
    proc = spawn(
        "mock-provider",
        [binary("mock-provider"), "--listen", "127.0.0.1:0", "--workers", "2"],
        "LISTENING",
        {},
        tmp_dir,
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def closed_port() -> Iterator[int]:
    """A port nobody listens on: bound (so no one else gets it) but not listening,
    so a connect is refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


@pytest.fixture(scope="session", params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    return request.param


def driver_env(driver: str) -> dict[str, str]:
    return {"MONOIO_FORCE_LEGACY_DRIVER": "1"} if driver == "epoll" else {}


def write_config(tmp: Path, name: str, mock_url: str, closed_port: int) -> Path:
    # env_providers = false: only the providers below (plus the built-in `mock`).
    # `openai`: the mock-provider; `down`: nothing listening; `slow`: a short
    # first-byte timeout; `limited-1..3`: the mock again, one for each test that
    # draws a 429 (a 429 rests the key it came from for its Retry-After, so a
    # test that shares the key would find it resting). No default_provider, so
    # a bare model name is a 404.
    text = f"""\
env_providers = false

[limits]
shutdown_timeout_ms = 2000

[providers.openai]
base_url = "{mock_url}/v1"
keys = ["{UPSTREAM_KEY}"]

[providers.down]
kind = "openai"
base_url = "http://127.0.0.1:{closed_port}/v1"
keys = ["{UPSTREAM_KEY}"]
connect_timeout_ms = 2000

[providers.slow]
kind = "openai"
base_url = "{mock_url}/v1"
keys = ["{UPSTREAM_KEY}"]
first_byte_timeout_ms = 300
"""
    for n in (1, 2, 3):
        text += f"""
[providers.limited-{n}]
kind = "openai-compatible"
base_url = "{mock_url}/v1"
keys = ["{UPSTREAM_KEY}"]
"""
    path = tmp / name
    path.write_text(text)
    return path


def start_gateway(name: str, driver: str, config: Path, tmp: Path, env_extra: dict[str, str]) -> Proc:
    proc = spawn(
        name,
        [binary("ringbridge"), "--listen", "127.0.0.1:0", "--workers", "2", "--config", str(config)],
        "ringbridge listening on",
        {**driver_env(driver), **env_extra},
        tmp,
    )
    # The startup log names the driver; the forced-legacy run must really be on epoll.
    if driver == "epoll":
        log = proc.stderr()
        if "driver=" in log:
            assert 'driver="epoll"' in log or "driver=epoll" in log, log
    return proc


@pytest.fixture(scope="session")
def gateway(driver: str, mock_provider: Proc, closed_port: int, tmp_dir: Path) -> Iterator[Proc]:
    cfg = write_config(tmp_dir, f"gateway-{driver}.toml", mock_provider.url, closed_port)
    proc = start_gateway(f"ringbridge-{driver}", driver, cfg, tmp_dir, {})
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def auth_gateway(driver: str, mock_provider: Proc, closed_port: int, tmp_dir: Path) -> Iterator[Proc]:
    cfg = write_config(tmp_dir, f"auth-gateway-{driver}.toml", mock_provider.url, closed_port)
    proc = start_gateway(
        f"ringbridge-auth-{driver}", driver, cfg, tmp_dir,
        {"RINGBRIDGE_API_KEYS": ",".join(GATEWAY_KEYS)},
    )
    yield proc
    proc.stop()


# ---------------------------------------------------------------- Anthropic upstreams

ANTHROPIC_KEY = "sk-ant-test"

# Provider name -> extra mock-provider flags. The gateway forwards no `x-mock-*`
# headers to Anthropic upstreams, so each failure mode gets its own mock instance
# whose defaults force it.
ANTHROPIC_MOCKS: dict[str, list[str]] = {
    "anthropic": [],
    "anthropic-429": ["--fail-mix", "429:1"],
    "anthropic-529": ["--status", "529"],
    "anthropic-cut": ["--fail-mix", "cut:1", "--chunks", "10"],
}


@pytest.fixture(scope="session")
def anthropic_mocks(tmp_dir: Path) -> Iterator[dict[str, Proc]]:
    """One mock-provider per entry of ANTHROPIC_MOCKS, keyed by provider name."""
    yield from spawn_mocks(ANTHROPIC_MOCKS, tmp_dir)


def write_anthropic_config(tmp: Path, name: str, mocks: dict[str, Proc]) -> Path:
    parts = ["env_providers = false\n\n[limits]\nshutdown_timeout_ms = 2000\n"]
    for provider, proc in mocks.items():
        kind = "" if provider == "anthropic" else 'kind = "anthropic"\n'
        parts.append(
            f'[providers.{provider}]\n{kind}base_url = "{proc.url}"\nkeys = ["{ANTHROPIC_KEY}"]\n'
        )
    path = tmp / name
    path.write_text("\n".join(parts))
    return path


@pytest.fixture(scope="session")
def anthropic_gateway(driver: str, anthropic_mocks: dict[str, Proc], tmp_dir: Path) -> Iterator[Proc]:
    """ringbridge with `anthropic` (and the failure-mode `anthropic-*`) providers
    pointing at mock-provider's Messages API route, once per I/O driver."""
    cfg = write_anthropic_config(tmp_dir, f"anthropic-gateway-{driver}.toml", anthropic_mocks)
    proc = start_gateway(f"ringbridge-anthropic-{driver}", driver, cfg, tmp_dir, {})
    yield proc
    proc.stop()


# ---------------------------------------------------------------- Gemini and Cohere upstreams

GEMINI_KEY = "g-key"
COHERE_KEY = "c-key"

# Provider name -> (kind, extra mock-provider flags). As for Anthropic, no `x-mock-*`
# header reaches these upstreams, so each failure mode has its own mock instance.
GC_MOCKS: dict[str, tuple[str, list[str]]] = {
    "gemini": ("gemini", []),
    "cohere": ("cohere", []),
    "gemini-429": ("gemini", ["--fail-mix", "429:1"]),
    "cohere-429": ("cohere", ["--fail-mix", "429:1"]),
}


@pytest.fixture(scope="session")
def gc_mocks(tmp_dir: Path) -> Iterator[dict[str, Proc]]:
    """One mock-provider per entry of GC_MOCKS, keyed by provider name."""
    yield from spawn_mocks({name: flags for name, (_, flags) in GC_MOCKS.items()}, tmp_dir)


def write_gc_config(tmp: Path, name: str, mocks: dict[str, Proc]) -> Path:
    parts = ["env_providers = false\n\n[limits]\nshutdown_timeout_ms = 2000\n"]
    for provider, proc in mocks.items():
        kind, _ = GC_MOCKS[provider]
        if kind == "gemini":
            base, key = f"{proc.url}/v1beta", GEMINI_KEY
        else:
            base, key = proc.url, COHERE_KEY
        parts.append(
            f'[providers.{provider}]\nkind = "{kind}"\nbase_url = "{base}"\nkeys = ["{key}"]\n'
        )
    path = tmp / name
    path.write_text("\n".join(parts))
    return path


@pytest.fixture(scope="session")
def gc_gateway(driver: str, gc_mocks: dict[str, Proc], tmp_dir: Path) -> Iterator[Proc]:
    """ringbridge with `gemini`, `cohere` (and `*-429`) providers pointing at
    mock-provider's Gemini and Cohere routes, once per I/O driver."""
    cfg = write_gc_config(tmp_dir, f"gc-gateway-{driver}.toml", gc_mocks)
    proc = start_gateway(f"ringbridge-gc-{driver}", driver, cfg, tmp_dir, {})
    yield proc
    proc.stop()


# ---------------------------------------------------------------- Bedrock upstreams

# Fake static credentials: the gateway signs with them (SigV4); mock-provider checks
# that requests are signed, not the signature.
AWS_ACCESS_KEY_ID = "AKIDMOCKEXAMPLE"
AWS_SECRET_ACCESS_KEY = "mock-secret-access-key"
AWS_REGION = "us-east-1"

# Provider name -> extra mock-provider flags, one mock instance per failure mode.
BEDROCK_MOCKS: dict[str, list[str]] = {
    "bedrock": [],
    "bedrock-429": ["--fail-mix", "429:1"],
    "bedrock-cut": ["--fail-mix", "cut:1", "--chunks", "10"],
}


@pytest.fixture(scope="session")
def bedrock_mocks(tmp_dir: Path) -> Iterator[dict[str, Proc]]:
    """One mock-provider per entry of BEDROCK_MOCKS, keyed by provider name."""
    yield from spawn_mocks(BEDROCK_MOCKS, tmp_dir)


def write_bedrock_config(tmp: Path, name: str, mocks: dict[str, Proc]) -> Path:
    parts = ["env_providers = false\n\n[limits]\nshutdown_timeout_ms = 2000\n"]
    for provider, proc in mocks.items():
        kind = "" if provider == "bedrock" else 'kind = "bedrock"\n'
        parts.append(
            f'[providers.{provider}]\n{kind}base_url = "{proc.url}"\nregion = "{AWS_REGION}"\n'
            f'aws_access_key_id = "{AWS_ACCESS_KEY_ID}"\n'
            f'aws_secret_access_key = "{AWS_SECRET_ACCESS_KEY}"\n'
        )
    path = tmp / name
    path.write_text("\n".join(parts))
    return path


@pytest.fixture(scope="session")
def bedrock_gateway(driver: str, bedrock_mocks: dict[str, Proc], tmp_dir: Path) -> Iterator[Proc]:
    """ringbridge with `bedrock` (and `bedrock-*`) providers pointing at
    mock-provider's Bedrock routes, once per I/O driver."""
    cfg = write_bedrock_config(tmp_dir, f"bedrock-gateway-{driver}.toml", bedrock_mocks)
    proc = start_gateway(f"ringbridge-bedrock-{driver}", driver, cfg, tmp_dir, {})
    yield proc
    proc.stop()


def saw_authorization(headers) -> str | None:
    """The Authorization value mock-provider received, from its hex reflection
    (its plain echo of it is masked by the gateway)."""
    raw = headers.get("x-mock-saw-authorization-hex")
    return None if raw is None else bytes.fromhex(raw).decode()


def make_client(gw: Proc, api_key: str = CLIENT_KEY, **kw) -> openai.OpenAI:
    kw.setdefault("max_retries", 0)
    kw.setdefault("timeout", 10.0)
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=api_key, **kw)


@pytest.fixture
def client(gateway: Proc) -> Iterator[openai.OpenAI]:
    c = make_client(gateway)
    yield c
    c.close()


# ---------------------------------------------------------------- stream helpers


def stream_text(n: int) -> str:
    """The text of mock-provider's n-token stream."""
    return "".join(f"tok{i} " for i in range(n))


def collect_tool_calls(chunks: list) -> dict[int, dict[str, str]]:
    """Accumulates streamed tool-call deltas by index, as SDK users do."""
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        if not c.choices:
            continue
        for tc in c.choices[0].delta.tool_calls or []:
            call = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            if tc.id:
                call["id"] += tc.id
            if tc.function and tc.function.name:
                call["name"] += tc.function.name
            if tc.function and tc.function.arguments:
                call["arguments"] += tc.function.arguments
    return calls


def finish_reasons(chunks: list) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On a failure, attach the tail of the gateway's stderr to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        funcargs = getattr(item, "funcargs", {})
        for key in (
            "gateway", "auth_gateway", "anthropic_gateway", "gc_gateway", "bedrock_gateway",
            "cloud_gateway",
        ):
            gw = funcargs.get(key)
            if isinstance(gw, Proc):
                tail = "\n".join(gw.stderr().splitlines()[-30:])
                rep.sections.append((f"{gw.name} stderr (tail)", tail))
