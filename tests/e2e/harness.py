"""The machinery of the browser tests: the real app and the fake upstream on a background loop.

Playwright's sync API owns the test thread, so the servers live on their own event loop in a
daemon thread. One :class:`Stack` per session holds that loop, the fake upstream
(``tests/upstream.py``) and a presets folder pointing at it; every test gets a fresh app (its own
data folder, so its own SQLite database) on ``127.0.0.1:0`` serving the built ``frontend/dist``.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from playwright.sync_api import ConsoleMessage, Error, Page, ViewportSize

from backend.app import create_app
from tests.conftest import make_settings, write_fixture_presets, write_preset
from tests.upstream import FakeUpstream, RecordedRequest, Reply

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "frontend" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
# Debian's chromium under Playwright (see the toolchain notes): no sandbox in containers, no GPU,
# nothing phoning home. Never pass --user-data-dir: Playwright makes a fresh one per launch.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Upstream answers are local and paced at most tens of ms apart; anything slower is a bug.
ANSWER_TIMEOUT_MS = 15_000

# Presets beyond tests/conftest.py's FIXTURE_PRESETS (name -> TOML body; {url} = fake upstream).
EXTRA_PRESETS: dict[str, str] = {
    # Anthropic's own web search (provider-executed) with cited text.
    "e2e-web-search": 'base_url = "{url}/anthropic/composed_web_search_citations"\n',
    # A built-in server tool the server runs by itself.
    "e2e-server-tool": 'base_url = "{url}/anthropic/composed_current_time_call"\ntools = ["current_time"]\n',
    # A built-in server tool that needs the user's approval before it runs.
    "e2e-approval": (
        'base_url = "{url}/anthropic/composed_current_time_call"\n'
        'tools = ["current_time"]\n'
        'approval_required = ["current_time"]\n'
    ),
}

T = TypeVar("T")


def write_presets(directory: Path, upstream_url: str) -> None:
    """The shared fixture presets plus the e2e ones, all pointing at the fake upstream."""
    write_fixture_presets(directory, upstream_url)
    for name, extra in EXTRA_PRESETS.items():
        write_preset(
            directory,
            name,
            'provider = "anthropic"\nmodel = "claude-sonnet-5-5"\napi_key_env = "TEST_ANTHROPIC_KEY"\n'
            f'description = "e2e {name}"\nmax_tokens = 4000\n' + extra.format(url=upstream_url),
        )


@dataclass
class Held:
    """An upstream reply that stops after some events until :meth:`release` (a deterministic slow model)."""

    stack: Stack
    event: asyncio.Event

    def release(self) -> None:
        self.stack.loop.call_soon_threadsafe(self.event.set)


@dataclass
class App:
    """One running app under test."""

    url: str
    runner: web.AppRunner


@dataclass
class Stack:
    """The background event loop with the fake upstream and the presets folder."""

    root: Path
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    upstream: FakeUpstream | None = None
    held: list[Held] = field(default_factory=list)
    _thread: threading.Thread | None = None

    @property
    def presets_dir(self) -> Path:
        return self.root / "presets"

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> Stack:
        self._thread = threading.Thread(target=self.loop.run_forever, name="e2e-servers", daemon=True)
        self._thread.start()
        self.upstream = self.run(FakeUpstream().__aenter__())
        write_presets(self.presets_dir, self.upstream.url)
        return self

    def close(self) -> None:
        self.release_all()
        if self.upstream is not None:
            self.run(self.upstream.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self.loop.close()

    def start_app(self, name: str, frontend_dir: Path = DIST, **overrides: Any) -> App:
        data = self.root / "apps" / name
        shutil.rmtree(data, ignore_errors=True)
        settings = make_settings(data, self.presets_dir, frontend_dir=frontend_dir, **overrides)

        async def start() -> App:
            runner = web.AppRunner(create_app(settings), handle_signals=False, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            return App(f"http://{host}:{port}", runner)

        return self.run(start())

    def stop_app(self, app: App) -> None:
        self.release_all()  # a held upstream reply would keep the app's generation open
        self.run(app.runner.cleanup())

    def hold(self, folder: str, case: str, after_events: int) -> Held:
        """Queue the next upstream reply: ``folder/case``, stopping before event ``after_events``."""

        async def enqueue() -> Held:
            assert self.upstream is not None
            held = Held(self, asyncio.Event())
            self.upstream.enqueue(Reply.from_case(folder, case, hold_after_events=after_events, release=held.event))
            return held

        held = self.run(enqueue())
        self.held.append(held)
        return held

    def hold_body(self, body: bytes, after_events: int | None = None) -> Held:
        """Queue an Anthropic SSE ``body`` of our own making (tests/e2e/answers.py), held like :meth:`hold`."""

        async def enqueue() -> Held:
            assert self.upstream is not None
            held = Held(self, asyncio.Event())
            self.upstream.enqueue(Reply.sse(body, hold_after_events=after_events, release=held.event))
            return held

        held = self.run(enqueue())
        self.held.append(held)
        return held

    def release_all(self) -> None:
        for held in self.held:
            held.release()
        self.held.clear()

    def reset_upstream(self) -> list[RecordedRequest]:
        """Forget queued replies; returns the requests the upstream got since the last reset."""

        async def reset() -> list[RecordedRequest]:
            assert self.upstream is not None
            self.upstream.queue.clear()
            requests = list(self.upstream.requests)
            self.upstream.requests.clear()
            return requests

        return self.run(reset())


@dataclass
class ConsoleWatch:
    """Console errors and uncaught exceptions of one page. Chromium also logs every non-2xx
    response as a console error, so an unexpected 4xx/5xx from the API fails the test too."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._page_error)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def _page_error(self, error: Error) -> None:
        self.errors.append(f"pageerror: {error.name}: {error.message}")
