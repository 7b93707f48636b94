"""Shapes every provider translator needs, written once.

* ``retry_after_seconds``: what a rate-limit or overload response asks us to wait;
* ``new_tool_call_id``: an id for a tool call the server sent without one;
* ``SourceList``: one ``Source`` per URL within a step, numbered in order;
* ``OpenPart``: the text/reasoning part that is open in a step, and the events that open and
  close it;
* ``json_body``: a request body encoded once by orjson, for the SDKs' raw-request call.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from time import time
from typing import Final, Literal, TypeAlias

import httpx2
import orjson

from backend.errors import parse_retry_after
from backend.events import (
    ProviderEvent,
    ProviderMetadata,
    ReasoningEnd,
    ReasoningStart,
    Source,
    TextEnd,
    TextStart,
)
from backend.pacing import LARGE_BYTES, yield_to_loop
from backend.providers.base import ProviderConfig

PartKind: TypeAlias = Literal["text", "reasoning"]

JSON_HEADERS: Final = {"Content-Type": "application/json"}


def endpoint_url(base_url: httpx2.URL, path: str) -> str:
    """An SDK client's base URL (which the SDKs end with "/") joined with a relative ``path``, as the
    SDK joins them. Computed once per client: given a relative path, ``client.post`` parses and
    joins the URLs again on every request (~20 µs before the first token, docs/benchmarks.md)."""
    return str(base_url.copy_with(raw_path=base_url.raw_path + path.lstrip("/").encode()))


async def json_body(params: Mapping[str, object], extra_body: Mapping[str, object] | None = None) -> bytes:
    """A request body encoded once by orjson, ``extra_body`` merged in at the top level as the SDKs do.

    The providers pass it to their SDK's documented raw-request call (``client.post(content=...)``):
    the SDKs' own encode (a deep copy of the params, then the standard library's encoder) cost
    ~0.1 ms per short request and held the event loop for over 100 ms on a request at the body
    limit (docs/benchmarks.md, "Event-loop blocking")."""
    fields = dict(params)
    if extra_body:
        fields.update(extra_body)
    body = orjson.dumps(fields)
    if len(body) > LARGE_BYTES:
        await yield_to_loop()
    return body


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """``retry-after-ms`` first, then ``retry-after`` in seconds or as an HTTP date (the order
    the anthropic and openai SDKs honour, ``_base_client.py`` ``_parse_retry_after_header``)."""
    if headers is None:
        return None
    milliseconds = parse_retry_after(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    value = headers.get("retry-after")
    seconds = parse_retry_after(value)
    if seconds is not None or value is None:
        return seconds
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


def stream_timeout(config: ProviderConfig) -> httpx2.Timeout:
    """The timeouts of a streamed model call: the client's, without a read timeout. The loop's
    idle guard (``upstream_wait.guarded``) already watches every wait for the provider, and with a
    read timeout aiohttp cancels and re-arms a timer on every chunk it receives (~5 % of the CPU
    per token at 200 paced streams, docs/benchmarks.md). Calls that are not streamed (a token
    count) keep the client's read timeout as their only limit."""
    return httpx2.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds, read=None)


def connection_limits(config: ProviderConfig) -> httpx2.Limits:
    """The SDK client's connection pool: every connection may stay alive between answers (the
    SDK default keeps 20 of 100), so a pooled client reuses them instead of opening new ones."""
    return httpx2.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections)


def new_tool_call_id() -> str:
    """For servers that leave the id out (Gemini 2.5, some OpenAI-compatible servers): the loop
    and the UI need one, unique within the conversation."""
    return f"call_{uuid.uuid4().hex[:24]}"


class SourceList:
    """The sources of one step: the first mention of a URL becomes a ``Source``, later ones
    nothing. Ids are ``<prefix>source-<n>``."""

    __slots__ = ("_prefix", "_urls")

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self._urls: set[str] = set()

    @property
    def prefix(self) -> str:
        return self._prefix

    def add(self, url: object, title: object) -> Source | None:
        if not isinstance(url, str) or not url or url in self._urls:
            return None
        self._urls.add(url)
        return Source(
            f"{self._prefix}source-{len(self._urls)}", url, title if isinstance(title, str) and title else None
        )


class OpenPart:
    """At most one open text or reasoning part. ``open`` closes the current part first, so the
    events always pair up (``TextStart`` … ``TextEnd``); ``close`` carries the part's latest
    provider metadata on its end event."""

    __slots__ = ("_count", "_id_prefix", "id", "kind", "metadata")

    def __init__(self, *, kind_in_id: bool = True) -> None:
        self.kind: PartKind | None = None
        self.id = ""
        self.metadata: ProviderMetadata | None = None
        self._count = 0
        self._id_prefix = kind_in_id

    def open(self, kind: PartKind, events: list[ProviderEvent]) -> str:
        self.close(events)
        self._count += 1
        self.kind = kind
        self.id = f"{kind}-{self._count}" if self._id_prefix else str(self._count - 1)
        events.append(TextStart(self.id) if kind == "text" else ReasoningStart(self.id))
        return self.id

    def close(self, events: list[ProviderEvent], metadata: ProviderMetadata | None = None) -> None:
        metadata = metadata or self.metadata
        if self.kind == "text":
            events.append(TextEnd(self.id, metadata))
        elif self.kind == "reasoning":
            events.append(ReasoningEnd(self.id, metadata))
        self.kind = None
        self.metadata = None
