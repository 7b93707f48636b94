"""Saving a streamed answer without losing anyone's update (issue 11; docs/persistence.md).

An answer streams for seconds or minutes; meanwhile the user may edit the conversation
(``POST /api/ai/conversations`` with ``If-Match``) or delete it. The rule, applied atomically
through the store's version check:

* **Unchanged** since the answer started (same version): save the request's history plus the
  answer, as before.
* **Edited** (a newer version): the latest version wins, and the answer is added to it — in
  place of a message with the same id (a continued message), else at the end.
* **Deleted** (it existed when the answer started and is gone now): nothing is saved; a deleted
  conversation does not come back.

If a save fails anyway (the database refused it), the caller tells the client before ``[DONE]``.
Nothing here imports aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import orjson

from backend.storage import Store, VersionConflict

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ATTEMPTS = 5

SaveResult = Literal["saved", "merged", "deleted", "failed"]


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    result: SaveResult
    version: int | None = None

    @property
    def failed(self) -> bool:
        return self.result == "failed"


async def current_version(store: Store, block_id: str) -> int:
    stored = await store.load_conversation(block_id)
    return 0 if stored is None else stored.version


def _with_answer(latest: list[dict[str, Any]], answer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = list(latest)
    for message in answer:
        index = next((i for i, existing in enumerate(merged) if existing.get("id") == message.get("id")), None)
        if index is None:
            merged.append(message)
        else:
            merged[index] = message
    return merged


async def save_answer(
    store: Store,
    block_id: str,
    history: list[dict[str, Any]],
    answer: list[dict[str, Any]],
    base_version: int,
) -> SaveOutcome:
    """Save ``history + answer`` under the rule above; ``base_version`` is the version the answer started from."""
    try:
        if base_version > 0:
            # The usual case, nobody touched it meanwhile: one statement, whose version check is
            # its WHERE (no read first: each is a round trip to the database). On a conflict the
            # rule below reads what changed.
            with contextlib.suppress(VersionConflict):
                version = await store.save_conversation(block_id, [*history, *answer], base_version)
                return SaveOutcome("saved", version)
        for _ in range(MAX_ATTEMPTS):
            stored = await store.load_conversation(block_id)
            if stored is None and base_version > 0:
                logger.info("block %s was deleted while its answer streamed; not saving it again", block_id)
                return SaveOutcome("deleted")
            if stored is None or stored.version == base_version:
                messages, result = [*history, *answer], "saved"
            else:
                if not answer:
                    return SaveOutcome("merged", stored.version)
                messages, result = _with_answer(orjson.loads(stored.messages_json), answer), "merged"
            try:
                version = await store.save_conversation(block_id, messages, 0 if stored is None else stored.version)
            except VersionConflict:
                continue  # another write landed between the read and the save: apply the rule again
            return SaveOutcome("saved" if result == "saved" else "merged", version)
        raise RuntimeError(f"the conversation kept changing ({MAX_ATTEMPTS} attempts)")
    except Exception:
        logger.exception("saving the conversation of block %s failed", block_id)
        return SaveOutcome("failed")


async def uninterrupted(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end even if the calling task is cancelled meanwhile (a second stop,
    shutdown): the save that ends a stream must not be cut off. The cancellation is not lost: the
    caller finishes its stream and then returns, which is all a cancelled generation does."""
    task = asyncio.ensure_future(coroutine)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                return task.result()
