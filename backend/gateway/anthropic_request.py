"""``POST /v1/messages`` (and ``/v1/messages/count_tokens``) bodies: models and conversion.

``cache_control`` on a text block travels as ``providerMetadata.anthropic.cacheControl`` (the AI
SDK's name), which only the Anthropic provider reads; thinking blocks keep their signature (and
redacted blocks their data) under the same key, so they go back to Anthropic unmodified and are
dropped for other providers. Unknown top-level fields (``metadata``, ``service_tier``,
``top_k``...) are ignored. Reference: https://docs.anthropic.com/en/api/messages
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.errors import RequestError
from backend.events import JsonValue, ProviderMetadata
from backend.gateway.common import (
    MAX_STOP_SEQUENCES,
    TOOL_NAME_PATTERN,
    GatewayRequest,
    decode_base64,
    file_from_url,
    tool_name_for,
)
from backend.messages import (
    AssistantContent,
    AssistantMessage,
    FileContent,
    Message,
    ReasoningContent,
    SystemMessage,
    TextContent,
    ToolCallContent,
    ToolChoice,
    ToolDefinition,
    ToolMessage,
    ToolResultContent,
    UserContent,
    UserMessage,
)

PROVIDER_KEY = "anthropic"  # the provider-metadata key the Anthropic provider reads


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CacheControl(_Model):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class TextBlock(_Model):
    type: Literal["text"]
    text: str
    cache_control: CacheControl | None = None


class Base64Source(_Model):
    type: Literal["base64"]
    media_type: str
    data: str


class UrlSource(_Model):
    type: Literal["url"]
    url: str


class ImageBlock(_Model):
    type: Literal["image"]
    source: Annotated[Base64Source | UrlSource, Field(discriminator="type")]


class DocumentBlock(_Model):
    type: Literal["document"]
    source: Annotated[Base64Source | UrlSource, Field(discriminator="type")]
    title: str | None = None


class ToolUseBlock(_Model):
    type: Literal["tool_use"]
    id: str = Field(min_length=1, max_length=256)
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    input: dict[str, Any]


class ToolResultBlock(_Model):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[TextBlock | ImageBlock] = ""
    is_error: bool = False


class ThinkingBlock(_Model):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(_Model):
    type: Literal["redacted_thinking"]
    data: str


Block = Annotated[
    TextBlock | ImageBlock | DocumentBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock,
    Field(discriminator="type"),
]


class MessageBody(_Model):
    role: Literal["user", "assistant"]
    content: str | list[Block]


class ToolBody(_Model):
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = ""
    input_schema: dict[str, Any]
    # A versioned `type` (web_search_20250305...) is a server tool of Anthropic's: not offered here.
    type: Literal["custom"] | None = None


class ToolChoiceBody(_Model):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = Field(default=None, pattern=TOOL_NAME_PATTERN)
    disable_parallel_tool_use: bool = False


class ThinkingBody(_Model):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: int | None = Field(default=None, ge=0)


class CountTokensBody(_Model):
    model: str = Field(min_length=1, max_length=200)
    messages: list[MessageBody] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[ToolBody] | None = None
    tool_choice: ToolChoiceBody | None = None
    thinking: ThinkingBody | None = None


class MessagesBody(CountTokensBody):
    max_tokens: int = Field(ge=1)
    temperature: float | None = None
    top_p: float | None = None
    stop_sequences: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=MAX_STOP_SEQUENCES
    )
    stream: bool = False


def _validated(model: type[CountTokensBody], payload: Any) -> Any:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        item = error.errors()[0]
        where = ".".join(str(part) for part in item["loc"])
        raise RequestError(f"{where}: {item['msg']}", code="invalid_request", details={"field": where}) from None


def parse_messages(payload: Any, *, count_only: bool = False) -> GatewayRequest:
    """A request body → ``GatewayRequest`` (``RequestError`` naming the field otherwise)."""
    body: CountTokensBody = _validated(CountTokensBody if count_only else MessagesBody, payload)
    options: dict[str, Any] = {}
    if body.thinking is not None:
        options["thinking"] = _thinking(body.thinking)
    stop: tuple[str, ...] = ()
    stream = False
    if isinstance(body, MessagesBody):
        options["maxTokens"] = body.max_tokens
        if body.temperature is not None:
            options["temperature"] = body.temperature
        if body.top_p is not None:
            options["topP"] = body.top_p
        stop, stream = tuple(body.stop_sequences or ()), body.stream
    choice = body.tool_choice
    return GatewayRequest(
        model=body.model,
        messages=to_messages(body.system, body.messages),
        options=options,
        tools=None if body.tools is None else tuple(_tool(tool) for tool in body.tools),
        tool_choice=_tool_choice(choice),
        parallel_tool_calls=False if choice is not None and choice.disable_parallel_tool_use else None,
        stop_sequences=stop,
        stream=stream,
    )


def _thinking(thinking: ThinkingBody) -> dict[str, Any]:
    if thinking.type == "disabled":
        return {"enabled": False}
    if thinking.type == "enabled" and thinking.budget_tokens is not None:
        return {"enabled": True, "budgetTokens": thinking.budget_tokens}
    return {"enabled": True}


def _tool(tool: ToolBody) -> ToolDefinition:
    return ToolDefinition(tool.name, tool.description, dict(tool.input_schema))


def _tool_choice(choice: ToolChoiceBody | None) -> ToolChoice | None:
    if choice is None:
        return None
    if choice.type == "tool":
        if choice.name is None:
            raise RequestError("tool_choice.name: required when type is 'tool'.", code="invalid_request")
        return ToolChoice("tool", choice.name)
    return ToolChoice({"auto": "auto", "any": "required", "none": "none"}[choice.type])  # type: ignore[arg-type]


def _metadata(cache_control: CacheControl | None) -> ProviderMetadata | None:
    if cache_control is None:
        return None
    value: dict[str, JsonValue] = {"type": cache_control.type}
    if cache_control.ttl is not None:
        value["ttl"] = cache_control.ttl
    return {PROVIDER_KEY: {"cacheControl": value}}


def to_messages(system: str | list[TextBlock] | None, bodies: list[MessageBody]) -> tuple[Message, ...]:
    """Anthropic messages → neutral ones: ``tool_result`` blocks become a tool message before the
    rest of their user turn, which is how every provider expects results (right after the calls)."""
    messages: list[Message] = []
    if system:
        text = system if isinstance(system, str) else "\n\n".join(block.text for block in system)
        messages.append(SystemMessage(text))
    tool_names: dict[str, str] = {}
    for index, body in enumerate(bodies):
        path = f"messages[{index}]"
        blocks: list[Any] = (
            [TextBlock(type="text", text=body.content)] if isinstance(body.content, str) else list(body.content)
        )
        if body.role == "assistant":
            messages.append(AssistantMessage(_assistant(blocks, tool_names, path)))
            continue
        results = [
            _result(
                block, tool_name_for(tool_names, f"{path}.content[{position}].tool_use_id", block.tool_use_id), path
            )
            for position, block in enumerate(blocks)
            if isinstance(block, ToolResultBlock)
        ]
        if results:
            messages.append(ToolMessage(tuple(results)))
        content = _user_content(
            [(position, block) for position, block in enumerate(blocks) if not isinstance(block, ToolResultBlock)], path
        )
        if content:
            messages.append(UserMessage(content))
    return tuple(messages)


def _user_content(blocks: list[tuple[int, Any]], path: str) -> tuple[UserContent, ...]:
    content: list[UserContent] = []
    for position, block in blocks:
        where = f"{path}.content[{position}]"
        match block:
            case TextBlock():
                content.append(TextContent(block.text, _metadata(block.cache_control)))
            case ImageBlock() | DocumentBlock():
                content.append(_file(block, where))
            case _:
                raise RequestError(
                    f"{where}: a {block.type} block cannot be in a user message.",
                    code="invalid_message",
                    details={"field": where},
                )
    return tuple(content)


def _file(block: ImageBlock | DocumentBlock, where: str) -> FileContent:
    source = block.source
    default_type = "application/pdf" if isinstance(block, DocumentBlock) else None
    if isinstance(source, UrlSource):
        return file_from_url(source.url, where, default_type)
    return FileContent(
        media_type=source.media_type,
        data=decode_base64(source.data, where),
        filename=block.title if isinstance(block, DocumentBlock) else None,
        part_path=where,
    )


def _result(block: ToolResultBlock, name: str, path: str) -> ToolResultContent:
    if isinstance(block.content, str):
        text = block.content
    else:
        if any(isinstance(part, ImageBlock) for part in block.content):
            raise RequestError(
                f"{path}: images inside a tool_result are not supported; send the text of the result.",
                code="unsupported_file",
                details={"field": path},
            )
        text = "".join(part.text for part in block.content if isinstance(part, TextBlock))
    return ToolResultContent(block.tool_use_id, name, text, "error" if block.is_error else "output")


def _assistant(blocks: list[Any], tool_names: dict[str, str], path: str) -> tuple[AssistantContent, ...]:
    content: list[AssistantContent] = []
    for position, block in enumerate(blocks):
        match block:
            case TextBlock():
                content.append(TextContent(block.text, _metadata(block.cache_control)))
            case ThinkingBlock():
                signature: ProviderMetadata | None = None
                if block.signature:
                    signature = {PROVIDER_KEY: {"signature": block.signature}}
                content.append(ReasoningContent(block.thinking, signature))
            case RedactedThinkingBlock():
                content.append(ReasoningContent("", {PROVIDER_KEY: {"redactedData": block.data}}))
            case ToolUseBlock():
                tool_names[block.id] = block.name
                content.append(ToolCallContent(block.id, block.name, block.input))
            case _:
                where = f"{path}.content[{position}]"
                raise RequestError(
                    f"{where}: a {block.type} block cannot be in an assistant message.",
                    code="invalid_message",
                    details={"field": where},
                )
    return tuple(content)
