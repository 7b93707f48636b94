"""Rebuild one step's assistant turn (provider-neutral) from the events it streamed.

The loop needs it to call the model again after running server-side tools: the next call must
carry the assistant's text, reasoning (with its provider metadata: signatures, encrypted
content) and tool calls exactly as the model produced them, in order.
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.events import (
    ChatEvent,
    ProviderMetadata,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCall,
    ToolOutput,
    parse_tool_input,
)
from backend.messages import (
    AssistantContent,
    AssistantMessage,
    ProviderToolResultContent,
    ReasoningContent,
    TextContent,
    ToolCallContent,
)


class _Part:
    """A text or reasoning part being accumulated (latest non-empty metadata wins, as in the client)."""

    def __init__(self, kind: str, metadata: ProviderMetadata | None) -> None:
        self.kind = kind
        self.pieces: list[str] = []
        self.metadata = metadata

    def update(self, metadata: ProviderMetadata | None) -> None:
        if metadata:
            self.metadata = metadata

    def content(self) -> AssistantContent:
        text = "".join(self.pieces)
        if self.kind == "text":
            return TextContent(text, self.metadata)
        return ReasoningContent(text, self.metadata)


def assistant_message_from_events(events: Sequence[ChatEvent]) -> AssistantMessage:
    ordered: list[_Part | AssistantContent] = []
    open_parts: dict[tuple[str, str], _Part] = {}
    names: dict[str, str] = {}
    for event in events:
        match event:
            case TextStart() | ReasoningStart():
                kind = "text" if isinstance(event, TextStart) else "reasoning"
                part = _Part(kind, event.provider_metadata)
                open_parts[(kind, event.id)] = part
                ordered.append(part)
            case TextDelta() | ReasoningDelta():
                kind = "text" if isinstance(event, TextDelta) else "reasoning"
                part = open_parts[(kind, event.id)]
                part.pieces.append(event.delta)
                part.update(event.provider_metadata)
            case TextEnd() | ReasoningEnd():
                kind = "text" if isinstance(event, TextEnd) else "reasoning"
                open_parts.pop((kind, event.id)).update(event.provider_metadata)
            case ToolCall():
                value, _ = parse_tool_input(event.input_json)
                names[event.tool_call_id] = event.tool_name
                ordered.append(
                    ToolCallContent(
                        event.tool_call_id,
                        event.tool_name,
                        value,
                        event.provider_metadata,
                        event.provider_executed,
                    )
                )
            case ToolOutput():
                name = names.get(event.tool_call_id, "")
                ordered.append(
                    ProviderToolResultContent(event.tool_call_id, name, event.output, event.provider_metadata)
                )
            case _:
                pass
    content = tuple(item.content() if isinstance(item, _Part) else item for item in ordered)
    return AssistantMessage(
        tuple(c for c in content if not (isinstance(c, TextContent) and not c.text and not c.provider_metadata))
    )
