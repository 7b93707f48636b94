"""Fixtures of the browser tests: one Chromium and one fake upstream for this package, a fresh app
and a fresh browser context per test, and a console check after every test.

Package scope, not session: while sync Playwright runs it keeps an event loop running in the main
thread, and the async tests collected after this folder (pytest-asyncio) would then fail with
"Runner.run() cannot be called from a running event loop". Leaving the package stops it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.e2e.harness import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    DIST,
    SCREENSHOTS,
    VIEWPORT,
    App,
    ConsoleWatch,
    Stack,
)

# Set to refresh docs/screenshots/ (otherwise the pictures go to the test's tmp folder).
UPDATE_SCREENSHOTS = os.environ.get("CHATWIRE_UPDATE_SCREENSHOTS", "") not in ("", "0")


expect.set_options(timeout=10_000)


def _require(condition: bool, reason: str) -> None:
    """In CI a missing browser or build must fail the run: a skip would hide a missing install step."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser tests cannot be skipped)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    _require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (or make chromium)")
    _require((DIST / "index.html").exists(), f"{DIST} is not built: cd frontend && npm run build")
    servers = Stack(tmp_path_factory.mktemp("e2e")).start()
    yield servers
    servers.close()


@pytest.fixture(scope="package")
def playwright(stack: Stack) -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
    yield chromium
    chromium.close()


def pytest_report_header(config: pytest.Config) -> str | None:
    """Debian updates chromium under a pinned Playwright: the header says which pair runs.

    (A header, not a summary line: pytest's own summary must stay the last line CI prints.)
    """
    if not CHROMIUM.exists():
        return None
    try:
        found = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        found = "unknown version"
    return f"e2e: {found.strip()} ({CHROMIUM}) driven by playwright {version('playwright')}"


@pytest.fixture
def app(stack: Stack, request: pytest.FixtureRequest) -> Iterator[App]:
    """A fresh app (empty database) for this test."""
    running = stack.start_app(request.node.name)
    yield running
    stack.stop_app(running)
    stack.reset_upstream()


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


@pytest.fixture
def page(browser: Browser, app: App, console: ConsoleWatch) -> Iterator[Page]:
    """A page in a fresh browser context; fails the test if the page logged an error."""
    # Dark, the app's own look (Playwright emulates light by default); the light theme test switches.
    context = browser.new_context(viewport=VIEWPORT, base_url=app.url, color_scheme="dark")
    tab = context.new_page()
    console.attach(tab)
    yield tab
    context.close()
    assert not console.errors, "console errors or page errors:\n" + "\n".join(console.errors)


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    """``screenshot(page, "name")`` saves ``name.png`` (docs/screenshots/ when refreshing them)."""

    def save(tab: Page, name: str) -> Path:
        folder = SCREENSHOTS if UPDATE_SCREENSHOTS else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        # Hide the caret: it blinks, so the pictures would change on every refresh.
        tab.screenshot(path=str(path), animations="disabled", caret="hide")
        return path

    return save
