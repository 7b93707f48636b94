"""Handing the event loop back in the middle of long work (issue 11: no request holds it for long).

A request at the body limit does several steps of tens of milliseconds each (parse, validate, encode,
save). Between them it calls ``yield_to_loop``, so the socket reads and timers of every other stream
run in between, not after the whole request.
"""

from __future__ import annotations

import asyncio

# Work on more data than this (a JSON parse, encode or decode, a scan) is followed by
# ``yield_to_loop``: each such operation is a few ms per MB here (docs/benchmarks.md).
LARGE_BYTES = 4 * 1024 * 1024
# Any positive delay puts the continuation on the loop's timer heap (see yield_to_loop).
_BEHIND_WHAT_IS_DUE = 1e-6


async def yield_to_loop() -> None:
    """Resume after the I/O callbacks and timers that came due while this step ran.

    ``asyncio.sleep(0)`` is not enough: its continuation goes to the head of the loop's next round,
    ahead of the socket reads and timers that became ready meanwhile, so two long steps in a row still
    held everyone else for both (tests/bench/loop_block.py measured the lag). A timer runs after them:
    the loop first queues the ready I/O, then the due timers in the order they fell due.
    """
    await asyncio.sleep(_BEHIND_WHAT_IS_DUE)
