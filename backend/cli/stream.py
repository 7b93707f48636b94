"""Reading the AI SDK UI message stream: SSE bytes → chunks → the assistant ``UIMessage``.

The one place the terminal client (and its tests) turn the server's wire into a message. It follows
what the ``ai`` client does (``parseJsonEventStream`` and ``processUIMessageStream``, ai@7; see
``../shared/aisdk-protocol.md`` §2): ``data:`` lines carry one JSON chunk each, ``:`` lines are
keep-alive comments, ``[DONE]`` ends the stream; chunks fold into the message the way ``useChat``
holds it, so what the client sends back in a follow-up (an approval answer) is what the browser
would send. Unlike the browser client, an unknown chunk type is not fatal here: it is recorded in
:attr:`MessageAssembler.unknown_types` and skipped, so a newer server does not break an older client.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

Chunk = dict[str, Any]
"""One UI message chunk as parsed JSON (``{"type": "text-delta", "id": …, "delta": …}``)."""
Part = dict[str, Any]
"""One part of a ``UIMessage``, as the AI SDK client holds it."""
UIMessage = dict[str, Any]
"""``{id, role, parts, metadata?}``; kept as JSON because it goes back to the server unchanged."""

DONE = "[DONE]"


class SseDecoder:
    """Feed it SSE lines; it returns the ``data`` payloads of complete events (comments dropped)."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        line = line.rstrip("\r\n")
        if line == "":
            if not self._data:
                return None
            payload = "\n".join(self._data)  # several data: lines in one event are joined with \n
            self._data = []
            return payload
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None  # event:, id:, retry: are ignored, as the ai client does


async def read_chunks(lines: AsyncIterable[bytes]) -> AsyncIterator[Chunk]:
    """The chunks of an SSE body given line by line; stops at ``[DONE]`` or when the body ends."""
    decoder = SseDecoder()
    async for raw in lines:
        payload = decoder.feed(raw.decode("utf-8"))
        if payload is None:
            continue
        if payload == DONE:
            return
        chunk = json.loads(payload)
        if isinstance(chunk, dict) and isinstance(chunk.get("type"), str):
            yield chunk


def parse_sse_text(body: str) -> list[Chunk]:
    """All chunks of a complete SSE body (for tests and for ``--json`` checks)."""
    decoder = SseDecoder()
    chunks: list[Chunk] = []
    for line in [*body.split("\n"), ""]:
        payload = decoder.feed(line)
        if payload is not None and payload != DONE:
            chunks.append(json.loads(payload))
    return chunks


def tool_name(part: Part) -> str | None:
    """The tool of a ``tool-<name>`` or ``dynamic-tool`` part, else None."""
    kind = str(part.get("type", ""))
    if kind == "dynamic-tool":
        return str(part.get("toolName", ""))
    return kind[len("tool-") :] if kind.startswith("tool-") else None


def partial_json(text: str) -> Any:
    """The input of a tool call whose JSON is still streaming: parsed when complete, else None."""
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


@dataclass
class MessageAssembler:
    """Folds chunks into one assistant message. ``base`` is the message a follow-up continues."""

    base: UIMessage | None = None
    message: UIMessage = field(init=False)
    finish_reason: str | None = None
    error_text: str | None = None
    aborted: bool = False
    unknown_types: list[str] = field(default_factory=list)
    _open: dict[tuple[str, str], Part] = field(default_factory=dict)
    _raw_input: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.base is not None:
            self.message = copy.deepcopy(self.base)
        else:
            self.message = {"id": "", "role": "assistant", "parts": []}

    @property
    def parts(self) -> list[Part]:
        parts: list[Part] = self.message["parts"]
        return parts

    @property
    def metadata(self) -> dict[str, Any]:
        metadata = self.message.get("metadata")
        return metadata if isinstance(metadata, dict) else {}

    def tool_part(self, tool_call_id: str) -> Part | None:
        for part in reversed(self.parts):
            if part.get("toolCallId") == tool_call_id:
                return part
        return None

    def add(self, chunk: Chunk) -> Part | None:
        """Apply one chunk; returns the part it created or changed, if any."""
        kind: str = chunk["type"]
        if kind in ("text-start", "text-delta", "text-end", "reasoning-start", "reasoning-delta", "reasoning-end"):
            return self._streamed_text(kind, chunk)
        if kind.startswith("tool-"):
            return self._tool(kind, chunk)
        if kind in ("source-url", "source-document", "file", "reasoning-file", "custom"):
            part = dict(chunk)
            self.parts.append(part)
            return part
        if kind.startswith("data-"):
            return self._data(chunk)
        self._control(kind, chunk)
        return None

    def _control(self, kind: str, chunk: Chunk) -> None:
        if kind == "start":
            message_id = chunk.get("messageId")
            if isinstance(message_id, str) and message_id != self.message.get("id"):
                # A fresh message (or a replay of one): start from nothing under the server's id.
                self.message = {"id": message_id, "role": "assistant", "parts": []}
            self._merge_metadata(chunk.get("messageMetadata"))
        elif kind == "start-step":
            self.parts.append({"type": "step-start"})
        elif kind == "reset-step":
            starts = [index for index, part in enumerate(self.parts) if part.get("type") == "step-start"]
            if starts:
                del self.parts[starts[-1] + 1 :]
        elif kind in ("message-metadata", "finish"):
            self._merge_metadata(chunk.get("messageMetadata"))
            if kind == "finish" and isinstance(chunk.get("finishReason"), str):
                self.finish_reason = chunk["finishReason"]
        elif kind == "error":
            self.error_text = str(chunk.get("errorText", ""))
        elif kind == "abort":
            self.aborted = True
        elif kind not in ("finish-step", "steering-message"):
            self.unknown_types.append(kind)

    def _merge_metadata(self, update: Any) -> None:
        if isinstance(update, dict):
            self.message["metadata"] = _merged(self.metadata, update)

    def _streamed_text(self, kind: str, chunk: Chunk) -> Part | None:
        part_type, _, phase = kind.partition("-")
        key = (part_type, str(chunk["id"]))
        if phase == "start":
            part: Part = {"type": part_type, "text": "", "state": "streaming"}
            if part_type == "reasoning":
                part["id"] = chunk["id"]
            self.parts.append(part)
            self._open[key] = part
        else:
            found = self._open.get(key)
            if found is None:
                return None
            part = found
            if phase == "delta":
                part["text"] += chunk.get("delta", "")
            else:
                part["state"] = "done"
                del self._open[key]
        if "providerMetadata" in chunk:
            part["providerMetadata"] = chunk["providerMetadata"]
        return part

    def _tool(self, kind: str, chunk: Chunk) -> Part | None:
        call_id = str(chunk.get("toolCallId", ""))
        part = self.tool_part(call_id)
        if kind in ("tool-input-start", "tool-input-available", "tool-input-error"):
            if part is None:
                part = {"type": f"tool-{chunk['toolName']}", "toolCallId": call_id}
                if chunk.get("dynamic"):
                    part = {"type": "dynamic-tool", "toolName": chunk["toolName"], "toolCallId": call_id}
                self.parts.append(part)
            _copy_keys(chunk, part, ("providerExecuted", "title"))
            if "providerMetadata" in chunk:
                part["callProviderMetadata"] = chunk["providerMetadata"]
        if kind == "tool-approval-response":
            part = next((p for p in self.parts if (p.get("approval") or {}).get("id") == chunk["approvalId"]), None)
        if part is None:
            if kind not in _TOOL_CHUNKS:
                self.unknown_types.append(kind)
            return None
        match kind:
            case "tool-input-start":
                part.update(state="input-streaming", input=None)
            case "tool-input-delta":
                raw = self._raw_input.get(call_id, "") + str(chunk.get("inputTextDelta", ""))
                self._raw_input[call_id] = raw
                part["input"] = partial_json(raw)
            case "tool-input-available":
                part.update(state="input-available", input=chunk.get("input"))
            case "tool-input-error":
                part.update(state="output-error", input=chunk.get("input"), errorText=chunk.get("errorText", ""))
            case "tool-approval-request":
                part.update(state="approval-requested", approval={"id": chunk["approvalId"]})
            case "tool-approval-response":
                approval = {"id": chunk["approvalId"], "approved": bool(chunk.get("approved"))}
                part.update(state="approval-responded", approval=approval)
            case "tool-output-available":
                part.update(state="output-available", output=chunk.get("output"))
                _copy_keys(chunk, part, ("providerExecuted", "preliminary"))
            case "tool-output-error":
                part.update(state="output-error", errorText=chunk.get("errorText", ""))
            case "tool-output-denied":
                part["state"] = "output-denied"
            case _:
                self.unknown_types.append(kind)
                return None
        return part

    def _data(self, chunk: Chunk) -> Part | None:
        if chunk.get("transient"):
            return None
        for part in self.parts:
            if "id" in chunk and part.get("type") == chunk["type"] and part.get("id") == chunk["id"]:
                part["data"] = chunk.get("data")
                return part
        part = {key: chunk[key] for key in ("type", "id") if key in chunk}
        part["data"] = chunk.get("data")
        self.parts.append(part)
        return part


_TOOL_CHUNKS = frozenset(
    {
        "tool-input-start",
        "tool-input-delta",
        "tool-input-available",
        "tool-input-error",
        "tool-approval-request",
        "tool-approval-response",
        "tool-output-available",
        "tool-output-error",
        "tool-output-denied",
    }
)


def _copy_keys(source: Chunk, target: Part, keys: Iterable[str]) -> None:
    for key in keys:
        if key in source:
            target[key] = source[key]


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Deep merge, as the client merges message metadata."""
    result = dict(base)
    for key, value in update.items():
        current = result.get(key)
        result[key] = _merged(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
    return result
