"""Helpers shared by the two OpenAI provider test modules (Responses and Chat Completions)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from backend.errors import ErrorCategory
from backend.events import (
    Finish,
    ProviderEvent,
    ProviderMetadata,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCall,
    ToolInputDelta,
    ToolInputStart,
)
from backend.messages import (
    AssistantContent,
    AssistantMessage,
    ReasoningContent,
    TextContent,
    ToolCallContent,
    ToolMessage,
    ToolResultContent,
)
from tests.upstream import FIXTURES

FOLDER = FIXTURES / "openai"
# Shaped like a key so the redaction is really tested; "sk-test" is what error_401 echoes back.
API_KEY = "sk-test"


def meta(case: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FOLDER / f"{case}.meta.json").read_text())
    return loaded


def request_fixture(case: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FOLDER / f"{case}.request.json").read_text())
    return loaded


def cases(prefix: str) -> list[str]:
    return sorted(
        path.name.removesuffix(".meta.json")
        for path in FOLDER.glob("*.meta.json")
        if path.name.startswith(prefix) or path.name.startswith(f"composed_{prefix}")
    )


def check_invariants(events: list[ProviderEvent]) -> None:
    """The events.py contract: starts before deltas/ends, one ToolCall per tool input, one Finish."""
    open_parts: set[tuple[str, str]] = set()
    open_tools: set[str] = set()
    called: set[str] = set()
    for event in events[:-1]:
        assert not isinstance(event, Finish)
        match event:
            case TextStart(id=part_id) | ReasoningStart(id=part_id):
                key = (type(event).__name__[:4], part_id)
                assert key not in open_parts
                open_parts.add(key)
            case TextDelta(id=part_id) | ReasoningDelta(id=part_id):
                assert (type(event).__name__[:4], part_id) in open_parts
            case TextEnd(id=part_id) | ReasoningEnd(id=part_id):
                open_parts.remove((type(event).__name__[:4], part_id))
            case ToolInputStart(tool_call_id=call_id):
                assert call_id not in open_tools and call_id not in called
                open_tools.add(call_id)
            case ToolInputDelta(tool_call_id=call_id):
                assert call_id in open_tools and event.delta
            case ToolCall(tool_call_id=call_id):
                open_tools.remove(call_id)
                called.add(call_id)
                json.loads(event.input_json)
    assert isinstance(events[-1], Finish)
    assert not open_parts and not open_tools


@dataclass
class _Part:
    kind: str
    text: str = ""
    metadata: ProviderMetadata | None = None
    tool_call: ToolCallContent | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def fold(events: list[ProviderEvent]) -> AssistantMessage:
    """The assistant turn as the AI SDK client assembles it and sends it back: a chunk's
    providerMetadata, when present, replaces the part's (process-ui-message-stream.ts)."""
    parts: list[_Part] = []
    open_parts: dict[tuple[str, str], _Part] = {}
    tool_metadata: dict[str, ProviderMetadata | None] = {}
    for event in events:
        match event:
            case (
                TextStart(id=part_id, provider_metadata=metadata)
                | ReasoningStart(id=part_id, provider_metadata=metadata)
            ):
                part = _Part(type(event).__name__[:4], metadata=metadata)
                parts.append(part)
                open_parts[(part.kind, part_id)] = part
            case TextDelta(id=part_id) | ReasoningDelta(id=part_id):
                part = open_parts[(type(event).__name__[:4], part_id)]
                part.text += event.delta
                part.metadata = event.provider_metadata or part.metadata
            case TextEnd(id=part_id) | ReasoningEnd(id=part_id):
                part = open_parts.pop((type(event).__name__[:4], part_id))
                part.metadata = event.provider_metadata or part.metadata
            case ToolInputStart(tool_call_id=call_id, provider_metadata=metadata):
                tool_metadata[call_id] = metadata
            case ToolCall(tool_call_id=call_id, tool_name=name, input_json=raw):
                metadata = event.provider_metadata or tool_metadata.get(call_id)
                parts.append(_Part("tool", tool_call=ToolCallContent(call_id, name, json.loads(raw), metadata)))
    content: list[AssistantContent] = []
    for part in parts:
        if part.kind == "Text":
            content.append(TextContent(part.text, part.metadata))
        elif part.kind == "Reas":
            content.append(ReasoningContent(part.text, part.metadata))
        elif part.tool_call is not None:
            content.append(part.tool_call)
    return AssistantMessage(tuple(content))


def tool_results(message: AssistantMessage, outputs: dict[str, Any]) -> ToolMessage:
    """Answers every tool call of ``message``, in call order, with ``outputs[tool_name]``."""
    calls = [content for content in message.content if isinstance(content, ToolCallContent)]
    return ToolMessage(tuple(ToolResultContent(c.tool_call_id, c.tool_name, outputs[c.tool_name]) for c in calls))


def text_of(events: list[ProviderEvent]) -> str:
    return "".join(event.delta for event in events if isinstance(event, TextDelta))


def reasoning_of(events: list[ProviderEvent]) -> str:
    return "".join(event.delta for event in events if isinstance(event, ReasoningDelta))


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@asynccontextmanager
async def resetting_server(first_bytes: bytes) -> AsyncIterator[str]:
    """A loopback server that answers 200 with ``first_bytes`` of an SSE body, then resets the
    connection (what a dropped network looks like mid-stream). Yields the base URL."""
    sent = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(f"{len(first_bytes):x}\r\n".encode() + first_bytes + b"\r\n")
        await writer.drain()
        sent.set()
        with contextlib.suppress(ConnectionError):
            await reader.read()  # until the reset below

    async def reset_after_send() -> None:
        await sent.wait()
        for connection in list(connections):
            connection.abort()

    connections: list[asyncio.Transport] = []

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        connections.append(cast(asyncio.Transport, writer.transport))
        return handle(reader, writer)

    server = await asyncio.start_server(track, "127.0.0.1", 0)
    resetter = asyncio.create_task(reset_after_send())
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    finally:
        resetter.cancel()
        server.close()
        await server.wait_closed()


# error fixture → (category, status, retry_after_seconds); the same bodies serve both endpoints.
ERROR_EXPECTATIONS: dict[str, tuple[ErrorCategory, int, float | None]] = {
    "error_400_invalid_request": ("bad_request", 400, None),
    "error_401_authentication": ("auth", 401, None),
    "error_429_insufficient_quota": ("rate_limited", 429, None),
    "error_429_rate_limit": ("rate_limited", 429, 2.0),
    "error_503_overloaded": ("overloaded", 503, None),
}
