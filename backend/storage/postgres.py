"""PostgreSQL store (asyncpg): the :class:`~backend.storage.Store` for several workers (docs/scaling.md).

The same semantics as the SQLite store, without its single-process write lock:

* **Conversations** are kept as the client's JSON text (``TEXT``, not ``jsonb``: ``jsonb`` reorders
  keys, and a conversation must come back exactly as saved). Each save is *one statement* that
  checks and bumps the version, so concurrent saves from any number of workers serialise on the
  row: ``expected_version`` 0 is ``INSERT … ON CONFLICT DO NOTHING``, N is ``UPDATE … WHERE version
  = N``, ``None`` is an upsert that adds one to whatever is there.
* **Block metadata and settings** merges are read-modify-writes: each runs in a transaction holding
  a transaction-scoped advisory lock on its row's key, which stands in for SQLite's write lock (the
  row may not exist yet, so ``SELECT … FOR UPDATE`` alone would not serialise two first writes).
* **Approvals** are answered once by one conditional ``UPDATE … RETURNING``.
* **Owners** (issue 19): every row belongs to a user; ``for_user(name)`` is a view over the same pool
  that reads and writes only that owner's rows (the keys are ``(owner, block_id)``).
* **Migrations** are numbered scripts recorded in ``chatwire_schema``; they run in one transaction
  under an advisory lock, so workers starting together apply each exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import asyncpg
import orjson

from backend.messages import PendingApproval
from backend.storage import (
    ConversationSummary,
    StoredConversation,
    UnscopedStore,
    UserUsage,
    VersionConflict,
    json_text,
    merge_patch,
    summarize,
)

# Any constant works: it names "chatwire migrations" among the advisory locks of this database.
_MIGRATION_LOCK = 0x63686174

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE conversations (
        block_id TEXT PRIMARY KEY,
        messages TEXT NOT NULL,
        version INTEGER NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        preset TEXT,
        model TEXT,
        message_count INTEGER NOT NULL DEFAULT 0,
        input_tokens BIGINT NOT NULL DEFAULT 0,
        output_tokens BIGINT NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX conversations_updated ON conversations(updated_at DESC, block_id);
    CREATE TABLE block_meta (block_id TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL);
    CREATE TABLE settings (
        id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE approvals (
        approval_id TEXT PRIMARY KEY,
        block_id TEXT NOT NULL,
        tool_call_id TEXT NOT NULL,
        tool_name TEXT NOT NULL,
        input TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX approvals_block ON approvals(block_id);
    """,
    # 2: every row has an owner (issue 19); what was stored before belongs to the implicit user.
    """
    ALTER TABLE conversations ADD COLUMN owner TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE conversations ALTER COLUMN owner DROP DEFAULT;
    ALTER TABLE conversations DROP CONSTRAINT conversations_pkey;
    ALTER TABLE conversations ADD PRIMARY KEY (owner, block_id);
    DROP INDEX conversations_updated;
    CREATE INDEX conversations_updated ON conversations(owner, updated_at DESC, block_id);
    ALTER TABLE block_meta ADD COLUMN owner TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE block_meta ALTER COLUMN owner DROP DEFAULT;
    ALTER TABLE block_meta DROP CONSTRAINT block_meta_pkey;
    ALTER TABLE block_meta ADD PRIMARY KEY (owner, block_id);
    CREATE TABLE user_settings (owner TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL);
    INSERT INTO user_settings (owner, data, updated_at) SELECT 'default', data, updated_at FROM settings;
    DROP TABLE settings;
    ALTER TABLE approvals ADD COLUMN owner TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE approvals ALTER COLUMN owner DROP DEFAULT;
    """,
)

_UPSERT = """
    INSERT INTO conversations AS c (owner, block_id, messages, version, title, preset, model, message_count,
        input_tokens, output_tokens, created_at, updated_at)
    VALUES ($10, $1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $9)
    ON CONFLICT (owner, block_id) DO UPDATE SET messages = excluded.messages, version = c.version + 1,
        title = excluded.title, preset = excluded.preset, model = excluded.model,
        message_count = excluded.message_count, input_tokens = excluded.input_tokens,
        output_tokens = excluded.output_tokens, updated_at = excluded.updated_at
    RETURNING version"""
_INSERT_NEW = """
    INSERT INTO conversations (owner, block_id, messages, version, title, preset, model, message_count,
        input_tokens, output_tokens, created_at, updated_at)
    VALUES ($10, $1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $9)
    ON CONFLICT (owner, block_id) DO NOTHING
    RETURNING version"""
_UPDATE_AT_VERSION = """
    UPDATE conversations SET messages = $2, version = version + 1, title = $3, preset = $4, model = $5,
        message_count = $6, input_tokens = $7, output_tokens = $8, updated_at = $9
    WHERE owner = $11 AND block_id = $1 AND version = $10
    RETURNING version"""


class PostgresStore:
    """Open with ``await PostgresStore.open(url)`` (a ``postgresql://`` URL); close with ``await store.close()``."""

    def __init__(self, pool: asyncpg.Pool, owner: str | None = None) -> None:
        self._pool = pool
        self._owner = owner

    def for_user(self, name: str) -> PostgresStore:
        return PostgresStore(self._pool, name)

    @property
    def owner(self) -> str:
        if self._owner is None:
            raise UnscopedStore()
        return self._owner

    async def usage_by_user(self) -> list[UserUsage]:
        rows = await self._pool.fetch(
            """SELECT owner, count(*), sum(input_tokens), sum(output_tokens) FROM conversations
               GROUP BY owner ORDER BY owner"""
        )
        return [UserUsage(r[0], int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows]

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 10) -> PostgresStore:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=max_connections)
        store = cls(pool)
        try:
            await store._migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        await self._pool.close()

    async def _migrate(self) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await connection.execute("CREATE TABLE IF NOT EXISTS chatwire_schema (version INTEGER NOT NULL)")
            current = await connection.fetchval("SELECT max(version) FROM chatwire_schema")
            current = int(current or 0)
            for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                await connection.execute(script)
                await connection.execute("INSERT INTO chatwire_schema (version) VALUES ($1)", version)

    async def schema_version(self) -> int:
        return int(await self._pool.fetchval("SELECT max(version) FROM chatwire_schema") or 0)

    # ---- conversations -------------------------------------------------------------------

    async def load_conversation(self, block_id: str) -> StoredConversation | None:
        row = await self._pool.fetchrow(
            "SELECT messages, version, updated_at FROM conversations WHERE owner = $1 AND block_id = $2",
            self.owner,
            block_id,
        )
        if row is None:
            return None
        return StoredConversation(block_id, row[0].encode(), int(row[1]), float(row[2]))

    async def save_conversation(
        self, block_id: str, messages: list[dict[str, Any]], expected_version: int | None = None
    ) -> int:
        """Replace the conversation; returns the new version. ``expected_version`` 0 = must not exist."""
        summary = summarize(messages)
        values = (
            block_id,
            await json_text(messages),
            summary["title"],
            summary["preset"],
            summary["model"],
            summary["message_count"],
            summary["input_tokens"],
            summary["output_tokens"],
            time.time(),
        )
        owner = self.owner
        if expected_version is None:
            version = await self._pool.fetchval(_UPSERT, *values, owner)
        elif expected_version == 0:
            version = await self._pool.fetchval(_INSERT_NEW, *values, owner)
        else:
            version = await self._pool.fetchval(_UPDATE_AT_VERSION, *values, expected_version, owner)
        if version is None:
            # The check failed; the version read now is what the client should reload (a hint only).
            current = await self._pool.fetchval(
                "SELECT version FROM conversations WHERE owner = $1 AND block_id = $2", owner, block_id
            )
            raise VersionConflict(int(current or 0))
        return int(version)

    async def delete_conversation(self, block_id: str) -> bool:
        deleted = await self._pool.fetchval(
            "DELETE FROM conversations WHERE owner = $1 AND block_id = $2 RETURNING block_id", self.owner, block_id
        )
        return deleted is not None

    async def list_conversations(self, limit: int, offset: int) -> tuple[list[ConversationSummary], int]:
        async with self._pool.acquire() as connection, connection.transaction(isolation="repeatable_read"):
            rows = await connection.fetch(
                """SELECT block_id, title, preset, model, message_count, input_tokens, output_tokens, version,
                          updated_at FROM conversations WHERE owner = $1
                   ORDER BY updated_at DESC, block_id LIMIT $2 OFFSET $3""",
                self.owner,
                limit,
                offset,
            )
            total = await connection.fetchval("SELECT count(*) FROM conversations WHERE owner = $1", self.owner)
        items = [
            ConversationSummary(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), int(r[7]), float(r[8]))
            for r in rows
        ]
        return items, int(total or 0)

    # ---- block metadata and settings (JSON objects) --------------------------------------

    async def load_block_meta(self, block_id: str) -> dict[str, Any]:
        query = "SELECT data FROM block_meta WHERE owner = $1 AND block_id = $2"
        return _object(await self._pool.fetchval(query, self.owner, block_id))

    async def load_settings(self) -> dict[str, Any]:
        return _object(await self._pool.fetchval("SELECT data FROM user_settings WHERE owner = $1", self.owner))

    async def write_block_meta(self, block_id: str, data: Mapping[str, Any], merge: bool) -> dict[str, Any]:
        owner = self.owner
        async with self._pool.acquire() as connection, connection.transaction():
            # The owner's name cannot hold ':' (backend/users.py), so the lock key is unambiguous.
            lock_key = f"block_meta:{owner}:{block_id}"
            await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", lock_key)
            current = await connection.fetchval(
                "SELECT data FROM block_meta WHERE owner = $1 AND block_id = $2", owner, block_id
            )
            merged = merge_patch(_object(current), data) if merge else dict(data)
            await connection.execute(
                "INSERT INTO block_meta (owner, block_id, data, updated_at) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (owner, block_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                owner,
                block_id,
                orjson.dumps(merged).decode(),
                time.time(),
            )
        return merged

    async def write_settings(self, data: Mapping[str, Any], merge: bool) -> dict[str, Any]:
        owner = self.owner
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "settings:" + owner)
            current = await connection.fetchval("SELECT data FROM user_settings WHERE owner = $1", owner)
            merged = merge_patch(_object(current), data) if merge else dict(data)
            await connection.execute(
                "INSERT INTO user_settings (owner, data, updated_at) VALUES ($1, $2, $3) ON CONFLICT (owner) "
                "DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                owner,
                orjson.dumps(merged).decode(),
                time.time(),
            )
        return merged

    # ---- approvals -----------------------------------------------------------------------

    async def record_approval(self, approval: PendingApproval) -> None:
        await self._pool.execute(
            """INSERT INTO approvals (approval_id, block_id, tool_call_id, tool_name, input, status, created_at,
                   owner)
               VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)
               ON CONFLICT (approval_id) DO UPDATE SET owner = excluded.owner, block_id = excluded.block_id,
                   tool_call_id = excluded.tool_call_id, tool_name = excluded.tool_name, input = excluded.input,
                   status = 'pending', created_at = excluded.created_at""",
            approval.approval_id,
            approval.block_id,
            approval.tool_call_id,
            approval.tool_name,
            approval.input_json,
            time.time(),
            self.owner,
        )

    async def take_approval(
        self, block_id: str, approval_id: str, tool_call_id: str, answer: str
    ) -> PendingApproval | None:
        """The pending request with these ids, marked ``answer`` in the same statement; None if there is none."""
        row = await self._pool.fetchrow(
            """UPDATE approvals SET status = $4
               WHERE approval_id = $1 AND block_id = $2 AND tool_call_id = $3 AND status = 'pending' AND owner = $5
               RETURNING approval_id, block_id, tool_call_id, tool_name, input""",
            approval_id,
            block_id,
            tool_call_id,
            answer,
            self.owner,
        )
        if row is None:
            return None
        return PendingApproval(row[0], row[1], row[2], row[3], row[4])

    async def count_pending_approvals(self) -> int:
        count = await self._pool.fetchval("SELECT count(*) FROM approvals WHERE status = 'pending'")
        return int(count or 0)

    async def check_writable(self) -> None:
        """A transaction id is assigned only where writes are possible: a read-only server (a standby,
        ``default_transaction_read_only``) refuses it."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT txid_current()")


def _object(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    value: dict[str, Any] = orjson.loads(text)
    return value
