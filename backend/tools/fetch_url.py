"""``fetch_url``: GET a text resource from a host the preset allows.

Safe by default: only ``http``/``https`` URLs whose host is in the preset's
``tool_options.fetch_allowed_hosts`` (an exact host name or address, or ``*.example.com`` for
its subdomains; no entry means nothing can be fetched). Redirects are followed by hand, at most
:data:`MAX_REDIRECTS`, and each target must pass the same check. The body is cut at
:data:`MAX_FETCH_BYTES`; only text-like content types are returned. No cookies, no proxy from
the environment, no credentials in URLs. Unless the preset sets ``fetch_allow_private``, every
address connected to must be public, after DNS resolution and on every redirect
(``address_guard.py``).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

import aiohttp
from pydantic import BaseModel, ConfigDict, Field
from yarl import URL

from backend.errors import ToolError
from backend.events import JsonValue
from backend.tools.address_guard import PrivateAddressRefused, check_literal, connector_options, refusal_text
from backend.tools.base import ModelTool, ToolContext

MAX_FETCH_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/xhtml")
_TEXT_SUFFIXES = ("+json", "+xml")


class FetchUrlInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str = Field(min_length=1, max_length=4096, description="The http(s) URL to fetch.")


@dataclass(frozen=True, slots=True)
class FetchedPage:
    url: str
    status: int
    content_type: str
    text: str
    truncated: bool

    def as_json(self) -> JsonValue:
        return {
            "url": self.url,
            "status": self.status,
            "content_type": self.content_type,
            "content": self.text,
            "truncated": self.truncated,
        }


def host_allowed(host: str, allowed_hosts: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allowed_hosts:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


def checked_url(text: str, allowed_hosts: tuple[str, ...], allow_private: bool = True) -> URL:
    """The URL if fetching it is allowed, else ``ToolError`` saying why."""
    try:
        url = URL(text)
    except (ValueError, TypeError):
        raise ToolError("The URL is not valid.") from None
    if url.scheme not in ("http", "https"):
        raise ToolError("Only http and https URLs can be fetched.")
    if not url.host:
        raise ToolError("The URL has no host.")
    if url.user is not None or url.password is not None:
        raise ToolError("URLs with credentials are not fetched.")
    if not host_allowed(url.host, allowed_hosts):
        listed = ", ".join(allowed_hosts) if allowed_hosts else "none (fetch_allowed_hosts is empty)"
        raise ToolError(f"The host {url.host} is not allowed. Allowed hosts: {listed}.")
    if not allow_private:
        check_literal(url.host)
    return url


def _codec(charset: str | None) -> str:
    """The response's charset if Python knows it, else UTF-8."""
    try:
        return codecs.lookup(charset or "utf-8").name
    except LookupError:
        return "utf-8"


def is_text(content_type: str) -> bool:
    return content_type.startswith(_TEXT_TYPES) or content_type.endswith(_TEXT_SUFFIXES)


async def fetch_text(
    session: aiohttp.ClientSession,
    url_text: str,
    allowed_hosts: tuple[str, ...],
    max_bytes: int = MAX_FETCH_BYTES,
    *,
    allow_private: bool = True,
) -> FetchedPage:
    """GET ``url_text`` (redirects by hand). ``allow_private=False`` also needs a session whose
    connector uses ``address_guard.connector_options(False)``, which checks resolved addresses."""
    url = checked_url(url_text, allowed_hosts, allow_private)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = await session.get(url, allow_redirects=False)
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, PrivateAddressRefused):
                raise ToolError(refusal_text(error.os_error.host, error.os_error.address)) from None
            raise
        async with response:
            location = response.headers.get("Location")
            if response.status in _REDIRECT_STATUSES and location:
                url = checked_url(str(url.join(URL(location))), allowed_hosts, allow_private)
                continue
            content_type = response.content_type.lower()
            if not is_text(content_type):
                raise ToolError(f"The response is not text (content type {content_type or 'unknown'}).")
            data = await response.content.read(max_bytes + 1)
            while len(data) <= max_bytes and not response.content.at_eof():
                more = await response.content.read(max_bytes + 1 - len(data))
                if not more:
                    break
                data += more
            truncated = len(data) > max_bytes
            text = data[:max_bytes].decode(_codec(response.charset), errors="replace")
            return FetchedPage(str(url), response.status, content_type, text, truncated)
    raise ToolError(f"Too many redirects (more than {MAX_REDIRECTS}).")


async def _fetch_url(tool_input: FetchUrlInput, context: ToolContext) -> JsonValue:
    options = context.options
    timeout = aiohttp.ClientTimeout(total=options.timeout_seconds)
    connector = aiohttp.TCPConnector(**connector_options(options.fetch_allow_private))
    async with aiohttp.ClientSession(
        timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False, connector=connector
    ) as session:
        page = await fetch_text(
            session, tool_input.url, tuple(options.fetch_allowed_hosts), allow_private=options.fetch_allow_private
        )
    return page.as_json()


def fetch_url_tool() -> ModelTool[FetchUrlInput]:
    return ModelTool(
        "fetch_url",
        "Fetch a web page or text document (HTTP GET) from an allowed host and return its text. "
        f"At most the first {MAX_FETCH_BYTES // 1024} KiB are returned ('truncated' tells whether there is more).",
        FetchUrlInput,
        _fetch_url,
    )
