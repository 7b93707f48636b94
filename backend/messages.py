"""The provider-neutral conversation model (the AI SDK's `ModelMessage`, in Python).

``aisdk/convert.py`` turns the client's ``UIMessage`` history into these; each provider module
turns these into its SDK's request params. Opaque provider state (signatures, encrypted
reasoning) travels in ``provider_metadata`` under the issuing provider's key, and a provider
reads only its own key: reasoning from another provider is never replayed as opaque state.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from backend.events import JsonValue, ProviderMetadata


@dataclass(frozen=True, slots=True)
class TextContent:
    text: str
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class ReasoningContent:
    """Reasoning a model produced. ``provider_metadata`` holds what its provider needs to accept
    it back (Anthropic ``signature`` / ``redactedData``, OpenAI ``itemId`` /
    ``reasoningEncryptedContent``, Gemini ``thoughtSignature``)."""

    text: str
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class FileContent:
    """A file the user attached. Exactly one of ``data`` (bytes), ``base64`` and ``url`` is set.

    ``base64`` is a ``data:`` URL's payload as the client sent it. It is never decoded on the
    request path: providers that send base64 pass it through (decoding and re-encoding a file at the
    size limit took over 100 ms of one event-loop step), and it was validated in slices when the
    request was checked (``request_limits.check_messages``).
    """

    media_type: str
    data: bytes | None = None
    url: str | None = None
    filename: str | None = None
    # Where the part sat in the UI history, so an unsupported file can be named in an error.
    part_path: str = ""
    base64: str | None = None

    @property
    def inline(self) -> bool:
        """The file's content travels in the request (not by URL)."""
        return self.data is not None or self.base64 is not None

    def payload(self) -> bytes:
        """The decoded bytes (``b""`` for a URL). For providers that cannot take base64 text."""
        if self.base64 is not None:
            return binascii.a2b_base64(self.base64)
        return self.data or b""

    def base64_text(self) -> str:
        """The content as base64 text: as received when it came so, else encoded once."""
        if self.base64 is not None:
            return self.base64
        return binascii.b2a_base64(self.data or b"", newline=False).decode("ascii")

    def head(self, size: int) -> bytes:
        """The first ``size`` bytes (at least), decoding only the start of a base64 payload."""
        if self.base64 is not None:
            return binascii.a2b_base64(self.base64[: (size + 2) // 3 * 4])
        return (self.data or b"")[:size]

    def size(self) -> int:
        """Decoded size in bytes, without decoding."""
        if self.base64 is not None:
            text = self.base64
            return len(text) * 3 // 4 - text[-2:].count("=")
        return len(self.data or b"")


@dataclass(frozen=True, slots=True)
class ToolCallContent:
    tool_call_id: str
    tool_name: str
    input: JsonValue
    provider_metadata: ProviderMetadata | None = None
    provider_executed: bool = False


ToolResultKind: TypeAlias = Literal["output", "error", "denied"]


@dataclass(frozen=True, slots=True)
class ToolResultContent:
    """The result of a tool call, as the model will read it.

    ``kind`` is ``output`` (``output`` holds the JSON result), ``error`` (``output`` holds the
    error text) or ``denied`` (the user refused; ``output`` holds the reason or ``None``).
    """

    tool_call_id: str
    tool_name: str
    output: JsonValue
    kind: ToolResultKind = "output"

    @property
    def is_error(self) -> bool:
        return self.kind != "output"


@dataclass(frozen=True, slots=True)
class ProviderToolResultContent:
    """The result of a tool the provider itself ran (kept inside the assistant content)."""

    tool_call_id: str
    tool_name: str
    output: JsonValue
    provider_metadata: ProviderMetadata | None = None


UserContent: TypeAlias = TextContent | FileContent
AssistantContent: TypeAlias = TextContent | ReasoningContent | ToolCallContent | ProviderToolResultContent | FileContent


@dataclass(frozen=True, slots=True)
class SystemMessage:
    text: str


@dataclass(frozen=True, slots=True)
class UserMessage:
    content: tuple[UserContent, ...]


@dataclass(frozen=True, slots=True)
class AssistantMessage:
    content: tuple[AssistantContent, ...]


@dataclass(frozen=True, slots=True)
class ToolMessage:
    """All tool results answering the assistant message just before it, in call order."""

    results: tuple[ToolResultContent, ...]


Message: TypeAlias = SystemMessage | UserMessage | AssistantMessage | ToolMessage


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool the model may call. ``input_schema`` is a JSON Schema object."""

    name: str
    description: str
    input_schema: dict[str, JsonValue] = field(default_factory=lambda: {"type": "object"})


ToolChoiceMode: TypeAlias = Literal["auto", "none", "required", "tool"]


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """Which tools the model may or must call: ``auto`` (it decides), ``none`` (no tool),
    ``required`` (some tool) or ``tool`` (exactly ``tool_name``). Each provider maps it."""

    mode: ToolChoiceMode = "auto"
    tool_name: str | None = None


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """A tool call the server asked the user to approve, recorded with the exact input that will run."""

    approval_id: str
    block_id: str
    tool_call_id: str
    tool_name: str
    input_json: str


@dataclass(frozen=True, slots=True)
class ApprovalAnswer:
    """The user's answer to an approval request, as the client sends it back (not yet checked)."""

    tool_call_id: str
    tool_name: str
    input: JsonValue
    approval_id: str
    approved: bool
    reason: str | None = None
    signature: str | None = None
