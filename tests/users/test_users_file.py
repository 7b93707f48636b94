"""The users file: ``chatwire users``, hashes only, reload (rotate and revoke without a restart),
sign-in with ``/?token=``, who is signed in, the implicit user, and the migration of older data."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from backend.app import create_app
from backend.cli.main import main as chatwire
from backend.storage import MIGRATIONS as SQLITE_MIGRATIONS
from backend.storage import SqliteStore, UnscopedStore
from backend.storage.postgres import MIGRATIONS as POSTGRES_MIGRATIONS
from backend.storage.postgres import PostgresStore
from backend.users import UserDirectory, hash_token, list_users
from backend.web.app_keys import USERS
from backend.web.security import SESSION_COOKIE
from tests.conftest import make_settings, write_fixture_presets
from tests.upstream import FakeUpstream
from tests.users.conftest import TOKENS, Shared, auth, users_toml


def test_chatwire_users_add_rotate_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "users.toml"
    path.write_text("# the team\n")
    assert chatwire(["users", "--users-file", str(path), "add", "alice", "--role", "admin"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("cw_") and len(token) > 40
    text = path.read_text()
    assert token not in text and hash_token(token) in text and text.startswith("# the team")
    assert path.stat().st_mode & 0o777 == 0o600
    assert UserDirectory(path).by_token(token) is not None

    assert chatwire(["users", "--users-file", str(path), "add", "alice"]) == 1  # exists already
    assert chatwire(["users", "--users-file", str(path), "rotate", "alice"]) == 0
    rotated = capsys.readouterr().out.strip()
    directory = UserDirectory(path)
    assert directory.by_token(token) is None and directory.by_token(rotated) is not None

    assert chatwire(["users", "--users-file", str(path), "add", "bob"]) == 0
    capsys.readouterr()
    assert chatwire(["users", "--users-file", str(path), "list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["alice\tadmin\tall presets", "bob\tuser\tall presets"]
    assert chatwire(["users", "--users-file", str(path), "remove", "bob"]) == 0
    assert chatwire(["users", "--users-file", str(path), "remove", "bob"]) == 1
    assert [user.name for user in list_users(path)] == ["alice"]
    assert chatwire(["users", "--users-file", str(path), "add", "no:colons"]) == 1


def test_a_bad_edit_keeps_the_previous_users(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    path.write_text(users_toml())
    directory = UserDirectory(path)
    path.write_text('[users.alice]\ntoken_sha256 = "not a hash"\n')
    assert directory.reload_if_changed() is False and directory.last_error is not None
    assert directory.by_token(TOKENS["alice"]) is not None


async def test_rotate_and_revoke_without_a_restart(shared: Shared) -> None:
    client, users_file = shared.client, shared.users_file
    assert (await client.get("/api/me", headers=auth("alice"))).status == 200
    login = await client.get(f"/?token={TOKENS['alice']}", allow_redirects=False)
    assert login.status == 303 and "token" not in login.headers["Location"]
    cookie = login.cookies[SESSION_COOKIE].value
    assert TOKENS["alice"] not in cookie
    client.session.cookie_jar.clear()
    me = await client.get("/api/me", cookies={SESSION_COOKIE: cookie})
    assert (await me.json())["name"] == "alice"  # what the UI's top bar shows

    # Rotate: a new token for alice; the poll (here: called at once) picks the file up.
    new_token = "cw_alice-rotated-0123456789abcdefgh"
    users_file.write_text(users_toml({**TOKENS, "alice": new_token}))
    assert client.app[USERS].reload_if_changed() is True
    assert (await client.get("/api/me", headers=auth("alice"))).status == 401
    assert (await client.get("/api/me", cookies={SESSION_COOKIE: cookie})).status == 401  # old sessions end
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {new_token}"})
    assert (await me.json())["name"] == "alice"
    # Revoke: bob leaves the file.
    users_file.write_text(users_toml({name: token for name, token in TOKENS.items() if name != "bob"}))
    assert client.app[USERS].reload_if_changed() is True
    refused = await client.get("/api/ai/conversations", headers=auth("bob"))
    assert refused.status == 401 and (await refused.json())["error"]["code"] == "unauthorized"
    assert (await client.post("/v1/chat/completions", json={}, headers=auth("bob"))).status == 401
    assert (await client.get("/api/me")).status == 401  # and nobody without a token


async def test_without_a_users_file_one_implicit_user(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    presets = tmp_path / "presets"
    write_fixture_presets(presets, upstream.url)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(make_settings(tmp_path, presets)))
    me = await (await client.get("/api/me")).json()
    assert me == {
        "name": "default",
        "role": "admin",
        "presets": None,
        "requestsPerMinute": None,
        "tokensPerMinute": None,
        "implicit": True,
    }
    metrics = await (await client.get("/metrics")).text()
    assert "chatwire_user_tokens" not in metrics  # only with --metrics-per-user
    users = await (await client.get("/api/admin/users")).json()
    assert [row["name"] for row in users["users"]] == ["default"]


async def test_a_store_must_be_scoped_to_a_user(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(UnscopedStore):
            await store.load_conversation("b1")
        await store.for_user("alice").save_conversation("b1", [])
        assert [usage.owner for usage in await store.usage_by_user()] == ["alice"]
    finally:
        await store.close()


async def test_sqlite_data_from_before_users_belongs_to_the_implicit_user(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:
        for script in SQLITE_MIGRATIONS[:2]:
            connection.executescript(script)
        connection.execute("PRAGMA user_version = 2")
        connection.execute(
            "INSERT INTO conversations (block_id, messages, version, created_at, updated_at) "
            "VALUES ('b1', '[]', 3, 1, 1)"
        )
        connection.execute('INSERT INTO settings (id, data, updated_at) VALUES (1, \'{"ui:theme": "dark"}\', 1)')
    store = await SqliteStore.open(path)
    try:
        old = await store.for_user("default").load_conversation("b1")
        assert old is not None and old.version == 3
        assert await store.for_user("default").load_settings() == {"ui:theme": "dark"}
        assert await store.for_user("alice").load_conversation("b1") is None
    finally:
        await store.close()


async def test_postgres_data_from_before_users_belongs_to_the_implicit_user(postgres_url: str) -> None:
    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute("CREATE TABLE chatwire_schema (version INTEGER NOT NULL)")
        await connection.execute(POSTGRES_MIGRATIONS[0])
        await connection.execute("INSERT INTO chatwire_schema (version) VALUES (1)")
        await connection.execute(
            "INSERT INTO conversations (block_id, messages, version, created_at, updated_at) "
            "VALUES ('b1', '[]', 3, 1, 1)"
        )
        await connection.execute("INSERT INTO settings (id, data, updated_at) VALUES (1, '{\"a\": 1}', 1)")
    finally:
        await connection.close()
    store = await PostgresStore.open(postgres_url)
    try:
        old = await store.for_user("default").load_conversation("b1")
        assert old is not None and old.version == 3
        assert await store.for_user("default").load_settings() == {"a": 1}
        assert await store.for_user("alice").load_conversation("b1") is None
        await store.for_user("alice").save_conversation("b1", [])  # the same block id, another owner
    finally:
        await store.close()
