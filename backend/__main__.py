"""``python -m backend --host 127.0.0.1 --port 8080 --data-dir ./data --presets-dir ./presets``"""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from backend.app import create_app
from backend.errors import ConfigError
from backend.settings import parse_settings


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_settings(argv)
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        app = create_app(settings)
    except ConfigError as error:
        print(f"chatwire: configuration error: {error.public_message}", file=sys.stderr)
        return 2
    print(
        f"Chatwire on http://{settings.host}:{settings.port} (data: {settings.data_dir}, "
        f"presets: {settings.presets_dir})",
        flush=True,
    )
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
