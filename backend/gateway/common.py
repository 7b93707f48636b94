"""What both compatible protocols share: the parsed request, data URLs, and tool-name checks."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from dataclasses import dataclass, field
from typing import Any

from backend.errors import RequestError
from backend.messages import FileContent, Message, ToolChoice, ToolDefinition

# What the OpenAI and Anthropic APIs allow as a function / tool name.
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_\-]{1,128}$"
MAX_STOP_SEQUENCES = 16


@dataclass(frozen=True, slots=True)
class GatewayRequest:
    """A compatible API request, converted: the front door turns it into a ``TurnRequest``.

    ``model`` names the preset. ``options`` are request-layer overrides with the names of
    ``options`` in the useChat body (``maxTokens``, ``temperature``, ``topP``, ``thinking``), so
    they pass the same checks. ``tools`` is ``None`` when the caller declared none.
    """

    model: str
    messages: tuple[Message, ...]
    options: dict[str, Any] = field(default_factory=dict)
    tools: tuple[ToolDefinition, ...] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    stop_sequences: tuple[str, ...] = ()
    stream: bool = False
    include_usage: bool = False


def file_from_url(url: str, path: str, media_type: str | None = None) -> FileContent:
    """An image (or document) given as a ``data:`` URL (decoded) or an http(s) URL (passed on),
    the same two forms the useChat front door accepts."""
    if url.startswith("data:"):
        header, _, payload = url[5:].partition(",")
        declared = header.split(";", 1)[0] or "application/octet-stream"
        if not header.endswith(";base64"):
            raise RequestError(f"{path}: a data URL must be base64-encoded.", code="invalid_file")
        return FileContent(media_type=declared, data=decode_base64(payload, path), part_path=path)
    if url.startswith(("https://", "http://")):
        guessed = media_type or mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
        return FileContent(media_type=guessed, url=url, part_path=path)
    raise RequestError(f"{path}: an image URL must be a data: or http(s): URL.", code="invalid_file")


def decode_base64(payload: str, path: str) -> bytes:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{path}: the file data is not valid base64.", code="invalid_file") from None


def tool_name_for(calls: dict[str, str], path: str, tool_call_id: str) -> str:
    """The name of the tool a result answers (the neutral model carries it; both APIs omit it)."""
    name = calls.get(tool_call_id)
    if name is None:
        raise RequestError(
            f"{path}: no earlier assistant message calls a tool with id {tool_call_id!r}.",
            code="invalid_message",
            details={"field": path},
        )
    return name
