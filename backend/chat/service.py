"""``ChatService``: what every front door calls. Start, follow, resume and stop answers; run a
stateless turn; drain and readiness; plus the configuration views (``config_views.py``)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator
from dataclasses import replace
from functools import partial
from typing import Any

from backend.chat.admission import Admission
from backend.chat.config_views import ConfigViews
from backend.chat.generation import KeptAnswer, generate
from backend.chat.prepare import TurnServices, prepare_turn
from backend.chat.recovery import save_orphaned_answer
from backend.chat.streams import ActiveStream, ChunkSink, LiveStreams, StreamBusy
from backend.chat.turn import Turn, TurnRequest
from backend.errors import RequestError
from backend.events import ChatEvent
from backend.providers.registry import PROVIDERS
from backend.storage import Store, UserUsage
from backend.users import User

logger = logging.getLogger(__name__)


def _busy(block_id: str, active: ActiveStream) -> RequestError:
    return RequestError(
        f"Block {block_id} is already streaming (message {active.message_id}); "
        f"stop it with POST /api/ai/chat/{block_id}/stop or resume it.",
        code="stream_active",
        details={"activeStream": active.describe()},
    )


def new_message_id() -> str:
    return "msg-" + secrets.token_urlsafe(12)


class ChatService(ConfigViews):
    """Answers: start (stored in a block), follow, resume, stop; prepare/run for stateless front
    doors; drain and readiness for the process. Every answer passes ``Admission`` once."""

    def __init__(self, services: TurnServices, streams: LiveStreams, admission: Admission) -> None:
        super().__init__(services)
        self._services = services
        self._streams = streams
        self.admission = admission
        # A dead worker's answer is saved by the core's rule, like any other (recovery.py).
        streams.save_orphans_with(partial(save_orphaned_answer, services.store))

    @property
    def streams(self) -> LiveStreams:
        return self._streams

    async def start(self, request: TurnRequest) -> ActiveStream:
        """Prepare the turn and start generating it (``RequestError`` if it cannot start)."""
        self.admission.check_open(len(self._streams.active()))
        # A dead worker's answer in this block is saved first: the new message comes after it.
        await self._streams.recover(request.user.name, request.block_id)
        busy_stream = await self._streams.get(request.user.name, request.block_id)
        if busy_stream is not None and not busy_stream.done:
            raise _busy(request.block_id, busy_stream)
        turn = await prepare_turn(self._services, request, new_message_id)
        admitted = self.admission.admitted(turn, await self.admission.charge(turn, request.client_id))
        stream = ActiveStream(
            block_id=turn.block_id, chat_id=turn.chat_id, message_id=turn.message_id, owner=turn.user.name
        )
        store = self.store_for(turn.user)

        async def answer(active: ActiveStream) -> None:
            try:
                await generate(turn, active, store, admitted.recorder)
            finally:
                await self.admission.finished(admitted)

        try:
            started = await self._streams.start(stream, answer)
        except StreamBusy as busy:
            raise _busy(request.block_id, busy.active) from None
        # The generation goes first, up to its model call's first wait: the front door's response
        # headers and first chunk are written while the upstream thinks, not before the call
        # starts (docs/benchmarks.md, time to first token). One turn of the loop.
        await asyncio.sleep(0)
        return started

    async def prepare(self, request: TurnRequest, charge: bool = True) -> Turn:
        """Decide a turn for a front door that streams it itself, and charge it to the limits
        (``RequestError`` if it cannot start). ``charge`` false: the turn will not run (a token
        count), so no budget is spent on it."""
        self.admission.check_open(len(self._streams.active()))
        turn = await prepare_turn(self._services, request, new_message_id)
        if not charge:
            return turn
        return replace(turn, charges=await self.admission.charge(turn, request.client_id))

    async def run(self, turn: Turn) -> AsyncGenerator[ChatEvent, None]:
        """The chat events of a prepared turn, for a stateless front door that encodes them in its
        own wire format. Nothing is saved unless the caller asked to keep it in a block; closing
        the generator cancels the provider call."""
        admitted = self.admission.admitted(turn, turn.charges)
        kept = None if turn.stateless else KeptAnswer(turn, self.store_for(turn.user))
        try:
            if kept is not None:
                await kept.begin()
            async with turn.open_model() as model:
                async for event in turn.events(model, on_retry=admitted.recorder.retried):
                    admitted.recorder.observe(event)
                    if kept is not None:
                        kept.add(event)
                    yield event
        finally:
            if kept is not None:
                await kept.save()
            await self.admission.finished(admitted)

    async def drain(self, seconds: float, skip: asyncio.Event | None = None) -> None:
        """Refuse new answers; let the ones in flight finish for up to ``seconds`` (or until
        ``skip`` is set: a second signal); then stop the rest, each ended and saved."""
        self.admission.draining = True
        waits = [asyncio.shield(stream.task) for stream in self._streams.active() if stream.task is not None]
        if waits:
            logger.info("draining: %d answers in flight, waiting up to %.0f s", len(waits), seconds)
            everything: asyncio.Future[list[object]] = asyncio.gather(*waits, return_exceptions=True)
            watchers: list[asyncio.Future[Any]] = [everything]
            if skip is not None:
                watchers.append(asyncio.ensure_future(skip.wait()))
            await asyncio.wait(watchers, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
            for watcher in watchers[1:]:
                watcher.cancel()
        await self._streams.stop_all()

    async def readiness(self) -> dict[str, str]:
        """Each check's state ("ok" or why not): the store takes writes, the presets loaded, not draining."""
        checks: dict[str, str] = {}
        try:
            await self._services.store.check_writable()
            checks["store"] = "ok"
        except Exception as error:
            checks["store"] = f"not writable ({type(error).__name__})"
        error_text = self._services.presets.last_error
        checks["presets"] = "ok" if error_text is None else f"the last reload failed: {error_text}"
        checks["draining"] = "yes" if self.admission.draining else "ok"
        return checks

    async def count_tokens(self, turn: Turn) -> int:
        """The input tokens of a prepared turn's model call, counted by its provider without
        running it: ``RequestError`` ``not_supported`` where the provider cannot count,
        ``ProviderError`` if the count fails."""
        counter = PROVIDERS[turn.provider_config.provider].count_tokens
        if counter is None:
            raise RequestError(
                f"Provider '{turn.provider_config.provider}' (preset '{turn.resolved.name}') cannot count tokens "
                "without running the model.",
                code="not_supported",
                details={"provider": turn.provider_config.provider},
            )
        return await counter(turn.provider_config, turn.call)

    async def deliver(self, stream: ActiveStream, sink: ChunkSink, position: int = 0) -> None:
        """Write the stream's chunks from ``position`` into a front door's ``sink`` until it ends
        (caught up, straight from the generation: ``ActiveStream.deliver``). Raises what the sink
        raises when the client goes. When the last follower goes away, the answer goes on, unless
        the server is configured to cancel it."""
        settings = self._services.settings
        try:
            await stream.deliver(sink, position, settings.keepalive_seconds)
        finally:
            if not stream.done and settings.cancel_on_disconnect and stream.followers == 0 and stream.task:
                stream.task.cancel()

    async def resume(self, user: User, block_id: str, chat_id: str) -> ActiveStream | None:
        """The user's block's live answer, if ``chat_id`` names it (what ``useChat({resume: true})``
        asks). An answer whose worker died is recovered (saved) and replayed to its interrupted end."""
        stream = await self._streams.recover(user.name, block_id)
        if stream is None:
            stream = await self._streams.get(user.name, block_id)
            if stream is not None and stream.done:
                return None
        if stream is None or chat_id not in (stream.chat_id, block_id):
            return None
        return stream

    async def stop(self, user: User, block_id: str) -> ActiveStream | None:
        """Stop the user's block's answer; returns once its partial answer is saved (a dead worker's
        answer too: it is recovered)."""
        return await self._streams.recover(user.name, block_id) or await self._streams.stop(user.name, block_id)

    def store_for(self, user: User) -> Store:
        """The store as ``user`` sees it: their conversations, block metadata, settings, approvals."""
        return self._services.store.for_user(user.name)

    async def usage_by_user(self, user: User) -> list[UserUsage]:
        """What every user has stored (counts and tokens, no content): for an admin only."""
        if not user.is_admin:
            raise RequestError("Only an admin may list users and their usage.", code="admin_only")
        return await self._services.store.usage_by_user()
