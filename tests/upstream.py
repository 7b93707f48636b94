"""A loopback fake of the providers' HTTP APIs that replays recorded wire bodies byte for byte.

The real SDK clients are pointed at it through ``base_url``; it records every request so tests
can assert what we sent. Two ways to choose the reply:

* **By path** (stateless, good for servers under test in another process): a base URL of
  ``{upstream.url}/{folder}/{case}`` makes the SDK request ``/{folder}/{case}/v1/messages`` (or
  ``/chat/completions``, ``/v1beta/models/...``) and the fixture ``tests/fixtures/{folder}/{case}``
  is replayed. If the request carries tool results and ``{case}_followup`` exists, that is
  replayed instead, so a client-tool round trip works with one preset. ``{case}~{ms}`` paces
  the events ``ms`` milliseconds apart (a slow model).
* **By queue** (in-process tests): ``upstream.enqueue(Reply(...))``; queued replies are served
  first, in order, whatever the path.

Rules from ../shared/provider-wire/README.md: bodies are sent unchanged, one SSE event per
write (each keeps its own blank-line terminator), with the recorded status and headers.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).parent / "fixtures"

# Tokens that only appear in a request body that sends tool results back, per provider.
_TOOL_RESULT_MARKERS = (
    b'"tool_result"',
    b'"function_call_output"',
    b'"role":"tool"',
    b'"role": "tool"',
    b'"functionResponse"',
    b'"function_response"',
)


@dataclass
class Reply:
    """One scripted upstream response."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    event_delay_seconds: float = 0.0
    # Stop after this many events and wait for ``release`` (a deterministic "slow model").
    hold_after_events: int | None = None
    release: asyncio.Event | None = None

    @classmethod
    def from_case(cls, folder: str, case: str, **overrides: Any) -> Reply:
        meta = json.loads((FIXTURES / folder / f"{case}.meta.json").read_text())
        body = (FIXTURES / folder / meta["body_file"]).read_bytes()
        return cls(status=meta["status"], headers=dict(meta["headers"]), body=body, **overrides)

    @classmethod
    def sse(cls, body: str | bytes, **overrides: Any) -> Reply:
        data = body.encode() if isinstance(body, str) else body
        return cls(status=200, headers={"content-type": "text/event-stream"}, body=data, **overrides)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def split_events(body: bytes) -> list[bytes]:
    """Split an SSE body into events, each keeping its own terminator (``\\n\\n`` or CRLF)."""
    parts = re.split(rb"(\r\n\r\n|\n\n)", body)
    events: list[bytes] = []
    for index in range(0, len(parts) - 1, 2):
        events.append(parts[index] + parts[index + 1])
    if parts[-1]:
        events.append(parts[-1])
    return events


class FakeUpstream:
    """``async with FakeUpstream() as upstream:`` — serves on 127.0.0.1 with a random port."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.queue: deque[Reply] = deque()
        self.open_streams = 0
        self.disconnects = 0
        self.stream_started = asyncio.Event()
        # Set whenever a streamed reply ends, completed or cut off by the client.
        self.stream_finished = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    def enqueue(self, *replies: Reply) -> None:
        self.queue.extend(replies)

    def base_url(self, folder: str, case: str) -> str:
        return f"{self.url}/{folder}/{case}"

    async def round_trip(self) -> None:
        """A complete request to this server: its event loop has run past everything already
        pending (such as the FIN of a connection a client closed). A barrier, not a sleep."""
        from aiohttp import ClientSession

        self.queue.appendleft(Reply(status=204))
        async with ClientSession() as session, session.get(f"{self.url}/barrier") as response:
            assert response.status == 204

    async def __aenter__(self) -> FakeUpstream:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _reply_for(self, path: str, body: bytes) -> Reply:
        if self.queue:
            return self.queue.popleft()
        segments = path.strip("/").split("/")
        if len(segments) < 2:
            return _not_scripted(path)
        folder, case = segments[0], segments[1]
        delay = 0.0
        if "~" in case:
            case, milliseconds = case.split("~", 1)
            delay = float(milliseconds) / 1000
        if (
            any(marker in body for marker in _TOOL_RESULT_MARKERS)
            and (FIXTURES / folder / f"{case}_followup.meta.json").exists()
        ):
            case = f"{case}_followup"
        if not (FIXTURES / folder / f"{case}.meta.json").exists():
            return _not_scripted(path)
        return Reply.from_case(folder, case, event_delay_seconds=delay)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            RecordedRequest(request.method, request.path, request.query_string, dict(request.headers), body)
        )
        reply = self._reply_for(request.path, body)
        if reply.status != 200 or not reply.headers.get("content-type", "").startswith("text/event-stream"):
            return web.Response(status=reply.status, headers=reply.headers, body=reply.body)
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        await response.prepare(request)
        self.open_streams += 1
        self.stream_started.set()
        try:
            for index, event in enumerate(split_events(reply.body)):
                if reply.hold_after_events is not None and index == reply.hold_after_events:
                    assert reply.release is not None
                    await reply.release.wait()
                if reply.event_delay_seconds and index:
                    await asyncio.sleep(reply.event_delay_seconds)
                await response.write(event)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects += 1
            raise
        finally:
            self.open_streams -= 1
            self.stream_finished.set()
        return response


def _not_scripted(path: str) -> Reply:
    body = json.dumps({"error": {"message": f"fake upstream: nothing scripted for {path}"}}).encode()
    return Reply(status=500, headers={"content-type": "application/json"}, body=body)


async def _serve_until_stdin_closes() -> None:
    """``python -m tests.upstream``: serve on a free port, print the URL, stop when stdin closes.

    For benchmarks that must not share a process, and so the GIL, with the fake upstream
    (tests/bench/loop_block.py): parsing a large request here would be counted as the server's."""
    async with FakeUpstream() as upstream:
        print(upstream.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(_serve_until_stdin_closes())
