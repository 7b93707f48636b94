"""The ``chatwire`` command: argument parsing and the one place errors become exit statuses.

Subcommands are registered in :func:`build_parser` (one ``add_parser`` and one handler each).
``chatwire users …`` edits the server's users file and needs no server (``backend/cli/users.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

from rich.console import Console

from backend.cli.ask import EXIT_ERROR, EXIT_STOPPED, AskOptions, ask, question_text
from backend.cli.chat import ChatSession
from backend.cli.client import DEFAULT_URL, ApiError, ChatwireClient, ServerUnreachable
from backend.cli.listing import print_blocks, print_presets
from backend.cli.users import add_users_parser, run_users

DEFAULT_BLOCK = "block-1"  # the web UI's first block, so both show the same chat by default

Handler = Callable[[argparse.Namespace, ChatwireClient], Awaitable[int]]


def _connection_options(top_level: bool) -> argparse.ArgumentParser:
    """``--url`` and ``--token``, accepted before and after the subcommand. Only the top level
    holds the defaults: a subcommand's default would overwrite a value given before it."""
    common = argparse.ArgumentParser(add_help=False)
    url_default = os.environ.get("CHATWIRE_URL") or DEFAULT_URL
    token_default = os.environ.get("CHATWIRE_AUTH_TOKEN") or None
    common.add_argument(
        "--url",
        default=url_default if top_level else argparse.SUPPRESS,
        help=f"the server (default: $CHATWIRE_URL, else {DEFAULT_URL})",
    )
    common.add_argument(
        "--token",
        default=token_default if top_level else argparse.SUPPRESS,
        help="sent as 'Authorization: Bearer TOKEN' (default: $CHATWIRE_AUTH_TOKEN)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatwire", description="A terminal client for a Chatwire server.", parents=[_connection_options(True)]
    )
    common = _connection_options(False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", parents=[common], help="chat with a block interactively")
    chat.add_argument("block", nargs="?", default=DEFAULT_BLOCK, help=f"the block id (default: {DEFAULT_BLOCK})")
    chat.add_argument("--preset", help="use this preset for this session (the URL layer)")
    chat.set_defaults(handler=_run_chat)

    question = commands.add_parser("ask", parents=[common], help="ask one question; the answer goes to stdout")
    question.add_argument("text", nargs="*", help="the question; piped stdin is appended")
    question.add_argument("--preset", help="the preset to answer with")
    question.add_argument("--block", help="ask in this block's conversation (default: a fresh block)")
    question.add_argument("--quiet", "-q", action="store_true", help="no reasoning or tool activity on stderr")
    question.add_argument("--json", action="store_true", help="print the UI message chunks as JSON lines")
    question.set_defaults(handler=_run_ask)

    blocks = commands.add_parser("blocks", parents=[common], help="list the server's blocks")
    blocks.set_defaults(handler=_run_blocks)
    presets = commands.add_parser("presets", parents=[common], help="list the server's presets")
    presets.set_defaults(handler=_run_presets)
    add_users_parser(commands)
    return parser


async def _run_chat(arguments: argparse.Namespace, client: ChatwireClient) -> int:
    return await ChatSession(client, Console(highlight=False), arguments.block, arguments.preset).run()


async def _run_ask(arguments: argparse.Namespace, client: ChatwireClient) -> int:
    text = question_text(arguments.text, sys.stdin)
    if not text:
        print("chatwire ask: no question (give it as arguments or on stdin)", file=sys.stderr)
        return 2
    options = AskOptions(text, arguments.block, arguments.preset, arguments.quiet, arguments.json)
    return await ask(client, options, sys.stdout, sys.stderr)


async def _run_blocks(arguments: argparse.Namespace, client: ChatwireClient) -> int:
    await print_blocks(client, Console(highlight=False))
    return 0


async def _run_presets(arguments: argparse.Namespace, client: ChatwireClient) -> int:
    await print_presets(client, Console(highlight=False))
    return 0


async def _main(arguments: argparse.Namespace) -> int:
    handler: Handler = arguments.handler
    async with ChatwireClient(arguments.url, arguments.token) as client:
        return await handler(arguments, client)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.command == "users":
        return run_users(arguments)
    try:
        return asyncio.run(_main(arguments))
    except ServerUnreachable as error:
        print(f"chatwire: {error}", file=sys.stderr)
        return EXIT_ERROR
    except ApiError as error:
        status = f"HTTP {error.status}" + (f" {error.code}" if error.code else "") if error.status else "error"
        print(f"chatwire: {status}: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_STOPPED


if __name__ == "__main__":
    sys.exit(main())
