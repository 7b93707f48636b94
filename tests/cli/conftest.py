"""Fixtures of the terminal-client tests: the real app and the fake upstream on a background loop
(the e2e suite's :class:`~tests.e2e.harness.Stack`), a fresh app per test, and the client's
environment pointing at it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.terminal import Terminal, client_env
from tests.e2e.harness import App, Stack


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    servers = Stack(tmp_path_factory.mktemp("cli")).start()
    yield servers
    servers.close()


@pytest.fixture
def app(stack: Stack, request: pytest.FixtureRequest) -> Iterator[App]:
    """A fresh app (empty database) for this test."""
    running = stack.start_app("cli-" + request.node.name)
    yield running
    stack.stop_app(running)
    stack.reset_upstream()


@pytest.fixture
def env(app: App, tmp_path: Path) -> dict[str, str]:
    return client_env(app.url, tmp_path / "home")


@pytest.fixture
def terminal(env: dict[str, str]) -> Iterator[Callable[..., Terminal]]:
    """``terminal("chat", "block-1")`` starts the client; every one started is closed at the end."""
    started: list[Terminal] = []

    def start(*arguments: str, **extra_env: str) -> Terminal:
        running = Terminal(list(arguments), {**env, **extra_env})
        started.append(running)
        return running

    yield start
    for running in started:
        running.close()


def api(app: App, path: str, method: str = "GET", body: Any = None) -> Any:
    """Ask the server directly (what the test checks the client did)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(app.url + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def saved_messages(app: App, block_id: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = api(app, f"/api/ai/conversations/{block_id}")["messages"]
    return messages


def text_of(message: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in message["parts"] if part.get("type") == "text")


def tool_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for part in message["parts"] if str(part.get("type", "")).startswith("tool-")]
