"""The event loop ``python -m backend`` runs on: asyncio's own, or uvloop (``--event-loop uvloop``).

A trade-off, measured (docs/benchmarks.md): the per-token path is mostly event-loop work (a read
from the upstream, a wake-up, a write to each follower), and on uvloop, written in Cython over
libuv, ``tests.bench.paced`` costs 10-15 % less CPU per token: more streams per core. But the
paired time-to-first-token probe (``tests.bench.ttft_pair``) reads 0.2-0.5 ms *more* at
concurrency 1 on uvloop. asyncio stays the default; uvloop is for a server whose load is many
concurrent streams. (uvloop has no Windows build.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Literal, TypeAlias, TypeVar

from backend.errors import ConfigError

EventLoopChoice: TypeAlias = Literal["asyncio", "uvloop"]
EVENT_LOOPS: tuple[EventLoopChoice, ...] = ("asyncio", "uvloop")
T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], choice: EventLoopChoice) -> T:
    """``asyncio.run`` on the chosen loop (``ConfigError`` when uvloop is asked for and missing)."""
    if choice == "asyncio":
        return asyncio.run(coroutine)
    try:
        import uvloop
    except ImportError:
        coroutine.close()
        raise ConfigError("--event-loop uvloop: uvloop is not installed (use --event-loop asyncio)") from None
    return uvloop.run(coroutine)


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``: what the startup line says."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
