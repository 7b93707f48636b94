from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.storage import ApprovalStore, SqliteStore, Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = (await SqliteStore.open(tmp_path / "db.sqlite3")).for_user("default")
    yield opened
    await opened.close()


@pytest.fixture
def approvals(store: Store) -> ApprovalStore:
    return ApprovalStore(store)
