"""The UI message stream for older clients: ai@7 chunks rewritten for ai@5 and ai@6.

The encoder speaks ai@7; a :class:`Downgrade` after it sends each client major only what its
``uiMessageChunkSchema`` accepts (a chunk outside the union fails the whole stream with
``AI_TypeValidationError``). From the sources of ai@5.0.277 and ai@6.0.325:

=============================  ==========================  ==========================
ai@7 chunk                     ai@6                        ai@5
=============================  ==========================  ==========================
``reset-step``                 unknown                     unknown
``finish`` ``interrupted``     unknown finish reason       unknown finish reason
``tool-approval-request``      accepted (``signature``)    unknown (no approvals)
``tool-output-denied``         accepted                    unknown
=============================  ==========================  ==========================

Every other chunk we send is accepted by both (their objects are loose: extra fields are
ignored). The rewrites:

* a **stop** ends with ``abort`` instead of ``finish`` ``interrupted``, as ``streamText`` of
  those majors ends an aborted stream;
* a **retry after output** (``reset-step``) ends the open text/reasoning parts and the
  partial tool inputs of the failed attempt, then sends a ``data-reset-step`` part: the client
  keeps the failed attempt's parts before it (those clients cannot drop parts), and the history
  conversion (``convert.py``) and a UI skip everything in the step before that marker;
* for ai@5, an approval request becomes a ``data-tool-approval-request`` part (ai@5 cannot
  answer it: answering needs ai@6+) and a denial a ``tool-output-error``.

The assembler folds the rewritten chunks, so the saved message is what that client holds.
"""

from __future__ import annotations

from typing import Literal

from backend.aisdk.encode import Chunk

ProtocolMajor = Literal[5, 6, 7]
PROTOCOL_MAJORS: tuple[ProtocolMajor, ...] = (5, 6, 7)
RESET_MARKER = "data-reset-step"
APPROVAL_MARKER = "data-tool-approval-request"
DISCARDED_TOOL_INPUT = "Discarded: this step was retried."
DENIED = "The user denied this tool call."


class Downgrade:
    """Stateful per response: ``rewrite(chunk)`` → the chunks this client major accepts."""

    def __init__(self, major: ProtocolMajor) -> None:
        self.major = major
        self._open_text: list[str] = []
        self._open_reasoning: list[str] = []
        self._partial_tools: dict[str, str] = {}  # toolCallId → toolName, input not yet complete

    def rewrite(self, chunk: Chunk) -> list[Chunk]:
        if self.major == 7:
            return [chunk]
        self._track(chunk)
        kind = chunk["type"]
        if kind == "reset-step":
            return self._reset()
        if kind == "finish" and chunk.get("finishReason") == "interrupted":
            return [{"type": "abort"}]
        if self.major == 5 and kind == "tool-approval-request":
            data = {key: value for key, value in chunk.items() if key != "type"}
            return [{"type": APPROVAL_MARKER, "data": data}]
        if self.major == 5 and kind == "tool-output-denied":
            return [{"type": "tool-output-error", "toolCallId": chunk["toolCallId"], "errorText": DENIED}]
        return [chunk]

    def _track(self, chunk: Chunk) -> None:
        kind = chunk["type"]
        if kind == "text-start":
            self._open_text.append(chunk["id"])
        elif kind == "text-end" and chunk["id"] in self._open_text:
            self._open_text.remove(chunk["id"])
        elif kind == "reasoning-start":
            self._open_reasoning.append(chunk["id"])
        elif kind == "reasoning-end" and chunk["id"] in self._open_reasoning:
            self._open_reasoning.remove(chunk["id"])
        elif kind == "tool-input-start":
            self._partial_tools[chunk["toolCallId"]] = chunk["toolName"]
        elif kind in ("tool-input-available", "tool-input-error"):
            self._partial_tools.pop(chunk["toolCallId"], None)

    def _reset(self) -> list[Chunk]:
        chunks: list[Chunk] = [{"type": "text-end", "id": part_id} for part_id in self._open_text]
        chunks += [{"type": "reasoning-end", "id": part_id} for part_id in self._open_reasoning]
        chunks += [
            {
                "type": "tool-input-error",
                "toolCallId": call_id,
                "toolName": name,
                "input": None,
                "errorText": DISCARDED_TOOL_INPUT,
            }
            for call_id, name in self._partial_tools.items()
        ]
        self._open_text.clear()
        self._open_reasoning.clear()
        self._partial_tools.clear()
        chunks.append({"type": RESET_MARKER, "data": {}})
        return chunks
