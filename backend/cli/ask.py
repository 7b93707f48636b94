"""``chatwire ask [TEXT]``: one question, one answer, for scripts and pipes.

The answer's text goes to stdout as it streams (rendered Markdown on a terminal, the raw text
otherwise); reasoning, tool activity and the footer go to stderr unless ``--quiet``; ``--json``
prints every UI message chunk as one JSON line instead. Exit status: 0 for a complete answer,
1 for an error chunk or an HTTP error, 130 for a stopped answer (Ctrl-C, or stopped elsewhere).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console
from rich.text import Text

from backend.cli.answer import Outcome, new_id, post_and_read, submit_body, user_message
from backend.cli.client import ChatwireClient
from backend.cli.render import AnswerView, MarkdownText, PlainText, TextSink, error_line
from backend.cli.stream import Chunk, Part

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_STOPPED = 130  # the shell's code for "ended by Ctrl-C"


@dataclass(frozen=True, slots=True)
class AskOptions:
    text: str
    block_id: str | None = None
    preset: str | None = None
    quiet: bool = False
    json_lines: bool = False


def question_text(words: list[str], stdin: TextIO) -> str:
    """The arguments, then whatever is piped in (``git diff | chatwire ask "review this"``)."""
    parts = [" ".join(words).strip()] if words else []
    if not stdin.isatty():
        piped = stdin.read()
        if piped.strip():
            parts.append(piped.rstrip("\n"))
    return "\n\n".join(part for part in parts if part)


async def ask(client: ChatwireClient, options: AskOptions, stdout: TextIO, stderr: TextIO) -> int:
    # A fresh block unless told otherwise, so one-off questions never mix into a chat.
    block_id = options.block_id or new_id("ask")
    messages = []
    if options.block_id is not None:
        messages = (await client.conversation(block_id)).messages
    messages.append(user_message(options.text))
    errors = Console(file=stderr, highlight=False)
    if options.json_lines:

        def observe(chunk: Chunk, part: Part | None) -> None:
            stdout.write(json.dumps(chunk, ensure_ascii=False) + "\n")
            stdout.flush()

        outcome = await post_and_read(client, block_id, submit_body(block_id, messages), observe, options.preset)
    else:
        text: TextSink = MarkdownText(Console(file=stdout)) if stdout.isatty() else PlainText(stdout)
        view = AnswerView(text, None if options.quiet else errors)
        try:
            outcome = await post_and_read(client, block_id, submit_body(block_id, messages), view.show, options.preset)
        finally:
            view.close()
        view.finish(outcome.assembler.metadata, outcome.finish_reason)
        if options.quiet and outcome.error_text is not None:
            errors.print(error_line(outcome.error_text))
    return _exit_status(outcome, errors, options)


def _exit_status(outcome: Outcome, errors: Console, options: AskOptions) -> int:
    if outcome.stopped_by_user or outcome.finish_reason == "interrupted":
        if not options.json_lines:
            errors.print(Text("stopped; the partial answer is saved", style="yellow"))
        return EXIT_STOPPED
    if outcome.error_text is not None or outcome.finish_reason == "error":
        if options.json_lines:
            errors.print(error_line(outcome.error_text or "the answer ended with an error"))
        return EXIT_ERROR
    return EXIT_OK
