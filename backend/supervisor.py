"""``python -m backend --workers N``: N worker processes on one port (docs/scaling.md).

Each worker is a whole ``python -m backend`` that binds the same address with ``SO_REUSEPORT``, so
the kernel spreads new connections over the workers' listening sockets; there is no proxy process
in the data path. They share their state through PostgreSQL and Redis (``settings.check_workers``
refuses N > 1 without both).

The supervisor only starts, restarts and stops workers:

* **Signals.** SIGTERM and SIGINT are forwarded to every worker as SIGTERM, once per signal received:
  the first drains each worker (docs/operations.md), a second skips the wait, as for one process.
  Workers run in their own session, so a terminal's Ctrl-C reaches only the supervisor and no worker
  sees it twice. SIGHUP is forwarded (preset reload). The supervisor exits when every worker has.
* **A worker that exits on its own** (crash, OOM kill, or ``kill -TERM <worker pid>`` for a one-worker
  restart: it drains first) is replaced by a fresh process with the code on disk; at most one start a
  second per slot. A worker that exits with status 2 (configuration error) stops them all.
* **A supervisor that dies** (even by SIGKILL) closes the pipe every worker reads: each drains and exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

logger = logging.getLogger("chatwire.supervisor")

CONFIG_ERROR_STATUS = 2
# A slot whose worker keeps dying right after starting is restarted at most this often.
RESTART_PAUSE_SECONDS = 1.0


@dataclass
class _State:
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    running: set[asyncio.subprocess.Process] = field(default_factory=set)
    failed: bool = False

    def forward(self, number: int) -> None:
        for process in self.running:
            if process.returncode is None:
                process.send_signal(number)


async def supervise(argv: Sequence[str], workers: int) -> int:
    """Run ``workers`` workers with ``argv`` (the supervisor's own flags) until they have all exited;
    0 when every worker exited cleanly."""
    state = _State()
    read_end, write_end = os.pipe()  # workers get the read end; it reaches EOF when this process is gone
    loop = asyncio.get_running_loop()

    def on_stop_signal(number: int) -> None:
        logger.info("%s: stopping %d workers (each drains)", signal.Signals(number).name, workers)
        state.stopping.set()
        state.forward(signal.SIGTERM)

    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, on_stop_signal, number)
    loop.add_signal_handler(signal.SIGHUP, state.forward, signal.SIGHUP)
    command = [sys.executable, "-m", "backend", *argv, "--workers", "1", "--supervisor-pipe", str(read_end)]
    try:
        statuses = await asyncio.gather(*(_run_slot(slot, command, read_end, state) for slot in range(workers)))
    finally:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(number)
        os.close(read_end)
        os.close(write_end)
    if state.failed:
        return CONFIG_ERROR_STATUS
    return 0 if all(status == 0 for status in statuses) else 1


async def _run_slot(slot: int, command: list[str], read_end: int, state: _State) -> int:
    """Keep one worker running until the supervisor stops; its last exit status."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        process = await asyncio.create_subprocess_exec(*command, pass_fds=(read_end,), start_new_session=True)
        state.running.add(process)
        if state.stopping.is_set():  # a signal arrived while it was being created
            process.send_signal(signal.SIGTERM)
        logger.info("worker %d started (pid %d)", slot, process.pid)
        status = await process.wait()
        state.running.discard(process)
        if state.stopping.is_set():
            return status
        if status == CONFIG_ERROR_STATUS:
            logger.error("worker %d (pid %d): configuration error; stopping every worker", slot, process.pid)
            state.failed = True
            state.stopping.set()
            state.forward(signal.SIGTERM)
            return status
        logger.warning("worker %d (pid %d) exited with status %d; starting another", slot, process.pid, status)
        pause = RESTART_PAUSE_SECONDS - (loop.time() - started)
        if pause > 0:
            try:
                await asyncio.wait_for(state.stopping.wait(), pause)
                return status
            except TimeoutError:
                pass
