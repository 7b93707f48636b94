"""The conformance harness: provider profiles and fixture expectations, the live server
(``create_app`` + ``FakeUpstream`` in a thread), the Node worker running ``client.mjs`` with the
real ``ai`` client of each major, and the assertions every scenario shares. See README.md."""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import threading
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from backend.app import create_app
from backend.settings import Secrets
from tests.conftest import make_settings, write_preset
from tests.upstream import FIXTURES, FakeUpstream, RecordedRequest, Reply, split_events

CONFORMANCE_DIR = Path(__file__).parent
CLIENT = CONFORMANCE_DIR / "client.mjs"
NODE_TIMEOUT_SECONDS = 60
# Pacing of the upstream in the resume scenario (a slow model): at least this many ms per event
# and about SLOW_TOTAL_MS per answer, so the second client surely joins while the answer is live.
SLOW_EVENT_MS = 50
SLOW_TOTAL_MS = 1000
SECRETS = {
    "TEST_ANTHROPIC_KEY": "sk-ant-test-0123456789abcdefghijklmnop",
    "TEST_OPENAI_KEY": "sk-test-openai-0123456789abcdefghijkl",
    "TEST_GOOGLE_KEY": "AIzaTestGoogleKey0123456789abcdefghij",
}
# Approval requests are signed the AI SDK way (backend/tools/approval_signing.py).
APPROVAL_SECRET = "conformance-approval-secret-0123456789"
# Request body markers that show tool results were sent back to the provider.
TOOL_RESULT_MARKERS = ('"tool_result"', '"function_call_output"', '"role":"tool"', '"role": "tool"', "functionResponse")

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Providers and what their fixtures say the answer is


@dataclass(frozen=True)
class ProviderProfile:
    """One provider's preset shape and the fixture cases each scenario replays."""

    provider: str
    model: str
    api_key_env: str
    folder: str
    text: str
    reasoning: str
    tool_call: str
    followups: tuple[str, ...]  # cases with a ``_followup`` fixture (client-tool round trip)
    midstream_error: str
    auth_error: str
    # (part type, providerMetadata key, field) where the provider's opaque reasoning state lands.
    reasoning_metadata: tuple[str, str, str] | None
    thinking: bool = True  # write [thinking] enabled into the reasoning/tool presets
    resume: str = ""  # the case replayed slowly for the resume scenario (default: ``text``)

    @property
    def resume_case(self) -> str:
        return self.resume or self.text

    @property
    def family(self) -> str:
        return self.provider.split("-")[0]


PROFILES = {
    "anthropic": ProviderProfile(
        provider="anthropic",
        model="claude-sonnet-5-5",
        api_key_env="TEST_ANTHROPIC_KEY",
        folder="anthropic",
        text="text_basic",
        reasoning="thinking_text",
        tool_call="thinking_tool_use",
        followups=("thinking_tool_use", "parallel_tool_calls"),
        midstream_error="midstream_error_overloaded",
        auth_error="error_401_authentication",
        reasoning_metadata=("reasoning", "anthropic", "signature"),
    ),
    "openai": ProviderProfile(
        provider="openai",
        model="gpt-5",
        api_key_env="TEST_OPENAI_KEY",
        folder="openai",
        text="responses_text_basic",
        reasoning="responses_reasoning_text",
        tool_call="responses_reasoning_tool_call",
        followups=("responses_reasoning_tool_call",),
        midstream_error="responses_midstream_error",
        auth_error="error_401_authentication",
        reasoning_metadata=("reasoning", "openai", "itemId"),
    ),
    "openai-chat": ProviderProfile(
        provider="openai-chat",
        model="gpt-4o",
        api_key_env="TEST_OPENAI_KEY",
        folder="openai",
        text="chat_text_basic",
        reasoning="chat_compat_reasoning_content",
        tool_call="chat_parallel_tool_calls",
        followups=("chat_parallel_tool_calls",),
        midstream_error="chat_midstream_error",
        auth_error="error_401_authentication",
        reasoning_metadata=None,
        thinking=False,
    ),
    "google": ProviderProfile(
        provider="google",
        model="gemini-2.5-flash",
        api_key_env="TEST_GOOGLE_KEY",
        folder="google",
        text="text_basic",
        reasoning="thinking_text",
        tool_call="thinking_function_call",
        followups=("thinking_function_call", "parallel_function_calls"),
        midstream_error="midstream_error",
        auth_error="error_400_api_key_invalid",
        reasoning_metadata=("text", "google", "thoughtSignature"),
        resume="thinking_text",  # text_basic is a single event: nothing to pace
    ),
}
PROVIDERS = list(PROFILES)
FOLLOWUP_CASES = [
    pytest.param(name, case, id=f"{name}-{case}") for name, profile in PROFILES.items() for case in profile.followups
]


@dataclass(frozen=True)
class ExpectedToolCall:
    id: str | None
    name: str
    input: Any


def expect(folder: str, case: str) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((FIXTURES / folder / f"{case}.meta.json").read_text())
    return dict(meta.get("expect", {}))


def expected_text(folder: str, case: str) -> str:
    facts = expect(folder, case)
    return str(facts.get("text") or facts.get("content") or "")


def expected_reasoning(folder: str, case: str) -> str:
    facts = expect(folder, case)
    for key in ("thinking", "reasoning_summary", "reasoning_content", "reasoning", "thought_text"):
        if facts.get(key):
            return str(facts[key])
    return ""


def expected_signature(folder: str, case: str) -> str | None:
    """The provider's opaque reasoning state in a fixture (signature / thoughtSignature), if any."""
    facts = expect(folder, case)
    if facts.get("signatures"):
        return str(facts["signatures"][0])
    if facts.get("thought_signatures"):
        return str(facts["thought_signatures"][0]["value"])
    return None


def expected_input_tokens(folder: str, case: str) -> int:
    usage = expect(folder, case)["usage"]
    for key in ("input_tokens", "prompt_tokens", "promptTokenCount"):
        if key in usage:
            return int(usage[key])
    raise KeyError(f"{folder}/{case}: no input token count in expect.usage")


def expected_tool_calls(folder: str, case: str) -> list[ExpectedToolCall]:
    facts = expect(folder, case)
    calls: list[ExpectedToolCall] = []
    for call in facts.get("tool_uses", []):  # Anthropic
        calls.append(ExpectedToolCall(call["id"], call["name"], call["input"]))
    for call in facts.get("tool_calls", []):  # OpenAI Chat Completions
        calls.append(ExpectedToolCall(call["id"], call["name"], json.loads(call["arguments"])))
    for call in facts.get("function_calls", []):  # OpenAI Responses / Gemini
        if "arguments" in call:
            calls.append(ExpectedToolCall(call["call_id"], call["name"], json.loads(call["arguments"])))
        else:
            calls.append(ExpectedToolCall(call.get("id"), call["name"], call["args"]))
    return calls


def tool_definitions(calls: list[ExpectedToolCall]) -> list[dict[str, Any]]:
    """The body's ``tools`` (client-side tools) with the names and argument types the fixture uses."""
    tools: dict[str, dict[str, Any]] = {}
    for call in calls:
        properties = {
            key: {"type": "number" if isinstance(value, int | float) else "string"} for key, value in call.input.items()
        }
        tools[call.name] = {
            "name": call.name,
            "description": f"conformance tool {call.name}",
            "inputSchema": {"type": "object", "properties": properties, "required": sorted(properties)},
        }
    return list(tools.values())


def slow_case(profile: ProviderProfile) -> str:
    """``{case}~{ms}``: FakeUpstream paces the resume case's events ``ms`` apart."""
    meta = json.loads((FIXTURES / profile.folder / f"{profile.resume_case}.meta.json").read_text())
    events = len(split_events((FIXTURES / profile.folder / meta["body_file"]).read_bytes()))
    assert events > 1, f"{profile.folder}/{profile.resume_case} has one event: it cannot be paced"
    return f"{profile.resume_case}~{max(SLOW_EVENT_MS, SLOW_TOTAL_MS // (events - 1))}"


def signature_sent_back(signature: str, body: str) -> bool:
    """google-genai re-encodes signatures as URL-safe base64 (same bytes; provider-wire README)."""
    return signature in body or signature.translate(str.maketrans("+/", "-_")) in body


def preset_name(profile: ProviderProfile, case: str) -> str:
    return f"{profile.provider}.{case}"


def slow_preset_name(profile: ProviderProfile) -> str:
    return f"{profile.provider}.slow"


def write_conformance_presets(directory: Path, upstream_url: str) -> None:
    """One preset per (provider, fixture case), each pointing at the fake upstream by path."""
    directory.mkdir(parents=True, exist_ok=True)

    def write(name: str, profile: ProviderProfile, case: str, thinking: bool) -> None:
        body = f"""
            provider = "{profile.provider}"
            model = "{profile.model}"
            base_url = "{upstream_url}/{profile.folder}/{case}"
            api_key_env = "{profile.api_key_env}"
            description = "conformance {profile.folder}/{case}"
            max_tokens = 4000
            system = "You are a helpful assistant"
            """
        if thinking:
            body += """
            [thinking]
            enabled = true
            budget_tokens = 2048
            """
        write_preset(directory, name, body)

    for profile in PROFILES.values():
        for case in (profile.text, profile.midstream_error, profile.auth_error):
            write(preset_name(profile, case), profile, case, thinking=False)
        for case in (profile.reasoning, profile.tool_call, *profile.followups):
            write(preset_name(profile, case), profile, case, thinking=profile.thinking)
        write(slow_preset_name(profile), profile, slow_case(profile), thinking=False)
    anthropic = PROFILES["anthropic"]
    write("default", anthropic, anthropic.text, thinking=False)
    # Issue 14: a retried step (replies queued by the test), and a fallback across providers:
    # Anthropic overloaded mid-stream on every attempt, then OpenAI Chat Completions answers.
    write("retry", anthropic, anthropic.text, thinking=False)
    openai_chat = PROFILES["openai-chat"]
    write("fallback.openai", openai_chat, openai_chat.text, thinking=False)
    write_preset(
        directory,
        "fallback.anthropic",
        f"""
        provider = "anthropic"
        model = "{anthropic.model}"
        base_url = "{upstream_url}/anthropic/{anthropic.midstream_error}"
        api_key_env = "{anthropic.api_key_env}"
        fallbacks = ["fallback.openai"]
        fallback_on = ["overloaded"]
        """,
    )
    # A server-side tool that needs the user's approval (docs/tools.md).
    write_preset(
        directory,
        "approval",
        f"""
        provider = "anthropic"
        model = "{anthropic.model}"
        base_url = "{upstream_url}/anthropic/composed_current_time_call"
        api_key_env = "{anthropic.api_key_env}"
        tools = ["current_time"]
        approval_required = ["current_time"]
        """,
    )


# ---------------------------------------------------------------------------------------------
# The live server: FakeUpstream + create_app on 127.0.0.1:0, in a thread with its own loop


class LiveServer:
    """The real app and a fake upstream, served from a background thread's event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = ""
        self.upstream = FakeUpstream()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="conformance-server", daemon=True)
        self._runner: web.AppRunner | None = None

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coroutine`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self) -> None:
        self._thread.start()
        self.call(self._start())

    def stop(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    async def _start(self) -> None:
        await self.upstream.__aenter__()
        presets_dir = self.root / "presets"
        write_conformance_presets(presets_dir, self.upstream.url)
        settings = make_settings(self.root, presets_dir, secrets=Secrets(SECRETS), approval_secret=APPROVAL_SECRET)
        app = create_app(settings)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.upstream.__aexit__(None, None, None)

    def reset_upstream(self) -> None:
        """Forget earlier tests' requests and queued replies (the server is shared)."""

        async def reset() -> None:
            self.upstream.requests.clear()
            self.upstream.queue.clear()

        self.call(reset())

    def enqueue(self, *replies: Reply) -> None:
        async def enqueue() -> None:
            self.upstream.enqueue(*replies)

        self.call(enqueue())

    def upstream_requests(self, folder: str, case: str) -> list[RecordedRequest]:
        """What the fake provider received for one fixture case (any pacing suffix)."""

        async def snapshot() -> list[RecordedRequest]:
            return list(self.upstream.requests)

        prefixes = (f"/{folder}/{case}/", f"/{folder}/{case}~")
        return [request for request in self.call(snapshot()) if request.path.startswith(prefixes)]

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.loads(response.read())


# ---------------------------------------------------------------------------------------------
# Running the client and reading its report


class NodeWorker:
    """One ``node client.mjs --serve`` process for the whole session: each scenario is one JSON
    line in and one report line out (Node's start-up and the ``ai`` import are paid once)."""

    def __init__(self, binary: str, log_path: Path) -> None:
        self._log = log_path.open("w")
        self._process = subprocess.Popen(
            [binary, str(CLIENT), "--serve"],
            cwd=CONFORMANCE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, name="conformance-node", daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put("")  # the process ended

    def run(self, base_url: str, scenario: str, options: dict[str, Any]) -> str:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"baseUrl": base_url, "scenario": scenario, "options": options}) + "\n")
        self._process.stdin.flush()
        try:
            return self._lines.get(timeout=NODE_TIMEOUT_SECONDS)
        except queue.Empty:
            pytest.fail(f"client.mjs {scenario}: no report after {NODE_TIMEOUT_SECONDS}s (log: {self._log.name})")

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


@dataclass(frozen=True)
class NodeClient:
    """The real ``ai`` client of one major (5, 6 or 7), run by the session's Node worker."""

    worker: NodeWorker
    major: int

    def __str__(self) -> str:
        return f"ai@{self.major}"


def run_client(node: NodeClient, server: LiveServer, scenario: str, **options: Any) -> dict[str, Any]:
    """Run one scenario against the server; fails on any SDK validation error."""
    result = run_node(node, server.url, scenario, **options)
    assert_no_sdk_validation_errors(result)
    return result


def run_node(node: NodeClient, base_url: str, scenario: str, **options: Any) -> dict[str, Any]:
    """Run one scenario with ``node``'s client major (told to the server as ``?protocol=``)."""
    options = {"major": node.major, "protocol": node.major, **options}
    line = node.worker.run(base_url, scenario, options)
    if not line:
        pytest.fail(f"client.mjs --serve ended during {scenario}")
    result: dict[str, Any] = json.loads(line)
    assert "harnessError" not in result, f"client.mjs failed: {result['harnessError']}"
    assert result["processErrors"] == [], result["processErrors"]
    return result


def assert_no_sdk_validation_errors(result: dict[str, Any]) -> None:
    """The SDK rejected nothing: no schema, JSON or stream-order error; final messages validate."""
    assert result["validationErrors"] == [], json.dumps(result["validationErrors"], indent=2)
    for chat in result["chats"]:
        assert chat["messagesValid"], chat["messagesValidationError"]


def assert_well_formed_streams(result: dict[str, Any]) -> None:
    """Beyond the SDK's checks: headers, start first, balanced steps, one finish last, [DONE]."""
    for exchange in result["exchanges"]:
        if exchange["status"] != 200:
            continue
        if exchange["contentType"] == "websocket":  # WebSocketChatTransport (client.mjs)
            if exchange.get("aborted") or exchange.get("dropped") or exchange["frames"] == ["no-active"]:
                continue
            assert exchange["frames"][0] == "start" and exchange["done"], exchange["frames"]
            assert exchange["sequences"] == list(range(len(exchange["sequences"]))), exchange["sequences"]
        else:
            assert exchange["contentType"].startswith("text/event-stream"), exchange["url"]
            assert exchange["streamHeader"] == "v1", exchange["url"]
            assert exchange["done"], f"no [DONE] in {exchange['url']}"
        kinds = [chunk["type"] for chunk in exchange["chunks"]]
        assert kinds[0] == "start", kinds
        # A stop ends ai@5/6 streams with `abort` instead of `finish` (backend/aisdk/protocol.py).
        last = "abort" if kinds[-1] == "abort" and result.get("major", 7) < 7 else "finish"
        assert kinds[-1] == last and kinds.count(last) == 1, kinds
        depth = 0
        for kind in kinds:
            depth += {"start-step": 1, "finish-step": -1}.get(kind, 0)
            assert depth in (0, 1), f"unbalanced steps: {kinds}"
        assert depth == 0, f"unbalanced steps: {kinds}"


def posts(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [exchange for exchange in result["exchanges"] if exchange["method"] == "POST"]


def only_assistant(result: dict[str, Any]) -> dict[str, Any]:
    roles = [message["role"] for message in result["messages"]]
    assert roles == ["user", "assistant"], roles
    assistant: dict[str, Any] = result["messages"][1]
    return assistant


def parts_of(message: dict[str, Any], part_type: str) -> list[dict[str, Any]]:
    return [part for part in message["parts"] if part["type"] == part_type]


def text_of(message: dict[str, Any]) -> str:
    return "".join(part["text"] for part in parts_of(message, "text"))


def answer_text(message: dict[str, Any]) -> str:
    """The text a UI shows: for ai@5/6, a retry keeps the abandoned attempt's parts before a
    ``data-reset-step`` marker in the same step (backend/aisdk/protocol.py); skip those."""
    kept: list[dict[str, Any]] = []
    for part in message["parts"]:
        if part["type"] == "data-reset-step":
            while kept and kept[-1]["type"] != "step-start":
                kept.pop()
        else:
            kept.append(part)
    return "".join(part["text"] for part in kept if part["type"] == "text")


def tool_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for part in message["parts"] if part["type"].startswith("tool-") or part["type"] == "dynamic-tool"]


def error_chunk_text(result: dict[str, Any]) -> str:
    errors = [chunk for exchange in posts(result) for chunk in exchange.get("chunks", []) if chunk["type"] == "error"]
    assert len(errors) == 1, errors
    return str(errors[0]["errorText"])


def json_differences(client: Any, saved: Any, path: str = "messages") -> list[str]:
    """Where two JSON values differ, as ``path: client=… saved=…`` lines."""
    if isinstance(client, dict) and isinstance(saved, dict):
        return [
            difference
            for key in sorted(client.keys() | saved.keys())
            for difference in json_differences(client.get(key, "<absent>"), saved.get(key, "<absent>"), f"{path}.{key}")
        ]
    if isinstance(client, list) and isinstance(saved, list) and len(client) == len(saved):
        return [
            difference
            for index, (left, right) in enumerate(zip(client, saved, strict=True))
            for difference in json_differences(left, right, f"{path}[{index}]")
        ]
    return [] if client == saved else [f"{path}: client={json.dumps(client)[:200]} saved={json.dumps(saved)[:200]}"]


def assert_saved_like_client(server: LiveServer, block_id: str, result: dict[str, Any]) -> None:
    """The server saves the conversation exactly as the client holds it (assemble.py's promise)."""
    saved = server.get_json(f"/api/ai/conversations/{block_id}")["messages"]
    differences = json_differences(result["messages"], saved)
    assert not differences, "saved conversation != the client's messages:\n" + "\n".join(differences)
