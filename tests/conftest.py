"""Shared fixtures: the fake upstream, a presets dir pointing at it, and the app under test."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from backend.app import create_app
from backend.settings import Secrets, Settings
from tests.engines import PostgresServer, RedisServer
from tests.upstream import FakeUpstream

TEST_KEY = "sk-ant-test-0123456789abcdefghijklmnop"
FIXTURE_PRESETS: dict[str, tuple[str, str, str]] = {
    # preset name: (provider, fixture folder, fixture case)
    "default": ("anthropic", "anthropic", "text_basic"),
    "anthropic-text": ("anthropic", "anthropic", "text_basic"),
    "anthropic-thinking": ("anthropic", "anthropic", "thinking_text"),
    "anthropic-tools": ("anthropic", "anthropic", "thinking_tool_use"),
    "anthropic-parallel": ("anthropic", "anthropic", "parallel_tool_calls"),
    "anthropic-overloaded": ("anthropic", "anthropic", "midstream_error_overloaded"),
    "anthropic-auth": ("anthropic", "anthropic", "error_401_authentication"),
    "anthropic-429": ("anthropic", "anthropic", "error_429_rate_limit"),
    "anthropic-529": ("anthropic", "anthropic", "error_529_overloaded"),
    "anthropic-slow": ("anthropic", "anthropic", "text_basic~40"),
}


def write_preset(directory: Path, name: str, body: str) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(textwrap.dedent(body))
    return path


def write_queue_default_preset(directory: Path, upstream_url: str) -> None:
    """The fixture presets, with ``default`` answering from the fake upstream's queue
    (``upstream.enqueue``) instead of a fixed case."""
    write_fixture_presets(directory, upstream_url)
    write_preset(
        directory,
        "default",
        f"""
        provider = "anthropic"
        model = "claude-sonnet-5-5"
        base_url = "{upstream_url}/queue/any"
        api_key_env = "TEST_ANTHROPIC_KEY"
        """,
    )


def write_fixture_presets(directory: Path, upstream_url: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, (provider, folder, case) in FIXTURE_PRESETS.items():
        write_preset(
            directory,
            name,
            f"""
            provider = "{provider}"
            model = "claude-sonnet-5-5"
            base_url = "{upstream_url}/{folder}/{case}"
            api_key_env = "TEST_ANTHROPIC_KEY"
            description = "fixture {folder}/{case}"
            max_tokens = 4000
            system = "You are a helpful assistant"
            """,
        )


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as fake:
        yield fake


def make_settings(tmp_path: Path, presets_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "presets_dir": presets_dir,
        "frontend_dir": tmp_path / "no-frontend",
        "keepalive_seconds": 15.0,
        "retry_base_delay": 0.01,
        "retry_max_delay": 0.05,
        "secrets": Secrets({"TEST_ANTHROPIC_KEY": TEST_KEY}),
    }
    values.update(overrides)
    return Settings(**values)


ClientFactory = Callable[..., Any]


@pytest.fixture
async def chat_client(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Callable[..., Any]
) -> TestClient[Any, Any]:
    presets_dir = tmp_path / "presets"
    write_fixture_presets(presets_dir, upstream.url)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(make_settings(tmp_path, presets_dir)))
    return client


# ---- issue 17: real PostgreSQL and Redis, one of each per session (tests/engines.py) -------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL."""
    return await postgres_server.new_database()


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied."""
    client = Redis.from_url(redis_server.url())
    await client.flushall()
    await client.aclose()
    return redis_server.url()
