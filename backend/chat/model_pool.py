"""Provider clients kept for the app's lifetime, one per way of reaching a provider.

Building a client per answer cost a connection (TCP, TLS) and the SDK's setup on the path to the
first token. The pool keys clients by (provider, base URL, credentials, headers, timeouts): the
same preset reuses one client, with keep-alive connections to the upstream (the SDK's own
connection pool, sized by ``ProviderConfig.max_connections``). Clients are safe for concurrent
streams. At most ``max_clients`` are kept; past that the least recently used idle one is closed
(an edited preset's old client goes that way too).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from backend.providers.base import ChatModel, ProviderConfig
from backend.providers.registry import create_model

logger = logging.getLogger(__name__)

DEFAULT_MAX_CLIENTS = 32


def _key(config: ProviderConfig) -> Hashable:
    return (
        config.provider,
        config.base_url,
        tuple(sorted(config.credentials.items())),
        tuple(sorted(config.headers.items())),
        config.timeout_seconds,
        config.connect_timeout_seconds,
        config.total_timeout_seconds,
        config.max_connections,
    )


@dataclass(slots=True)
class _Pooled:
    model: ChatModel
    users: int = 0


class ModelPool:
    def __init__(self, max_clients: int = DEFAULT_MAX_CLIENTS) -> None:
        self._max_clients = max_clients
        self._clients: OrderedDict[Hashable, _Pooled] = OrderedDict()

    @asynccontextmanager
    async def open(self, config: ProviderConfig) -> AsyncIterator[ChatModel]:
        """A client for ``config``, shared; it stays open after use."""
        key = _key(config)
        pooled = self._clients.get(key)
        if pooled is None:
            pooled = _Pooled(create_model(config))
            self._clients[key] = pooled
            await self._evict()
        self._clients.move_to_end(key)
        pooled.users += 1
        try:
            yield pooled.model
        finally:
            pooled.users -= 1

    async def _evict(self) -> None:
        for key in [key for key, pooled in self._clients.items() if pooled.users == 0]:
            if len(self._clients) <= self._max_clients:
                return
            pooled = self._clients.pop(key)
            await _close(pooled.model)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for pooled in clients:
            await _close(pooled.model)


async def _close(model: ChatModel) -> None:
    try:
        await model.aclose()
    except Exception:
        logger.exception("closing a %s client failed", model.provider)
