"""A shared server with a users file: alice and bob (users) and root (an admin), on SQLite with
in-memory live streams, and on a real PostgreSQL with real Redis live streams (tests/engines.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from backend.app import create_app
from backend.users import hash_token
from tests.conftest import make_settings, write_fixture_presets, write_preset
from tests.engines import PostgresServer, RedisServer
from tests.upstream import FakeUpstream

TOKENS = {
    "alice": "cw_alice-token-0123456789abcdefghij",
    "bob": "cw_bob-token-0123456789abcdefghijklm",
    "root": "cw_root-token-0123456789abcdefghijkl",
    "carol": "cw_carol-token-0123456789abcdefghijk",
    "dave": "cw_dave-token-0123456789abcdefghijkl",
}
CLOCK = "composed_current_time_call"


def users_toml(tokens: dict[str, str] | None = None) -> str:
    tokens = tokens or TOKENS
    lines = []
    for name, token in tokens.items():
        lines.append(f'[users.{name}]\ntoken_sha256 = "{hash_token(token)}"')
        if name == "root":
            lines.append('role = "admin"')
        if name == "bob":
            lines.append('presets = ["default", "clock-approval"]')
        if name == "carol":
            lines.append('presets = ["default"]\ntokens_per_minute = 5')
        if name == "dave":
            lines.append("requests_per_minute = 2")
        lines.append("")
    return "\n".join(lines)


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


@dataclass
class Shared:
    client: TestClient[Any, Any]
    users_file: Path
    engine: str

    async def call(self, name: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**auth(name), **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture(params=["sqlite", "postgres+redis"])
async def shared(request: pytest.FixtureRequest, tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any) -> Shared:
    presets = tmp_path / "presets"
    write_fixture_presets(presets, upstream.url)
    write_preset(
        presets,
        "clock-approval",
        f"""
        provider = "anthropic"
        model = "claude-sonnet-5-5"
        base_url = "{upstream.url}/anthropic/{CLOCK}"
        api_key_env = "TEST_ANTHROPIC_KEY"
        tools = ["current_time"]
        approval_required = ["current_time"]
        """,
    )
    users_file = tmp_path / "users.toml"
    users_file.write_text(users_toml())
    engines: dict[str, Any] = {}
    if request.param == "postgres+redis":
        # The session's engines (sync fixtures): a fresh database, an emptied Redis.
        postgres: PostgresServer = request.getfixturevalue("postgres_server")
        redis: RedisServer = request.getfixturevalue("redis_server")
        engines["database_url"] = await postgres.new_database()
        engines["redis_url"] = redis.url()
        client = Redis.from_url(redis.url())
        await client.flushall()
        await client.aclose()
    settings = make_settings(tmp_path, presets, users_file=users_file, metrics_per_user=True, **engines)
    app_client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    return Shared(app_client, users_file, request.param)
