"""Limits before an answer starts: streams per process, requests per client, a preset's and a
user's budgets (the user's from the users file, issue 19).

Counting uses the well-kept ``limits`` library (fixed windows of one minute) on a storage chosen
by URI: ``memory://`` in one process; a shared one (``redis://…``) across workers. Over a limit
the core raises ``RequestError`` with a ``retryAfterSeconds`` detail, which a front door turns
into 429 (rate) or 503 (capacity) with ``Retry-After``.

A token budget (the preset's, the user's) is charged an estimate before the call (its input's
characters / 4) and corrected with the real count when the answer finishes. Every budget is tested
before any is charged, so a refused request uses up none of them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from backend.errors import RequestError
from backend.messages import AssistantMessage, Message, SystemMessage, TextContent, ToolMessage, UserMessage
from backend.presets import Preset
from backend.users import User

if TYPE_CHECKING:  # imported with the first limit that is set (~14 MB a server without limits never pays)
    from limits import RateLimitItem
    from limits.aio.strategies import FixedWindowRateLimiter

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
    """What a turn was charged against one token budget, to correct at the finish."""

    scope: tuple[str, str]  # ("tokens", preset name) or ("user-tokens", user name)
    per_minute: int
    estimate: int


@dataclass(frozen=True, slots=True)
class _Charge:
    item: RateLimitItem
    key: tuple[str, str]
    cost: int
    what: str


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


def _per_minute(amount: int) -> RateLimitItem:
    from limits import RateLimitItemPerMinute

    return RateLimitItemPerMinute(amount)


class RateLimits:
    def __init__(self, settings: LimitSettings) -> None:
        self.settings = settings
        self._built: FixedWindowRateLimiter | None = None

    @property
    def _limiter(self) -> FixedWindowRateLimiter:
        """Built when a limit is first charged: only then is ``limits`` imported."""
        if self._built is None:
            from limits.aio.strategies import FixedWindowRateLimiter
            from limits.storage import storage_from_string

            given = self.settings.storage_uri
            uri = given if given.startswith("async+") else f"async+{given}"
            # redis-py is already here for the live streams; `limits` would otherwise want coredis.
            options = {"implementation": "redispy"} if uri.startswith(("async+redis", "async+rediss")) else {}
            self._built = FixedWindowRateLimiter(storage_from_string(uri, **options))
        return self._built

    def check_streams(self, active: int) -> None:
        if self.settings.max_streams and active >= self.settings.max_streams:
            raise RequestError(
                f"The server is at its limit of {self.settings.max_streams} concurrent answers; retry shortly.",
                code="too_many_streams",
                details={"limit": "max_streams", "retryAfterSeconds": 1},
            )

    async def check_request(self, client_id: str | None, preset: Preset, user: User) -> None:
        """Charge one request to the client, the preset and the user (``RequestError`` when over)."""
        charges: list[_Charge] = []
        if client_id is not None and self.settings.client_requests_per_minute:
            item = _per_minute(self.settings.client_requests_per_minute)
            charges.append(_Charge(item, ("client", client_id), 1, "client requests per minute"))
        if preset.file.requests_per_minute:
            item = _per_minute(preset.file.requests_per_minute)
            charges.append(_Charge(item, ("preset", preset.name), 1, f"requests per minute of preset '{preset.name}'"))
        if user.requests_per_minute:
            item = _per_minute(user.requests_per_minute)
            charges.append(_Charge(item, ("user", user.name), 1, f"requests per minute of user '{user.name}'"))
        await self._charge(charges)

    async def charge_tokens(self, preset: Preset, user: User, estimate: int) -> tuple[TokenCharge, ...]:
        """Charge the estimate to the preset's and the user's token budgets (those that are set)."""
        budgets = (
            (("tokens", preset.name), preset.file.tokens_per_minute, f"tokens per minute of preset '{preset.name}'"),
            (("user-tokens", user.name), user.tokens_per_minute, f"tokens per minute of user '{user.name}'"),
        )
        charges = [
            _Charge(_per_minute(budget), scope, min(estimate, budget), what)
            for scope, budget, what in budgets
            if budget
        ]
        await self._charge(charges)
        return tuple(TokenCharge(charge.key, charge.item.amount, charge.cost) for charge in charges)

    async def correct_tokens(self, charge: TokenCharge, actual: int) -> None:
        """Replace the estimate with what the answer really used (up or down)."""
        item = _per_minute(charge.per_minute)
        delta = actual - charge.estimate
        if delta:
            await self._limiter.storage.incr(item.key_for(*charge.scope), item.get_expiry(), amount=delta)

    async def _charge(self, charges: list[_Charge]) -> None:
        if not charges:
            return
        # ``test`` every budget first: a refused request must not use up the window of any.
        for charge in charges:
            if not await self._limiter.test(charge.item, *charge.key, cost=charge.cost):
                await self._refuse(charge.item, charge.key, charge.what)
        for charge in charges:
            if not await self._limiter.hit(charge.item, *charge.key, cost=charge.cost):
                await self._refuse(charge.item, charge.key, charge.what)

    async def _refuse(self, item: RateLimitItem, key: tuple[str, str], what: str) -> NoReturn:
        stats = await self._limiter.get_window_stats(item, *key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RequestError(
            f"Rate limit reached: {item.amount} {what}. Retry in {retry_after} s.",
            code="rate_limited",
            details={"limit": what, "retryAfterSeconds": retry_after},
        )
