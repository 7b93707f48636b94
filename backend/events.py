"""The stream vocabulary between providers, the loop and the encoder.

Two layers, both named after the AI SDK's stream parts:

* **Provider events** are what a provider module yields while it translates one model call
  (one *step*). Providers translate and never decide: they do not run tools, frame steps or
  format errors for users (they raise :class:`backend.errors.ProviderError`).
* **Chat events** are provider events plus what only ``loop.py`` adds: step framing, tool
  results, approvals and the error that ends a chat.

Invariants a provider must keep (the encoder relies on them and tests check them):

* ``TextDelta``/``TextEnd`` follow a ``TextStart`` with the same ``id``; likewise reasoning.
  Ids are unique among the parts open within one step (the encoder makes them unique across
  steps).
* ``ToolInputDelta`` follows a ``ToolInputStart`` with the same ``tool_call_id``; every started
  tool input ends with exactly one ``ToolCall`` carrying the complete raw JSON text.
* ``Finish`` is the last event of a step, exactly once.

Every consumer matches these unions exhaustively with ``assert_never``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import orjson

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"

# `{"<provider>": {"<key>": <json>}}`, exactly the AI SDK's two-level shape.
ProviderMetadata: TypeAlias = Mapping[str, Mapping[str, JsonValue]]

# The AI SDK v7 `finishReason` enum; raw provider values never reach the wire.
FinishReason: TypeAlias = Literal["stop", "length", "content-filter", "tool-calls", "error", "interrupted", "other"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts in the AI SDK `LanguageModelUsage` sense.

    ``input_tokens`` is the *total* prompt size including cached tokens; ``cache_read_tokens``
    and ``cache_write_tokens`` are the parts of it read from / written to a prompt cache.
    ``output_tokens`` includes ``reasoning_tokens``. ``None`` means the provider did not say.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    def plus(self, other: Usage) -> Usage:
        """Sum of two usages (for multi-step answers); unknown stays unknown only if both are."""

        def add(a: int | None, b: int | None) -> int | None:
            if a is None and b is None:
                return None
            return (a or 0) + (b or 0)

        return Usage(
            input_tokens=add(self.input_tokens, other.input_tokens),
            output_tokens=add(self.output_tokens, other.output_tokens),
            cache_read_tokens=add(self.cache_read_tokens, other.cache_read_tokens),
            cache_write_tokens=add(self.cache_write_tokens, other.cache_write_tokens),
            reasoning_tokens=add(self.reasoning_tokens, other.reasoning_tokens),
        )


# ---------------------------------------------------------------------------------------------
# Provider events
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextStart:
    id: str
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    id: str
    delta: str
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class TextEnd:
    id: str
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class ReasoningStart:
    id: str
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of reasoning text. An empty ``delta`` may carry only metadata (a signature)."""

    id: str
    delta: str
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class ReasoningEnd:
    id: str
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class ToolInputStart:
    tool_call_id: str
    tool_name: str
    provider_metadata: ProviderMetadata | None = None
    provider_executed: bool = False


@dataclass(frozen=True, slots=True)
class ToolInputDelta:
    tool_call_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call. ``input_json`` is the raw JSON text the model produced (it may be
    invalid; the loop decides what to do with that)."""

    tool_call_id: str
    tool_name: str
    input_json: str
    provider_metadata: ProviderMetadata | None = None
    provider_executed: bool = False


def parse_tool_input(input_json: str) -> tuple[JsonValue, str | None]:
    """Parse a ``ToolCall``'s raw input: (value, error text or None). Empty means ``{}``.

    The encoder, the loop and the tool runner all parse with this, so they agree with the client.
    """
    if not input_json.strip():
        return {}, None
    try:
        value: JsonValue = orjson.loads(input_json)
    except orjson.JSONDecodeError as error:
        return input_json, f"The tool input is not valid JSON: {error}"
    return value, None


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """The result of a tool the *provider* ran (e.g. Anthropic's web search)."""

    tool_call_id: str
    output: JsonValue
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """A cited URL (search results, citations)."""

    source_id: str
    url: str
    title: str | None = None
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class DocumentSource:
    """A cited document (Anthropic document and search-result citations): ``source-document``."""

    source_id: str
    media_type: str
    title: str
    filename: str | None = None
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    """A file the model generated (Gemini image output): ``file`` with a ``data:`` URL.
    ``data`` is the base64 text of the bytes."""

    media_type: str
    data: str
    provider_metadata: ProviderMetadata | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    """End of one model call. ``reason`` is already mapped to the AI SDK enum."""

    reason: FinishReason
    raw_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    provider_metadata: ProviderMetadata | None = None


ProviderEvent: TypeAlias = (
    TextStart
    | TextDelta
    | TextEnd
    | ReasoningStart
    | ReasoningDelta
    | ReasoningEnd
    | ToolInputStart
    | ToolInputDelta
    | ToolCall
    | ToolOutput
    | Source
    | DocumentSource
    | GeneratedFile
    | Finish
)

# ---------------------------------------------------------------------------------------------
# Chat events: added by the loop
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepStart:
    pass


@dataclass(frozen=True, slots=True)
class StepEnd:
    pass


@dataclass(frozen=True, slots=True)
class StepReset:
    """The current step's output so far is void: a retryable failure after output had started.

    The step is re-run (same messages; the next model answers inside the same step, without a
    second ``StepStart``). ``category`` says why (an ``ErrorCategory``), ``attempt`` is the attempt
    that follows. Clients drop every part since the step's ``step-start`` (ai@7 ``reset-step``).
    """

    category: str
    attempt: int


@dataclass(frozen=True, slots=True)
class AnswerModelChanged:
    """A fallback preset answers from here on, because ``fallback_from`` failed with ``category``.

    ``answered_by`` / ``fallback_from`` are public descriptions (preset, provider, model)."""

    answered_by: dict[str, Any]
    fallback_from: dict[str, Any]
    category: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """Output of a tool the server ran."""

    tool_call_id: str
    output: JsonValue


@dataclass(frozen=True, slots=True)
class ToolFailed:
    """A tool the server ran raised or timed out; ``error_text`` is safe to show."""

    tool_call_id: str
    error_text: str


@dataclass(frozen=True, slots=True)
class ToolInputInvalid:
    """The model's input for a tool did not parse or validate."""

    tool_call_id: str
    tool_name: str
    input: JsonValue
    error_text: str


@dataclass(frozen=True, slots=True)
class ToolApprovalRequested:
    approval_id: str
    tool_call_id: str
    # The AI SDK's HMAC over the request (``backend/tools/approval_signing.py``), with a secret set.
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class ToolDenied:
    tool_call_id: str


@dataclass(frozen=True, slots=True)
class ChatError:
    """Ends the chat with a safe, user-facing message (never a secret)."""

    error_text: str
    category: str
    provider: str | None = None
    retry_after_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class ChatFinish:
    """The whole response is over. ``reason`` is the last step's reason; usage sums steps."""

    reason: FinishReason
    usage: Usage


ChatEvent: TypeAlias = (
    ProviderEvent
    | StepStart
    | StepEnd
    | StepReset
    | AnswerModelChanged
    | ToolResult
    | ToolFailed
    | ToolInputInvalid
    | ToolApprovalRequested
    | ToolDenied
    | ChatError
    | ChatFinish
)
