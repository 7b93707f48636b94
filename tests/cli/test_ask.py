"""``chatwire ask``, ``blocks`` and ``presets``, and a server that is not there."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import api, saved_messages, text_of
from tests.cli.terminal import CHATWIRE, Terminal, client_env
from tests.e2e.harness import App, Stack
from tests.e2e.ui import THINKING_START
from tests.server_process import free_port

HAIKU = "Waves fold into foam,\nsalt wind carries gull voices —\nthe tide keeps its time.\n"


def ask(env: dict[str, str], *arguments: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``echo stdin | chatwire ask …`` with stdout and stderr captured (pipes, not a terminal)."""
    return subprocess.run(
        [str(CHATWIRE), "ask", *arguments], input=stdin, env=env, capture_output=True, text=True, timeout=30
    )


def test_ask_from_a_pipe_prints_the_plain_answer_and_reasoning_goes_to_stderr(
    env: dict[str, str], app: App, stack: Stack
) -> None:
    result = ask(env, "--preset", "anthropic-thinking", "Make this a haiku:", stdin="the sea, the sea\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == HAIKU  # exactly the text: no escape codes, no Markdown reflow
    assert "\x1b" not in result.stderr
    assert THINKING_START in result.stderr
    assert "preset anthropic-thinking (from url) · anthropic/claude-sonnet-5-5" in result.stderr
    [request] = stack.reset_upstream()
    sent = json.dumps(request.json()["messages"])
    assert "Make this a haiku:\\n\\nthe sea, the sea" in sent
    # A fresh block, so nothing mixed into block-1.
    [block] = api(app, "/api/ai/conversations")["conversations"]
    assert block["blockId"].startswith("ask-") and block["messageCount"] == 2


def test_ask_quiet_and_json(env: dict[str, str], app: App) -> None:
    quiet = ask(env, "--quiet", "--preset", "anthropic-thinking", "--block", "notes", "A haiku")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, HAIKU, "")
    lines = ask(env, "--json", "--preset", "anthropic-thinking", "A haiku").stdout.splitlines()
    chunks = [json.loads(line) for line in lines]
    assert chunks[0]["type"] == "start" and chunks[-1] == {"type": "finish", "finishReason": "stop"}
    assert "".join(chunk["delta"] for chunk in chunks if chunk["type"] == "text-delta") == HAIKU.rstrip("\n")
    # --block continues that block's conversation.
    follow_up = ask(env, "--quiet", "--block", "notes", "--preset", "anthropic-thinking", "Another")
    assert follow_up.returncode == 0
    assert [text_of(message) for message in saved_messages(app, "notes")][::2] == ["A haiku", "Another"]


def test_ask_exits_non_zero_on_an_error_chunk_and_on_an_http_error(env: dict[str, str], app: App) -> None:
    overloaded = ask(env, "--preset", "anthropic-overloaded", "hi")
    assert overloaded.returncode == 1
    assert "error:" in overloaded.stderr and "overloaded" in overloaded.stderr.lower()
    unknown = ask(env, "--preset", "no-such-preset", "hi")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.startswith("chatwire: HTTP 400") and "no-such-preset" in unknown.stderr
    assert ask(env).returncode == 2  # no question at all


def test_ask_in_a_terminal_exits_130_when_stopped(terminal: Callable[..., Terminal], stack: Stack) -> None:
    held = stack.hold("anthropic", "text_basic", after_events=7)
    asker = terminal("ask", "Say hi in Portuguese")
    asker.expect_text("Olá! (That's")
    asker.ctrl_c()
    asker.expect_text("stopped; the partial answer is saved")
    assert asker.wait_exit() == 130
    held.release()


def test_blocks_and_presets_list_what_the_server_has(env: dict[str, str], app: App) -> None:
    assert ask(env, "--quiet", "--block", "notes", "hi").returncode == 0
    blocks = subprocess.run([str(CHATWIRE), "blocks"], env=env, capture_output=True, text=True, timeout=30)
    assert blocks.returncode == 0 and "notes" in blocks.stdout and "claude-sonnet-5-5" in blocks.stdout
    presets = subprocess.run([str(CHATWIRE), "presets"], env=env, capture_output=True, text=True, timeout=30)
    assert presets.returncode == 0
    names = {line.split()[0] for line in presets.stdout.splitlines()[1:]}
    assert {"default", "anthropic-thinking", "e2e-approval"} <= names


def test_a_server_that_is_not_running_gives_one_line_naming_the_url(
    terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    chat = terminal("chat", CHATWIRE_URL=url)
    chat.expect_text(f"chatwire: cannot reach a Chatwire server at {url} (connection refused).")
    chat.expect_text("Start one with `make run`")
    assert chat.wait_exit() == 1
    assert len(chat.text.strip().splitlines()) == 1
    piped = ask(client_env(url, tmp_path / "home"), "hi")
    assert piped.returncode == 1 and piped.stdout == ""
    assert len(piped.stderr.strip().splitlines()) == 1 and url in piped.stderr


def test_the_token_goes_with_every_request(stack: Stack, tmp_path: Path) -> None:
    token = "cli-token-0123456789abcdef"
    locked = stack.start_app("cli-locked", auth_token=token)
    try:
        env = client_env(locked.url, tmp_path / "home")
        refused = subprocess.run([str(CHATWIRE), "presets"], env=env, capture_output=True, text=True, timeout=30)
        assert refused.returncode != 0 and "401" in refused.stderr
        flag = subprocess.run(
            [str(CHATWIRE), "presets", "--token", token], env=env, capture_output=True, text=True, timeout=30
        )
        assert flag.returncode == 0 and "default" in flag.stdout
        from_env = subprocess.run(
            [str(CHATWIRE), "ask", "--quiet", "hi"],
            env={**env, "CHATWIRE_AUTH_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert from_env.returncode == 0 and from_env.stdout.startswith("Olá!")
    finally:
        stack.stop_app(locked)
