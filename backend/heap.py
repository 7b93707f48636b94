"""The process heap after startup: frozen out of the cyclic garbage collector's full passes.

Why: importing the provider SDKs leaves ~350k long-lived objects (modules, classes, pydantic
schemas). CPython's full (generation-2) collection walks all of them, which measured ~190 ms on
this project's reference machine: one such pass, triggered by any allocation-heavy request,
stalled the event loop and every stream on it (docs/benchmarks.md, "Event-loop stalls"). After
``gc.freeze()`` those objects sit in the permanent generation, so later full passes walk only
what requests created. Objects that become garbage after the freeze are still freed by reference
counting; only cycles among frozen objects are never collected, and startup leaves none worth
having.
"""

from __future__ import annotations

import gc


def settle_heap() -> int:
    """Collect once, then move every surviving object out of the collector's reach; returns how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
