"""Limits before an answer starts: streams per process, requests per client, a preset's budgets.

Counting uses the well-kept ``limits`` library (fixed windows of one minute) on a storage chosen
by URI: ``memory://`` in one process; a shared one (``redis://…``) across workers. Over a limit
the core raises ``RequestError`` with a ``retryAfterSeconds`` detail, which a front door turns
into 429 (rate) or 503 (capacity) with ``Retry-After``.

A preset's token budget is charged an estimate before the call (its input's characters / 4)
and corrected with the real count when the answer finishes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from backend.errors import RequestError
from backend.messages import AssistantMessage, Message, SystemMessage, TextContent, ToolMessage, UserMessage
from backend.presets import Preset

CHARACTERS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """``max_streams``: live answers in this process (0: no limit); ``client_requests_per_minute``
    (``None``: no limit); ``storage_uri``: where counts live (``memory://``, ``redis://…``)."""

    max_streams: int = 0
    client_requests_per_minute: int | None = None
    storage_uri: str = "memory://"


@dataclass(frozen=True, slots=True)
class TokenCharge:
    """What a turn was charged against its preset's token budget, to correct at the finish."""

    preset: str
    per_minute: int
    estimate: int


def estimate_tokens(system: str | None, messages: tuple[Message, ...]) -> int:
    characters = len(system or "")
    for message in messages:
        if isinstance(message, SystemMessage):
            characters += len(message.text)
        elif isinstance(message, UserMessage | AssistantMessage):
            characters += sum(len(part.text) for part in message.content if isinstance(part, TextContent))
        elif isinstance(message, ToolMessage):
            characters += sum(len(str(result.output)) for result in message.results)
    return characters // CHARACTERS_PER_TOKEN + 1


class RateLimits:
    def __init__(self, settings: LimitSettings) -> None:
        self.settings = settings
        uri = settings.storage_uri if settings.storage_uri.startswith("async+") else f"async+{settings.storage_uri}"
        # redis-py is already here for the live streams; `limits` would otherwise want coredis.
        options = {"implementation": "redispy"} if uri.startswith(("async+redis", "async+rediss")) else {}
        self._limiter = FixedWindowRateLimiter(storage_from_string(uri, **options))

    def check_streams(self, active: int) -> None:
        if self.settings.max_streams and active >= self.settings.max_streams:
            raise RequestError(
                f"The server is at its limit of {self.settings.max_streams} concurrent answers; retry shortly.",
                code="too_many_streams",
                details={"limit": "max_streams", "retryAfterSeconds": 1},
            )

    async def check_request(self, client_id: str | None, preset: Preset) -> None:
        """Charge one request to the client and to the preset (``RequestError`` when over)."""
        if client_id is not None and self.settings.client_requests_per_minute:
            item = RateLimitItemPerMinute(self.settings.client_requests_per_minute)
            await self._charge(item, ("client", client_id), 1, "client requests per minute")
        if preset.file.requests_per_minute:
            item = RateLimitItemPerMinute(preset.file.requests_per_minute)
            await self._charge(item, ("preset", preset.name), 1, f"requests per minute of preset '{preset.name}'")

    async def charge_tokens(self, preset: Preset, estimate: int) -> TokenCharge | None:
        budget = preset.file.tokens_per_minute
        if not budget:
            return None
        item = RateLimitItemPerMinute(budget)
        await self._charge(
            item, ("tokens", preset.name), min(estimate, budget), f"tokens per minute of preset '{preset.name}'"
        )
        return TokenCharge(preset.name, budget, min(estimate, budget))

    async def correct_tokens(self, charge: TokenCharge, actual: int) -> None:
        """Replace the estimate with what the answer really used (up or down)."""
        item = RateLimitItemPerMinute(charge.per_minute)
        delta = actual - charge.estimate
        if delta:
            await self._limiter.storage.incr(item.key_for("tokens", charge.preset), item.get_expiry(), amount=delta)

    async def _charge(self, item: RateLimitItem, key: tuple[str, str], cost: int, what: str) -> None:
        # ``test`` first: a refused request must not use up the window for later ones.
        if await self._limiter.test(item, *key, cost=cost) and await self._limiter.hit(item, *key, cost=cost):
            return
        stats = await self._limiter.get_window_stats(item, *key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RequestError(
            f"Rate limit reached: {item.amount} {what}. Retry in {retry_after} s.",
            code="rate_limited",
            details={"limit": what, "retryAfterSeconds": retry_after},
        )
