"""UIMessage history → provider-neutral messages, from the AI SDK client's own request bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.aisdk.convert import to_model_messages
from backend.aisdk.request import UIMessage, parse_chat_request, parse_ui_messages
from backend.errors import RequestError
from backend.messages import AssistantMessage, FileContent, TextContent, ToolCallContent, ToolMessage, UserMessage

GOLDEN = Path(__file__).parent.parent / "fixtures" / "aisdk-golden"


def golden_body(name: str) -> dict[str, object]:
    body: dict[str, object] = json.loads((GOLDEN / name).read_text())["body"]
    return body


def test_every_golden_request_body_parses() -> None:
    for path in sorted(GOLDEN.glob("request-*.json")):
        body = json.loads(path.read_text()).get("body")
        if body is None:
            continue  # the resume GET has no body
        request = parse_chat_request(body)
        to_model_messages(request.messages)


def test_file_parts_come_first_and_decode() -> None:
    request = parse_chat_request(golden_body("request-file.json"))
    (user,) = to_model_messages(request.messages)
    assert isinstance(user, UserMessage)
    file_part, text_part = user.content
    assert isinstance(file_part, FileContent) and file_part.media_type == "image/png"
    assert file_part.inline and file_part.payload().startswith(b"\x89PNG")
    assert file_part.part_path == "messages[0].parts[0]"
    assert isinstance(text_part, TextContent)


def test_client_tool_result_becomes_call_then_result() -> None:
    request = parse_chat_request(golden_body("request-followup-tool-result.json"))
    _user, assistant, tool = to_model_messages(request.messages)
    assert isinstance(assistant, AssistantMessage) and isinstance(tool, ToolMessage)
    _text, call = assistant.content
    assert isinstance(call, ToolCallContent) and call.tool_name == "askForConfirmation"
    assert tool.results[0].output == {"confirmed": True} and tool.results[0].kind == "output"


def test_tool_error_and_denial_become_error_results() -> None:
    request = parse_chat_request(golden_body("request-followup-tool-error.json"))
    *_, tool = to_model_messages(request.messages)
    assert isinstance(tool, ToolMessage) and tool.results[0].kind == "error"
    denied = parse_chat_request(golden_body("request-approval-denied-2.json"))
    *_, tool = to_model_messages(denied.messages)
    assert isinstance(tool, ToolMessage) and tool.results[0].kind == "denied"


def test_steps_split_assistant_messages() -> None:
    message = UIMessage.model_validate(
        {
            "id": "a",
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {"type": "text", "text": "checking"},
                {"type": "tool-get", "toolCallId": "c1", "state": "output-available", "input": {}, "output": 1},
                {"type": "step-start"},
                {"type": "text", "text": "done"},
            ],
        }
    )
    converted = to_model_messages([message])
    assert [type(item).__name__ for item in converted] == ["AssistantMessage", "ToolMessage", "AssistantMessage"]


def test_incomplete_tool_calls_are_dropped() -> None:
    message = UIMessage.model_validate(
        {
            "id": "a",
            "role": "assistant",
            "parts": [
                {"type": "text", "text": "x"},
                {"type": "tool-get", "toolCallId": "c1", "state": "input-available", "input": {}},
            ],
        }
    )
    (assistant,) = to_model_messages([message])
    assert isinstance(assistant, AssistantMessage) and len(assistant.content) == 1


def test_bad_data_url_names_the_part() -> None:
    message = UIMessage.model_validate(
        {
            "id": "u",
            "role": "user",
            "parts": [
                {"type": "text", "text": "see"},
                {"type": "file", "mediaType": "image/png", "url": "data:image/png;base64,@@"},
            ],
        }
    )
    with pytest.raises(RequestError, match=r"messages\[0\]\.parts\[1\]"):
        to_model_messages([message])


def test_malformed_stored_message_names_index_and_field() -> None:
    good = {"id": "u", "role": "user", "parts": [{"type": "text", "text": "hi"}]}
    bad = {"id": "a", "role": "assistant", "parts": [{"type": "tool-x", "toolCallId": "c", "state": "bogus"}]}
    with pytest.raises(RequestError) as caught:
        parse_ui_messages([good, bad])
    assert "messages[1]" in caught.value.public_message and "state" in caught.value.public_message
    assert caught.value.details["messageIndex"] == 1
