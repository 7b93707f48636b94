"""``python -m backend --host 127.0.0.1 --port 8080 --data-dir ./data --presets-dir ./presets``

Runs until SIGTERM or SIGINT, then drains (docs/operations.md): ``/health/ready`` turns 503 and
new chats get 503 at once, answers in flight go on for up to ``--drain-seconds``, the rest are
stopped (each ends with ``finish`` and is saved), and the process exits. A second signal skips
the wait but still ends and saves every answer.

With ``--workers N`` (N > 1) this process is the supervisor of N such workers on one port
(``backend/supervisor.py``); each worker binds with ``SO_REUSEPORT`` and drains on its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from aiohttp import web

from backend.app import create_app
from backend.errors import ConfigError
from backend.observability.logs import configure_logging
from backend.settings import Settings, parse_settings
from backend.supervisor import supervise
from backend.web.app_keys import CHAT

logger = logging.getLogger("chatwire")

# After the drain, connections still open get this long to finish writing their last bytes.
CLOSE_SECONDS = 3.0


async def serve(app: web.Application, settings: Settings) -> None:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=CLOSE_SECONDS)
    await runner.setup()
    # A supervised worker shares the port with its siblings: the kernel spreads connections over them.
    worker = settings.supervisor_pipe is not None
    site = web.TCPSite(runner, settings.host, settings.port, shutdown_timeout=CLOSE_SECONDS, reuse_port=worker)
    await site.start()
    print(
        f"Chatwire on http://{settings.host}:{settings.port} (data: {settings.data_dir}, "
        f"presets: {settings.presets_dir}{f', worker pid {os.getpid()}' if worker else ''})",
        flush=True,
    )
    stop, skip = asyncio.Event(), asyncio.Event()

    def on_signal(number: int) -> None:
        if stop.is_set():
            logger.warning("second %s: ending every answer now", signal.Signals(number).name)
            skip.set()
        else:
            logger.info("%s: draining for up to %.0f s", signal.Signals(number).name, settings.drain_seconds)
            stop.set()

    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, on_signal, number)
    if settings.supervisor_pipe is not None:
        pipe = settings.supervisor_pipe

        def on_supervisor_gone() -> None:
            # The supervisor never writes: the pipe turns readable only at EOF, when it has exited.
            loop.remove_reader(pipe)
            if not stop.is_set():
                logger.warning("the supervisor is gone: draining for up to %.0f s", settings.drain_seconds)
                stop.set()

        loop.add_reader(pipe, on_supervisor_gone)
    try:
        await stop.wait()
        await app[CHAT].drain(settings.drain_seconds, skip)
    finally:
        await runner.cleanup()
    logger.info("stopped")


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_settings(argv)
        configure_logging(settings.log_level, settings.log_format)
        if settings.workers > 1 and settings.supervisor_pipe is None:
            print(f"Chatwire: {settings.workers} workers on http://{settings.host}:{settings.port}", flush=True)
            return asyncio.run(supervise(sys.argv[1:] if argv is None else argv, settings.workers))
        app = create_app(settings)
    except ConfigError as error:
        print(f"chatwire: configuration error: {error.public_message}", file=sys.stderr)
        return 2
    asyncio.run(serve(app, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
