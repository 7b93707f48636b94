"""Run one turn to its end (or stop) into a live stream, and save the answer however it ends.

Events are encoded once into UI message chunks; each chunk is folded into the assistant
message (what the client will hold, and what is saved) and appended to the stream as its JSON
bytes, which every follower shares.

No silent loss (docs/persistence.md): a stop or cancel at any point still ends the stream with
``finish`` (a front door adds its end marker when the stream closes) and saves what streamed;
the save respects a concurrent edit or delete (``saving.py``); a failed save is told to the
client with an ``error`` chunk before ``finish``, which is held back until the save is done.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from backend.aisdk.encode import UIMessageStreamEncoder
from backend.aisdk.protocol import Downgrade
from backend.chat.report import AnswerRecorder
from backend.chat.saving import current_version, save_answer, uninterrupted
from backend.chat.streams import ActiveStream
from backend.chat.turn import Turn
from backend.events import ChatError, ChatEvent
from backend.storage import Store

logger = logging.getLogger(__name__)

# Chunks that open an answer, a step or a part: the first chunk after them is the first token.
OPENING_CHUNKS = frozenset({"start", "start-step", "text-start", "reasoning-start", "message-metadata"})

ANSWER_NOT_SAVED = "The answer was not saved on the server (see the server log); copy it before reloading."


async def generate(turn: Turn, stream: ActiveStream, store: Store, recorder: AnswerRecorder) -> None:
    encoder = UIMessageStreamEncoder()
    downgrade = Downgrade(turn.protocol)  # what the client's ai major accepts (protocol.py)
    assembler = turn.assembler()
    held: list[bytes] = []  # the last chunk (finish, or abort for ai@5/6), appended after the save
    unsaved: list[bytes] = []  # chunks held back until the new user message is saved (below)
    question_saved = False  # set by the save's callback (not ``done()``: ``unsaved`` goes first)
    first_content = True  # the first chunk past the openings goes out at once (``flush``)

    def emit(chunk: dict[str, Any]) -> None:
        nonlocal first_content
        for sent in downgrade.rewrite(chunk):
            assembler.add(sent)
            # A right-sized copy: orjson (3.12+) returns bytes inside a ~4 KiB allocation, and the
            # stream keeps every chunk until it ends (for resume), so 200 streams of 100 tokens
            # held ~80 MB (docs/benchmarks.md). The copy costs ~0.2 µs per chunk.
            encoded = bytes(memoryview(orjson.dumps(sent)))
            if sent["type"] in ("finish", "abort"):
                held.append(encoded)
            elif sent["type"] != "start" and not question_saved:
                unsaved.append(encoded)
            else:
                stream.append(encoded)
                if first_content and sent["type"] not in OPENING_CHUNKS:
                    first_content = False
                    stream.flush()

    def show_unsaved(_: object = None) -> None:
        nonlocal question_saved
        question_saved = True
        for encoded in unsaved:
            stream.append(encoded)
        unsaved.clear()
        stream.flush()

    # The new user message is saved while the model call is made, and what the answer streams
    # is shown to nobody until that save is done: a reload while the answer streams must show the
    # question (the answer itself comes back through resume and is saved when it ends). The
    # upstream's first byte takes longer than the save, so the call no longer waits for the
    # database before it starts, and the first token seldom waits for it (docs/benchmarks.md,
    # time to first token). The generation itself never waits: a stop keeps what arrived. The
    # save runs in its own task so that a stop during it cannot cut it off.
    first_save = asyncio.ensure_future(start_version(store, turn))
    first_save.add_done_callback(show_unsaved)
    started = False

    def open_answer() -> None:
        nonlocal started
        if not started:
            started = True
            emit(encoder.start(turn.message_id, turn.metadata))

    # The ``start`` chunk is made on the next turn of the loop, while the upstream thinks: this
    # task's first wait is for the model call's response, so the request goes out first. Any
    # chunk that would come before it (an event, an error) makes it at once.
    asyncio.get_running_loop().call_soon(open_answer)
    try:
        async with turn.open_model() as model:
            async for event in turn.events(model, on_retry=recorder.retried):
                if not started:
                    open_answer()
                recorder.observe(event)
                for chunk in encoder.encode(event):
                    emit(chunk)
    except asyncio.CancelledError:
        open_answer()
        if not encoder.finished:
            for chunk in encoder.interrupted():
                emit(chunk)
    except Exception:
        logger.exception("chat generation failed for block %s", turn.block_id)
        recorder.observe(ChatError("internal error", "internal"))
        open_answer()
        if not encoder.finished:
            for chunk in encoder.encode_internal_error():
                emit(chunk)
    # Save before the stream ends, so a client that saw the end and reloads finds the answer.
    # An answer that failed before producing any part is not kept (the user message is).
    answer = [assembler.message] if assembler.parts else []
    base_version = await uninterrupted(_settled(first_save))
    show_unsaved()  # (already done by the save's callback; this makes the order plain)
    outcome = await uninterrupted(save_answer(store, turn.block_id, turn.history, answer, base_version))
    if outcome.failed:
        stream.append(orjson.dumps({"type": "error", "errorText": ANSWER_NOT_SAVED}))
    for encoded in held:
        stream.append(encoded)


async def _settled(save: asyncio.Future[int]) -> int:
    """The first save's version once it is done (it survives the answer's cancellation). If it
    failed, 0: the final save then adds the answer to whatever is stored (``saving.py``)."""
    try:
        return await asyncio.shield(save)
    except Exception:
        logger.exception("reading the conversation's version failed")
        return 0


async def start_version(store: Store, turn: Turn) -> int:
    """The conversation's version this answer starts from (after saving a new user message)."""
    if turn.base_message is None:
        try:
            return await store.save_conversation(turn.block_id, turn.history)
        except Exception:
            logger.exception("saving the conversation of block %s failed", turn.block_id)
    return await current_version(store, turn.block_id)


class KeptAnswer:
    """A stateless front door's answer kept in its block (``TurnRequest.keep_in_block``): its
    events are folded into the UIMessage as a streamed answer's are, and saved the same way."""

    def __init__(self, turn: Turn, store: Store) -> None:
        self._turn, self._store = turn, store
        self._encoder = UIMessageStreamEncoder()
        self._assembler = turn.assembler()
        self._assembler.add(self._encoder.start(turn.message_id, turn.metadata))
        self._base_version = 0

    async def begin(self) -> None:
        self._base_version = await start_version(self._store, self._turn)

    def add(self, event: ChatEvent) -> None:
        for chunk in self._encoder.encode(event):
            self._assembler.add(chunk)

    async def save(self) -> None:
        if not self._encoder.finished:  # the caller went away mid-answer
            for chunk in self._encoder.interrupted():
                self._assembler.add(chunk)
        answer = [self._assembler.message] if self._assembler.parts else []
        turn = self._turn
        await uninterrupted(save_answer(self._store, turn.block_id, turn.history, answer, self._base_version))
