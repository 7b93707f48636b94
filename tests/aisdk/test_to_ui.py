"""Neutral messages → UIMessages (a gateway conversation kept in a block) → neutral again: the same."""

from __future__ import annotations

from backend.aisdk.convert import to_model_messages
from backend.aisdk.request import parse_ui_messages
from backend.aisdk.to_ui import to_ui_messages
from backend.messages import (
    AssistantMessage,
    FileContent,
    ReasoningContent,
    SystemMessage,
    TextContent,
    ToolCallContent,
    ToolMessage,
    ToolResultContent,
    UserMessage,
)


def test_a_history_survives_the_round_trip_through_ui_messages() -> None:
    history = (
        SystemMessage("Be brief."),
        UserMessage(
            (TextContent("What is in this picture, and the weather?"), FileContent("image/png", data=b"\x89PNG"))
        ),
        AssistantMessage(
            (
                ReasoningContent("Look, then call the tool."),
                TextContent("A cat. Checking the weather."),
                ToolCallContent("call-1", "weather", {"city": "Paris"}),
            )
        ),
        ToolMessage((ToolResultContent("call-1", "weather", {"temperature": 18}),)),
        AssistantMessage((TextContent("18 degrees."),)),
        UserMessage((TextContent("And tomorrow?"),)),
    )
    ui = to_ui_messages(history, "gw")
    assert [message["id"] for message in ui] == ["gw-0", "gw-1", "gw-2", "gw-3"]
    assert [part["type"] for part in ui[2]["parts"]] == [
        "step-start",
        "reasoning",
        "text",
        "tool-weather",
        "step-start",
        "text",
    ]
    back = to_model_messages(parse_ui_messages(ui))
    file_part = back[1].content[1]  # type: ignore[union-attr]
    assert isinstance(file_part, FileContent) and file_part.payload() == b"\x89PNG"
    assert back[0] == history[0] and back[2:] == history[2:]
