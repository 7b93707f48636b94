"""Refresh ``docs/screenshots/cli-chat.svg``: the real client in tmux against the test stack.

    .venv/bin/python -m tests.cli.record_screenshot      (needs tmux: apt-get install tmux)

The client runs in a 100×32 tmux pane on a private socket; keys go in with ``send-keys`` and the
screen comes back with ``capture-pane -e`` (colours kept), which rich turns into an SVG. Each step
waits until its text is on the screen.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from tests.cli.terminal import CHATWIRE, client_env
from tests.e2e.harness import ROOT, Stack

OUTPUT = ROOT / "docs" / "screenshots" / "cli-chat.svg"
STEPS = [  # (keys to type, text to wait for on the screen afterwards)
    ("A haiku about the sea, please", "total 138"),
    ("/preset e2e-approval", "(from block)"),
    ("What time is it in Paris?", "[y/N]"),
    ("y", "total 1395"),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        stack = Stack(root / "stack").start()
        app = stack.start_app("screenshot")
        socket = str(root / "tmux.sock")

        def tmux(*arguments: str) -> str:
            return subprocess.run(["tmux", "-S", socket, *arguments], check=True, capture_output=True, text=True).stdout

        def wait_for(text: str) -> None:
            deadline = time.monotonic() + 20
            while text not in tmux("capture-pane", "-p", "-t", "shot"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{text!r} never showed:\n" + tmux("capture-pane", "-p", "-t", "shot"))
                time.sleep(0.1)  # polling the screen, not synchronising on time

        env = client_env(app.url, root / "home")
        command = " ".join(f"{key}='{value}'" for key, value in env.items())
        tmux("new-session", "-d", "-s", "shot", "-x", "100", "-y", "32",
             f"env -i {command} {CHATWIRE} chat notes --preset anthropic-thinking; sleep 30")  # fmt: skip
        wait_for("notes›")
        for keys, shown in STEPS:
            tmux("send-keys", "-t", "shot", keys, "Enter")
            wait_for(shown)
        screen = tmux("capture-pane", "-p", "-e", "-t", "shot").rstrip("\n").split("\n")
        tmux("kill-server")
        stack.stop_app(app)
        stack.close()
    while screen and not Text.from_ansi(screen[-1]).plain.strip():
        screen.pop()
    with open("/dev/null", "w") as sink:
        console = Console(record=True, width=100, force_terminal=True, color_system="truecolor", file=sink)
        for line in screen:
            console.print(Text.from_ansi(line), soft_wrap=True)
    console.save_svg(str(OUTPUT), title="chatwire chat notes")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
