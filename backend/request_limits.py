"""Bounded work per request: limits on the messages a client sends or stores (issue 11).

Pydantic (``aisdk/request.py``) checks the *shape* of each ``UIMessage``; this module checks what
the shape leaves open and what would otherwise fail later, far from the request:

* **counts and sizes** — messages per request, file parts, each file's and all files' decoded
  size, JSON values per body (checked on the raw bytes, before parsing), nesting depth;
* **metadata** — at most :attr:`RequestLimits.max_metadata_bytes` per message, and a ``usage``
  object whose counts are integers in ``0..2**53`` (the list view adds them up in SQLite);
* **numbers** — every number finite and within ``±2**53`` (JavaScript's safe integers), so what we
  store is what the browser can hold.

Every violation is a ``RequestError`` naming the field (``messages[3].metadata.usage.inputTokens``)
and the limit (``details.limit``): 413 for sizes and counts, 400 for types and depth. Nothing here
imports aiohttp, so the core can call it from any front door.

The walk yields to the event loop every few milliseconds (``await pause()``), so a body at the size
limit never holds the loop for long (``make bench`` measures it).
"""

from __future__ import annotations

import binascii
import math
import time
from dataclasses import dataclass
from typing import Any

import orjson

from backend.errors import RequestError
from backend.pacing import LARGE_BYTES, yield_to_loop

SAFE_INTEGER = 2**53
# Yield to the event loop after this much uninterrupted work.
SLICE_SECONDS = 0.005
# Base64 characters validated per step (a multiple of 4, so every slice decodes on its own).
BASE64_SLICE_CHARS = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Per-request limits (docs/security.md). The body size itself is ``--max-body-mb``."""

    max_messages: int = 2000
    max_file_parts: int = 50
    # Files travel as base64 (4/3 of their size) inside the body (``--max-body-mb``, 24 MiB): 16 MiB
    # decoded is what fits with room for the text. The total also bounds a history that
    # ``loadHistory`` merged from many requests, each within the body limit.
    max_file_bytes: int = 16 * 1024 * 1024  # one file, decoded
    max_total_file_bytes: int = 16 * 1024 * 1024  # all files of a request, decoded
    max_json_depth: int = 32
    max_metadata_bytes: int = 64 * 1024
    # Objects, arrays and list separators in one body, counted on the raw bytes before parsing:
    # parsing is one uninterruptible call, so its work must be bounded up front.
    max_json_values: int = 250_000


def too_large(message: str, limit: str, field: str | None = None) -> RequestError:
    details: dict[str, Any] = {"limit": limit}
    if field is not None:
        details["field"] = field
    return RequestError(message, code="limit_exceeded", details=details)


def invalid(message: str, limit: str, field: str) -> RequestError:
    return RequestError(message, code="invalid_message", details={"limit": limit, "field": field})


async def check_json_values(raw: bytes, limits: RequestLimits) -> None:
    """Refuse a body with too many JSON values before parsing it (an upper bound: strings count too).

    Counted a few megabytes at a time, yielding in between: three passes over a body at the size
    limit would otherwise hold the event loop for tens of milliseconds on their own.
    """
    count = 0
    for start in range(0, len(raw), LARGE_BYTES):
        end = start + LARGE_BYTES
        count += raw.count(b"{", start, end) + raw.count(b"[", start, end) + raw.count(b",", start, end)
        if count > limits.max_json_values:
            raise too_large(
                f"The request body has too many JSON values (more than {limits.max_json_values}; limit "
                "max_json_values).",
                "max_json_values",
            )
        if end < len(raw):
            await yield_to_loop()


async def parse_json(raw: bytes, limits: RequestLimits) -> Any:
    """A request body's JSON: values counted first (bounded work), parsed in a step of its own."""
    await check_json_values(raw, limits)
    if len(raw) > LARGE_BYTES:
        await yield_to_loop()  # the count and the parse are each up to tens of ms on a body at the limit
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise RequestError(f"The request body is not valid JSON: {error}", code="invalid_json") from None
    if len(raw) > LARGE_BYTES:
        await yield_to_loop()  # what the handler does next starts in a step of its own
    return value


class Pacer:
    """Yields to the event loop when the current slice of work has run for ``SLICE_SECONDS``."""

    def __init__(self) -> None:
        self._since = time.perf_counter()

    async def pause(self) -> None:
        if time.perf_counter() - self._since >= SLICE_SECONDS:
            await yield_to_loop()
            self._since = time.perf_counter()


def decoded_size(url: str) -> int:
    """Decoded bytes of a ``data:`` URL without decoding it (0 for other URLs: not sent inline).

    Measured by position, not by splitting: a split would copy a file of many megabytes."""
    if not url.startswith("data:"):
        return 0
    comma = url.find(",")
    if comma < 0:
        return 0
    length = len(url) - comma - 1
    if url.endswith(";base64", 0, comma):
        return length * 3 // 4 - url[max(comma + 1, len(url) - 2) :].count("=")
    return length


def _check_number(value: float, field: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid(f"{field}: numbers must be finite.", "number_range", field)
    if abs(value) > SAFE_INTEGER:
        raise invalid(f"{field}: {value!r} is out of range (at most ±2**53).", "number_range", field)


async def _walk(value: Any, field: str, limits: RequestLimits, pacer: Pacer) -> None:
    """Checks depth and numbers below ``value`` without recursion, pausing now and then."""
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    nodes = 0
    while stack:
        current, path, level = stack.pop()
        nodes += 1
        if nodes % 1024 == 0:
            await pacer.pause()
        if isinstance(current, dict):
            if level >= limits.max_json_depth:
                raise invalid(
                    f"{path}: nested deeper than {limits.max_json_depth} levels (limit max_json_depth).",
                    "max_json_depth",
                    path,
                )
            stack.extend((item, f"{path}.{key}", level + 1) for key, item in current.items())
        elif isinstance(current, list):
            if level >= limits.max_json_depth:
                raise invalid(
                    f"{path}: nested deeper than {limits.max_json_depth} levels (limit max_json_depth).",
                    "max_json_depth",
                    path,
                )
            stack.extend((item, f"{path}[{index}]", level + 1) for index, item in enumerate(current))
        elif isinstance(current, (int, float)) and not isinstance(current, bool):
            _check_number(current, path)


def _check_usage(usage: Any, field: str) -> None:
    """``metadata.usage`` is an AI SDK ``LanguageModelUsage``: token counts, possibly nested."""
    if usage is None:
        return
    if not isinstance(usage, dict):
        raise invalid(f"{field}: must be an object of token counts.", "usage_type", field)
    for key, value in usage.items():
        path = f"{field}.{key}"
        if value is None or isinstance(value, dict):
            _check_usage(value, path)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid(f"{path}: must be a whole number of tokens.", "usage_type", path)
        elif not (isinstance(value, int) or value.is_integer()) or not 0 <= value <= SAFE_INTEGER:
            raise invalid(f"{path}: must be a whole number of tokens from 0 to 2**53.", "usage_type", path)


def _check_metadata(metadata: Any, field: str, limits: RequestLimits) -> None:
    if metadata is None:
        return
    # Measured as the JSON it will be stored as; the depth walk ran first, so this cannot fail.
    size = len(orjson.dumps(metadata))
    if size > limits.max_metadata_bytes:
        raise too_large(
            f"{field}: {size} bytes (limit max_metadata_bytes = {limits.max_metadata_bytes}).",
            "max_metadata_bytes",
            field,
        )
    if isinstance(metadata, dict):
        _check_usage(metadata.get("usage"), f"{field}.usage")


@dataclass
class _FileTally:
    count: int = 0
    total: int = 0


async def _check_base64(url: str, path: str, pacer: Pacer) -> None:
    """A base64 ``data:`` URL's payload is valid base64, checked a slice at a time.

    The payload is passed to providers without being decoded (``messages.FileContent``), so this is
    where a bad one is refused; slices keep a file at the size limit from holding the loop."""
    start = url.find(",") + 1
    end = len(url)
    for offset in range(start, end, BASE64_SLICE_CHARS):
        try:
            binascii.a2b_base64(url[offset : min(offset + BASE64_SLICE_CHARS, end)], strict_mode=True)
        except binascii.Error:
            raise RequestError(f"{path}: the file's data URL is not valid base64.", code="invalid_file") from None
        await pacer.pause()


async def _check_files(parts: list[Any], field: str, tally: _FileTally, limits: RequestLimits, pacer: Pacer) -> None:
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("type") != "file":
            continue
        path = f"{field}.parts[{index}]"
        tally.count += 1
        if tally.count > limits.max_file_parts:
            raise too_large(
                f"{path}: more than {limits.max_file_parts} file parts (limit max_file_parts).", "max_file_parts", path
            )
        url = part.get("url")
        size = decoded_size(url) if isinstance(url, str) else 0
        if size > limits.max_file_bytes:
            raise too_large(
                f"{path}: the file is {size} bytes decoded (limit max_file_bytes = {limits.max_file_bytes}).",
                "max_file_bytes",
                path,
            )
        tally.total += size
        if tally.total > limits.max_total_file_bytes:
            raise too_large(
                f"{path}: the files add up to more than {limits.max_total_file_bytes} bytes decoded "
                "(limit max_total_file_bytes).",
                "max_total_file_bytes",
                path,
            )
        if isinstance(url, str) and url.startswith("data:") and url.endswith(";base64", 0, max(url.find(","), 0)):
            await _check_base64(url, path, pacer)


async def check_messages(messages: Any, limits: RequestLimits, *, field: str = "messages") -> None:
    """Check a ``UIMessage[]`` (raw JSON) against ``limits``; see the module docstring."""
    if not isinstance(messages, list):
        return  # the schema check names this one
    if len(messages) > limits.max_messages:
        raise too_large(
            f"{field}: {len(messages)} messages (limit max_messages = {limits.max_messages}).", "max_messages", field
        )
    pacer = Pacer()
    tally = _FileTally()
    for index, message in enumerate(messages):
        path = f"{field}[{index}]"
        await _walk(message, path, limits, pacer)
        if isinstance(message, dict):
            _check_metadata(message.get("metadata"), f"{path}.metadata", limits)
            parts = message.get("parts")
            if isinstance(parts, list):
                await _check_files(parts, path, tally, limits, pacer)
        await pacer.pause()
