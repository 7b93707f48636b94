"""Small SQLite writes on the event loop's own thread, beside aiosqlite's connection.

Why: each aiosqlite statement is a round trip to its thread, and that thread needs the GIL for
its Python steps. With the loop busy on the same core (the peer bench pins the server to one),
it gets the GIL only when the loop is forced to yield it (every 5 ms by default), a few times per
statement. Measured at 200 paced streams: the save of a chat's new user message took p90
300-380 ms and p99 0.5-0.7 s, and the answer's first token waits for that save
(docs/benchmarks.md). Here a small write costs ~0.1 ms of the loop's time instead.

What keeps it safe:

* The store uses it only while its own write lock is free (no write of ours is under way on the
  thread's connection) and only for small statements (``INLINE_BYTES``); the write is one
  statement and returns before anything else runs on the loop.
* Its own connection has ``busy_timeout`` 0: when another connection holds SQLite's write lock
  (aiosqlite's thread in ``check_writable``, an operator's ``sqlite3`` shell), SQLITE_BUSY comes
  back at once and the store sends the write to the thread, which waits there, not the loop.
* ``wal_autocheckpoint`` 0 here: a checkpoint (copying the WAL into the database, with fsync)
  never runs on the loop. SQLite checkpoints automatically only on the commits of a connection
  that has it on, and with most writes made here aiosqlite's connection may commit too seldom, so
  the WAL would only grow: after every ``CHECKPOINT_BYTES`` written here the store asks aiosqlite's
  thread for a checkpoint that empties it (``checkpoint_due``). With WAL and ``synchronous=NORMAL`` a
  commit is a write to the WAL file without fsync.
* Readers on the other connection see the commit from their next statement (WAL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Parameters up to this size are written on the loop: a chat's first save, most answers' final save.
INLINE_BYTES = 64 * 1024
# About SQLite's own automatic checkpoint interval (1000 pages of 4 KiB).
CHECKPOINT_BYTES = 4 * 1024 * 1024


class InlineWriter:
    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None)
        self._connection.execute("PRAGMA busy_timeout=0")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA wal_autocheckpoint=0")
        self._written = 0  # bytes written here since the last checkpoint was asked for

    def write(self, query: str, values: Mapping[str, Any], size: int) -> list[Any] | None:
        """The statement's rows, or None when it was not run here (too large, or SQLite's write
        lock is held by another connection): the caller runs it on aiosqlite's thread."""
        if size > INLINE_BYTES:
            return None
        try:
            rows = self._connection.execute(query, values).fetchall()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None
            raise
        self._written += size
        return rows

    def checkpoint_due(self) -> bool:
        """True once per ``CHECKPOINT_BYTES`` written here: time to checkpoint on the thread."""
        if self._written < CHECKPOINT_BYTES:
            return False
        self._written = 0
        return True

    def close(self) -> None:
        self._connection.close()
