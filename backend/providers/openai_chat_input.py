"""History conversion for provider ``openai-chat`` (Chat Completions and compatible servers).

Tool results follow the assistant message that called them as one ``role: "tool"`` message
per result, in call order (README §2.3, REC ``chat_parallel_tool_calls_followup.request.json``).
Reasoning text is not sent back: OpenAI's own models stream none on this API and most
compatible servers ignore it. The exceptions are opaque state under this provider's own
``"openaiCompatible"`` key: OpenRouter ``reasoning_details`` (they carry Anthropic signatures)
and a tool call's ``extra_content`` (Gemini's thought signature on its OpenAI endpoint).
"""

from __future__ import annotations

from typing import assert_never, cast

from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionContentPartParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)

from backend.events import JsonValue, ProviderMetadata
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
    UserMessage,
)
from backend.providers.openai_common import arguments_json, file_url, is_image, tool_result_text, unsupported_file

PROVIDER = "openai-chat"
# The providerMetadata key, the AI SDK's name for OpenAI-compatible providers.
METADATA_KEY = "openaiCompatible"


def to_openai_chat_messages(system: str | None, messages: tuple[Message, ...]) -> list[ChatCompletionMessageParam]:
    """The system prompt and neutral history as Chat Completions messages."""
    converted: list[ChatCompletionMessageParam] = []
    if system:
        converted.append({"role": "system", "content": system})
    for message in messages:
        match message:
            case SystemMessage():
                converted.append({"role": "system", "content": message.text})
            case UserMessage():
                converted.append({"role": "user", "content": _user_content(message)})
            case AssistantMessage():
                assistant = _assistant_message(message)
                if assistant is not None:
                    converted.append(assistant)
            case ToolMessage():
                for result in message.results:
                    converted.append(
                        {"role": "tool", "tool_call_id": result.tool_call_id, "content": tool_result_text(result)}
                    )
            case _:
                assert_never(message)
    return converted


def _user_content(message: UserMessage) -> str | list[ChatCompletionContentPartParam]:
    # A lone text part goes as a plain string: every compatible server accepts that shape.
    if len(message.content) == 1 and isinstance(message.content[0], TextContent):
        return message.content[0].text
    parts: list[ChatCompletionContentPartParam] = []
    for content in message.content:
        if isinstance(content, TextContent):
            parts.append({"type": "text", "text": content.text})
        elif is_image(content):
            parts.append({"type": "image_url", "image_url": {"url": file_url(content)}})
        else:
            raise unsupported_file(content, PROVIDER)
    return parts


def _own(metadata: ProviderMetadata | None) -> dict[str, JsonValue]:
    own = metadata.get(METADATA_KEY) if metadata else None
    return dict(own) if own else {}


def _assistant_message(message: AssistantMessage) -> ChatCompletionAssistantMessageParam | None:
    texts: list[str] = []
    tool_calls: list[ChatCompletionMessageFunctionToolCallParam] = []
    reasoning_details: list[JsonValue] = []
    extra_contents: dict[str, JsonValue] = {}
    for content in message.content:
        match content:
            case TextContent():
                texts.append(content.text)
            case ReasoningContent():
                details = _own(content.provider_metadata).get("reasoningDetails")
                if isinstance(details, list):
                    reasoning_details.extend(details)
            case ToolCallContent():
                if content.provider_executed:
                    continue  # another provider's server tool: nothing here can replay it
                tool_calls.append(
                    {
                        "id": content.tool_call_id,
                        "type": "function",
                        "function": {"name": content.tool_name, "arguments": arguments_json(content.input)},
                    }
                )
                extra = _own(content.provider_metadata).get("extraContent")
                if extra is not None:
                    extra_contents[content.tool_call_id] = extra
            case ProviderToolResultContent() | FileContent():
                continue
            case _:
                assert_never(content)
    text = "".join(texts)
    if not text and not tool_calls and not reasoning_details:
        return None
    assistant: ChatCompletionAssistantMessageParam = {"role": "assistant"}
    if text:
        assistant["content"] = text
    if tool_calls:
        assistant["tool_calls"] = tool_calls
    # Vendor fields outside the SDK's TypedDicts; the SDK sends unknown keys as given.
    untyped = cast(dict[str, object], assistant)
    if reasoning_details:
        untyped["reasoning_details"] = reasoning_details
    for tool_call in tool_calls:
        if tool_call["id"] in extra_contents:
            cast(dict[str, object], tool_call)["extra_content"] = extra_contents[tool_call["id"]]
    return assistant
