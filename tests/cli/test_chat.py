"""``chatwire chat`` in a pseudo-terminal against the real app and the fake upstream."""

from __future__ import annotations

from collections.abc import Callable

from tests.cli.conftest import saved_messages, text_of, tool_parts
from tests.cli.terminal import Terminal
from tests.e2e.harness import App
from tests.e2e.ui import HAIKU_END, TEXT_BASIC_END, THINKING_START

PROMPT = r"block-1›"


def test_a_streamed_answer_shows_reasoning_a_tool_call_and_the_footer(
    terminal: Callable[..., Terminal], app: App
) -> None:
    chat = terminal("chat", "--preset", "anthropic-tools")
    chat.expect(r"chatwire · block block-1 · preset anthropic-tools \(from url\)")
    chat.expect(PROMPT)
    chat.type_line("What is the weather in Florence?")
    chat.expect_text("The user is asking for weather information for Florence, Italy.")
    chat.expect_text('⚙ weather {"location": "Florence, Italy"}')
    chat.expect_text("(a client tool: not run by this terminal)")
    chat.expect(r"preset anthropic-tools \(from url\) · anthropic/claude-sonnet-5-5 · in \d+ · out \d+ · total \d+")
    chat.expect(PROMPT)
    chat.ctrl_d()
    assert chat.wait_exit() == 0
    [user, answer] = saved_messages(app, "block-1")
    assert text_of(user) == "What is the weather in Florence?"
    assert [part["state"] for part in tool_parts(answer)] == ["input-available"]
