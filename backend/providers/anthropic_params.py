"""``ModelCall`` → Anthropic ``messages.create`` params, including the conversation history.

Rules (../shared/provider-wire/README.md §1.2 and §1.6, the AI SDK's
``packages/anthropic/src/convert-to-anthropic-prompt.ts``):

* Assistant content goes back in its original order; ``thinking`` / ``redacted_thinking``
  blocks and their signatures go back unmodified, or the API answers 400.
* Reasoning without Anthropic metadata (another provider's) is dropped: it cannot be signed.
* All tool results of one step go in ONE user message, in call order; two user messages that
  would be adjacent are merged so the roles keep alternating.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Final, Literal, TypeAlias, assert_never, cast

from anthropic.types import (
    CacheControlEphemeralParam,
    ContentBlockParam,
    ImageBlockParam,
    MessageParam,
    TextBlockParam,
    ThinkingConfigParam,
    ToolChoiceParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUnionParam,
)
from anthropic.types.message_create_params import MessageCreateParamsStreaming

from backend.errors import ProviderError
from backend.events import JsonValue
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
    ToolResultContent,
    UserMessage,
)
from backend.providers.anthropic_spec import PROVIDER, AnthropicOptions
from backend.providers.base import ModelCall, read_options

_MINIMUM_THINKING_BUDGET: Final = 1024  # types/thinking_config_enabled_param.py
_IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Server tool name → the block type its result comes back in (types/content_block_param.py).
_SERVER_RESULT_TYPES: Final = {
    "web_search": "web_search_tool_result",
    "web_fetch": "web_fetch_tool_result",
    "code_execution": "code_execution_tool_result",
    "bash_code_execution": "bash_code_execution_tool_result",
    "text_editor_code_execution": "text_editor_code_execution_tool_result",
    "tool_search_tool_regex": "tool_search_tool_result",
    "tool_search_tool_bm25": "tool_search_tool_result",
}
Role: TypeAlias = Literal["user", "assistant"]


class AnthropicParams(MessageCreateParamsStreaming, total=False):
    """Keyword arguments for ``AsyncMessages.create``: the SDK's streaming params plus
    ``extra_body`` for request fields SDK 2.12 no longer types (``temperature``, ``top_p``)."""

    extra_body: dict[str, object]


def to_anthropic_params(call: ModelCall) -> AnthropicParams:
    """Everything ``messages.create`` needs for ``call``, with ``stream=True``.

    Raises ``ProviderError`` (``bad_request``) for input Anthropic cannot take (an unsupported file type, an
    invalid provider option), before any request is made.
    """
    options = read_options(call, PROVIDER, AnthropicOptions)
    caching = options.prompt_caching
    params: AnthropicParams = {
        "model": call.model,
        "max_tokens": call.max_tokens,
        "messages": to_anthropic_messages(call.messages),
        "stream": True,
    }
    system = _system_blocks(call, caching)
    if system:
        params["system"] = system
    tools = _tools(call, options, caching)
    if tools:
        params["tools"] = tools
    _apply_thinking(call, options, params)
    if call.stop_sequences:
        params["stop_sequences"] = list(call.stop_sequences)
    tool_choice = _tool_choice(call)
    if tool_choice is not None and call.tools:
        params["tool_choice"] = tool_choice
    return params


def _tool_choice(call: ModelCall) -> ToolChoiceParam | None:
    choice = call.tool_choice
    # Anthropic says "no parallel calls" inside tool_choice (types/tool_choice_auto_param.py).
    serial = {"disable_parallel_tool_use": True} if call.parallel_tool_calls is False else {}
    if choice is None:
        return cast(ToolChoiceParam, {"type": "auto", **serial}) if serial else None
    match choice.mode:
        case "auto":
            return cast(ToolChoiceParam, {"type": "auto", **serial})
        case "none":
            return {"type": "none"}
        case "required":
            return cast(ToolChoiceParam, {"type": "any", **serial})
        case "tool":
            return cast(ToolChoiceParam, {"type": "tool", "name": choice.tool_name or "", **serial})
        case _:
            assert_never(choice.mode)


def _system_blocks(call: ModelCall, caching: bool) -> list[TextBlockParam]:
    # System messages inside the history are hoisted: the Messages API takes one `system`.
    texts = [call.system] if call.system else []
    texts += [message.text for message in call.messages if isinstance(message, SystemMessage) and message.text]
    blocks: list[TextBlockParam] = [{"type": "text", "text": text} for text in texts]
    if blocks and caching:
        blocks[-1]["cache_control"] = _ephemeral()
    return blocks


def _tools(call: ModelCall, options: AnthropicOptions, caching: bool) -> list[ToolUnionParam]:
    tools: list[ToolUnionParam] = []
    for tool in call.tools:
        param: ToolParam = {"name": tool.name, "input_schema": cast(dict[str, object], tool.input_schema)}
        if tool.description:
            param["description"] = tool.description
        tools.append(param)
    # Anthropic-run tools (web search, code execution) are provider knobs, passed through as
    # written, e.g. {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}.
    tools += [cast(ToolUnionParam, dict(tool)) for tool in options.server_tools]
    if tools and caching:
        # One breakpoint after the last tool caches every tool definition (tools come first in
        # the cache prefix: tools → system → messages).
        last = cast(dict[str, object], dict(tools[-1]))
        last["cache_control"] = _ephemeral()
        tools[-1] = cast(ToolUnionParam, last)
    return tools


def _apply_thinking(call: ModelCall, options: AnthropicOptions, params: AnthropicParams) -> None:
    settings = call.thinking
    display = options.thinking_display
    if settings.enabled:
        thinking: ThinkingConfigParam
        if settings.budget_tokens is not None:
            budget = max(settings.budget_tokens, _MINIMUM_THINKING_BUDGET)
            if budget >= call.max_tokens:
                # budget_tokens must be < max_tokens; like the AI SDK, thinking then gets its budget
                # on top of the answer's max_tokens instead of failing the request.
                params["max_tokens"] = call.max_tokens + budget
            thinking = {"type": "enabled", "budget_tokens": budget}
        else:
            thinking = {"type": "adaptive"}  # also turns on interleaved thinking, no beta header
        if display is not None:
            thinking["display"] = display
        params["thinking"] = thinking
    else:
        # With thinking on, Anthropic rejects temperature/top_p, so they are only sent without.
        # SDK 2.12 has no parameters for them any more; the API still reads them from the body.
        sampling = {"temperature": call.temperature, "top_p": call.top_p}
        extra_body: dict[str, object] = {name: value for name, value in sampling.items() if value is not None}
        if extra_body:
            params["extra_body"] = extra_body
    if settings.effort is not None:
        # Anthropic has no "minimal" effort; "low" is its lowest (types/output_config_param.py).
        params["output_config"] = {"effort": "low" if settings.effort == "minimal" else settings.effort}


def _ephemeral() -> CacheControlEphemeralParam:
    return {"type": "ephemeral"}


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------


def to_anthropic_messages(messages: Sequence[Message]) -> list[MessageParam]:
    """Provider-neutral history → alternating Anthropic user/assistant messages."""
    turns: list[tuple[Role, list[ContentBlockParam]]] = []

    def append(role: Role, blocks: list[ContentBlockParam]) -> None:
        if not blocks:
            return
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))

    for message in messages:
        match message:
            case SystemMessage():
                pass  # hoisted into `system` by _system_blocks
            case UserMessage(content=content):
                append("user", [block for part in content if (block := _user_block(part)) is not None])
            case AssistantMessage(content=content):
                append("assistant", _assistant_blocks(content))
            case ToolMessage(results=results):
                append("user", [_tool_result_block(result) for result in results])
            case _:
                assert_never(message)
    return [
        {"role": "user", "content": blocks} if role == "user" else {"role": "assistant", "content": blocks}
        for role, blocks in turns
    ]


def _user_block(part: TextContent | FileContent) -> ContentBlockParam | None:
    if isinstance(part, TextContent):
        # The API rejects empty text blocks.
        return _text_block(part) if part.text else None
    return _file_block(part)


def _text_block(part: TextContent) -> TextBlockParam:
    """A text block, with the cache breakpoint a caller set on it (the AI SDK's
    ``providerOptions.anthropic.cacheControl``, which the Anthropic-compatible endpoint fills)."""
    block: TextBlockParam = {"type": "text", "text": part.text}
    cache_control = (part.provider_metadata or {}).get(PROVIDER, {}).get("cacheControl")
    if isinstance(cache_control, dict) and cache_control.get("type") == "ephemeral":
        block["cache_control"] = cast(CacheControlEphemeralParam, dict(cache_control))
    return block


def _file_block(file: FileContent) -> ContentBlockParam:
    media_type = file.media_type.lower()
    if media_type.startswith("image/") or media_type == "image":
        if file.url is not None:
            return {"type": "image", "source": {"type": "url", "url": file.url}}
        if file.inline and media_type in _IMAGE_TYPES:
            image: ImageBlockParam = {
                "type": "image",
                "source": {
                    "type": "base64",
                    "media_type": cast(_ImageType, media_type),
                    "data": file.base64_text(),
                },
            }
            return image
    elif media_type == "application/pdf":
        if file.url is not None:
            source: dict[str, str] = {"type": "url", "url": file.url}
            return cast(ContentBlockParam, {"type": "document", "source": source, **_title(file)})
        if file.inline:
            source = {"type": "base64", "media_type": "application/pdf", "data": file.base64_text()}
            return cast(ContentBlockParam, {"type": "document", "source": source, **_title(file)})
    elif media_type.startswith("text/") and file.inline:
        # Any text file is sent as a plain-text document (the API's only text source type).
        text = file.payload().decode("utf-8", errors="replace")
        source = {"type": "text", "media_type": "text/plain", "data": text}
        return cast(ContentBlockParam, {"type": "document", "source": source, **_title(file)})
    raise ProviderError.unsupported_input(
        PROVIDER,
        f"Anthropic models cannot read the file at {file.part_path} ({file.media_type}"
        f"{', as a URL' if file.url is not None else ''})",
    )


_ImageType: TypeAlias = Literal["image/jpeg", "image/png", "image/gif", "image/webp"]


def _title(file: FileContent) -> dict[str, str]:
    return {"title": file.filename} if file.filename else {}


def _assistant_blocks(content: Iterable[AssistantContent]) -> list[ContentBlockParam]:
    blocks: list[ContentBlockParam] = []
    server_call_ids: set[str] = set()
    for part in content:
        match part:
            case TextContent(text=text):
                if text:
                    blocks.append(_text_block(part))
            case ReasoningContent():
                reasoning = _reasoning_block(part)
                if reasoning is not None:
                    blocks.append(reasoning)
            case ToolCallContent(provider_executed=False):
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": part.tool_call_id,
                        "name": part.tool_name,
                        "input": _input(part),
                    }
                )
            case ToolCallContent():
                if _is_own_server_call(part):
                    server_call_ids.add(part.tool_call_id)
                    server_call = {
                        "type": "server_tool_use",
                        "id": part.tool_call_id,
                        "name": part.tool_name,
                        "input": _input(part),
                    }
                    blocks.append(cast(ContentBlockParam, server_call))
            case ProviderToolResultContent():
                # Only results of calls sent above: another provider's server tools mean nothing here.
                if part.tool_call_id in server_call_ids:
                    block_type = _SERVER_RESULT_TYPES[part.tool_name]
                    result = {"type": block_type, "tool_use_id": part.tool_call_id, "content": part.output}
                    blocks.append(cast(ContentBlockParam, result))
            case FileContent():
                pass  # files a model generated (e.g. Gemini images) cannot be assistant input here
            case _:
                assert_never(part)
    return blocks


def _reasoning_block(part: ReasoningContent) -> ContentBlockParam | None:
    metadata = (part.provider_metadata or {}).get(PROVIDER, {})
    signature = metadata.get("signature")
    if isinstance(signature, str):
        return {"type": "thinking", "thinking": part.text, "signature": signature}
    redacted_data = metadata.get("redactedData")
    if isinstance(redacted_data, str):
        return {"type": "redacted_thinking", "data": redacted_data}
    return None  # unsigned (another provider's) reasoning cannot be sent back as thinking


def _is_own_server_call(part: ToolCallContent) -> bool:
    # Anthropic server tool ids start with "srvtoolu_"; OpenAI's web search is also named
    # "web_search", so the name alone does not say who ran it.
    own = part.tool_call_id.startswith("srvtoolu_") or PROVIDER in (part.provider_metadata or {})
    return own and part.tool_name in _SERVER_RESULT_TYPES


def _input(part: ToolCallContent) -> dict[str, object]:
    # `input` must be an object; a call whose JSON did not parse is answered by its error result.
    return dict(part.input) if isinstance(part.input, dict) else {}


def _tool_result_block(result: ToolResultContent) -> ToolResultBlockParam:
    block: ToolResultBlockParam = {"type": "tool_result", "tool_use_id": result.tool_call_id}
    content = _tool_result_content(result)
    if content:
        block["content"] = content
    if result.is_error:
        block["is_error"] = True
    return block


def _tool_result_content(result: ToolResultContent) -> list[TextBlockParam | ImageBlockParam]:
    output = result.output
    if result.kind == "denied":
        text = output if isinstance(output, str) and output else "The user denied this tool call."
    elif isinstance(output, str):
        text = output
    elif (blocks := _mcp_content_blocks(output)) is not None:
        return blocks
    else:
        text = json.dumps(output, ensure_ascii=False)
    return [{"type": "text", "text": text}] if text else []


def _mcp_content_blocks(output: JsonValue) -> list[TextBlockParam | ImageBlockParam] | None:
    """MCP-style tool content (``[{"type": "text", "text"}, {"type": "image", "data",
    "mimeType"}]``) as Anthropic content blocks, or ``None`` if ``output`` is not that."""
    if not isinstance(output, list) or not output:
        return None
    blocks: list[TextBlockParam | ImageBlockParam] = []
    for item in output:
        if not isinstance(item, dict):
            return None
        text, data, media_type = item.get("text"), item.get("data"), item.get("mimeType")
        if item.get("type") == "text" and isinstance(text, str):
            blocks.append({"type": "text", "text": text})
        elif item.get("type") == "image" and isinstance(data, str) and media_type in _IMAGE_TYPES:
            source = {"type": "base64", "media_type": media_type, "data": data}
            blocks.append(cast(ImageBlockParam, {"type": "image", "source": source}))
        else:
            return None
    return blocks
