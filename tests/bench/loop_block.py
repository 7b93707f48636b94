"""``make bench`` part 2: does any handler block the event loop at the body limit? (issue 11)

The real app runs in a background thread's event loop; the fake upstream runs in a process of its
own (``python -m tests.upstream``), so what it does with a large request is not blamed on the
server. Every callback or task step the server's loop runs is timed (``asyncio.events.Handle._run``
is wrapped for that thread only; asyncio's debug mode is not used because its stack capture is
itself slow), and every step over 50 ms is reported with its callback. ``--explain`` profiles each
slow step and prints its top functions. The main thread sends pre-serialised bodies close to
``--max-body-mb`` over plain HTTP, so the client costs the server's loop nothing. Prints one line
per scenario and exits 1 if any step was slow.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.events
import base64
import cProfile
import http.client
import io
import json
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from aiohttp import web

from backend.app import create_app
from backend.settings import Settings
from tests.conftest import make_settings, write_fixture_presets

SLOW_SECONDS = 0.05
# The default --max-body-mb: the limit a fresh install has.
BODY_LIMIT_BYTES: int = next(field.default for field in fields(Settings) if field.name == "max_body_bytes")


class SlowSteps:
    """Times every step (callback or task step) that one thread's event loop runs.

    ``Handle._run`` is where asyncio runs each callback and each task step; the wrapper adds two
    clock reads per step and, with ``explain``, a cProfile of every step for the slow ones.
    """

    def __init__(self, explain: bool) -> None:
        self.explain = explain
        self.records: list[str] = []
        self.thread_id: int | None = None
        self._original = asyncio.events.Handle._run

    def install(self) -> None:
        original, steps = self._original, self

        def timed_run(handle: asyncio.events.Handle) -> None:
            if threading.get_ident() != steps.thread_id:
                original(handle)
                return
            profile = cProfile.Profile() if steps.explain else None
            started = time.perf_counter()
            if profile is not None:
                profile.enable()
            try:
                original(handle)
            finally:
                if profile is not None:
                    profile.disable()
                elapsed = time.perf_counter() - started
                if elapsed > SLOW_SECONDS:
                    steps.record(handle, elapsed, profile)

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]

    def uninstall(self) -> None:
        asyncio.events.Handle._run = self._original  # type: ignore[method-assign]

    def record(self, handle: asyncio.events.Handle, elapsed: float, profile: cProfile.Profile | None) -> None:
        self.records.append(f"step of {elapsed * 1000:.0f} ms: {handle!r}"[:200])
        if profile is None:
            return
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(6)
        lines = [line.strip() for line in text.getvalue().splitlines()]
        rows = [line for line in lines if line[:1].isdigit() and ("}" in line or ".py:" in line)]
        self.records.extend(f"      {row[:190]}" for row in rows[:6])


class Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        # The fake upstream parses what the server sends it: in this process, that work (and the GIL
        # it holds) would be counted as the server's, so it runs in a process of its own.
        self.upstream: subprocess.Popen[str] | None = None
        self.upstream_url = ""
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.worst_lag = 0.0
        self._ticking = True

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(120)

    async def _start(self) -> None:
        presets = self.root / "presets"
        write_fixture_presets(presets, self.upstream_url)
        settings = make_settings(self.root, presets, max_body_bytes=BODY_LIMIT_BYTES)
        self.runner = web.AppRunner(create_app(settings), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while self._ticking:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst_lag = max(self.worst_lag, time.perf_counter() - before - 0.001)

    async def _stop(self) -> None:
        self._ticking = False
        if self.runner is not None:
            await self.runner.cleanup()

    def start(self) -> None:
        self.upstream = subprocess.Popen(
            [sys.executable, "-m", "tests.upstream"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.upstream.stdout is not None
        self.upstream_url = self.upstream.stdout.readline().strip()
        self.thread.start()
        self.call(self._start())

    def stop(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        if self.upstream is not None:
            self.upstream.communicate(timeout=30)  # closing its stdin stops it


def send(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def text_message(index: int, text: str) -> dict[str, Any]:
    return {
        "id": f"m{index}",
        "role": "user" if index % 2 == 0 else "assistant",
        "parts": [{"type": "text", "text": text}],
    }


def near_limit(build: Callable[[int], dict[str, Any]]) -> bytes:
    """The largest body ``build(n)`` makes under the limit: n doubles until it would not fit, then
    a bisection closes in on the limit (within 1/64 of the last doubling)."""
    limit = BODY_LIMIT_BYTES - 1024
    size = 1024
    body = json.dumps(build(size)).encode()
    while True:
        bigger = json.dumps(build(size * 2)).encode()
        if len(bigger) > limit:
            break
        size, body = size * 2, bigger
    low, high = size, size * 2
    while high - low > size // 64:
        middle = (low + high) // 2
        candidate = json.dumps(build(middle)).encode()
        if len(candidate) > limit:
            high = middle
        else:
            low, body = middle, candidate
    return body


def scenarios() -> dict[str, tuple[str, str, bytes]]:
    one_text = near_limit(lambda n: {"messages": [text_message(0, "lorem ipsum " * (n * 3))]})
    many = near_limit(
        lambda n: {"messages": [text_message(i, "word, " * max(1, n // 2000)) for i in range(2000 if n > 2000 else 2)]}
    )
    image = base64.b64encode(b"\x89PNG" + b"\0" * (16 * 1024 * 1024 - 1024)).decode()  # max_file_bytes
    files = {
        "messages": [
            {
                "id": "u0",
                "role": "user",
                "parts": [
                    {"type": "text", "text": "look"},
                    {"type": "file", "mediaType": "image/png", "url": f"data:image/png;base64,{image}"},
                ],
            }
        ]
    }
    settings = near_limit(lambda n: {f"k{i}": "v" * n for i in range(100)})
    history = {"messages": [text_message(i, "word " * 200) for i in range(1999)]}
    file_body = json.dumps(files).encode()
    return {
        "conversation: one text at the limit": ("POST", "/api/ai/conversations/bench-text", one_text),
        "conversation: 2000 messages": ("POST", "/api/ai/conversations/bench-many", many),
        "conversation: 16 MiB image": ("POST", "/api/ai/conversations/bench-file", file_body),
        "settings: object at the limit": ("PUT", "/api/settings", settings),
        "chat: one text at the limit": ("POST", "/api/ai/chat/bench-chat", one_text),
        "chat: 16 MiB image": ("POST", "/api/ai/chat/bench-chat-file", file_body),
        "chat: 2000 messages": ("POST", "/api/ai/chat/bench-chat-many", many),
        "history: save 1999": ("POST", "/api/ai/conversations/bench-history", json.dumps(history).encode()),
        "chat: loadHistory merge of 1999": (
            "POST",
            "/api/ai/chat/bench-history",
            json.dumps({"messages": [text_message(2000, "next")], "loadHistory": True}).encode(),
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--explain", action="store_true", help="profile slow steps and print their top functions")
    slow = SlowSteps(explain=parser.parse_args().explain)
    slow.install()
    failed = False
    print(f"body limit {BODY_LIMIT_BYTES / 1024 / 1024:.0f} MiB (the default --max-body-mb)")
    with tempfile.TemporaryDirectory() as directory:
        server = Server(Path(directory))
        server.start()
        slow.thread_id = server.thread.ident
        try:
            send(
                server.port, "POST", "/api/ai/chat/warm-up", json.dumps({"messages": [text_message(0, "hi")]}).encode()
            )
            for name, (method, path, body) in scenarios().items():
                slow.records.clear()
                server.worst_lag = 0.0
                started = time.perf_counter()
                status, _ = send(server.port, method, path, body)
                elapsed = time.perf_counter() - started
                verdict = "ok" if not slow.records else "SLOW"
                failed = failed or bool(slow.records)
                print(
                    f"{name:36} {len(body) / 1e6:6.1f} MB  HTTP {status}  {elapsed * 1000:7.0f} ms total  "
                    f"worst loop lag {server.worst_lag * 1000:5.1f} ms  {verdict}"
                )
                for record in slow.records[:24]:
                    print(f"    {record}")
        finally:
            server.stop()
            slow.uninstall()
    print(f"loop blocked > {SLOW_SECONDS * 1000:.0f} ms: {'yes' if failed else 'never'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
