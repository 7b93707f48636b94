"""One answer from the server, read to its end: what ``chat`` and ``ask`` share.

Also the request bodies ``useChat`` sends (``../shared/aisdk-protocol.md`` §1.3), so the server
cannot tell this client from the browser: a new user message (``submit-message``), a regenerate
(``regenerate-message``), and the follow-up after approvals (``submit-message`` with ``messageId``
= the assistant message, that message last).
"""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from backend.cli.client import ChatwireClient
from backend.cli.stream import Chunk, MessageAssembler, Part, UIMessage, tool_name

ChunkObserver = Callable[[Chunk, Part | None], None]


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_urlsafe(9)}"


def user_message(text: str) -> UIMessage:
    return {"id": new_id("user"), "role": "user", "parts": [{"type": "text", "text": text}]}


def submit_body(block_id: str, messages: list[UIMessage], message_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": block_id, "messages": messages, "trigger": "submit-message"}
    if message_id is not None:
        body["messageId"] = message_id
    return body


def regenerate_body(block_id: str, messages: list[UIMessage]) -> dict[str, Any]:
    return {"id": block_id, "messages": messages, "trigger": "regenerate-message"}


def pending_approvals(message: UIMessage) -> list[Part]:
    """Tool parts of an assistant message that wait for the user's yes or no."""
    return [
        part
        for part in message.get("parts", [])
        if tool_name(part) is not None and part.get("state") == "approval-requested"
    ]


def answer_approval(part: Part, approved: bool) -> None:
    """What ``addToolApprovalResponse({id, approved})`` does to the part."""
    part["state"] = "approval-responded"
    part["approval"] = {"id": part["approval"]["id"], "approved": approved}


@dataclass
class Outcome:
    """How an answer ended."""

    assembler: MessageAssembler
    stopped_by_user: bool = False

    @property
    def message(self) -> UIMessage:
        return self.assembler.message

    @property
    def finish_reason(self) -> str | None:
        return self.assembler.finish_reason

    @property
    def error_text(self) -> str | None:
        return self.assembler.error_text


@asynccontextmanager
async def _ctrl_c_stops(client: ChatwireClient, block_id: str, outcome: Outcome) -> AsyncIterator[None]:
    """While the answer streams, Ctrl-C asks the server to stop it (the server then ends the
    stream with ``finish {interrupted}`` and saves the partial answer); we keep reading."""
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)
    tasks: set[asyncio.Task[bool]] = set()

    def on_interrupt() -> None:
        if outcome.stopped_by_user:
            return
        outcome.stopped_by_user = True
        task = loop.create_task(client.stop(block_id))
        tasks.add(task)

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        installed = False
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, previous)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def read_answer(
    client: ChatwireClient,
    block_id: str,
    stream: AsyncIterable[Chunk],
    observe: ChunkObserver,
    base: UIMessage | None = None,
) -> Outcome:
    """Fold the stream into the assistant message, showing each chunk through ``observe``."""
    outcome = Outcome(MessageAssembler(base))
    async with _ctrl_c_stops(client, block_id, outcome):
        async for chunk in stream:
            part = outcome.assembler.add(chunk)
            observe(chunk, part)
    return outcome


async def post_and_read(
    client: ChatwireClient,
    block_id: str,
    body: dict[str, Any],
    observe: ChunkObserver,
    preset: str | None = None,
    base: UIMessage | None = None,
) -> Outcome:
    async with client.chat(block_id, body, preset) as stream:
        return await read_answer(client, block_id, stream, observe, base)
