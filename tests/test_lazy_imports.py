"""Heavy optional libraries load only when a preset or the configuration uses them (issue 13:
each provider SDK costs 50-70 MB in every process, the MCP SDK about as much).

``import backend.app`` in a fresh interpreter loads none of them, every provider's spec and
options model work without its SDK, and a real server whose presets name one provider has
loaded that provider's SDK (when the presets were loaded, before the first chat) and no other
one after serving a chat through the fake upstream.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import TEST_KEY, write_preset
from tests.ops.helpers import user_message
from tests.server_process import free_port
from tests.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parents[1]

SDKS = ("anthropic", "openai", "google.genai", "mcp")
# Needed only with --redis-url, --database-url or a rate limit.
OPTIONAL = ("redis", "asyncpg", "limits")


def loaded(modules: set[str], packages: tuple[str, ...]) -> set[str]:
    return {name for name in packages if any(module == name or module.startswith(name + ".") for module in modules)}


def modules_after(code: str) -> set[str]:
    listing = "\nimport sys\nprint('\\n'.join(sys.modules))\n"
    result = subprocess.run(
        [sys.executable, "-c", code + listing], capture_output=True, text=True, cwd=ROOT, timeout=120, check=True
    )
    return set(result.stdout.split())


def test_importing_the_app_loads_no_sdk_and_no_optional_backend() -> None:
    modules = modules_after("import backend.app")
    assert "backend.app" in modules and "aiohttp.web" in modules
    assert loaded(modules, SDKS + OPTIONAL) == set()


def test_every_provider_spec_and_options_model_works_without_its_sdk() -> None:
    code = (
        "from backend.providers.registry import PROVIDERS\n"
        "for spec in PROVIDERS.values():\n"
        "    spec.options.model_validate({})\n"
        "    print('validated:' + spec.name)\n"
    )
    modules = modules_after(code)
    assert {"validated:anthropic", "validated:openai", "validated:openai-chat", "validated:google"} <= modules
    assert loaded(modules, SDKS) == set()


class ImportWatchedServer:
    """A real server process run with ``-X importtime`` (``PYTHONPROFILEIMPORTTIME``): it writes
    every module it imports, whenever it imports it, to its stderr, which goes to a file here (a
    pipe nobody reads while the server starts would fill up and block it)."""

    def __init__(self, tmp_path: Path, presets: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "imports.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "backend", "--port", str(self.port), *self._directories(tmp_path, presets)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=ROOT,
                env={**os.environ, "TEST_ANTHROPIC_KEY": TEST_KEY, "PYTHONPROFILEIMPORTTIME": "1"},
            )
        self._wait_ready()

    @staticmethod
    def _directories(tmp_path: Path, presets: Path) -> list[str]:
        return ["--data-dir", str(tmp_path / "data"), "--presets-dir", str(presets)]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, f"server exited: {self.log.read_text()[-2000:]}"
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1).read()
                return
            except OSError:
                assert time.monotonic() < deadline, "the server did not become ready"
                time.sleep(0.05)  # polling a starting process, as tests/server_process.py does

    def modules(self) -> set[str]:
        """Every module imported so far (stderr is unbuffered: each line is written as it happens)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:") and "|" in line}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.mark.parametrize(
    ("provider", "sdk", "base_path"),
    [
        ("anthropic", "anthropic", "anthropic/text_basic"),
        ("openai-chat", "openai", "openai/chat_text_basic"),
    ],
)
async def test_a_server_loads_only_the_sdk_its_presets_name(
    tmp_path: Path, upstream: FakeUpstream, provider: str, sdk: str, base_path: str
) -> None:
    presets = tmp_path / "presets"
    presets.mkdir()
    write_preset(
        presets,
        "default",
        f"""
        provider = "{provider}"
        model = "model-1"
        base_url = "{upstream.url}/{base_path}"
        api_key_env = "TEST_ANTHROPIC_KEY"
        """,
    )
    server = ImportWatchedServer(tmp_path, presets)
    try:
        # Loaded with the presets (before the server is ready), not in the middle of the first answer.
        assert sdk in server.modules()
        async with aiohttp.ClientSession() as session:
            chat = {"messages": [user_message("hi")]}
            async with session.post(f"{server.url}/api/ai/chat/b1", json=chat) as response:
                assert response.status == 200
                body = await response.text()
        assert '"type":"text-delta"' in body and '"type":"error"' not in body
    finally:
        server.stop()
    modules = server.modules()
    assert len(upstream.requests) == 1
    assert loaded(modules, SDKS) == {sdk}
    assert loaded(modules, OPTIONAL) == set()
