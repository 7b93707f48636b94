"""Provider-neutral messages → ``UIMessage``s: how a conversation that came in another wire (the
OpenAI- or Anthropic-compatible APIs) is stored in a block, so the web UI and ``useChat`` can open
it. The inverse of ``convert.to_model_messages`` for what both can say: text, reasoning, files,
tool calls with their results.
"""

from __future__ import annotations

from typing import Any

from backend.messages import (
    AssistantMessage,
    FileContent,
    Message,
    ProviderToolResultContent,
    ReasoningContent,
    SystemMessage,
    TextContent,
    ToolCallContent,
    ToolMessage,
    ToolResultContent,
    UserMessage,
)


def _file_part(content: FileContent) -> dict[str, Any]:
    url = content.url
    if url is None:
        url = f"data:{content.media_type};base64,{content.base64_text()}"
    part: dict[str, Any] = {"type": "file", "mediaType": content.media_type, "url": url}
    if content.filename:
        part["filename"] = content.filename
    return part


def _tool_part(call: ToolCallContent, result: ToolResultContent | None) -> dict[str, Any]:
    part: dict[str, Any] = {"type": f"tool-{call.tool_name}", "toolCallId": call.tool_call_id, "input": call.input}
    if result is None:
        part["state"] = "input-available"
    elif result.kind == "output":
        part.update(state="output-available", output=result.output)
    elif result.kind == "error":
        part.update(state="output-error", errorText=str(result.output))
    else:
        part["state"] = "output-denied"
    return part


def _assistant_parts(message: AssistantMessage, results: dict[str, ToolResultContent]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "step-start"}]
    for content in message.content:
        if isinstance(content, TextContent):
            parts.append({"type": "text", "text": content.text, "state": "done"})
        elif isinstance(content, ReasoningContent):
            parts.append({"type": "reasoning", "text": content.text, "state": "done"})
        elif isinstance(content, FileContent):
            parts.append(_file_part(content))
        elif isinstance(content, ToolCallContent) and not content.provider_executed:
            parts.append(_tool_part(content, results.get(content.tool_call_id)))
        # Provider-run tools and their results stay with the provider that ran them.
        elif isinstance(content, ProviderToolResultContent | ToolCallContent):
            continue
    return parts


def to_ui_messages(messages: tuple[Message, ...], id_prefix: str) -> list[dict[str, Any]]:
    """The history as UIMessages, with ids ``<id_prefix>-<n>``. An assistant turn and the tool
    results after it become one assistant message, one ``step-start`` per model call."""
    results = {
        result.tool_call_id: result
        for message in messages
        if isinstance(message, ToolMessage)
        for result in message.results
    }
    ui: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            ui.append({"role": "system", "parts": [{"type": "text", "text": message.text}]})
        elif isinstance(message, UserMessage):
            parts = [
                {"type": "text", "text": part.text} if isinstance(part, TextContent) else _file_part(part)
                for part in message.content
            ]
            ui.append({"role": "user", "parts": parts})
        elif isinstance(message, AssistantMessage):
            parts = _assistant_parts(message, results)
            if ui and ui[-1]["role"] == "assistant":
                ui[-1]["parts"].extend(parts)  # the next step of the same answer, after its tool results
            else:
                ui.append({"role": "assistant", "parts": parts})
    return [{"id": f"{id_prefix}-{index}", **message} for index, message in enumerate(ui)]
