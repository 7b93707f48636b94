"""A scripted model (a fake of the model only, as the issue asks: "tests for the loop, scripted
model, no provider") and helpers that run the real loop, runner and encoder around it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel

from backend.aisdk.chunks import validate_chunk
from backend.aisdk.encode import UIMessageStreamEncoder
from backend.events import (
    ChatEvent,
    Finish,
    JsonValue,
    ProviderEvent,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCall,
    Usage,
)
from backend.loop import run_chat
from backend.messages import TextContent, UserMessage
from backend.presets import BuiltinToolOptions
from backend.providers.base import ModelCall
from backend.storage import ApprovalStore
from backend.tools.base import ModelTool, ToolContext
from backend.tools.runner import ServerToolRunner

Chunk = dict[str, Any]


class ScriptedModel:
    """Yields pre-written provider events, one list per model call, and records the calls."""

    provider = "scripted"

    def __init__(self, steps: Sequence[Sequence[ProviderEvent]]) -> None:
        self.steps = list(steps)
        self.calls: list[ModelCall] = []

    async def stream(self, call: ModelCall) -> AsyncIterator[ProviderEvent]:
        self.calls.append(call)
        step = self.steps[min(len(self.calls), len(self.steps)) - 1]
        for event in step:
            yield event

    async def aclose(self) -> None:
        pass


def text_step(text: str) -> list[ProviderEvent]:
    return [TextStart("0"), TextDelta("0", text), TextEnd("0"), Finish("stop", "end_turn", Usage(10, 5))]


def tool_step(*calls: tuple[str, str, str]) -> list[ProviderEvent]:
    """A step that only calls tools: ``(tool_call_id, tool_name, input_json)`` each."""
    events: list[ProviderEvent] = [ToolCall(call_id, name, input_json) for call_id, name, input_json in calls]
    events.append(Finish("tool-calls", "tool_use", Usage(10, 5)))
    return events


def user_call(text: str = "hello") -> ModelCall:
    return ModelCall(model="scripted-1", messages=(UserMessage((TextContent(text),)),))


def context(block_id: str = "block1", secrets: tuple[str, ...] = (), **options: Any) -> ToolContext:
    return ToolContext(block_id, BuiltinToolOptions(**options), secrets)


def function_tool(
    name: str,
    function: Callable[[Any, ToolContext], Awaitable[JsonValue]],
    input_model: type[BaseModel],
    **settings: Any,
) -> ModelTool[Any]:
    return ModelTool(name, f"The {name} tool.", input_model, function, **settings)


async def run_events(model: ScriptedModel, runner: ServerToolRunner | None, *, max_steps: int = 8) -> list[ChatEvent]:
    return [event async for event in run_chat(model, user_call(), tools=runner, max_steps=max_steps)]


def encode(events: Sequence[ChatEvent]) -> list[Chunk]:
    """Events → UI chunks through the real encoder; every chunk is checked against the schema."""
    encoder = UIMessageStreamEncoder()
    chunks = [encoder.start("msg-1", None)]
    for event in events:
        chunks.extend(encoder.encode(event))
    for chunk in chunks:
        validate_chunk(chunk)
    return chunks


def types_of(chunks: Sequence[Chunk]) -> list[str]:
    return [chunk["type"] for chunk in chunks]


def runner_for(tools: Sequence[ModelTool[Any]], approvals: ApprovalStore, **settings: Any) -> ServerToolRunner:
    return ServerToolRunner(tools, context(), approvals, **settings)
