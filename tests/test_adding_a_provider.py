"""Adding a provider touches exactly the files docs/architecture.md lists.

A copy of the package gains a hypothetical provider ``echo``: one module and one registry
entry, nothing else. The copy then loads a preset with an ``[echo]`` table (validated by the
provider's own options model), serves a real chat through the unchanged core and front door,
and still keeps the import contract.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.server_process import ServerProcess
from tests.sse import parse_sse

ROOT = Path(__file__).resolve().parents[1]

ECHO_PROVIDER = '''"""A hypothetical provider for the "adding a provider" test: it answers with the user's words."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import BaseModel, ConfigDict

from backend.events import Finish, ProviderEvent, TextDelta, TextEnd, TextStart, Usage
from backend.messages import TextContent, UserMessage
from backend.providers.base import ChatModel, ModelCall, ProviderConfig, ProviderSpec, read_options

PROVIDER = "echo"


class EchoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prefix: str = ""


class EchoModel:
    provider = PROVIDER

    async def stream(self, call: ModelCall) -> AsyncIterator[ProviderEvent]:
        options = read_options(call, PROVIDER, EchoOptions)
        last = next(message for message in reversed(call.messages) if isinstance(message, UserMessage))
        words = "".join(part.text for part in last.content if isinstance(part, TextContent))
        yield TextStart("0")
        yield TextDelta("0", options.prefix + words)
        yield TextEnd("0")
        yield Finish("stop", "done", Usage(input_tokens=1, output_tokens=1))

    async def aclose(self) -> None:
        return None


def create(config: ProviderConfig) -> ChatModel:
    return EchoModel()


SPEC = ProviderSpec(name=PROVIDER, create=create, options=EchoOptions, table=PROVIDER, credentials=())
'''


def add_echo_provider(package: Path) -> None:
    (package / "providers" / "echo.py").write_text(ECHO_PROVIDER)
    registry = package / "providers" / "registry.py"
    text = registry.read_text()
    edited = text.replace(
        "from backend.providers import anthropic_spec, google_spec, openai_chat_spec, openai_responses_spec\n",
        "from backend.providers import anthropic_spec, echo, google_spec, openai_chat_spec, openai_responses_spec\n",
    ).replace("google_spec.SPEC,\n", "google_spec.SPEC,\n    echo.SPEC,\n")
    assert edited.count("echo") == 2, "the registry's shape changed: update this test and the docs"
    registry.write_text(edited)


def changed_files(original: Path, copy: Path) -> set[str]:
    changed: set[str] = set()

    def walk(comparison: filecmp.dircmp[str], prefix: str) -> None:
        changed.update(prefix + name for name in comparison.diff_files + comparison.right_only + comparison.left_only)
        for name, sub in comparison.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(original, copy, ignore=["__pycache__"]), "")
    return changed


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("with-echo")
    shutil.copytree(ROOT / "backend", root / "backend", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    add_echo_provider(root / "backend")
    return root


def test_the_new_provider_is_one_module_and_one_registry_entry(project: Path) -> None:
    assert changed_files(ROOT / "backend", project / "backend") == {"providers/echo.py", "providers/registry.py"}


def test_the_new_provider_serves_a_chat_through_the_unchanged_core(project: Path, tmp_path: Path) -> None:
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "default.toml").write_text('provider = "echo"\nmodel = "echo-1"\n\n[echo]\nprefix = "you said: "\n')
    server = ServerProcess(tmp_path / "data", presets, cwd=project, pythonpath=project)
    try:
        listed = json.loads(urllib.request.urlopen(server.url + "/api/ai/presets", timeout=10).read())
        assert listed["presets"][0]["provider"] == "echo" and listed["presets"][0]["apiKeyPresent"] is True
        message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hello"}]}
        request = urllib.request.Request(
            server.url + "/api/ai/chat/b1",
            data=json.dumps({"messages": [message]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        chunks, _, done = parse_sse(urllib.request.urlopen(request, timeout=10).read().decode())
    finally:
        server.stop()
    assert done
    assert [chunk["delta"] for chunk in chunks if chunk["type"] == "text-delta"] == ["you said: hello"]
    assert chunks[0]["messageMetadata"]["provider"] == "echo"


def test_the_new_providers_table_is_validated_by_its_own_model(project: Path, tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text('provider = "echo"\nmodel = "echo-1"\n\n[echo]\nprefixx = "typo"\n')
    script = "import sys, pathlib; from backend.presets import load_presets; load_presets(pathlib.Path(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "default.toml: field 'echo.prefixx': Extra inputs are not permitted" in result.stderr


def test_the_new_provider_keeps_the_import_contract(project: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
