"""The built-in tools: current_time, read_file (root confinement) and fetch_url (host allowlist)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from backend.errors import ConfigError, ToolError
from backend.events import JsonValue
from backend.tools.address_guard import is_public
from backend.tools.base import Tool, ToolContext, ToolInputError, UnknownToolError
from backend.tools.builtins import default_registry
from backend.tools.fetch_url import fetch_text, host_allowed
from backend.tools.read_file import MAX_READ_BYTES
from tests.tools.scripted import context


async def call(name: str, value: JsonValue, tool_context: ToolContext) -> JsonValue:
    tool: Tool[Any] = default_registry().get(name)
    return await tool.run(tool.parse_input(value), tool_context)


# ---- registry ---------------------------------------------------------------------------------


def test_registry_names_and_definitions() -> None:
    registry = default_registry()
    assert registry.names() == ("current_time", "fetch_url", "read_file")
    definitions = registry.definitions(["read_file"])
    assert [definition.name for definition in definitions] == ["read_file"]
    assert definitions[0].input_schema["required"] == ["path"]
    assert "title" not in definitions[0].input_schema


def test_unknown_tool_name_is_a_config_error() -> None:
    with pytest.raises(UnknownToolError) as caught:
        default_registry().definitions(["current_time", "shell"])
    assert isinstance(caught.value, ConfigError)
    assert caught.value.public_message == "unknown tool 'shell'; known tools: current_time, fetch_url, read_file"


# ---- current_time -----------------------------------------------------------------------------


async def test_current_time_utc_and_zone() -> None:
    utc = await call("current_time", {}, context())
    paris = await call("current_time", {"timezone": "Europe/Paris"}, context())
    assert isinstance(utc, dict) and isinstance(paris, dict)
    assert utc["timezone"] == "UTC" and str(utc["iso"]).endswith("+00:00")
    offset = datetime.fromisoformat(str(paris["iso"])).utcoffset()
    assert offset is not None and offset.total_seconds() in (3600, 7200)
    assert abs(int(str(paris["unix"])) - int(str(utc["unix"]))) < 5


def test_current_time_rejects_unknown_zone() -> None:
    tool = default_registry().get("current_time")
    with pytest.raises(ToolInputError, match="unknown time zone 'Mars/Olympus'"):
        tool.parse_input({"timezone": "Mars/Olympus"})


# ---- read_file --------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "readable"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "todo.md").write_text("- write tests\n", encoding="utf-8")
    (folder / "binary.bin").write_bytes(b"\x00\x01\x02")
    (folder / "latin1.txt").write_bytes("café".encode("latin-1"))
    (folder / ".env").write_text("API_KEY=secret\n")
    (tmp_path / "outside.txt").write_text("secret outside\n")
    (folder / "escape").symlink_to(tmp_path / "outside.txt")
    (folder / "escape-dir").symlink_to(tmp_path)
    (folder / "inside-link").symlink_to(folder / "notes" / "todo.md")
    return folder


async def test_read_file_reads_text_below_the_root(root: Path) -> None:
    result = await call("read_file", {"path": "notes/todo.md"}, context(read_file_root=str(root)))
    assert result == {"path": "notes/todo.md", "content": "- write tests\n", "size": 14, "truncated": False}
    linked = await call("read_file", {"path": "inside-link"}, context(read_file_root=str(root)))
    assert isinstance(linked, dict) and linked["content"] == "- write tests\n"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "must be relative"),
        ("\\\\server\\share", "must be relative"),
        ("C:\\Windows\\win.ini", "must be relative"),
        ("../outside.txt", "may not contain '..'"),
        ("notes/../../outside.txt", "may not contain '..'"),
        ("escape", "outside the readable folder"),
        ("escape-dir/outside.txt", "outside the readable folder"),
        (".env", "Hidden files"),
        ("binary.bin", "not a text file"),
        ("latin1.txt", "not a UTF-8 text file"),
        ("notes", "Not a regular file"),
        ("missing.txt", "No such file"),
    ],
)
async def test_read_file_refuses(root: Path, path: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        await call("read_file", {"path": path}, context(read_file_root=str(root)))


async def test_read_file_caps_the_size(root: Path) -> None:
    (root / "big.txt").write_text("é" * MAX_READ_BYTES, encoding="utf-8")  # 2 bytes each: cut mid-character
    result = await call("read_file", {"path": "big.txt"}, context(read_file_root=str(root)))
    assert isinstance(result, dict)
    assert result["truncated"] is True and result["size"] == 2 * MAX_READ_BYTES
    assert result["content"] == "é" * (MAX_READ_BYTES // 2)


async def test_read_file_needs_a_root() -> None:
    with pytest.raises(ToolError, match="read_file_root"):
        await call("read_file", {"path": "a.txt"}, context())


# ---- fetch_url --------------------------------------------------------------------------------


@pytest.fixture
async def site() -> AsyncIterator[TestServer]:
    async def text(request: web.Request) -> web.Response:
        return web.Response(text="hello from the test site", content_type="text/plain")

    async def big(request: web.Request) -> web.Response:
        return web.Response(text="x" * 100, content_type="text/plain")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG", content_type="image/png")

    async def redirect_in(request: web.Request) -> web.Response:
        raise web.HTTPFound("/text")

    async def redirect_out(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{request.url.port}/text")

    async def redirect_loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    app = web.Application()
    app.router.add_get("/text", text)
    app.router.add_get("/big", big)
    app.router.add_get("/image", image)
    app.router.add_get("/redirect-in", redirect_in)
    app.router.add_get("/redirect-out", redirect_out)
    app.router.add_get("/loop", redirect_loop)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server


def allowed() -> ToolContext:
    # The test site listens on 127.0.0.1: private addresses must be allowed explicitly (issue 11).
    return context(fetch_allowed_hosts=("127.0.0.1",), timeout_seconds=10, fetch_allow_private=True)


async def test_fetch_url_allowed_host(site: TestServer) -> None:
    result = await call("fetch_url", {"url": str(site.make_url("/text"))}, allowed())
    assert result == {
        "url": str(site.make_url("/text")),
        "status": 200,
        "content_type": "text/plain",
        "content": "hello from the test site",
        "truncated": False,
    }


async def test_fetch_url_follows_redirects_only_to_allowed_hosts(site: TestServer) -> None:
    followed = await call("fetch_url", {"url": str(site.make_url("/redirect-in"))}, allowed())
    assert isinstance(followed, dict) and followed["url"] == str(site.make_url("/text"))
    with pytest.raises(ToolError, match="The host localhost is not allowed"):
        await call("fetch_url", {"url": str(site.make_url("/redirect-out"))}, allowed())
    with pytest.raises(ToolError, match="Too many redirects"):
        await call("fetch_url", {"url": str(site.make_url("/loop"))}, allowed())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/", "The host example.com is not allowed"),
        ("file:///etc/passwd", "Only http and https"),
        ("ftp://127.0.0.1/x", "Only http and https"),
        ("http://user:pw@127.0.0.1/", "credentials"),
        ("http:///nohost", "no host"),
    ],
)
async def test_fetch_url_refuses_without_connecting(url: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        await call("fetch_url", {"url": url}, allowed())


async def test_fetch_url_with_no_allowed_hosts_fetches_nothing(site: TestServer) -> None:
    with pytest.raises(ToolError, match="fetch_allowed_hosts is empty"):
        await call("fetch_url", {"url": str(site.make_url("/text"))}, context())


async def test_fetch_url_refuses_binary_and_caps_size(site: TestServer) -> None:
    with pytest.raises(ToolError, match="not text"):
        await call("fetch_url", {"url": str(site.make_url("/image"))}, allowed())
    async with aiohttp.ClientSession() as session:
        page = await fetch_text(session, str(site.make_url("/big")), ("127.0.0.1",), max_bytes=16)
    assert page.text == "x" * 16 and page.truncated


def test_host_patterns() -> None:
    assert host_allowed("docs.example.com", ("*.example.com",))
    assert host_allowed("API.Example.com.", ("api.example.com",))
    assert not host_allowed("example.com", ("*.example.com",))
    assert not host_allowed("evilexample.com", ("*.example.com",))


# ---- fetch_url refuses non-public addresses (issue 11) -----------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_fetch_url_refuses_private_addresses_after_resolution(site: TestServer, host: str) -> None:
    """``localhost`` is a name: only the resolver's answer (127.0.0.1 / ::1) shows it is loopback."""
    url = str(site.make_url("/text")).replace("127.0.0.1", host)
    guarded = context(fetch_allowed_hosts=(host,), timeout_seconds=10)
    with pytest.raises(ToolError, match="loopback, private, link-local or metadata address"):
        await call("fetch_url", {"url": url}, guarded)


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "192.168.1.1", "169.254.169.254", "100.100.100.200", "[::1]", "[fe80::1]", "[::ffff:127.0.0.1]"],
)
async def test_fetch_url_refuses_literal_private_and_metadata_addresses(address: str) -> None:
    host = URL(f"http://{address}/").host or ""  # as yarl normalises it (::ffff:7f00:1)
    guarded = context(fetch_allowed_hosts=(host,), timeout_seconds=10)
    with pytest.raises(ToolError, match="fetch_allow_private"):
        await call("fetch_url", {"url": f"http://{address}/latest/meta-data/"}, guarded)


def test_public_addresses() -> None:
    assert is_public("93.184.216.34") and is_public("2606:2800:220:1::1")
    assert not any(is_public(address) for address in ("127.0.0.1", "::1", "10.1.2.3", "fd00:ec2::254", "0.0.0.0"))
