"""History conversion for provider ``openai`` (Responses API, stateless).

The neutral history becomes Responses input items. Opaque state is read back only from this
provider's own ``"openai"`` providerMetadata key: a reasoning part from another provider is
dropped, never replayed as OpenAI reasoning. The item shapes follow the AI SDK's
``packages/openai/src/responses/convert-to-openai-responses-input.ts`` with ``store: false``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never

from openai.types.responses import (
    EasyInputMessageParam,
    ResponseInputContentParam,
    ResponseInputItemParam,
    ResponseOutputMessageParam,
)
from openai.types.responses.response_reasoning_item_param import Summary

from backend.events import JsonValue, ProviderMetadata
from backend.messages import (
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
    UserMessage,
)
from backend.providers.openai_common import arguments_json, file_url, is_image, tool_result_text, unsupported_file

PROVIDER = "openai"


def to_openai_responses_input(messages: tuple[Message, ...]) -> list[ResponseInputItemParam]:
    """The neutral history as Responses input items (stateless: everything is sent)."""
    items: list[ResponseInputItemParam] = []
    for message in messages:
        match message:
            case SystemMessage():
                items.append(EasyInputMessageParam(role="system", content=message.text))
            case UserMessage():
                parts = [_user_part(content) for content in message.content]
                items.append(EasyInputMessageParam(role="user", content=parts))
            case AssistantMessage():
                items.extend(_assistant_items(message))
            case ToolMessage():
                for result in message.results:
                    items.append(
                        {
                            "type": "function_call_output",
                            "call_id": result.tool_call_id,
                            "output": tool_result_text(result),
                        }
                    )
            case _:
                assert_never(message)
    return items


def _user_part(content: TextContent | FileContent) -> ResponseInputContentParam:
    if isinstance(content, TextContent):
        return {"type": "input_text", "text": content.text}
    if is_image(content):
        return {"type": "input_image", "image_url": file_url(content), "detail": "auto"}
    if content.media_type == "application/pdf":
        if content.url is not None:
            return {"type": "input_file", "file_url": content.url}
        return {
            "type": "input_file",
            "filename": content.filename or "document.pdf",
            "file_data": file_url(content),
        }
    raise unsupported_file(content, PROVIDER)


def _own_item_id(metadata: ProviderMetadata | None) -> str | None:
    """The Responses item id, only if this provider issued the part (never a foreign key)."""
    own = metadata.get(PROVIDER) if metadata else None
    item_id = own.get("itemId") if own else None
    return item_id if isinstance(item_id, str) and item_id else None


def _collect_reasoning(contents: tuple[AssistantContent, ...]) -> dict[str, tuple[list[Summary], str | None]]:
    """Reasoning parts of one assistant message merged per item id, in order (the stream
    splits one item into a part per summary; only the last part carries the encrypted blob)."""
    merged: dict[str, tuple[list[Summary], str | None]] = {}
    for content in contents:
        if not isinstance(content, ReasoningContent):
            continue
        item_id = _own_item_id(content.provider_metadata)
        if item_id is None:
            continue  # reasoning from another provider is never replayed as opaque state
        summaries, encrypted = merged.get(item_id, ([], None))
        if content.text:
            summaries.append({"type": "summary_text", "text": content.text})
        own: Mapping[str, JsonValue] = (content.provider_metadata or {})[PROVIDER]
        blob = own.get("reasoningEncryptedContent")
        merged[item_id] = (summaries, blob if isinstance(blob, str) and blob else encrypted)
    return merged


def _assistant_items(message: AssistantMessage) -> list[ResponseInputItemParam]:
    reasoning = _collect_reasoning(message.content)
    # With store:false a reasoning item is only accepted with its encrypted content. If one
    # must be dropped, the message items lose their ids too: OpenAI rejects a message item
    # "provided without its required 'reasoning' item".
    keep_item_ids = all(encrypted is not None for _, encrypted in reasoning.values())
    items: list[ResponseInputItemParam] = []
    emitted: set[str] = set()
    for content in message.content:
        match content:
            case ReasoningContent():
                item_id = _own_item_id(content.provider_metadata)
                if item_id is None or item_id in emitted:
                    continue
                emitted.add(item_id)
                summaries, encrypted = reasoning[item_id]
                if encrypted is not None:
                    items.append(
                        {
                            "type": "reasoning",
                            "id": item_id,
                            "summary": summaries,
                            "encrypted_content": encrypted,
                        }
                    )
            case TextContent():
                if content.text:
                    items.append(_assistant_text(content, emitted if keep_item_ids else None))
            case ToolCallContent():
                if not content.provider_executed:
                    items.append(
                        {
                            "type": "function_call",
                            "call_id": content.tool_call_id,
                            "name": content.tool_name,
                            "arguments": arguments_json(content.input),
                        }
                    )
            case ProviderToolResultContent() | FileContent():
                continue  # another provider's server tools and generated files cannot be replayed
            case _:
                assert_never(content)
    return items


def _assistant_text(content: TextContent, emitted: set[str] | None) -> ResponseInputItemParam:
    item_id = _own_item_id(content.provider_metadata) if emitted is not None else None
    if item_id is None or emitted is None or item_id in emitted:
        return EasyInputMessageParam(role="assistant", content=content.text)
    emitted.add(item_id)
    return ResponseOutputMessageParam(
        type="message",
        id=item_id,
        role="assistant",
        status="completed",
        content=[{"type": "output_text", "text": content.text, "annotations": []}],
    )
