"""Fixtures of the conformance suite: one live server and one Node worker for the whole session
(start-ups are most of a scenario's cost), the client major of each test, and a clean fake
upstream before each test."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

import pytest

from tests.conformance.harness import (
    CONFORMANCE_DIR,
    PROFILES,
    PROVIDERS,
    LiveServer,
    NodeClient,
    NodeWorker,
    ProviderProfile,
)

# The `ai` packages of package.json: `ai` (ai@7) and the npm aliases `ai5`, `ai6`.
CLIENT_PACKAGES = {7: "ai", 6: "ai6", 5: "ai5"}


def _check_installed() -> str:
    problems = []
    binary = shutil.which("node")
    if binary is None:
        problems.append("`node` is not on PATH")
    pinned = json.loads((CONFORMANCE_DIR / "package.json").read_text())["dependencies"]
    for package in CLIENT_PACKAGES.values():
        installed_file = CONFORMANCE_DIR / "node_modules" / package / "package.json"
        if not installed_file.exists():
            problems.append(f"npm packages are not installed (run `npm ci` in {CONFORMANCE_DIR})")
            break
        installed = json.loads(installed_file.read_text())["version"]
        wanted = pinned[package].removeprefix("npm:ai@")
        if installed != wanted:
            pytest.fail(f"node_modules has {package}@{installed}, package.json pins {wanted}: run `npm ci`")
    if problems:
        message = "conformance tests need Node: " + "; ".join(problems)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert binary is not None
    return binary


@pytest.fixture(scope="session")
def node_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeWorker]:
    """The ``node`` binary, with every ``ai`` major installed next to client.mjs. Missing in CI is a failure."""
    worker = NodeWorker(_check_installed(), tmp_path_factory.mktemp("node") / "client.log")
    try:
        yield worker
    finally:
        worker.close()


@pytest.fixture(params=sorted(CLIENT_PACKAGES), ids=lambda major: f"ai{major}")
def node(request: pytest.FixtureRequest, node_worker: NodeWorker) -> NodeClient:
    """The client of one major; every test taking ``node`` runs with ai@5, ai@6 and ai@7."""
    return NodeClient(node_worker, request.param)


@pytest.fixture
def node7(node_worker: NodeWorker) -> NodeClient:
    """ai@7 only (checks of the harness itself, and of what only ai@7 does)."""
    return NodeClient(node_worker, 7)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("conformance"))
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    """The shared server, its fake upstream forgetting earlier tests' requests and replies."""
    live_server.reset_upstream()
    return live_server


@pytest.fixture(params=PROVIDERS)
def profile(request: pytest.FixtureRequest) -> ProviderProfile:
    return PROFILES[request.param]
