"""``make bench`` part 2: does any handler block the event loop at the body limit? (issue 11)

The real app and a fake upstream run in a background thread's event loop with asyncio's debug
mode on and ``slow_callback_duration`` = 50 ms, so asyncio itself reports every callback or task
step that held the loop longer; a ticker task also measures the worst lag of a 1 ms sleep. The
main thread sends pre-serialised bodies close to ``--max-body-mb`` over plain HTTP, so the client
costs the server's loop nothing. Prints one line per scenario and exits 1 if any step was slow.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from backend.app import create_app
from tests.conftest import make_settings, write_fixture_presets
from tests.upstream import FakeUpstream

SLOW_SECONDS = 0.05
BODY_LIMIT_MB = 50


class SlowSteps(logging.Handler):
    """Collects asyncio's debug-mode "Executing <...> took N seconds" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing"):
            self.records.append(message[:160])


class Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        self.loop.set_debug(True)
        self.loop.slow_callback_duration = SLOW_SECONDS
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.upstream = FakeUpstream()
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.worst_lag = 0.0
        self._ticking = True

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(120)

    async def _start(self) -> None:
        await self.upstream.__aenter__()
        presets = self.root / "presets"
        write_fixture_presets(presets, self.upstream.url)
        settings = make_settings(self.root, presets, max_body_bytes=BODY_LIMIT_MB * 1024 * 1024)
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
        await self.upstream.__aexit__(None, None, None)

    def start(self) -> None:
        self.thread.start()
        self.call(self._start())

    def stop(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


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
    """The largest body ``build(n)`` makes under the limit (n grows until it would not fit)."""
    limit = BODY_LIMIT_MB * 1024 * 1024 - 1024
    size = 1024
    body = json.dumps(build(size)).encode()
    while True:
        bigger = json.dumps(build(size * 2)).encode()
        if len(bigger) > limit:
            return body
        size, body = size * 2, bigger


def scenarios() -> dict[str, tuple[str, str, bytes]]:
    one_text = near_limit(lambda n: {"messages": [text_message(0, "lorem ipsum " * (n * 3))]})
    many = near_limit(
        lambda n: {"messages": [text_message(i, "word, " * max(1, n // 2000)) for i in range(2000 if n > 2000 else 2)]}
    )
    image = base64.b64encode(b"\x89PNG" + b"\0" * (19 * 1024 * 1024)).decode()
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
    return {
        "conversation: one 50 MB text": ("POST", "/api/ai/conversations/bench-text", one_text),
        "conversation: 2000 messages": ("POST", "/api/ai/conversations/bench-many", many),
        "conversation: 19 MiB image": ("POST", "/api/ai/conversations/bench-file", json.dumps(files).encode()),
        "settings: 50 MB object": ("PUT", "/api/settings", settings),
        "chat: one 50 MB text": ("POST", "/api/ai/chat/bench-chat", one_text),
        "chat: 2000 messages": ("POST", "/api/ai/chat/bench-chat-many", many),
        "history: save 1999": ("POST", "/api/ai/conversations/bench-history", json.dumps(history).encode()),
        "chat: loadHistory merge of 1999": (
            "POST",
            "/api/ai/chat/bench-history",
            json.dumps({"messages": [text_message(2000, "next")], "loadHistory": True}).encode(),
        ),
    }


def main() -> int:
    slow = SlowSteps()
    logging.getLogger("asyncio").addHandler(slow)
    failed = False
    with tempfile.TemporaryDirectory() as directory:
        server = Server(Path(directory))
        server.start()
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
                    f"{name:34} {len(body) / 1e6:6.1f} MB  HTTP {status}  {elapsed * 1000:7.0f} ms total  "
                    f"worst loop lag {server.worst_lag * 1000:5.1f} ms  {verdict}"
                )
                for record in slow.records[:3]:
                    print(f"    {record}")
        finally:
            server.stop()
    print(f"loop blocked > {SLOW_SECONDS * 1000:.0f} ms: {'yes' if failed else 'never'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
