"""``chatwire chat [BLOCK]``: the interactive chat with one block.

The session holds the block's messages as ``useChat`` would and sends the same requests
(``answer.py``). Input comes from prompt_toolkit (Enter sends, Alt-Enter adds a line, arrow keys
walk the history); answers are drawn by ``render.py``. Ctrl-C while an answer streams stops it on
the server; Ctrl-C or Ctrl-D at the prompt leaves.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from rich.console import Console
from rich.text import Text

from backend.cli.answer import (
    Outcome,
    answer_approval,
    pending_approvals,
    post_and_read,
    read_answer,
    regenerate_body,
    submit_body,
    user_message,
)
from backend.cli.client import ApiError, ChatwireClient, ServerUnreachable
from backend.cli.listing import print_blocks, print_presets
from backend.cli.render import FOOTER_STYLE, AnswerView, MarkdownText, error_line, print_message
from backend.cli.stream import Chunk, UIMessage, tool_name

HELP = """\
Enter sends · Alt-Enter adds a line · ↑/↓ history · Ctrl-C stops an answer · Ctrl-C or Ctrl-D here leaves
/preset NAME   pin the block's preset (block metadata ai:preset); /preset none unpins; /preset shows it
/presets       list the server's presets (* = the one this block uses)
/blocks        list the blocks that have conversations
/history       show this block's conversation again, as saved on the server
/regenerate    ask for the last answer again
/clear         delete this block's conversation
/help          this text
/exit          leave"""

Command = Callable[[str], Awaitable[bool]]  # returns False to leave the chat


def history_file() -> History:
    """Input history kept across runs in ``$XDG_STATE_HOME/chatwire/history``."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    try:
        (state / "chatwire").mkdir(parents=True, exist_ok=True)
        return FileHistory(str(state / "chatwire" / "history"))
    except OSError:
        return InMemoryHistory()


def input_keys() -> KeyBindings:
    keys = KeyBindings()

    @keys.add("escape", "enter")  # Alt-Enter: the terminal sends Escape then Enter
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return keys


async def _prepend(first: Chunk, rest: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    yield first
    async for chunk in rest:
        yield chunk


@dataclass
class ChatSession:
    client: ChatwireClient
    console: Console
    block_id: str
    url_preset: str | None = None  # --preset: sent as ?preset= (the URL layer) until /preset pins one
    messages: list[UIMessage] = field(default_factory=list)
    prompt: PromptSession[str] = field(init=False)
    questions: PromptSession[str] = field(init=False)

    def __post_init__(self) -> None:
        self.prompt = PromptSession(history=history_file(), key_bindings=input_keys())
        self.questions = PromptSession()
        self.commands: dict[str, Command] = {
            "/preset": self.cmd_preset,
            "/presets": self.cmd_presets,
            "/blocks": self.cmd_blocks,
            "/history": self.cmd_history,
            "/regenerate": self.cmd_regenerate,
            "/clear": self.cmd_clear,
            "/help": self.cmd_help,
            "/exit": self.cmd_exit,
            "/quit": self.cmd_exit,
        }

    async def run(self) -> int:
        await self.header()
        await self.open()
        while True:
            try:
                text = await self.prompt.prompt_async(f"{self.block_id}› ")
            except (KeyboardInterrupt, EOFError):
                return 0
            text = text.strip()
            try:
                if text.startswith("/"):
                    if not await self.command(text):
                        return 0
                elif text:
                    await self.send(text)
            except (ApiError, ServerUnreachable) as error:
                self.console.print(error_line(str(error)))

    async def header(self) -> None:
        resolved = await self.client.resolve(self.block_id, self.url_preset)
        source = resolved.get("resolvedFrom")
        layer = source.get("preset") if isinstance(source, dict) else source
        self.console.print(
            Text(f"chatwire · block {self.block_id} · preset {resolved.get('preset')}", style="bold")
            + Text(f" (from {layer}) · {resolved.get('provider')}/{resolved.get('model')} · /help", style=FOOTER_STYLE)
        )

    async def open(self) -> None:
        """Show the saved conversation; if an answer is still streaming, follow it live."""
        async with self.client.resume(self.block_id) as stream:
            if stream is None:
                self.messages = (await self.client.conversation(self.block_id)).messages
                self.print_history()
                return
            chunks = aiter(stream)
            first = await anext(chunks, None)
            answer_id = first.get("messageId") if first else None
            saved = (await self.client.conversation(self.block_id)).messages
            self.messages = [message for message in saved if message.get("id") != answer_id]
            self.print_history()
            if first is None:
                return
            self.console.print(Text("(an answer is still streaming: following it)", style=FOOTER_STYLE))
            view = AnswerView(MarkdownText(self.console), self.console)
            try:
                outcome = await read_answer(self.client, self.block_id, _prepend(first, chunks), view.show)
            finally:
                view.close()
        await self.after_answer(view, outcome, continued=False)

    def print_history(self) -> None:
        for message in self.messages:
            print_message(self.console, message)

    async def send(self, text: str) -> None:
        self.messages.append(user_message(text))
        await self.answer(submit_body(self.block_id, self.messages))

    async def answer(self, body: dict[str, Any], base: UIMessage | None = None) -> None:
        view = AnswerView(MarkdownText(self.console), self.console)
        try:
            outcome = await post_and_read(self.client, self.block_id, body, view.show, self.url_preset, base)
        finally:
            view.close()
        await self.after_answer(view, outcome, continued=base is not None)

    async def after_answer(self, view: AnswerView, outcome: Outcome, continued: bool) -> None:
        view.finish(outcome.assembler.metadata, outcome.finish_reason)
        if outcome.stopped_by_user or outcome.finish_reason == "interrupted":
            self.console.print(Text("(stopped; the partial answer is saved)", style=FOOTER_STYLE))
        if continued and self.messages and self.messages[-1].get("role") == "assistant":
            self.messages[-1] = outcome.message
        elif outcome.message.get("parts"):
            self.messages.append(outcome.message)
        self.console.print()
        if outcome.finish_reason == "tool-calls" and not outcome.stopped_by_user:
            await self.ask_approvals(outcome.message)

    async def ask_approvals(self, message: UIMessage) -> None:
        """``Run fetch_url {"url": …}? [y/N]`` for each pending approval, then the follow-up that
        ``lastAssistantMessageIsCompleteWithApprovalResponses`` would send."""
        pending = pending_approvals(message)
        if not pending:
            return
        for part in pending:
            question = f"Run {tool_name(part)} {json.dumps(part.get('input'), ensure_ascii=False)}? [y/N] "
            try:
                reply = await self.questions.prompt_async(question)
            except (KeyboardInterrupt, EOFError):
                self.console.print(Text("(left unanswered)", style=FOOTER_STYLE))
                return
            answer_approval(part, reply.strip().lower() in ("y", "yes"))
        await self.answer(submit_body(self.block_id, self.messages, message_id=message["id"]), base=message)

    async def command(self, line: str) -> bool:
        name, _, argument = line.partition(" ")
        handler = self.commands.get(name)
        if handler is None:
            self.console.print(error_line(f"unknown command {name}; /help lists them"))
            return True
        return await handler(argument.strip())

    async def cmd_preset(self, argument: str) -> bool:
        if argument:
            value = None if argument == "none" else argument
            await self.client.patch_block_meta(self.block_id, {"ai:preset": value})
            self.url_preset = None  # a --preset from the command line would override the pin
        await self.header()
        return True

    async def cmd_presets(self, argument: str) -> bool:
        current = (await self.client.resolve(self.block_id, self.url_preset)).get("preset")
        await print_presets(self.client, self.console, current=str(current))
        return True

    async def cmd_blocks(self, argument: str) -> bool:
        await print_blocks(self.client, self.console)
        return True

    async def cmd_history(self, argument: str) -> bool:
        self.messages = (await self.client.conversation(self.block_id)).messages
        if not self.messages:
            self.console.print(Text("(no messages yet)", style=FOOTER_STYLE))
        self.print_history()
        return True

    async def cmd_regenerate(self, argument: str) -> bool:
        while self.messages and self.messages[-1].get("role") == "assistant":
            self.messages.pop()
        if not self.messages:
            self.console.print(error_line("nothing to regenerate"))
            return True
        await self.answer(regenerate_body(self.block_id, self.messages))
        return True

    async def cmd_clear(self, argument: str) -> bool:
        await self.client.delete_conversation(self.block_id)
        self.messages = []
        self.console.print(Text(f"(cleared the conversation of {self.block_id})", style=FOOTER_STYLE))
        return True

    async def cmd_help(self, argument: str) -> bool:
        self.console.print(HELP, markup=False, highlight=False)
        return True

    async def cmd_exit(self, argument: str) -> bool:
        return False
