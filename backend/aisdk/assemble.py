"""Fold UI message stream chunks into the assistant ``UIMessage``, as the client will hold it.

Mirrors ``processUIMessageStream`` in ``ai/src/ui/process-ui-message-stream.ts`` (ai@7.0.173):
the server saves exactly this, so a reload shows what the browser showed. A continuation (the
request's last message is an assistant message) starts from that message's parts.
"""

from __future__ import annotations

import copy
from typing import Any

from backend.aisdk.encode import Chunk


class UIMessageAssembler:
    """Feed chunks with ``add``; read ``message`` at any time (a deep copy is not made).

    Deltas are kept as pieces and joined when their part ends or the message is read: adding
    to a growing string each time would copy the whole text per token (quadratic in its length).
    """

    def __init__(self, message_id: str, base: dict[str, Any] | None = None) -> None:
        if base is not None:
            self._message: dict[str, Any] = copy.deepcopy(base)
            self._message["id"] = message_id
        else:
            self._message = {"id": message_id, "role": "assistant", "parts": []}
        self._text: dict[str, dict[str, Any]] = {}
        self._reasoning: dict[str, dict[str, Any]] = {}
        self._pieces: dict[int, list[str]] = {}  # id(part) → deltas not yet joined into part["text"]
        self._raw_input: dict[str, str] = {}
        self.finish_reason: str | None = None
        self.error_text: str | None = None

    @property
    def message(self) -> dict[str, Any]:
        self._join_pieces()
        return self._message

    @property
    def parts(self) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = self._message["parts"]
        return parts

    def _join_pieces(self) -> None:
        for part in (*self._text.values(), *self._reasoning.values()):
            pieces = self._pieces.get(id(part))
            if pieces:
                part["text"] += "".join(pieces)
                pieces.clear()

    def _delta(self, part: dict[str, Any], chunk: Chunk) -> None:
        self._pieces[id(part)].append(chunk["delta"])
        if "providerMetadata" in chunk:
            part["providerMetadata"] = chunk["providerMetadata"]

    def _end(self, part: dict[str, Any], chunk: Chunk) -> None:
        pieces = self._pieces.pop(id(part), None)
        if pieces:
            part["text"] += "".join(pieces)
        part["state"] = "done"
        if "providerMetadata" in chunk:
            part["providerMetadata"] = chunk["providerMetadata"]

    def _merge_metadata(self, metadata: Any) -> None:
        # The client deep-merges message metadata (``mergeObjects``); so do we.
        if isinstance(metadata, dict):
            current = self._message.get("metadata")
            self._message["metadata"] = _deep_merge(current, metadata) if isinstance(current, dict) else metadata

    def _tool_part(self, call_id: str) -> dict[str, Any] | None:
        for part in reversed(self.parts):
            if part.get("toolCallId") == call_id:
                found: dict[str, Any] = part
                return found
        return None

    def add(self, chunk: Chunk) -> None:
        part: dict[str, Any] | None
        kind = chunk["type"]
        if kind == "text-delta":  # by far the most common: first
            self._delta(self._text[chunk["id"]], chunk)
        elif kind == "start":
            if "messageId" in chunk:
                self._message["id"] = chunk["messageId"]
            self._merge_metadata(chunk.get("messageMetadata"))
        elif kind == "start-step":
            self.parts.append({"type": "step-start"})
        elif kind == "reset-step":
            self._reset_step()
        elif kind == "text-start":
            part = {"type": "text", "text": "", "state": "streaming"}
            if "providerMetadata" in chunk:
                part["providerMetadata"] = chunk["providerMetadata"]
            self._text[chunk["id"]] = part
            self._pieces[id(part)] = []
            self.parts.append(part)
        elif kind == "text-end":
            self._end(self._text.pop(chunk["id"]), chunk)
        elif kind == "reasoning-start":
            part = {"type": "reasoning", "id": chunk["id"], "text": "", "state": "streaming"}
            if "providerMetadata" in chunk:
                part["providerMetadata"] = chunk["providerMetadata"]
            self._reasoning[chunk["id"]] = part
            self._pieces[id(part)] = []
            self.parts.append(part)
        elif kind == "reasoning-delta":
            self._delta(self._reasoning[chunk["id"]], chunk)
        elif kind == "reasoning-end":
            self._end(self._reasoning.pop(chunk["id"]), chunk)
        elif kind in ("tool-input-start", "tool-input-available", "tool-input-error"):
            self._tool_input(chunk)
        elif kind == "tool-input-delta":
            call_id = chunk["toolCallId"]
            self._raw_input[call_id] = self._raw_input.get(call_id, "") + chunk["inputTextDelta"]
        elif kind == "tool-approval-request":
            part = self._tool_part(chunk["toolCallId"])
            if part is not None:
                part["state"] = "approval-requested"
                part["approval"] = {"id": chunk["approvalId"]}
                if chunk.get("signature") is not None:
                    part["approval"]["signature"] = chunk["signature"]
        elif kind == "tool-output-available":
            self._tool_output(chunk, {"state": "output-available", "output": chunk.get("output")})
        elif kind == "tool-output-error":
            self._tool_output(chunk, {"state": "output-error", "errorText": chunk["errorText"]})
        elif kind == "tool-output-denied":
            part = self._tool_part(chunk["toolCallId"])
            if part is not None:
                part["state"] = "output-denied"
        elif kind in ("source-url", "source-document", "file", "reasoning-file", "custom"):
            self.parts.append({key: value for key, value in chunk.items()})
        elif kind == "message-metadata":
            self._merge_metadata(chunk.get("messageMetadata"))
        elif kind == "finish":
            self.finish_reason = chunk.get("finishReason")
            self._merge_metadata(chunk.get("messageMetadata"))
        elif kind == "error":
            self.error_text = chunk["errorText"]
        elif kind.startswith("data-"):
            self._data(chunk)

    def _reset_step(self) -> None:
        # As the client: drop every part after the last step-start (all of them if there is
        # none) and forget the open text, reasoning and partial tool inputs.
        starts = [index for index, part in enumerate(self.parts) if part.get("type") == "step-start"]
        del self.parts[starts[-1] + 1 if starts else 0 :]
        self._text.clear()
        self._reasoning.clear()
        self._pieces.clear()
        self._raw_input.clear()

    def _tool_input(self, chunk: Chunk) -> None:
        call_id = chunk["toolCallId"]
        part = self._tool_part(call_id)
        if part is None:
            part = {"type": f"tool-{chunk['toolName']}", "toolCallId": call_id}
            self.parts.append(part)
        for key in ("providerExecuted", "title"):
            if key in chunk:
                part[key] = chunk[key]
        if "providerMetadata" in chunk:
            part["callProviderMetadata"] = chunk["providerMetadata"]
        if chunk["type"] == "tool-input-start":
            part["state"] = "input-streaming"
            part["input"] = None
        elif chunk["type"] == "tool-input-available":
            part["state"] = "input-available"
            part["input"] = chunk["input"]
        else:
            part["state"] = "output-error"
            part["input"] = chunk["input"]
            part["errorText"] = chunk["errorText"]

    def _tool_output(self, chunk: Chunk, update: dict[str, Any]) -> None:
        part = self._tool_part(chunk["toolCallId"])
        if part is None:
            return
        part.update(update)
        if chunk.get("providerExecuted"):
            part["providerExecuted"] = True
        if "providerMetadata" in chunk:
            part["resultProviderMetadata"] = chunk["providerMetadata"]

    def _data(self, chunk: Chunk) -> None:
        if chunk.get("transient"):
            return
        part = {"type": chunk["type"], "data": chunk.get("data")}
        if "id" in chunk:
            part["id"] = chunk["id"]
            for existing in self.parts:
                if existing.get("type") == chunk["type"] and existing.get("id") == chunk["id"]:
                    existing["data"] = chunk.get("data")
                    return
        self.parts.append(part)


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        current = merged.get(key)
        merged[key] = _deep_merge(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
    return merged
