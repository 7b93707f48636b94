"""The store's contract, run against SQLite and a real PostgreSQL (tests/engines.py).

Both implementations must give the same answers: the web layer and the core only know the
``Store`` interface.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from backend.messages import PendingApproval
from backend.storage import ApprovalStore, SqliteStore, Store, VersionConflict
from backend.storage.postgres import MIGRATIONS, PostgresStore
from tests.engines import PostgresServer

MESSAGES: list[dict[str, Any]] = [
    {"parts": [{"type": "text", "text": "Why is the sky blue?"}], "id": "u1", "role": "user"},
    {
        "id": "a1",
        "role": "assistant",
        "metadata": {"preset": "p", "model": "m", "usage": {"inputTokens": 10, "outputTokens": 4}},
        "parts": [
            {"type": "text", "text": "Rayleigh \u0000 scattering ✨", "state": "done"},
            {"type": "data-x", "z": 1},
        ],
    },
]


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "sqlite":
        opened = await SqliteStore.open(tmp_path / "store.sqlite3")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        opened = await PostgresStore.open(await server.new_database())
    yield opened.for_user("alice")  # the contract holds for each user's view (issue 19)
    await opened.close()


async def test_conversation_round_trip_is_byte_exact(store: Store) -> None:
    assert await store.load_conversation("b1") is None
    assert await store.save_conversation("b1", MESSAGES) == 1
    stored = await store.load_conversation("b1")
    assert stored is not None and stored.version == 1 and stored.block_id == "b1"
    # Key order, unknown keys, a NUL and non-ASCII text survive: the stored JSON is the client's JSON.
    assert stored.messages_json == orjson.dumps(MESSAGES)
    assert stored.updated_at > 0


async def test_versions_and_conflicts(store: Store) -> None:
    assert await store.save_conversation("b1", MESSAGES, expected_version=0) == 1
    with pytest.raises(VersionConflict) as conflict:
        await store.save_conversation("b1", MESSAGES, expected_version=0)  # must not exist yet
    assert conflict.value.current_version == 1
    assert await store.save_conversation("b1", MESSAGES[:1], expected_version=1) == 2
    with pytest.raises(VersionConflict) as stale:
        await store.save_conversation("b1", MESSAGES, expected_version=1)
    assert stale.value.current_version == 2
    assert await store.save_conversation("b1", MESSAGES) == 3  # no check: always the next version
    with pytest.raises(VersionConflict) as missing:
        await store.save_conversation("nope", MESSAGES, expected_version=4)
    assert missing.value.current_version == 0
    stored = await store.load_conversation("b1")
    assert stored is not None and orjson.loads(stored.messages_json) == MESSAGES


async def test_concurrent_checked_saves_let_exactly_one_win(store: Store) -> None:
    await store.save_conversation("b1", MESSAGES)
    results = await asyncio.gather(
        *(store.save_conversation("b1", [{"id": f"m{i}", "role": "user", "parts": []}], 1) for i in range(10)),
        return_exceptions=True,
    )
    winners = [result for result in results if not isinstance(result, BaseException)]
    assert winners == [2]
    assert all(isinstance(result, VersionConflict) for result in results if isinstance(result, BaseException))


async def test_concurrent_unchecked_saves_each_get_a_version(store: Store) -> None:
    versions = await asyncio.gather(*(store.save_conversation("b1", MESSAGES) for _ in range(20)))
    assert sorted(versions) == list(range(1, 21))


async def test_delete(store: Store) -> None:
    await store.save_conversation("b1", MESSAGES)
    assert await store.delete_conversation("b1") is True
    assert await store.delete_conversation("b1") is False
    assert await store.load_conversation("b1") is None
    assert await store.save_conversation("b1", MESSAGES, expected_version=0) == 1  # a new life, version 1


async def test_list_is_newest_first_with_summaries(store: Store) -> None:
    for index in range(3):
        await store.save_conversation(f"b{index}", MESSAGES)
    await store.save_conversation("b0", MESSAGES)  # b0 becomes the newest
    items, total = await store.list_conversations(limit=2, offset=0)
    assert total == 3 and [item.block_id for item in items] == ["b0", "b2"]
    first = items[0]
    assert (first.title, first.preset, first.model, first.message_count) == ("Why is the sky blue?", "p", "m", 2)
    assert (first.input_tokens, first.output_tokens, first.version) == (10, 4, 2)
    rest, _ = await store.list_conversations(limit=2, offset=2)
    assert [item.block_id for item in rest] == ["b1"]


async def test_block_meta_and_settings_merge(store: Store) -> None:
    assert await store.load_block_meta("b1") == {}
    assert await store.write_block_meta("b1", {"title": "x", "ai:preset": "p"}, merge=False) == {
        "title": "x",
        "ai:preset": "p",
    }
    merged = await store.write_block_meta("b1", {"title": None, "color": "red"}, merge=True)
    assert merged == {"ai:preset": "p", "color": "red"}  # null deletes, others replace
    assert await store.load_block_meta("b1") == merged
    assert await store.load_block_meta("b2") == {}
    assert await store.write_block_meta("b1", {"only": 1}, merge=False) == {"only": 1}
    assert await store.load_settings() == {}
    await store.write_settings({"ai:preset": "a", "theme": "dark"}, merge=False)
    assert await store.write_settings({"theme": None}, merge=True) == {"ai:preset": "a"}
    assert await store.load_settings() == {"ai:preset": "a"}


async def test_concurrent_merges_lose_no_key(store: Store) -> None:
    await asyncio.gather(*(store.write_block_meta("b1", {f"k{i}": i}, merge=True) for i in range(20)))
    assert await store.load_block_meta("b1") == {f"k{i}": i for i in range(20)}
    await asyncio.gather(*(store.write_settings({f"s{i}": i}, merge=True) for i in range(20)))
    assert await store.load_settings() == {f"s{i}": i for i in range(20)}


async def test_approvals_are_answered_once(store: Store) -> None:
    ledger = ApprovalStore(store)
    pending = PendingApproval("apr-1", "b1", "call-1", "delete_file", '{"path":"x"}')
    await ledger.record(pending)
    assert await ledger.take("b2", "apr-1", "call-1", "approved") is None  # another block
    assert await ledger.take("b1", "apr-1", "call-2", "approved") is None  # another call
    answers = await asyncio.gather(*(ledger.take("b1", "apr-1", "call-1", "approved") for _ in range(5)))
    assert [answer for answer in answers if answer is not None] == [pending]
    assert await ledger.take("b1", "apr-1", "call-1", "denied") is None  # already answered
    await ledger.record(pending)  # recorded again (the same id): pending again, as SQLite's INSERT OR REPLACE
    assert await ledger.take("b1", "apr-1", "call-1", "denied") == pending


async def test_pending_approvals_are_counted_and_a_healthy_store_takes_writes(store: Store) -> None:
    assert await store.count_pending_approvals() == 0
    ledger = ApprovalStore(store)
    await ledger.record(PendingApproval("apr-1", "b1", "call-1", "fetch_url", "{}"))
    await ledger.record(PendingApproval("apr-2", "b1", "call-2", "fetch_url", "{}"))
    assert await store.count_pending_approvals() == 2
    await ledger.take("b1", "apr-1", "call-1", "approved")
    assert await store.count_pending_approvals() == 1
    await store.check_writable()  # raises when the store cannot take a write


async def test_postgres_migrations_run_once_when_workers_start_together(postgres_url: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(postgres_url) for _ in range(4)))
    try:
        assert [await store.schema_version() for store in stores] == [len(MIGRATIONS)] * 4
        connection = await asyncpg.connect(postgres_url)
        try:
            assert await connection.fetchval("SELECT count(*) FROM chatwire_schema") == len(MIGRATIONS)
        finally:
            await connection.close()
        await stores[0].for_user("alice").save_conversation("b1", MESSAGES)
        reopened = await PostgresStore.open(postgres_url)  # a restart keeps the data, migrates nothing
        stored = await reopened.for_user("alice").load_conversation("b1")
        await reopened.close()
        assert stored is not None and stored.version == 1
    finally:
        for store in stores:
            await store.close()


async def test_sqlite_knows_which_blocks_have_metadata_without_asking(tmp_path: Path) -> None:
    """A chat in a new block reads its metadata before the first token: the set of blocks with a
    row (read at open, added to by writes) answers that without a query; written rows survive a
    reopen."""
    path = tmp_path / "chatwire.db"
    first = await SqliteStore.open(path)
    await first.for_user("local").write_block_meta("b1", {"ai:preset": "fast"}, merge=False)
    await first.close()

    store = await SqliteStore.open(path)
    statements: list[str] = []
    await store._db.set_trace_callback(statements.append)
    user = store.for_user("local")
    try:
        assert await user.load_block_meta("b1") == {"ai:preset": "fast"}
        assert any("FROM block_meta" in statement for statement in statements)
        statements.clear()
        assert await user.load_block_meta("b2") == {}
        assert not any("block_meta" in statement for statement in statements)
        await user.write_block_meta("b2", {"ai:preset": "slow"}, merge=True)
        assert await user.load_block_meta("b2") == {"ai:preset": "slow"}
        assert await store.for_user("other").load_block_meta("b1") == {}
    finally:
        await store.close()


async def test_a_save_while_another_connection_holds_the_write_lock_waits_off_the_loop(tmp_path: Path) -> None:
    """Small saves run on the event loop's thread (storage/sqlite_inline.py) but never wait there:
    when SQLite's write lock is taken by another connection, the save waits on aiosqlite's thread
    while the loop goes on, and lands once the lock is free."""
    store = await SqliteStore.open(tmp_path / "chat.sqlite3")
    user = store.for_user("ann")
    other = sqlite3.connect(tmp_path / "chat.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        saving = asyncio.create_task(user.save_conversation("b1", [{"id": "u1", "role": "user", "parts": []}]))
        for _ in range(3):
            await asyncio.sleep(0)  # the loop runs: the save did not hold it while the lock is taken
        assert not saving.done()
        other.execute("ROLLBACK")
        assert await asyncio.wait_for(saving, 10) == 1
        stored = await user.load_conversation("b1")
        assert stored is not None and stored.version == 1
    finally:
        other.close()
        await store.close()


async def test_small_saves_on_the_loop_are_read_back_by_the_thread_at_once(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "chat.sqlite3")
    user = store.for_user("ann")
    try:
        for version in range(1, 4):
            messages = [{"id": f"u{index}", "role": "user", "parts": []} for index in range(version)]
            assert await user.save_conversation("b1", messages, version - 1) == version
            stored = await user.load_conversation("b1")
            assert stored is not None and stored.version == version
            assert len(orjson.loads(stored.messages_json)) == version
        with pytest.raises(VersionConflict):
            await user.save_conversation("b1", [], 1)
    finally:
        await store.close()


async def test_the_wal_is_checkpointed_when_the_small_writes_go_around_the_thread(tmp_path: Path) -> None:
    """Small saves skip aiosqlite's connection, whose commits are where SQLite checkpoints by itself;
    the store asks for checkpoints instead, so the WAL file stops growing (without them these
    20 MB of saves leave a 4.5 MB WAL; with them it stays under 0.5 MB)."""
    store = await SqliteStore.open(tmp_path / "chat.sqlite3")
    user = store.for_user("ann")
    text = "x" * 60_000
    try:
        for version in range(1, 321):
            messages = [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": f"{version}{text}"}]}]
            assert await user.save_conversation("b1", messages, version - 1) == version
            # A read goes through aiosqlite's thread after any checkpoint asked for meanwhile.
            stored = await user.load_conversation("b1")
            assert stored is not None and stored.version == version
        wal = tmp_path / "chat.sqlite3-wal"
        assert wal.stat().st_size < 2 * 1024 * 1024
    finally:
        await store.close()
