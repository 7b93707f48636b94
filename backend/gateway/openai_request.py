"""``POST /v1/chat/completions`` bodies: the pydantic models and their conversion.

Fields outside the models (``user``, ``seed``, ``store``, ``metadata``, ``logprobs``...) are
ignored, as most compatible servers do; ``n`` other than 1 is refused. Reference:
https://platform.openai.com/docs/api-reference/chat/create
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.errors import RequestError
from backend.events import JsonValue
from backend.gateway.common import (
    MAX_STOP_SEQUENCES,
    TOOL_NAME_PATTERN,
    GatewayRequest,
    file_from_url,
    tool_name_for,
)
from backend.messages import (
    AssistantContent,
    AssistantMessage,
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


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TextPart(_Model):
    type: Literal["text"]
    text: str


class ImageUrl(_Model):
    url: str
    detail: str | None = None


class ImagePart(_Model):
    type: Literal["image_url"]
    image_url: ImageUrl


class OtherPart(_Model):
    """A content part Chatwire does not take (audio, files by id): refused by name."""

    type: str


ContentPart = Annotated[TextPart | ImagePart | OtherPart, Field(union_mode="left_to_right")]


class SystemMessageBody(_Model):
    role: Literal["system", "developer"]
    content: str | list[TextPart]


class UserMessageBody(_Model):
    role: Literal["user"]
    content: str | list[ContentPart]


class FunctionCall(_Model):
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    arguments: str


class ToolCallBody(_Model):
    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: FunctionCall


class AssistantMessageBody(_Model):
    role: Literal["assistant"]
    content: str | list[TextPart] | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallBody] | None = None


class ToolMessageBody(_Model):
    role: Literal["tool"]
    tool_call_id: str
    content: str | list[TextPart]


MessageBody = Annotated[
    SystemMessageBody | UserMessageBody | AssistantMessageBody | ToolMessageBody, Field(discriminator="role")
]


class FunctionDefinition(_Model):
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolBody(_Model):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Model):
    name: str = Field(pattern=TOOL_NAME_PATTERN)


class NamedToolChoice(_Model):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(_Model):
    include_usage: bool = False


class ChatCompletionBody(_Model):
    model: str = Field(min_length=1, max_length=200)
    messages: list[MessageBody] = Field(min_length=1)
    tools: list[ToolBody] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    n: int = 1


def parse_chat_completion(payload: Any) -> GatewayRequest:
    """A request body → ``GatewayRequest`` (``RequestError`` naming the field otherwise)."""
    try:
        body = ChatCompletionBody.model_validate(payload)
    except ValidationError as error:
        item = error.errors()[0]
        where = ".".join(str(part) for part in item["loc"])
        raise RequestError(f"{where}: {item['msg']}", code="invalid_request", details={"field": where}) from None
    if body.n != 1:
        raise RequestError(
            "n: only one choice per request is supported.", code="invalid_request", details={"field": "n"}
        )
    return GatewayRequest(
        model=body.model,
        messages=to_messages(body.messages),
        options=_options(body),
        tools=None if body.tools is None else tuple(_tool(tool) for tool in body.tools),
        tool_choice=_tool_choice(body.tool_choice),
        parallel_tool_calls=body.parallel_tool_calls,
        stop_sequences=_stop(body.stop),
        stream=body.stream,
        include_usage=body.stream_options is not None and body.stream_options.include_usage,
    )


def _options(body: ChatCompletionBody) -> dict[str, Any]:
    """The request layer, in the names of the useChat ``options`` (checked by the core the same way)."""
    options: dict[str, Any] = {}
    max_tokens = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    if max_tokens is not None:
        options["maxTokens"] = max_tokens
    if body.temperature is not None:
        options["temperature"] = body.temperature
    if body.top_p is not None:
        options["topP"] = body.top_p
    if body.reasoning_effort == "none":
        options["thinking"] = {"enabled": False}
    elif body.reasoning_effort is not None:
        options["thinking"] = {"enabled": True, "effort": body.reasoning_effort}
    return options


def _stop(stop: str | list[str] | None) -> tuple[str, ...]:
    sequences = [stop] if isinstance(stop, str) else list(stop or ())
    if len(sequences) > MAX_STOP_SEQUENCES or any(not item or len(item) > 200 for item in sequences):
        raise RequestError(
            f"stop: at most {MAX_STOP_SEQUENCES} non-empty sequences of up to 200 characters.",
            code="invalid_request",
            details={"field": "stop"},
        )
    return tuple(sequences)


def _tool(tool: ToolBody) -> ToolDefinition:
    return ToolDefinition(tool.function.name, tool.function.description, dict(tool.function.parameters))


def _tool_choice(choice: str | NamedToolChoice | None) -> ToolChoice | None:
    if choice is None:
        return None
    if isinstance(choice, NamedToolChoice):
        return ToolChoice("tool", choice.function.name)
    return ToolChoice("auto" if choice == "auto" else "none" if choice == "none" else "required")


def _text(content: str | list[TextPart] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(part.text for part in content)


def to_messages(bodies: list[MessageBody]) -> tuple[Message, ...]:
    """OpenAI messages → neutral messages; consecutive ``tool`` messages become one tool message."""
    messages: list[Message] = []
    tool_names: dict[str, str] = {}
    results: list[ToolResultContent] = []
    for index, body in enumerate(bodies):
        path = f"messages[{index}]"
        if not isinstance(body, ToolMessageBody) and results:
            messages.append(ToolMessage(tuple(results)))
            results = []
        match body:
            case SystemMessageBody():
                messages.append(SystemMessage(_text(body.content)))
            case UserMessageBody():
                messages.append(UserMessage(_user_content(body.content, path)))
            case AssistantMessageBody():
                messages.append(_assistant(body, tool_names))
            case ToolMessageBody():
                name = tool_name_for(tool_names, f"{path}.tool_call_id", body.tool_call_id)
                results.append(ToolResultContent(body.tool_call_id, name, _text(body.content)))
    if results:
        messages.append(ToolMessage(tuple(results)))
    return tuple(messages)


def _user_content(content: str | list[TextPart | ImagePart | OtherPart], path: str) -> tuple[UserContent, ...]:
    if isinstance(content, str):
        return (TextContent(content),)
    parts: list[UserContent] = []
    for index, part in enumerate(content):
        where = f"{path}.content[{index}]"
        if isinstance(part, TextPart):
            parts.append(TextContent(part.text))
        elif isinstance(part, ImagePart):
            parts.append(file_from_url(part.image_url.url, where))
        else:
            raise RequestError(
                f"{where}: content parts of type {part.type!r} are not supported (text and image_url are).",
                code="unsupported_file",
                details={"field": where},
            )
    return tuple(parts)


def _assistant(body: AssistantMessageBody, tool_names: dict[str, str]) -> AssistantMessage:
    content: list[AssistantContent] = []
    if body.reasoning_content:
        # No provider metadata: providers drop reasoning they cannot verify (docs/architecture.md).
        content.append(ReasoningContent(body.reasoning_content))
    text = _text(body.content)
    if text:
        content.append(TextContent(text))
    for call in body.tool_calls or ():
        tool_names[call.id] = call.function.name
        content.append(ToolCallContent(call.id, call.function.name, _arguments(call.function.arguments)))
    return AssistantMessage(tuple(content))


def _arguments(arguments: str) -> JsonValue:
    """A tool call's ``arguments`` JSON text, parsed (kept as text when it is not JSON)."""
    if not arguments.strip():
        return {}
    try:
        value: JsonValue = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    return value
