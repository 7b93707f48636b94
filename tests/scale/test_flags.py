"""The scale-out flags and their environment variables (docs/scaling.md)."""

from __future__ import annotations

import pytest

from backend.errors import ConfigError
from backend.settings import parse_settings


def test_defaults_need_no_service() -> None:
    settings = parse_settings([], environment={})
    assert settings.database_url is None and settings.redis_url is None  # SQLite + memory: `make run`


def test_flags_and_environment() -> None:
    environment = {
        "CHATWIRE_DATABASE_URL": "postgresql://u:secret-password@db/chat",
        "CHATWIRE_REDIS_URL": "redis://cache:6379/1",
        "CHATWIRE_STREAM_LOCK_SECONDS": "7",
    }
    settings = parse_settings(["--finished-stream-seconds", "60"], environment=environment)
    assert settings.database_url == "postgresql://u:secret-password@db/chat"
    assert (settings.redis_url, settings.stream_lock_seconds, settings.finished_stream_seconds) == (
        "redis://cache:6379/1",
        7.0,
        60.0,
    )
    assert "secret-password" not in repr(settings)  # URLs may carry passwords
    flagged = parse_settings(["--redis-url", "redis://other"], environment=environment)
    assert flagged.redis_url == "redis://other"  # the flag wins


def test_a_database_url_must_be_postgresql() -> None:
    with pytest.raises(ConfigError, match="postgresql://"):
        parse_settings(["--database-url", "sqlite:///x.db"], environment={})


def test_several_workers_need_both_shared_engines() -> None:
    with pytest.raises(ConfigError, match="--database-url and --redis-url"):
        parse_settings(["--workers", "2"], environment={})
    with pytest.raises(ConfigError, match="--database-url and --redis-url"):
        parse_settings(["--workers", "2", "--database-url", "postgresql://db/chat"], environment={})
    with pytest.raises(ConfigError, match="at least 1"):
        parse_settings(["--workers", "0"], environment={})
    engines = {"CHATWIRE_DATABASE_URL": "postgresql://db/chat", "CHATWIRE_REDIS_URL": "redis://cache"}
    with pytest.raises(ConfigError, match="fixed --port"):
        parse_settings(["--workers", "2", "--port", "0"], environment=engines)
    settings = parse_settings([], environment={**engines, "CHATWIRE_WORKERS": "4"})
    assert settings.workers == 4 and settings.supervisor_pipe is None
    assert parse_settings(["--workers", "1"], environment={**engines, "CHATWIRE_WORKERS": "4"}).workers == 1
