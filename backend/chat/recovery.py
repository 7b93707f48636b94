"""Saving the partial answer of a worker that died mid-answer (docs/scaling.md, "Failure modes").

A dead worker cannot save what it streamed, but with shared live streams every chunk it streamed
is still in the engine. The next worker that touches the block (a new message, a resume, a stop,
or its sweeper, whichever comes first) claims the answer, closes it with an ``error`` and
``finish: interrupted``, and saves it here: the chunks folded by ``aisdk/assemble.py`` into the
message exactly as a client following it holds it, under the same save rule as any answer
(``saving.py``: a concurrent edit wins and gets the answer added, a deleted conversation stays
deleted).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from backend.aisdk.assemble import UIMessageAssembler
from backend.chat.saving import SaveOutcome, save_answer
from backend.storage import Store
from backend.users import IMPLICIT_USER_NAME

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OrphanedAnswer:
    """What a dead worker's answer left in the live streams: its names and every encoded chunk,
    the closing ``error`` and ``finish`` included."""

    block_id: str
    message_id: str
    chunks: Sequence[bytes]
    owner: str = IMPLICIT_USER_NAME  # whose block: the answer is saved in that user's store


async def save_orphaned_answer(store: Store, orphan: OrphanedAnswer) -> SaveOutcome:
    """Save the orphan's partial answer after the stored conversation (which holds the user
    message: it was saved when the answer started), in its owner's view of the store."""
    store = store.for_user(orphan.owner)
    stored = await store.load_conversation(orphan.block_id)
    if stored is None:
        # Deleted meanwhile, or its start was never saved: nothing to add the answer to.
        logger.info("block %s has no conversation; its orphaned answer is not saved", orphan.block_id)
        return SaveOutcome("deleted")
    messages = orjson.loads(stored.messages_json)
    # A continued message (after an approval) is stored already: the answer goes on from it, as in the client.
    base = next((message for message in messages if message.get("id") == orphan.message_id), None)
    assembler = UIMessageAssembler(orphan.message_id, base)
    for chunk in orphan.chunks:
        assembler.add(orjson.loads(chunk))
    if not assembler.parts:
        return SaveOutcome("saved", stored.version)  # nothing streamed that a client would keep
    history = [message for message in messages if message.get("id") != orphan.message_id]
    outcome = await save_answer(store, orphan.block_id, history, [assembler.message], stored.version)
    logger.warning(
        "saved the partial answer %s of block %s left by a stopped worker (%s)",
        orphan.message_id,
        orphan.block_id,
        outcome.result,
    )
    return outcome
