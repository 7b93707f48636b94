"""The Chatwire HTTP API as the terminal client uses it (``docs/api.md``), over ``aiohttp.ClientSession``.

Only HTTP: nothing here imports the server. Every failure becomes one of two exceptions with a
message a person can act on: :class:`ServerUnreachable` (nothing answers at the URL) and
:class:`ApiError` (the server answered with an error status, or the stream broke off).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from backend.cli.stream import Chunk, UIMessage, read_chunks

DEFAULT_URL = "http://127.0.0.1:8080"

# Streams stay open as long as the model talks (the server sends keep-alives while it is
# silent), so only connecting is bounded.
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None)


class ServerUnreachable(Exception):
    """Nothing answers at the URL."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach a Chatwire server at {url} ({reason}). "
            "Start one with `make run` in a chatwire checkout, or point --url / CHATWIRE_URL at one."
        )
        self.url = url


class ApiError(Exception):
    """An error status from the server (``{"error": {"code", "message"}}``) or a broken stream."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Conversation:
    block_id: str
    version: int
    messages: list[UIMessage]


class ChatStream:
    """An open UI message stream; iterate it for chunks."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        try:
            async for chunk in read_chunks(self.response.content):
                yield chunk
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as error:
            raise ApiError(f"the connection to the server broke off: {error}") from error


class ChatwireClient:
    """``async with ChatwireClient(url, token) as client:``; ``token`` goes out as a Bearer header."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ChatwireClient:
        self._session = aiohttp.ClientSession(headers=self._headers, timeout=_TIMEOUT)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use ChatwireClient as an async context manager"
        return self._session

    @asynccontextmanager
    async def _request(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        try:
            async with self.session.request(method, self.url + path, **kwargs) as response:
                if response.status >= 400:
                    raise await _api_error(response)
                yield response
        except aiohttp.ClientConnectorError as error:
            raise ServerUnreachable(self.url, _reason(error)) from error
        except aiohttp.InvalidURL as error:
            raise ServerUnreachable(self.url, "not a valid URL") from error

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        async with self._request(method, path, json=body) as response:
            return await response.json()

    # -- chat ---------------------------------------------------------------------------------

    @asynccontextmanager
    async def chat(self, block_id: str, body: dict[str, Any], preset: str | None = None) -> AsyncIterator[ChatStream]:
        """``POST /api/ai/chat/<block>``: the body ``useChat`` sends (``id``, ``messages``, ``trigger``…)."""
        params = {"preset": preset} if preset else None
        async with self._request("POST", f"/api/ai/chat/{_segment(block_id)}", json=body, params=params) as response:
            yield ChatStream(response)

    @asynccontextmanager
    async def resume(self, block_id: str) -> AsyncIterator[ChatStream | None]:
        """``GET …/<block>/<block>/stream``: the block's answer still streaming, or None (204)."""
        path = f"/api/ai/chat/{_segment(block_id)}/{_segment(block_id)}/stream"
        async with self._request("GET", path) as response:
            yield None if response.status == 204 else ChatStream(response)

    async def stop(self, block_id: str) -> bool:
        result = await self._json("POST", f"/api/ai/chat/{_segment(block_id)}/stop")
        return bool(result.get("stopped"))

    # -- conversations, presets, blocks ---------------------------------------------------------

    async def conversation(self, block_id: str) -> Conversation:
        data = await self._json("GET", f"/api/ai/conversations/{_segment(block_id)}")
        return Conversation(block_id, int(data.get("version", 0)), list(data.get("messages", [])))

    async def delete_conversation(self, block_id: str) -> bool:
        data = await self._json("DELETE", f"/api/ai/conversations/{_segment(block_id)}")
        return bool(data.get("deleted"))

    async def conversations(self, limit: int = 100) -> list[dict[str, Any]]:
        data = await self._json("GET", f"/api/ai/conversations?limit={limit}")
        return list(data.get("conversations", []))

    async def presets(self) -> list[dict[str, Any]]:
        data = await self._json("GET", "/api/ai/presets")
        return list(data.get("presets", []))

    async def resolve(self, block_id: str, preset: str | None = None) -> dict[str, Any]:
        query = f"?preset={quote(preset)}" if preset else ""
        data: dict[str, Any] = await self._json("GET", f"/api/ai/resolve/{_segment(block_id)}{query}")
        return data

    async def patch_block_meta(self, block_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = await self._json("PATCH", f"/api/blocks/{_segment(block_id)}/meta", changes)
        return data

    async def settings(self) -> dict[str, Any]:
        data: dict[str, Any] = await self._json("GET", "/api/settings")
        return data


def _segment(value: str) -> str:
    return quote(value, safe="")


def _reason(error: aiohttp.ClientConnectorError) -> str:
    if isinstance(error.os_error, ConnectionRefusedError) or "connect call failed" in str(error).lower():
        return "connection refused"
    return str(error.os_error.strerror or error.os_error) if error.os_error else str(error)


async def _api_error(response: aiohttp.ClientResponse) -> ApiError:
    text = await response.text()
    try:
        error = (await response.json(content_type=None)).get("error", {})
        return ApiError(str(error.get("message") or text), response.status, str(error.get("code", "")))
    except (ValueError, AttributeError):
        return ApiError(text.strip() or f"HTTP {response.status}", response.status)
