"""The `useChat` request body and the `UIMessage` shape, validated at the edge (pydantic).

Follows ../shared/aisdk-protocol.md §1: ``{id, messages, trigger, messageId?, ...custom}``.
Unknown keys are ignored everywhere (the client sends UI state such as ``state: "done"``), but
the fields we use are checked, so a malformed message is a 400 naming the message index and the
field instead of a crash later. Validated models are used for conversion; the raw dicts are what
storage keeps, so a saved conversation is returned exactly as the client sent it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator

from backend.errors import RequestError

_LOOSE = ConfigDict(extra="ignore", frozen=True)

ProviderMetadataModel = dict[str, dict[str, Any]]


class TextPart(BaseModel):
    model_config = _LOOSE
    type: Literal["text"]
    text: str
    providerMetadata: ProviderMetadataModel | None = None


class ReasoningPart(BaseModel):
    model_config = _LOOSE
    type: Literal["reasoning"]
    text: str
    providerMetadata: ProviderMetadataModel | None = None


class FilePart(BaseModel):
    model_config = _LOOSE
    type: Literal["file"]
    mediaType: str
    url: str
    filename: str | None = None
    providerMetadata: ProviderMetadataModel | None = None


class SourceUrlPart(BaseModel):
    model_config = _LOOSE
    type: Literal["source-url"]
    sourceId: str
    url: str
    title: str | None = None


class StepStartPart(BaseModel):
    model_config = _LOOSE
    type: Literal["step-start"]


class ToolApproval(BaseModel):
    model_config = _LOOSE
    id: str
    approved: bool | None = None
    reason: str | None = None
    signature: str | None = None  # the AI SDK's approval signature, sent back as received


ToolState = Literal[
    "input-streaming",
    "input-available",
    "approval-requested",
    "approval-responded",
    "output-available",
    "output-error",
    "output-denied",
]


class ToolPart(BaseModel):
    """``tool-<name>`` (static) or ``dynamic-tool`` (with ``toolName``)."""

    model_config = _LOOSE
    type: str
    toolCallId: str
    state: ToolState
    toolName: str | None = None
    input: Any = None
    output: Any = None
    errorText: str | None = None
    providerExecuted: bool | None = None
    callProviderMetadata: ProviderMetadataModel | None = None
    approval: ToolApproval | None = None

    @property
    def tool_name(self) -> str:
        if self.type == "dynamic-tool":
            return self.toolName or ""
        return self.type.removeprefix("tool-")


class OtherPart(BaseModel):
    """Parts we keep but do not send to a model: data-*, source-document, custom, ..."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str


def _part_tag(value: Any) -> str:
    part_type = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if not isinstance(part_type, str):
        return "other"
    if part_type in ("text", "reasoning", "file", "source-url", "step-start"):
        return part_type
    if part_type.startswith("tool-") or part_type == "dynamic-tool":
        return "tool"
    return "other"


UIPart = Annotated[
    Annotated[TextPart, Tag("text")]
    | Annotated[ReasoningPart, Tag("reasoning")]
    | Annotated[FilePart, Tag("file")]
    | Annotated[SourceUrlPart, Tag("source-url")]
    | Annotated[StepStartPart, Tag("step-start")]
    | Annotated[ToolPart, Tag("tool")]
    | Annotated[OtherPart, Tag("other")],
    Discriminator(_part_tag),
]


class UIMessage(BaseModel):
    model_config = _LOOSE
    id: str = Field(min_length=1, max_length=256)
    role: Literal["system", "user", "assistant"]
    parts: list[UIPart]
    metadata: Any = None


class ClientToolDefinition(BaseModel):
    """A tool the browser implements (custom body field ``tools``); its calls end the step."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    description: str = ""
    inputSchema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    needsApproval: bool = False


def _tools_from_map(value: Any) -> Any:
    """assistant-ui's ``tools``: ``{name: {description?, parameters: <JSON Schema>}}`` → the list form."""
    if not isinstance(value, dict):
        return value
    tools = []
    for name, entry in value.items():
        if isinstance(entry, dict):
            tools.append(
                {
                    "name": name,
                    "description": entry.get("description") or "",
                    **({"inputSchema": entry["parameters"]} if entry.get("parameters") is not None else {}),
                }
            )
        else:
            tools.append({"name": name, "inputSchema": entry})  # refused below, naming the index
    return tools


class ChatRequestBody(BaseModel):
    """The body ``DefaultChatTransport`` posts (and a WebSocket ``send`` frame carries). Unknown keys
    are ignored: ``useChat``'s ``body`` option invites apps to add their own (docs/api.md)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str | None = None
    messages: list[UIMessage] = Field(min_length=1)
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    messageId: str | None = None
    # Chatwire extensions (custom body keys; see docs/api.md):
    options: dict[str, Any] | None = None
    # Client tools: the list form, or assistant-ui's map (converted to the list form).
    tools: list[ClientToolDefinition] | None = None
    # True: ``messages`` holds only the newest message(s); the server loads the rest from the store.
    loadHistory: bool = False
    # assistant-ui's AssistantChatTransport: sampling settings and a system prompt (both under the
    # rules of ``options``, decided in the core), and ``config`` (a browser-chosen key, base URL or
    # model), which is never honoured: the front door logs that it was ignored.
    callSettings: dict[str, Any] | None = None
    system: str | None = None
    config: dict[str, Any] | None = None

    _tools_map = field_validator("tools", mode="before")(_tools_from_map)


def describe_validation_error(error: ValidationError, subject: str = "request body") -> str:
    """``messages[2].parts[0].text: Field required`` — names the index and the field."""
    problems = []
    for item in error.errors()[:5]:
        path = ""
        locations = list(item["loc"])
        for position, location in enumerate(locations):
            if isinstance(location, int):
                path += f"[{location}]"
            elif position >= 2 and locations[position - 2] == "parts" and isinstance(locations[position - 1], int):
                continue  # the discriminator tag pydantic inserts after a part index is not a field
            else:
                path += f".{location}" if path else str(location)
        problems.append(f"{path or subject}: {item['msg']}")
    return f"Invalid {subject}: " + "; ".join(problems)


def parse_chat_request(payload: object) -> ChatRequestBody:
    if not isinstance(payload, dict):
        raise RequestError("The request body must be a JSON object.", code="invalid_body")
    try:
        return ChatRequestBody.model_validate(payload)
    except ValidationError as error:
        raise RequestError(describe_validation_error(error), code="invalid_body") from None


def parse_ui_messages(payload: object) -> list[UIMessage]:
    """Validate a list of stored/posted UIMessages (used by the conversations endpoint)."""
    if not isinstance(payload, list):
        raise RequestError("messages must be a JSON array of UIMessage objects.", code="invalid_body")
    try:
        return [UIMessage.model_validate(item) for item in payload]
    except ValidationError as error:
        index = next((i for i, item in enumerate(payload) if not _valid(item)), 0)
        detail = describe_validation_error(error, "message")
        raise RequestError(
            detail.replace("Invalid message: ", f"Invalid message at messages[{index}]: "),
            code="invalid_message",
            details={"messageIndex": index},
        ) from None


def _valid(item: object) -> bool:
    try:
        UIMessage.model_validate(item)
    except ValidationError:
        return False
    return True
