"""Shared by the operations tests: an app on presets that point at the fake upstream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from backend.app import create_app
from tests.conftest import make_settings, write_fixture_presets, write_preset


def user_message(text: str, message_id: str = "u1") -> dict[str, Any]:
    return {"id": message_id, "role": "user", "parts": [{"type": "text", "text": text}]}


def preset_at(presets: Path, name: str, base_url: str, extra: str = "") -> None:
    write_preset(
        presets,
        name,
        f'provider = "anthropic"\nmodel = "claude-sonnet-5-5"\nbase_url = "{base_url}"\n'
        f'api_key_env = "TEST_ANTHROPIC_KEY"\n{extra}\n',
    )


async def ops_client(
    tmp_path: Path,
    upstream_url: str,
    aiohttp_client: Any,
    extra_presets: dict[str, str] | None = None,
    **settings: Any,
) -> TestClient[Any, Any]:
    """The fixture presets, plus ``extra_presets`` (name → extra TOML lines) on ``anthropic/text_basic``."""
    presets = tmp_path / "presets"
    write_fixture_presets(presets, upstream_url)
    for name, extra in (extra_presets or {}).items():
        preset_at(presets, name, f"{upstream_url}/anthropic/text_basic", extra)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(make_settings(tmp_path, presets, **settings)))
    return client
