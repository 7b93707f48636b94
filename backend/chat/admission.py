"""What wraps every answer once, at its boundaries: drain, limits and the answer report.

Before: a draining server refuses new answers (``draining``), the process's stream limit and the
rate limits apply (``rate_limits.py``). After: the report goes to the observers (metrics, the
answer log), the preset's token budget gets the real count, and the pending-approvals gauge is
refreshed. Nothing here runs per token.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from backend.chat.rate_limits import RateLimits, TokenCharge, estimate_tokens
from backend.chat.report import AnswerRecorder, Observer
from backend.chat.turn import Turn
from backend.errors import RequestError
from backend.storage import Store

logger = logging.getLogger(__name__)

# What a draining server asks clients to wait before retrying (another instance takes over).
DRAIN_RETRY_AFTER_SECONDS = 5


@dataclass(slots=True)
class Admitted:
    """One admitted answer: its recorder and what it was charged."""

    recorder: AnswerRecorder
    charges: tuple[TokenCharge, ...]


class Admission:
    def __init__(self, limits: RateLimits, observers: Sequence[Observer], store: Store) -> None:
        self.limits = limits
        self._observers = tuple(observers)
        self._store = store
        self.draining = False

    def check_open(self, active_answers: int) -> None:
        """Cheap checks before a turn is prepared."""
        if self.draining:
            raise RequestError(
                "The server is shutting down; retry in a few seconds.",
                code="draining",
                details={"retryAfterSeconds": DRAIN_RETRY_AFTER_SECONDS},
            )
        self.limits.check_streams(active_answers)

    async def charge(self, turn: Turn, client_id: str | None) -> tuple[TokenCharge, ...]:
        """Charge the turn to the client, its preset and its user (``RequestError`` when over a limit)."""
        preset = turn.resolved.preset
        await self.limits.check_request(client_id, preset, turn.user)
        estimate = estimate_tokens(turn.call.system, turn.call.messages)
        return await self.limits.charge_tokens(preset, turn.user, estimate)

    def admitted(self, turn: Turn, charges: tuple[TokenCharge, ...]) -> Admitted:
        recorder = AnswerRecorder(turn.front_door, turn.block_id, turn.metadata, turn.user.name)
        return Admitted(recorder, charges)

    async def finished(self, admitted: Admitted) -> None:
        report = admitted.recorder.report()
        for observer in self._observers:
            try:
                observer.answer_finished(report)
            except Exception:
                logger.exception("an answer observer failed")
        try:
            usage = report.usage
            for charge in admitted.charges:
                await self.limits.correct_tokens(charge, (usage.input_tokens or 0) + (usage.output_tokens or 0))
            if report.tool_outcomes:
                pending = await self._store.count_pending_approvals()
                for observer in self._observers:
                    observer.pending_approvals(pending)
        except Exception:
            logger.exception("bookkeeping after the answer of block %s failed", report.block_id)
