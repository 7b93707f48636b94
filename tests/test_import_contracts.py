"""The dependency rule (docs/architecture.md) holds, and the checks would catch a break.

import-linter checks the layers contract in pyproject.toml; a second test breaks a copy of the
package on purpose (a provider importing the core) and expects the contract to fail. The rule
"only web/, app.py and __main__.py touch aiohttp's web layer" is checked on the syntax tree,
since import-linter cannot name a subpackage of an external package.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
WEB_LAYER_ALLOWED = ("backend/web/", "backend/app.py", "backend/__main__.py")


def run_lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(project / "pyproject.toml")],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_layers_contract_is_kept() -> None:
    result = run_lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import"),
    [
        ("backend/providers/base.py", "import backend.chat.service"),  # a provider reaching up to the core
        ("backend/aisdk/encode.py", "import backend.loop"),  # the protocol importing the loop (same tier)
        ("backend/chat/turn.py", "import backend.web.chat"),  # the core importing a front door
    ],
)
def test_a_back_pointing_import_breaks_the_contract(tmp_path: Path, module: str, bad_import: str) -> None:
    shutil.copytree(ROOT / "backend", tmp_path / "backend", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{bad_import}  # noqa\n")
    result = run_lint_imports(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "1 kept, 1 broken" in result.stdout


def web_layer_imports(source: str) -> list[int]:
    """Line numbers of ``import aiohttp.web`` / ``from aiohttp import web`` / ``from aiohttp.web ...``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        if any(name == "aiohttp.web" or name.startswith("aiohttp.web.") for name in names):
            lines.append(node.lineno)
    return lines


def test_only_the_front_door_and_the_wiring_use_aiohttp_web() -> None:
    offenders = []
    for path in sorted((ROOT / "backend").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(WEB_LAYER_ALLOWED):
            continue
        offenders += [f"{relative}:{line}" for line in web_layer_imports(path.read_text())]
    assert offenders == []


def test_the_aiohttp_web_check_sees_every_spelling() -> None:
    assert web_layer_imports("from aiohttp import web\nimport aiohttp.web\nfrom aiohttp.web import Request\n") == [
        1,
        2,
        3,
    ]
    assert web_layer_imports("import aiohttp\nfrom aiohttp import ClientSession\n") == []
