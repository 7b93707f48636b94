"""``chatwire chat`` in a pseudo-terminal against the real app and the fake upstream."""

from __future__ import annotations

from collections.abc import Callable

from tests.cli.conftest import api, saved_messages, text_of, tool_parts
from tests.cli.terminal import Terminal
from tests.e2e.harness import App, Stack
from tests.e2e.ui import CURRENT_TIME_FOLLOWUP, HAIKU_END, TEXT_BASIC_END, THINKING_START

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


TEXT_BASIC_HELD = "Olá! (That's"  # text_basic after its first 7 events


def test_ctrl_c_stops_the_answer_on_the_server_and_the_partial_answer_stays(
    terminal: Callable[..., Terminal], app: App, stack: Stack
) -> None:
    held = stack.hold("anthropic", "text_basic", after_events=7)
    chat = terminal("chat")
    chat.expect(PROMPT)
    chat.type_line("Say hi in Portuguese")
    chat.expect_text(TEXT_BASIC_HELD)
    chat.ctrl_c()
    chat.expect_text("(stopped; the partial answer is saved)")
    chat.expect(PROMPT)  # the chat goes on
    held.release()
    [_, answer] = saved_messages(app, "block-1")
    assert text_of(answer).startswith(TEXT_BASIC_HELD) and TEXT_BASIC_END not in text_of(answer)
    assert answer["metadata"]["preset"] == "default"
    chat.ctrl_c()  # at the prompt: leave
    assert chat.wait_exit() == 0


def test_an_approval_answered_y_runs_the_tool_and_the_answer_goes_on(
    terminal: Callable[..., Terminal], app: App
) -> None:
    chat = terminal("chat", "--preset", "e2e-approval")
    chat.expect(PROMPT)
    chat.type_line("What time is it in Paris?")
    chat.expect_text("Let me check the clock for you.")
    chat.expect_text('Run current_time {"timezone": "Europe/Paris"}? [y/N]')
    chat.type_line("y")
    chat.expect(r"  → .*Europe/Paris")  # the tool's output
    chat.expect_text(CURRENT_TIME_FOLLOWUP)
    chat.expect(PROMPT)
    [_, answer] = saved_messages(app, "block-1")
    [tool] = tool_parts(answer)
    assert tool["state"] == "output-available" and tool["approval"]["approved"] is True
    assert CURRENT_TIME_FOLLOWUP in text_of(answer)


def test_an_approval_answered_n_denies_the_tool_and_the_model_is_told(
    terminal: Callable[..., Terminal], app: App, stack: Stack
) -> None:
    chat = terminal("chat", "--preset", "e2e-approval")
    chat.expect(PROMPT)
    chat.type_line("What time is it in Paris?")
    chat.expect_text('Run current_time {"timezone": "Europe/Paris"}? [y/N]')
    chat.type_line("n")
    chat.expect_text("✗ denied")
    chat.expect_text(CURRENT_TIME_FOLLOWUP)
    chat.expect(PROMPT)
    [_, answer] = saved_messages(app, "block-1")
    [tool] = tool_parts(answer)
    assert tool["state"] == "output-denied"
    followup = stack.reset_upstream()[-1]
    assert b"The user denied this tool call." in followup.body


def test_chat_resumes_an_answer_that_is_still_streaming(
    terminal: Callable[..., Terminal], app: App, stack: Stack
) -> None:
    held = stack.hold("anthropic", "text_basic", after_events=7)
    asker = terminal("ask", "--block", "block-1", "Say hi in Portuguese")
    asker.expect_text(TEXT_BASIC_HELD)
    chat = terminal("chat")
    chat.expect(r"› Say hi in Portuguese")  # the saved user message
    chat.expect_text("(an answer is still streaming: following it)")
    chat.expect_text(TEXT_BASIC_HELD)
    held.release()
    chat.expect_text(TEXT_BASIC_END)
    chat.expect(r"preset default \(from default\) · anthropic/claude-sonnet-5-5")
    chat.expect(PROMPT)
    assert asker.wait_exit() == 0
    assert len(saved_messages(app, "block-1")) == 2
    assert len(stack.reset_upstream()) == 1  # resumed, not asked again


def test_preset_pins_the_blocks_preset_and_the_next_answer_uses_it(terminal: Callable[..., Terminal], app: App) -> None:
    chat = terminal("chat")
    chat.expect(r"preset default \(from default\)")
    chat.expect(PROMPT)
    chat.type_line("/preset anthropic-thinking")
    chat.expect(r"preset anthropic-thinking \(from block\)")
    chat.expect(PROMPT)
    assert api(app, "/api/blocks/block-1/meta")["ai:preset"] == "anthropic-thinking"
    chat.type_line("A haiku about the sea, please")
    chat.expect_text(THINKING_START)
    chat.expect_text(HAIKU_END)
    chat.expect(r"preset anthropic-thinking \(from block\) · anthropic/claude-sonnet-5-5")
    chat.expect(PROMPT)
    chat.type_line("/preset no-such-preset")
    chat.expect(r"error: .*no-such-preset")
    chat.expect(PROMPT)
    chat.type_line("/presets")
    chat.expect(r"\* +anthropic-thinking +anthropic/claude-sonnet-5-5")
    chat.expect(PROMPT)
    chat.type_line("/exit")
    assert chat.wait_exit() == 0
    [_, answer] = saved_messages(app, "block-1")
    assert answer["metadata"]["preset"] == "anthropic-thinking"


def test_alt_enter_adds_a_line_and_the_up_arrow_brings_the_message_back(
    terminal: Callable[..., Terminal], app: App
) -> None:
    chat = terminal("chat", "--preset", "anthropic-text")
    chat.expect(PROMPT)
    chat.child.send("line one\x1b\r")  # Alt-Enter: Escape, then Enter
    chat.type_line("line two")
    chat.expect_text(TEXT_BASIC_END)
    chat.expect(PROMPT)
    chat.child.send("\x1b[A")  # ↑
    chat.expect_text("line two")
    chat.child.send("\r")
    chat.expect_text(TEXT_BASIC_END)
    chat.expect(PROMPT)
    users = [text_of(message) for message in saved_messages(app, "block-1")[::2]]
    assert users == ["line one\nline two", "line one\nline two"]


def test_history_regenerate_and_clear(terminal: Callable[..., Terminal], app: App, stack: Stack) -> None:
    chat = terminal("chat", "--preset", "anthropic-text")
    chat.expect(PROMPT)
    chat.type_line("Say hi in Portuguese")
    chat.expect_text(TEXT_BASIC_END)
    chat.expect(PROMPT)
    first_id = saved_messages(app, "block-1")[1]["id"]
    chat.type_line("/regenerate")
    chat.expect_text(TEXT_BASIC_END)
    chat.expect(PROMPT)
    saved = saved_messages(app, "block-1")
    assert len(saved) == 2 and saved[1]["id"] != first_id  # the answer was replaced, not added
    assert [request.json()["messages"][-1]["role"] for request in stack.reset_upstream()] == ["user", "user"]
    chat.type_line("/history")
    chat.expect(r"› Say hi in Portuguese")
    chat.expect_text(TEXT_BASIC_END)
    chat.expect(PROMPT)
    chat.type_line("/clear")
    chat.expect_text("(cleared the conversation of block-1)")
    chat.expect(PROMPT)
    assert saved_messages(app, "block-1") == []
    chat.type_line("/nonsense")
    chat.expect(r"error: unknown command /nonsense")
    chat.expect(PROMPT)
