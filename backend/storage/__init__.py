"""The store: conversations, block metadata, settings and approvals, each kept per user.

:class:`Store` is the interface the core and the web layer use; :class:`SqliteStore` (here) is the
embedded default, ``backend/storage/postgres.py`` the scale-out one (docs/scaling.md). Both keep the
same semantics, which ``tests/storage/`` checks against each.

SQLite (aiosqlite):

* WAL mode with ``synchronous=NORMAL``: a commit survives a killed process (only power loss can
  lose the last transactions), and readers never wait for the writer.
* Schema migrations by ``PRAGMA user_version`` (:data:`MIGRATIONS`, applied in order, each in a
  transaction).
* Conversations are stored as the ``UIMessage[]`` JSON the client holds, with a version that
  increases on every save; a save with a stale expected version raises :class:`VersionConflict`.
  Writes go through one lock, so a check-and-write is atomic on the single connection.
* Everything is the user's (issue 19): ``store.for_user(name)`` is a view that reads and writes
  only that owner's rows (a block id names a block *within* its owner, so another user's block is
  exactly a block that does not exist). The store as opened is unscoped: it answers only the
  process-wide questions (readiness, pending approvals, usage per user) and refuses the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiosqlite
import orjson

from backend.messages import PendingApproval
from backend.pacing import LARGE_BYTES, yield_to_loop
from backend.storage.sqlite_inline import InlineWriter
from backend.storage.sqlite_schema import MIGRATIONS, UPDATE_AT_VERSION, UPSERT

logger = logging.getLogger(__name__)

# Blocks whose metadata stays cached (a block is a pane: a user has tens, not thousands, open).
META_CACHE_SIZE = 4096


class VersionConflict(Exception):
    def __init__(self, current_version: int) -> None:
        super().__init__(f"version conflict (current version {current_version})")
        self.current_version = current_version


@dataclass(frozen=True, slots=True)
class StoredConversation:
    block_id: str
    messages_json: bytes
    version: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    block_id: str
    title: str
    preset: str | None
    model: str | None
    message_count: int
    input_tokens: int
    output_tokens: int
    version: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class UserUsage:
    """What one owner has stored: conversations and the tokens their answers used."""

    owner: str
    conversations: int
    input_tokens: int
    output_tokens: int


class UnscopedStore(RuntimeError):
    """A programming error: a user's data was asked of the store without ``for_user``."""

    def __init__(self) -> None:
        super().__init__("this store is not scoped to a user: use store.for_user(name)")


async def json_text(value: Any) -> str:
    """``value`` as JSON text, the encode and the UTF-8 decode in separate event-loop steps.

    Each is tens of milliseconds for a conversation at the body limit; together they were one
    stall (tests/bench/loop_block.py)."""
    data = orjson.dumps(value)
    if len(data) > LARGE_BYTES:
        await yield_to_loop()
    return data.decode()


def summarize(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Title (first user text), last answer's preset/model and usage totals, for the list view."""
    title, preset, model, input_tokens, output_tokens = "", None, None, 0, 0
    for message in messages:
        parts = message.get("parts") or []
        if not title and message.get("role") == "user":
            text = " ".join(p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text")
            # Only the start can become the title: splitting a 40 MB text held the event loop for seconds.
            title = " ".join(text[:400].split())[:80]
        metadata = message.get("metadata")
        if message.get("role") == "assistant" and isinstance(metadata, dict):
            preset = metadata.get("preset", preset)
            model = metadata.get("model", model)
            usage = metadata.get("usage")
            if isinstance(usage, dict):
                input_tokens += _token_count(usage.get("inputTokens"))
                output_tokens += _token_count(usage.get("outputTokens"))
    return {
        "title": title,
        "preset": preset,
        "model": model,
        "message_count": len(messages),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
    }


def _token_count(value: Any) -> int:
    """A usage count for the summary; anything but a sane count is 0 (issue 11: never fail a save on it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2**53:
        return 0
    return int(value)


class Store(Protocol):
    """What the core and the front doors need from a store (SQLite or PostgreSQL).

    Conversations keep the client's JSON exactly (key order included); ``save_conversation`` is an
    atomic check-and-write of the version (``expected_version`` 0 = must not exist yet, ``None`` =
    no check) and raises :class:`VersionConflict` with the current version. Block metadata and
    settings merges are atomic read-modify-writes; ``take_approval`` answers a request exactly once.
    """

    async def close(self) -> None: ...

    def for_user(self, name: str) -> Store:
        """The same store, reading and writing only ``name``'s rows."""
        ...

    async def usage_by_user(self) -> list[UserUsage]:
        """Every owner's stored conversations and tokens (the admin's view; no conversation content)."""
        ...

    async def load_conversation(self, block_id: str) -> StoredConversation | None: ...

    async def save_conversation(
        self, block_id: str, messages: list[dict[str, Any]], expected_version: int | None = None
    ) -> int: ...

    async def delete_conversation(self, block_id: str) -> bool: ...

    async def list_conversations(self, limit: int, offset: int) -> tuple[list[ConversationSummary], int]: ...

    async def load_block_meta(self, block_id: str) -> dict[str, Any]: ...

    async def load_settings(self) -> dict[str, Any]: ...

    async def write_block_meta(self, block_id: str, data: Mapping[str, Any], merge: bool) -> dict[str, Any]: ...

    async def write_settings(self, data: Mapping[str, Any], merge: bool) -> dict[str, Any]: ...

    async def record_approval(self, approval: PendingApproval) -> None: ...

    async def take_approval(
        self, block_id: str, approval_id: str, tool_call_id: str, answer: str
    ) -> PendingApproval | None: ...

    async def count_pending_approvals(self) -> int: ...

    async def check_writable(self) -> None:
        """Raises unless the store takes a write now (the readiness check)."""
        ...


class _ReadCache:
    """Block metadata and settings as last read or written. Every chat reads both (two of the five
    layers) before its first token; this process is the only writer of its SQLite file, so they
    are served from here and kept current by the writes: no database round trip on that path."""

    def __init__(self) -> None:
        self.meta: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self.settings: dict[str, dict[str, Any]] = {}
        # Every (owner, block) with a metadata row, read at open and added to by the writes: a chat in
        # a new block (every conversation's first message) then needs no round trip to learn it has
        # none. None: not known, ask the database.
        self.meta_blocks: set[tuple[str, str]] | None = None
        # Small writes on the loop's thread (sqlite_inline.py), opened with the store.
        self.inline: InlineWriter | None = None
        self.background: set[asyncio.Future[None]] = set()  # checkpoints under way

    def remember_meta(self, key: tuple[str, str], data: dict[str, Any]) -> None:
        self.meta[key] = data
        self.meta.move_to_end(key)
        while len(self.meta) > META_CACHE_SIZE:
            self.meta.popitem(last=False)


class SqliteStore:
    """Open with ``await SqliteStore.open(path)``; close with ``await store.close()``."""

    def __init__(
        self,
        connection: aiosqlite.Connection,
        path: Path,
        write_lock: asyncio.Lock | None = None,
        owner: str | None = None,
        cache: _ReadCache | None = None,
    ) -> None:
        self._db = connection
        self._path = path
        self._write_lock = write_lock or asyncio.Lock()
        self._owner = owner
        # Shared by every user's view of this store (``for_user``).
        self._cache = cache or _ReadCache()

    def for_user(self, name: str) -> SqliteStore:
        return SqliteStore(self._db, self._path, self._write_lock, name, self._cache)

    @property
    def owner(self) -> str:
        if self._owner is None:
            raise UnscopedStore()
        return self._owner

    async def usage_by_user(self) -> list[UserUsage]:
        query = """SELECT owner, count(*), sum(input_tokens), sum(output_tokens) FROM conversations
                   GROUP BY owner ORDER BY owner"""
        async with self._db.execute(query) as cursor:
            rows = await cursor.fetchall()
        return [UserUsage(r[0], int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows]

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA busy_timeout=5000")
        store = cls(connection, path)
        await store._migrate()
        rows = await connection.execute_fetchall("SELECT owner, block_id FROM block_meta")
        store._cache.meta_blocks = {(str(row[0]), str(row[1])) for row in rows}
        store._cache.inline = InlineWriter(path)
        return store

    async def close(self) -> None:
        await asyncio.gather(*self._cache.background)
        if self._cache.inline is not None:
            self._cache.inline.close()
        await self._db.close()

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            statements = "BEGIN IMMEDIATE;" + script + f"PRAGMA user_version = {version}; COMMIT;"
            await self._db.executescript(statements)

    async def integrity_check(self) -> str:
        async with self._db.execute("PRAGMA integrity_check") as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else "no result"

    # ---- conversations -------------------------------------------------------------------

    async def load_conversation(self, block_id: str) -> StoredConversation | None:
        query = "SELECT messages, version, updated_at FROM conversations WHERE owner = ? AND block_id = ?"
        # One round trip to aiosqlite's thread (execute + fetch + close would be three): each costs a
        # thread handoff, and a chat makes several of these.
        rows = list(await self._db.execute_fetchall(query, (self.owner, block_id)))
        if not rows:
            return None
        row = rows[0]
        return StoredConversation(block_id, row[0].encode(), int(row[1]), float(row[2]))

    async def save_conversation(
        self, block_id: str, messages: list[dict[str, Any]], expected_version: int | None = None
    ) -> int:
        """Replace the conversation; returns the new version. ``expected_version`` 0 = must not exist."""
        text = await json_text(messages)
        summary = summarize(messages)
        now, owner = time.time(), self.owner
        values = {"owner": owner, "block_id": block_id, "messages": text, "expected": expected_version, "now": now}
        values.update(summary)
        # One statement (the version check is its WHERE), on the loop when it is small and no write
        # of ours is under way (sqlite_inline.py), else one round trip to aiosqlite's thread: this
        # save sits on the path to the first token.
        query = UPDATE_AT_VERSION if expected_version else UPSERT
        inline = self._cache.inline
        rows = None if inline is None or self._write_lock.locked() else inline.write(query, values, len(text))
        if rows is None:
            async with self._write_lock:
                rows = list(await self._db.execute_fetchall(query, values))
        elif inline is not None and inline.checkpoint_due():
            self._cache.background.add(task := asyncio.ensure_future(self._checkpoint()))
            task.add_done_callback(self._cache.background.discard)
        if not rows:
            query = "SELECT version FROM conversations WHERE owner = ? AND block_id = ?"
            current = list(await self._db.execute_fetchall(query, (owner, block_id)))
            raise VersionConflict(int(current[0][0]) if current else 0)
        return int(rows[0][0])

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database and empty it, on aiosqlite's thread (sqlite_inline.py
        says why). TRUNCATE, not PASSIVE: a passive checkpoint copied every frame, but the file is
        reused only by a write that starts after a complete one, and the loop's writes kept
        overlapping it, so the WAL grew regardless (tests/storage). TRUNCATE waits, on this thread,
        for a moment without readers or writers; writes on the loop meanwhile go to the thread."""
        try:
            await self._db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:
            logger.exception("checkpointing the SQLite WAL failed")

    async def delete_conversation(self, block_id: str) -> bool:
        async with self._write_lock:
            cursor = await self._db.execute(
                "DELETE FROM conversations WHERE owner = ? AND block_id = ?", (self.owner, block_id)
            )
            return cursor.rowcount > 0

    async def list_conversations(self, limit: int, offset: int) -> tuple[list[ConversationSummary], int]:
        query = """SELECT block_id, title, preset, model, message_count, input_tokens, output_tokens, version,
                          updated_at FROM conversations WHERE owner = ?
                   ORDER BY updated_at DESC, block_id LIMIT ? OFFSET ?"""
        async with self._db.execute(query, (self.owner, limit, offset)) as cursor:
            rows = await cursor.fetchall()
        async with self._db.execute("SELECT COUNT(*) FROM conversations WHERE owner = ?", (self.owner,)) as cursor:
            total_row = await cursor.fetchone()
        items = [
            ConversationSummary(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), int(r[7]), float(r[8]))
            for r in rows
        ]
        return items, int(total_row[0]) if total_row else 0

    # ---- block metadata and settings (JSON objects) --------------------------------------

    async def _load_object(self, query: str, key: tuple[Any, ...]) -> dict[str, Any]:
        rows = list(await self._db.execute_fetchall(query, key))
        if not rows:
            return {}
        value: dict[str, Any] = orjson.loads(rows[0][0])
        return value

    async def load_block_meta(self, block_id: str) -> dict[str, Any]:
        key = (self.owner, block_id)
        cached = self._cache.meta.get(key)
        if cached is None:
            known = self._cache.meta_blocks
            if known is not None and key not in known:
                cached = {}
            else:
                query = "SELECT data FROM block_meta WHERE owner = ? AND block_id = ?"
                cached = await self._load_object(query, key)
            self._cache.remember_meta(key, cached)
        return dict(cached)

    async def load_settings(self) -> dict[str, Any]:
        cached = self._cache.settings.get(self.owner)
        if cached is None:
            cached = await self._load_object("SELECT data FROM user_settings WHERE owner = ?", (self.owner,))
            self._cache.settings[self.owner] = cached
        return dict(cached)

    async def write_block_meta(self, block_id: str, data: Mapping[str, Any], merge: bool) -> dict[str, Any]:
        async with self._write_lock:
            current = await self.load_block_meta(block_id) if merge else {}
            merged = merge_patch(current, data) if merge else dict(data)
            await self._db.execute(
                "INSERT INTO block_meta (owner, block_id, data, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(owner, block_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                (self.owner, block_id, orjson.dumps(merged).decode(), time.time()),
            )
            self._cache.remember_meta((self.owner, block_id), dict(merged))
            if self._cache.meta_blocks is not None:
                self._cache.meta_blocks.add((self.owner, block_id))
        return merged

    async def write_settings(self, data: Mapping[str, Any], merge: bool) -> dict[str, Any]:
        async with self._write_lock:
            current = await self.load_settings() if merge else {}
            merged = merge_patch(current, data) if merge else dict(data)
            await self._db.execute(
                "INSERT INTO user_settings (owner, data, updated_at) VALUES (?, ?, ?) ON CONFLICT(owner) "
                "DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                (self.owner, orjson.dumps(merged).decode(), time.time()),
            )
            self._cache.settings[self.owner] = dict(merged)
        return merged

    async def record_approval(self, approval: PendingApproval) -> None:
        async with self._write_lock:
            await self._db.execute(
                "INSERT OR REPLACE INTO approvals (approval_id, owner, block_id, tool_call_id, tool_name, input, "
                "status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                (
                    approval.approval_id,
                    self.owner,
                    approval.block_id,
                    approval.tool_call_id,
                    approval.tool_name,
                    approval.input_json,
                    time.time(),
                ),
            )

    async def count_pending_approvals(self) -> int:
        async with self._db.execute("SELECT count(*) FROM approvals WHERE status = 'pending'") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row is not None else 0

    async def check_writable(self) -> None:
        """Raises ``OSError`` / ``sqlite3.Error`` unless the data directory and the database take a
        write (SQLite creates journal files next to the database, so the directory must be writable)."""
        probe = self._path.parent / ".ready-probe"

        def touch_probe() -> None:
            probe.write_bytes(b"ok")
            probe.unlink()

        await asyncio.to_thread(touch_probe)
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            await self._db.execute("ROLLBACK")

    async def take_approval(
        self, block_id: str, approval_id: str, tool_call_id: str, answer: str
    ) -> PendingApproval | None:
        """The pending request with these ids, marked ``answer`` in the same write; None if there is none."""
        async with self._write_lock:
            async with self._db.execute(
                "SELECT approval_id, block_id, tool_call_id, tool_name, input FROM approvals "
                "WHERE approval_id = ? AND owner = ? AND block_id = ? AND tool_call_id = ? AND status = 'pending'",
                (approval_id, self.owner, block_id, tool_call_id),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            await self._db.execute("UPDATE approvals SET status = ? WHERE approval_id = ?", (answer, approval_id))
        return PendingApproval(row[0], row[1], row[2], row[3], row[4])


class ApprovalStore:
    """Approval requests the server made, so a client cannot approve a call the model never made.

    The ``ApprovalLedger`` the tool runner needs, on top of the store (``take`` marks a request
    answered exactly once).
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(self, approval: PendingApproval) -> None:
        await self._store.record_approval(approval)

    async def take(self, block_id: str, approval_id: str, tool_call_id: str, answer: str) -> PendingApproval | None:
        """The pending request with these ids (marking it ``answer``), or None if there is none."""
        return await self._store.take_approval(block_id, approval_id, tool_call_id, answer)


def merge_patch(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Shallow JSON merge: keys in ``patch`` replace, ``null`` deletes."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
