"""Protocol conformance judged by the real AI SDK client (``ai`` from npm, driven from Node).

Each test starts the real server (``create_app``) and a ``FakeUpstream`` replaying recorded
provider bodies on 127.0.0.1, runs one scenario of ``client.mjs`` (``AbstractChat`` +
``DefaultChatTransport``, what ``useChat`` runs) against it, and asserts on the JSON line it
prints. The SDK's own schema and state-machine checks judge our stream: any
``AI_TypeValidationError`` / ``AI_UIMessageStreamError`` / ``AI_JSONParseError`` fails the test.

Scenarios are parametrized over providers; expectations (text, reasoning, tool calls, usage,
signatures) are read from the fixtures' ``.meta.json`` ``expect`` blocks, so adding a provider is
one ``ProviderProfile``. See README.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Coroutine, Iterator
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
        app = create_app(make_settings(self.root, presets_dir, secrets=Secrets(SECRETS)))
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.upstream.__aexit__(None, None, None)

    def upstream_requests(self, folder: str, case: str) -> list[RecordedRequest]:
        """What the fake provider received for one fixture case (any pacing suffix)."""

        async def snapshot() -> list[RecordedRequest]:
            return list(self.upstream.requests)

        prefixes = (f"/{folder}/{case}/", f"/{folder}/{case}~")
        return [request for request in self.call(snapshot()) if request.path.startswith(prefixes)]

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` binary, with ``ai`` installed next to client.mjs. Missing in CI is a failure."""
    problems = []
    binary = shutil.which("node")
    if binary is None:
        problems.append("`node` is not on PATH")
    installed_ai = CONFORMANCE_DIR / "node_modules" / "ai" / "package.json"
    if not installed_ai.exists():
        problems.append(f"npm packages are not installed (run `npm ci` in {CONFORMANCE_DIR})")
    else:
        installed = json.loads(installed_ai.read_text())["version"]
        pinned = json.loads((CONFORMANCE_DIR / "package.json").read_text())["dependencies"]["ai"]
        if installed != pinned:
            pytest.fail(
                f"node_modules has ai@{installed}, package.json pins ai@{pinned}: run `npm ci` in {CONFORMANCE_DIR}"
            )
    if problems:
        message = "conformance tests need Node: " + "; ".join(problems)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert binary is not None
    return binary


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(params=PROVIDERS)
def profile(request: pytest.FixtureRequest) -> ProviderProfile:
    return PROFILES[request.param]


# ---------------------------------------------------------------------------------------------
# Running the client and reading its report


def run_client(node: str, server: LiveServer, scenario: str, **options: Any) -> dict[str, Any]:
    """Run one scenario against the server; fails on any SDK validation error."""
    result = run_node(node, server.url, scenario, **options)
    assert_no_sdk_validation_errors(result)
    return result


def run_node(node: str, base_url: str, scenario: str, **options: Any) -> dict[str, Any]:
    completed = subprocess.run(
        [node, str(CLIENT), base_url, scenario, json.dumps(options)],
        cwd=CONFORMANCE_DIR,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        pytest.fail(f"client.mjs {scenario} exited {completed.returncode}\n{completed.stderr}\n{completed.stdout}")
    result: dict[str, Any] = json.loads(lines[-1])
    assert "harnessError" not in result, f"client.mjs failed: {result['harnessError']}\n{completed.stderr}"
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
        assert exchange["contentType"].startswith("text/event-stream"), exchange["url"]
        assert exchange["streamHeader"] == "v1", exchange["url"]
        assert exchange["done"], f"no [DONE] in {exchange['url']}"
        kinds = [chunk["type"] for chunk in exchange["chunks"]]
        assert kinds[0] == "start", kinds
        assert kinds[-1] == "finish" and kinds.count("finish") == 1, kinds
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


# ---------------------------------------------------------------------------------------------
# Scenarios


def test_text(node: str, server: LiveServer, profile: ProviderProfile) -> None:
    preset = preset_name(profile, profile.text)
    result = run_client(node, server, "text", blockId="block-text", chatId="chat-text", preset=preset, text="hi")
    assert result["error"] is None and result["errors"] == []
    assert result["status"] == "ready"
    assert result["finishReason"] == "stop"
    assert_well_formed_streams(result)
    assistant = only_assistant(result)
    assert text_of(assistant) == expected_text(profile.folder, profile.text)
    assert all(part["state"] == "done" for part in parts_of(assistant, "text"))
    metadata = assistant["metadata"]
    assert (metadata["preset"], metadata["provider"], metadata["model"]) == (preset, profile.provider, profile.model)
    assert metadata["usage"]["inputTokens"] == expected_input_tokens(profile.folder, profile.text)
    assert metadata["usage"]["outputTokens"] > 0
    assert posts(result)[0]["chunks"][0].get("messageId") == assistant["id"]
    assert_saved_like_client(server, "block-text", result)


def test_reasoning(node: str, server: LiveServer, profile: ProviderProfile) -> None:
    case = profile.reasoning
    result = run_client(node, server, "reasoning", blockId="block-reasoning", preset=preset_name(profile, case))
    assert result["error"] is None and result["status"] == "ready"
    assert result["finishReason"] == "stop"
    assert_well_formed_streams(result)
    assistant = only_assistant(result)
    reasoning = parts_of(assistant, "reasoning")
    assert reasoning, assistant["parts"]
    assert "".join(part["text"] for part in reasoning) == expected_reasoning(profile.folder, case)
    assert all(part["state"] == "done" for part in reasoning)
    assert text_of(assistant) == expected_text(profile.folder, case)
    if profile.reasoning_metadata is not None:
        part_type, key, field = profile.reasoning_metadata
        values = [part.get("providerMetadata", {}).get(key, {}).get(field) for part in parts_of(assistant, part_type)]
        signature = expected_signature(profile.folder, case)
        if signature is not None:
            assert signature in values, values
        else:
            assert any(values), assistant["parts"]
    assert_saved_like_client(server, "block-reasoning", result)


def test_tool_call(node: str, server: LiveServer, profile: ProviderProfile) -> None:
    case = profile.tool_call
    calls = expected_tool_calls(profile.folder, case)
    result = run_client(
        node,
        server,
        "tool-call",
        blockId="block-tool",
        preset=preset_name(profile, case),
        text="Use the tools, please.",
        body={"tools": tool_definitions(calls)},
    )
    assert result["error"] is None and result["status"] == "ready"
    assert result["finishReason"] == "tool-calls"
    assert_well_formed_streams(result)
    parts = tool_parts(only_assistant(result))
    assert [(part["type"], part["input"]) for part in parts] == [(f"tool-{call.name}", call.input) for call in calls]
    assert all(part["state"] == "input-available" for part in parts)
    ids = [part["toolCallId"] for part in parts]
    assert len(set(ids)) == len(ids) and all(ids)
    for part, call in zip(parts, calls, strict=True):
        if call.id is not None:
            assert part["toolCallId"] == call.id


@pytest.mark.parametrize(("provider", "case"), FOLLOWUP_CASES)
def test_client_tool_followup(node: str, server: LiveServer, provider: str, case: str) -> None:
    profile = PROFILES[provider]
    calls = expected_tool_calls(profile.folder, case)
    result = run_client(
        node,
        server,
        "tool-followup",
        blockId="block-followup",
        chatId="chat-followup",
        preset=preset_name(profile, case),
        text="Use the tools, please.",
        body={"tools": tool_definitions(calls)},
    )
    assert result["error"] is None and result["errors"] == []
    assert result["status"] == "ready"
    assert [finish["finishReason"] for finish in result["finishes"]] == ["tool-calls", "stop"]
    assert_well_formed_streams(result)

    # One assistant message: the follow-up continued it (same id), it did not add a second one.
    assistant = only_assistant(result)
    first, second = posts(result)
    assert first["chunks"][0].get("messageId") == assistant["id"]
    assert second["chunks"][0].get("messageId", assistant["id"]) == assistant["id"]
    assert second["requestBody"]["messageId"] == assistant["id"]
    assert second["requestBody"]["messages"][-1]["role"] == "assistant"

    parts = tool_parts(assistant)
    outputs = {output["toolCallId"]: output["output"] for output in result["toolOutputs"]}
    assert [part["type"] for part in parts] == [f"tool-{call.name}" for call in calls]
    assert all(part["state"] == "output-available" for part in parts), parts
    assert {part["toolCallId"]: part["output"] for part in parts} == outputs
    kinds = [part["type"] for part in assistant["parts"]]
    assert kinds.count("step-start") == 2, kinds
    second_step = assistant["parts"][len(kinds) - 1 - kinds[::-1].index("step-start") :]
    followup_text = expected_text(profile.folder, f"{case}_followup")
    assert "".join(part["text"] for part in second_step if part["type"] == "text") == followup_text
    assert max(kinds.index(part["type"]) for part in parts) < kinds.index("step-start", 1)

    # The provider got the tool results (and its opaque reasoning state) back.
    upstream = server.upstream_requests(profile.folder, case)
    assert len(upstream) == 2, [request.path for request in upstream]
    followup_body = upstream[1].body.decode()
    assert any(marker in followup_body for marker in TOOL_RESULT_MARKERS)
    for output in outputs.values():
        assert output["marker"] in followup_body
    signature = expected_signature(profile.folder, case)
    if signature is not None:
        assert signature_sent_back(signature, followup_body)
    assert_saved_like_client(server, "block-followup", result)


def test_error_chunk_midstream(node: str, server: LiveServer, profile: ProviderProfile) -> None:
    case = profile.midstream_error
    result = run_client(node, server, "error-chunk", blockId="block-error", preset=preset_name(profile, case))
    assert result["status"] == "error"
    error_text = error_chunk_text(result)
    assert result["error"]["message"] == error_text
    assert profile.family in error_text.lower()
    assert result["finishes"][-1]["isError"] is True
    assistant = only_assistant(result)
    partial = expected_text(profile.folder, case)
    assert text_of(assistant) == partial
    assert_well_formed_streams(result)


def test_error_chunk_upstream_auth(node: str, server: LiveServer, profile: ProviderProfile) -> None:
    case = profile.auth_error
    result = run_client(node, server, "error-chunk", blockId="block-auth", preset=preset_name(profile, case))
    assert result["status"] == "error"
    error_text = error_chunk_text(result)
    assert result["error"]["message"] == error_text
    assert profile.family in error_text.lower()
    assert "authentication" in error_text.lower()
    everything = json.dumps(result)
    assert not any(secret in everything for secret in SECRETS.values())
    assert text_of(only_assistant(result)) == ""
    assert_well_formed_streams(result)


def test_http_error_unknown_preset(node: str, server: LiveServer) -> None:
    result = run_client(node, server, "http-error", blockId="block-http", preset="nope")
    assert result["status"] == "error"
    assert result["error"]["name"] == "AI_APICallError"
    assert result["error"]["statusCode"] == 400
    body = json.loads(result["error"]["message"])
    assert "nope" in body["error"]["message"]
    assert [message["role"] for message in result["messages"]] == ["user"]


def test_http_error_invalid_block_id(node: str, server: LiveServer) -> None:
    result = run_client(node, server, "http-error", blockId="bad id!", preset="default")
    assert result["status"] == "error"
    assert result["error"]["statusCode"] == 400
    assert json.loads(result["error"]["message"])["error"]["code"] == "invalid_block_id"
    assert [message["role"] for message in result["messages"]] == ["user"]


def test_resume_replays_whole_message(node: str, server: LiveServer, profile: ProviderProfile) -> None:
    result = run_client(
        node, server, "resume", blockId="block-resume", chatId="chat-resume", preset=slow_preset_name(profile)
    )
    first, resumed, after_end = result["chats"]
    assert result["statusOfFirstWhenResuming"] == "streaming"
    for chat in (first, resumed, after_end):
        assert chat["status"] == "ready" and chat["error"] is None, chat
    post, resume_get, late_get = result["exchanges"]
    assert (post["method"], resume_get["method"], late_get["method"]) == ("POST", "GET", "GET")
    assert resume_get["url"].startswith(f"{server.url}/api/ai/chat/block-resume/chat-resume/stream?preset=")
    # 200, not 204: the stream was still live when B asked; B got every chunk A got, from `start`.
    assert resume_get["status"] == 200
    assert resume_get["chunks"] == post["chunks"]
    assert "streaming" in resumed["statusHistory"]
    assert resumed["messages"] == first["messages"]
    assert text_of(resumed["messages"][-1]) == expected_text(profile.folder, profile.resume_case)
    # After the end nothing streams: 204, and the chat stays ready without a request status flash.
    assert late_get["status"] == 204
    assert after_end["statusHistory"] == ["ready"]
    assert after_end["messages"] == resumed["messages"]
    assert_well_formed_streams(result)


def test_resume_with_nothing_streaming_is_204(node: str, server: LiveServer) -> None:
    result = run_client(node, server, "resume-idle", blockId="block-idle", chatId="chat-idle", preset="default")
    (exchange,) = result["exchanges"]
    assert exchange["method"] == "GET" and exchange["status"] == 204
    assert result["status"] == "ready" and result["error"] is None
    assert result["statusHistory"] == ["ready"]
    assert result["messages"] == []


# ---------------------------------------------------------------------------------------------
# Negative control: the harness really reports what the SDK rejects

BAD_STREAMS = {
    "unknown-finish-reason": (
        'data: {"type":"start"}\n\ndata: {"type":"finish","finishReason":"end_turn"}\n\n',
        "AI_TypeValidationError",
    ),
    "null-optional": ('data: {"type":"start","messageId":null}\n\n', "AI_TypeValidationError"),
    "delta-before-start": (
        'data: {"type":"start"}\n\ndata: {"type":"text-delta","id":"0","delta":"x"}\n\n',
        "AI_UIMessageStreamError",
    ),
    "invalid-json": ('data: {"type":"start"\n\n', "AI_JSONParseError"),
}


@pytest.mark.parametrize("name", list(BAD_STREAMS))
def test_harness_reports_sdk_validation_errors(node: str, server: LiveServer, name: str) -> None:
    """Served straight from the fake upstream (a queued reply answers any path), not by Chatwire."""
    body, error_name = BAD_STREAMS[name]

    async def enqueue() -> None:
        server.upstream.enqueue(Reply.sse(body + "data: [DONE]\n\n"))

    server.call(enqueue())
    result = run_node(node, server.upstream.url, "text", blockId="block-bad")
    assert result["status"] == "error"
    assert [error["name"] for error in result["validationErrors"]] == [error_name]


def run_thinking_tool_round_trip(node: str, server: LiveServer, block_id: str) -> dict[str, Any]:
    """A tool round trip whose first call reports thinking tokens and whose answer does not.

    Real trigger: with thinking on, Anthropic reports ``output_tokens_details.thinking_tokens``
    when the model thought (as in anthropic/thinking_text); the answer after the tool result does
    not think. The first reply is thinking_tool_use with that field added to its usage.
    """
    profile = PROFILES["anthropic"]
    case = profile.tool_call
    first = Reply.from_case(profile.folder, case)
    thinking_usage = first.body.replace(
        b'"output_tokens":119}', b'"output_tokens":119,"output_tokens_details":{"thinking_tokens":61}}'
    )
    assert thinking_usage != first.body

    async def enqueue() -> None:
        server.upstream.enqueue(
            dataclasses.replace(first, body=thinking_usage), Reply.from_case(profile.folder, f"{case}_followup")
        )

    server.call(enqueue())
    result = run_client(
        node,
        server,
        "tool-followup",
        blockId=block_id,
        preset=preset_name(profile, case),
        text="Use the tools, please.",
        body={"tools": tool_definitions(expected_tool_calls(profile.folder, case))},
    )
    assert result["status"] == "ready" and result["error"] is None
    return result


def test_followup_metadata_is_saved_as_the_client_merges_it(node: str, server: LiveServer) -> None:
    """The client deep-merges ``messageMetadata`` across the two responses of a round trip
    (``ai/src/util/merge-objects.ts``); the saved message must hold the same metadata."""
    result = run_thinking_tool_round_trip(node, server, "block-merge")
    assert_saved_like_client(server, "block-merge", result)


def test_followup_usage_is_consistent_after_the_client_merge(node: str, server: LiveServer) -> None:
    """After the deep merge, ``usage`` must still add up (AI SDK ``LanguageModelUsage``:
    ``outputTokens = textTokens + reasoningTokens``). Omitting a count in the second response
    leaves the first response's count in place next to the second response's totals."""
    result = run_thinking_tool_round_trip(node, server, "block-usage")
    usage = only_assistant(result)["metadata"]["usage"]
    details = usage["outputTokenDetails"]
    assert details.get("textTokens", 0) + details.get("reasoningTokens", 0) == usage["outputTokens"], usage


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "deny"])
def test_tool_approval(node: str, server: LiveServer, approve: bool) -> None:
    """Approval request → addToolApprovalResponse → automatic follow-up continuing the same message."""
    result = run_client(
        node, server, "approval", blockId="block-approval", chatId="chat-approval", preset="approval", approve=approve
    )
    requested = [
        part
        for message in result["afterRequest"]
        for part in message["parts"]
        if part.get("state") == "approval-requested"
    ]
    assert len(requested) == 1 and requested[0]["type"] == "tool-current_time"
    assert result["approvalId"].startswith("apr-")
    assert result["status"] == "ready", result["error"]
    assistants = [message for message in result["messages"] if message["role"] == "assistant"]
    assert len(assistants) == 1  # the follow-up continued the same message
    part = next(part for part in assistants[0]["parts"] if part["type"] == "tool-current_time")
    if approve:
        assert part["state"] == "output-available" and "Europe/Paris" in json.dumps(part["output"])
    else:
        assert part["state"] == "output-denied"
    kinds = [part["type"] for part in assistants[0]["parts"]]
    assert kinds.count("step-start") == 2 and kinds[-1] == "text"
    upstream = server.upstream_requests("anthropic", "composed_current_time_call")
    assert len(upstream) == 2
    result_block = upstream[1].json()["messages"][-1]["content"][0]
    assert result_block["type"] == "tool_result" and result_block.get("is_error", False) is (not approve)


def test_forged_approval_leaves_the_client_valid(node: str, server: LiveServer) -> None:
    """Issue 11: the client approves an approval id the server never issued. The tool must not run,
    and the client's messages must stay valid under the SDK's own ``validateUIMessages``."""
    forged_part = {
        "type": "tool-current_time",
        "toolCallId": "toolu_forged_1",
        "state": "approval-requested",
        "input": {"timezone": "Europe/Paris"},
        "approval": {"id": "apr-forged"},
    }
    messages = [
        {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "What time is it?"}]},
        {"id": "a1", "role": "assistant", "parts": [{"type": "step-start"}, forged_part]},
    ]
    result = run_client(
        node,
        server,
        "approval",
        blockId="block-forged",
        chatId="chat-forged",
        preset="approval",
        approve=True,
        messages=messages,
    )
    assert result["messagesValid"], result["messagesValidationError"]
    assert result["status"] == "ready", result["error"]
    part = next(part for part in result["messages"][-1]["parts"] if part["type"] == "tool-current_time")
    assert part["state"] == "output-error" and "not run" in part["errorText"]
    assert part["approval"]["approved"] is True
    upstream = server.upstream_requests("anthropic", "composed_current_time_call")
    tool_result = upstream[-1].json()["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result" and tool_result["is_error"] is True
    assert "output" not in part  # the tool never ran
