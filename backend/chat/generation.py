"""Run one turn to its end (or stop) into a live stream, and save the answer however it ends.

Events are encoded once into UI message chunks; each chunk is folded into the assistant
message (what the client will hold, and what is saved) and appended to the stream as its JSON
bytes, which every follower shares.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from backend.aisdk.encode import UIMessageStreamEncoder
from backend.chat.streams import ActiveStream
from backend.chat.turn import Turn
from backend.storage import Store

logger = logging.getLogger(__name__)


async def generate(turn: Turn, stream: ActiveStream, store: Store) -> None:
    encoder = UIMessageStreamEncoder()
    assembler = turn.assembler()

    def emit(chunk: dict[str, Any]) -> None:
        assembler.add(chunk)
        stream.append(orjson.dumps(chunk))

    if turn.base_message is None:
        # Save the new user message now: a reload while the answer streams must show it (the
        # answer itself comes back through resume and is saved when it ends).
        await save(store, turn.block_id, turn.history)
    emit(encoder.start(turn.message_id, turn.metadata))
    try:
        async with turn.open_model() as model:
            async for event in turn.events(model):
                for chunk in encoder.encode(event):
                    emit(chunk)
    except asyncio.CancelledError:
        for chunk in encoder.interrupted():
            emit(chunk)
    except Exception:
        logger.exception("chat generation failed for block %s", turn.block_id)
        for chunk in encoder.encode_internal_error():
            emit(chunk)
    # Save before the stream ends, so a client that saw the end and reloads finds the answer.
    # An answer that failed before producing any part is not kept (the user message is).
    answer = [assembler.message] if assembler.parts else []
    await save(store, turn.block_id, [*turn.history, *answer])


async def save(store: Store, block_id: str, messages: list[dict[str, Any]]) -> None:
    try:
        await store.save_conversation(block_id, messages)
    except Exception:
        logger.exception("saving the conversation of block %s failed", block_id)
