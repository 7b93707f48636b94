"""Pydantic models of the UI message stream chunks (ai@7.0.173 ``uiMessageChunkSchema``).

The encoder builds plain dicts on the hot path; these models check them in tests (and anyone
can use :func:`validate_chunk` to check a stream). Like the client: the ``type`` must be known,
required fields present with the right JSON type, optional fields *absent* rather than
``null``; extra keys are allowed (``z.looseObject``), but the encoder adds none.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

ProviderMetadata = dict[str, dict[str, Any]]
FinishReasonValue = Literal["stop", "length", "content-filter", "tool-calls", "error", "interrupted", "other"]


class _Chunk(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_null_optionals(cls, data: Any) -> Any:
        # The client's optional fields are z.optional: a null value is fatal, so reject it here too.
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None and key not in ("input", "output", "data"):
                    raise ValueError(f"{key} is null; omit optional keys instead")
        return data


class Start(_Chunk):
    type: Literal["start"]
    messageId: str | None = None
    messageMetadata: Any = None


class StartStep(_Chunk):
    type: Literal["start-step"]


class ResetStep(_Chunk):
    type: Literal["reset-step"]


class FinishStep(_Chunk):
    type: Literal["finish-step"]


class TextStart(_Chunk):
    type: Literal["text-start", "reasoning-start", "text-end", "reasoning-end"]
    id: str
    providerMetadata: ProviderMetadata | None = None


class TextDelta(_Chunk):
    type: Literal["text-delta", "reasoning-delta"]
    id: str
    delta: str
    providerMetadata: ProviderMetadata | None = None


class ToolInputStart(_Chunk):
    type: Literal["tool-input-start"]
    toolCallId: str
    toolName: str
    providerExecuted: bool | None = None
    providerMetadata: ProviderMetadata | None = None
    dynamic: bool | None = None
    title: str | None = None


class ToolInputDelta(_Chunk):
    type: Literal["tool-input-delta"]
    toolCallId: str
    inputTextDelta: str


class ToolInputAvailable(_Chunk):
    type: Literal["tool-input-available"]
    toolCallId: str
    toolName: str
    input: Any = Field()
    providerExecuted: bool | None = None
    providerMetadata: ProviderMetadata | None = None
    dynamic: bool | None = None


class ToolInputError(_Chunk):
    type: Literal["tool-input-error"]
    toolCallId: str
    toolName: str
    input: Any = Field()
    errorText: str


class ToolApprovalRequest(_Chunk):
    type: Literal["tool-approval-request"]
    approvalId: str
    toolCallId: str
    signature: str | None = None


class ToolOutputAvailable(_Chunk):
    type: Literal["tool-output-available"]
    toolCallId: str
    output: Any = Field()
    providerExecuted: bool | None = None
    providerMetadata: ProviderMetadata | None = None
    preliminary: bool | None = None


class ToolOutputError(_Chunk):
    type: Literal["tool-output-error"]
    toolCallId: str
    errorText: str


class ToolOutputDenied(_Chunk):
    type: Literal["tool-output-denied"]
    toolCallId: str


class SourceDocument(_Chunk):
    type: Literal["source-document"]
    sourceId: str
    mediaType: str
    title: str
    filename: str | None = None
    providerMetadata: ProviderMetadata | None = None


class FileChunk(_Chunk):
    type: Literal["file"]
    url: str
    mediaType: str
    providerMetadata: ProviderMetadata | None = None


class SourceUrl(_Chunk):
    type: Literal["source-url"]
    sourceId: str
    url: str
    title: str | None = None
    providerMetadata: ProviderMetadata | None = None


class DataChunk(_Chunk):
    type: str = Field(pattern=r"^data-.+")
    data: Any = Field()
    id: str | None = None
    transient: bool | None = None


class MessageMetadata(_Chunk):
    type: Literal["message-metadata"]
    messageMetadata: Any = Field()


class Finish(_Chunk):
    type: Literal["finish"]
    finishReason: FinishReasonValue | None = None
    messageMetadata: Any = None


class Abort(_Chunk):
    type: Literal["abort"]
    reason: str | None = None


class Error(_Chunk):
    type: Literal["error"]
    errorText: str


UIMessageChunk = Annotated[
    Start
    | StartStep
    | FinishStep
    | ResetStep
    | TextStart
    | TextDelta
    | ToolInputStart
    | ToolInputDelta
    | ToolInputAvailable
    | ToolInputError
    | ToolApprovalRequest
    | ToolOutputAvailable
    | ToolOutputError
    | ToolOutputDenied
    | SourceUrl
    | SourceDocument
    | FileChunk
    | MessageMetadata
    | Finish
    | Abort
    | Error
    | DataChunk,
    Field(union_mode="left_to_right"),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(UIMessageChunk)


def validate_chunk(chunk: dict[str, Any]) -> None:
    """Raise ``pydantic.ValidationError`` if the client would reject ``chunk``.

    ``input`` / ``output`` / ``data`` are required keys (``Field()`` without a default), so a
    missing one fails even though ``null`` is accepted, exactly as in the client.
    """
    _ADAPTER.validate_python(chunk)
