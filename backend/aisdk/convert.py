"""``UIMessage[]`` (what the client holds) → provider-neutral ``Message``s.

Follows ``convertToModelMessages`` (``ai/src/ui/convert-to-model-messages.ts``): an assistant
message is split at ``step-start`` parts into ``assistant(content) + tool(results)`` pairs; an
``output-error`` becomes an error result, ``output-denied`` (or a denied approval) a denied
result; provider-executed tools keep their result inside the assistant content; tool calls with
no result yet are dropped (``ignoreIncompleteToolCalls``), since providers reject a call without
a result. Provider metadata is passed through untouched: each provider picks its own key.
Within a step, parts before a ``data-reset-step`` marker (a retry, as ai@5/6 clients hold it:
``protocol.py``) are an abandoned attempt and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from backend.aisdk.protocol import RESET_MARKER
from backend.aisdk.request import (
    FilePart,
    OtherPart,
    ReasoningPart,
    StepStartPart,
    TextPart,
    ToolPart,
    UIMessage,
)
from backend.errors import RequestError
from backend.events import JsonValue, Usage
from backend.messages import (
    ApprovalAnswer,
    AssistantContent,
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
    UserContent,
    UserMessage,
)


def file_content(part: FilePart, path: str) -> FileContent:
    """A file part as base64 text (a base64 ``data:`` URL, not decoded: see ``FileContent``), as bytes
    (a percent-encoded ``data:`` URL) or as a remote URL."""
    url = part.url
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        if header.endswith(";base64"):
            # The alphabet was checked in slices by request_limits.check_messages; the length is cheap.
            if len(payload) % 4:
                raise RequestError(f"{path}: the file's data URL is not valid base64.", code="invalid_file")
            return FileContent(media_type=part.mediaType, base64=payload, filename=part.filename, part_path=path)
        try:
            data = unquote_to_bytes(payload)
        except ValueError:
            raise RequestError(f"{path}: the file's data URL is not valid.", code="invalid_file") from None
        return FileContent(media_type=part.mediaType, data=data, filename=part.filename, part_path=path)
    if url.startswith(("http://", "https://")):
        return FileContent(media_type=part.mediaType, url=url, filename=part.filename, part_path=path)
    raise RequestError(f"{path}: a file URL must be a data: or http(s): URL.", code="invalid_file")


def _user_message(message: UIMessage, index: int) -> UserMessage | None:
    content: list[UserContent] = []
    for part_index, part in enumerate(message.parts):
        if isinstance(part, TextPart):
            content.append(TextContent(part.text))
        elif isinstance(part, FilePart):
            content.append(file_content(part, f"messages[{index}].parts[{part_index}]"))
    return UserMessage(tuple(content)) if content else None


def _tool_result(part: ToolPart) -> ToolResultContent | None:
    name = part.tool_name
    if part.state == "output-available":
        return ToolResultContent(part.toolCallId, name, _json(part.output), "output")
    if part.state == "output-error":
        return ToolResultContent(part.toolCallId, name, part.errorText or "The tool failed.", "error")
    if part.state == "output-denied" or (
        part.state == "approval-responded" and part.approval is not None and part.approval.approved is False
    ):
        reason = part.approval.reason if part.approval is not None else None
        return ToolResultContent(part.toolCallId, name, reason or "The user denied this tool call.", "denied")
    return None


def _json(value: Any) -> JsonValue:
    result: JsonValue = value
    return result


def _assistant_messages(message: UIMessage, index: int, resolved: Mapping[str, ToolResultContent]) -> list[Message]:
    blocks: list[list[Any]] = [[]]
    for part in message.parts:
        if isinstance(part, StepStartPart):
            if blocks[-1]:
                blocks.append([])
        elif isinstance(part, OtherPart) and part.type == RESET_MARKER:
            blocks[-1].clear()
        else:
            blocks[-1].append(part)
    result: list[Message] = []
    for block in blocks:
        content: list[AssistantContent] = []
        results: list[ToolResultContent] = []
        for part_index, part in enumerate(block):
            if isinstance(part, TextPart):
                # An empty text part may still carry a signature (Gemini 3's final part): keep it.
                if part.text or part.providerMetadata:
                    content.append(TextContent(part.text, part.providerMetadata))
            elif isinstance(part, ReasoningPart):
                content.append(ReasoningContent(part.text, part.providerMetadata))
            elif isinstance(part, FilePart):
                content.append(file_content(part, f"messages[{index}].parts[{part_index}]"))
            elif isinstance(part, ToolPart):
                _add_tool_part(part, content, results, resolved)
        if content:
            result.append(AssistantMessage(tuple(content)))
        if results:
            result.append(ToolMessage(tuple(results)))
    return result


def _add_tool_part(
    part: ToolPart,
    content: list[AssistantContent],
    results: list[ToolResultContent],
    resolved: Mapping[str, ToolResultContent],
) -> None:
    if part.providerExecuted:
        content.append(
            ToolCallContent(part.toolCallId, part.tool_name, _json(part.input), part.callProviderMetadata, True)
        )
        if part.state == "output-available":
            content.append(ProviderToolResultContent(part.toolCallId, part.tool_name, _json(part.output)))
        return
    tool_result = resolved.get(part.toolCallId) or _tool_result(part)
    if tool_result is None:
        return  # no result yet: providers reject a call without one
    content.append(ToolCallContent(part.toolCallId, part.tool_name, _json(part.input), part.callProviderMetadata))
    results.append(tool_result)


def to_model_messages(
    messages: list[UIMessage], resolved: Mapping[str, ToolResultContent] | None = None, *, first_index: int = 0
) -> tuple[Message, ...]:
    """Convert the whole history. System messages are kept in place (providers hoist them).

    ``resolved``: results the server produced for answered approvals (by tool call id), which
    the client's parts do not carry yet. ``first_index``: the first message's index in the
    whole history, for naming a part in an error.
    """
    converted: list[Message] = []
    for index, message in enumerate(messages, start=first_index):
        if message.role == "system":
            text = "".join(part.text for part in message.parts if isinstance(part, TextPart))
            if text:
                converted.append(SystemMessage(text))
        elif message.role == "user":
            user = _user_message(message, index)
            if user is not None:
                converted.append(user)
        else:
            converted.extend(_assistant_messages(message, index, resolved or {}))
    return tuple(converted)


def usage_from_aisdk(shape: Any) -> Usage:
    """A message's ``metadata.usage`` (AI SDK ``LanguageModelUsage``) as our ``Usage``: what a
    continued message already cost (the inverse of ``encode.usage_to_aisdk``)."""
    if not isinstance(shape, dict):
        return Usage()

    def count(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    input_details = shape.get("inputTokenDetails")
    output_details = shape.get("outputTokenDetails")
    inputs: dict[str, Any] = input_details if isinstance(input_details, dict) else {}
    outputs: dict[str, Any] = output_details if isinstance(output_details, dict) else {}
    return Usage(
        input_tokens=count(shape.get("inputTokens")),
        output_tokens=count(shape.get("outputTokens")),
        cache_read_tokens=count(inputs.get("cacheReadTokens")),
        cache_write_tokens=count(inputs.get("cacheWriteTokens")),
        reasoning_tokens=count(outputs.get("reasoningTokens")),
    )


def approval_answers(message: UIMessage) -> tuple[ApprovalAnswer, ...]:
    """The answered approvals (tool parts in state ``approval-responded``) of a continued
    assistant message, in part order. Unchecked: the tool runner verifies each against the
    approvals the server recorded."""
    answers = []
    for part in message.parts:
        if not isinstance(part, ToolPart) or part.state != "approval-responded" or part.providerExecuted:
            continue
        if part.approval is None or part.approval.approved is None:
            continue
        answers.append(
            ApprovalAnswer(
                part.toolCallId,
                part.tool_name,
                part.input,
                part.approval.id,
                part.approval.approved,
                part.approval.reason,
                part.approval.signature,
            )
        )
    return tuple(answers)
