"""The real ``chatwire`` command in a real pseudo-terminal (pexpect), read as a person reads it.

:class:`Terminal` keeps everything the program wrote with the escape codes taken out (colours,
cursor moves of rich's live redraws, prompt_toolkit's prompt), and :meth:`Terminal.expect` waits
until a pattern shows up after the last match. Every wait is on output, never a sleep.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pexpect

# The console script that `pip install -e .` made from pyproject's [project.scripts].
CHATWIRE = Path(sys.executable).parent / "chatwire"
TIMEOUT = 15.0
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erase
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: window titles
    r"|\x1b[()][0-9A-Za-z]|\x1b[=>78cDEHM]"  # charset and mode switches
)


def strip_escapes(text: str) -> str:
    return _ESCAPES.sub("", text).replace("\r", "")


def client_env(url: str, home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: only what the client needs, pointing at ``url``."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "CHATWIRE_URL": url,
        # pexpect does not answer cursor-position requests; without this prompt_toolkit waits for one.
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    env.update(extra)
    return env


class Terminal:
    """``Terminal(["chat", "block-1"], env)``: the client running in a 40×120 pseudo-terminal."""

    def __init__(self, arguments: list[str], env: dict[str, str], rows: int = 40, columns: int = 120) -> None:
        assert CHATWIRE.exists() or shutil.which("chatwire"), f"{CHATWIRE} missing: run make deps"
        self.child = pexpect.spawn(
            str(CHATWIRE), arguments, env=env, dimensions=(rows, columns), encoding="utf-8", timeout=TIMEOUT
        )
        self.raw = ""
        self.position = 0  # expect() searches the text after this point

    @property
    def text(self) -> str:
        return strip_escapes(self.raw)

    def _read(self, timeout: float) -> bool:
        """Take in what the program wrote within ``timeout``; False once it has exited and all is read."""
        try:
            self.raw += self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            return False
        return True

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait for ``pattern`` (a regex) after the previous match; returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.text, self.position)
            if found:
                self.position = found.end()
                return found
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"{pattern!r} never showed; the terminal showed:\n{self.text[-3000:]}")

    def expect_text(self, literal: str, timeout: float = TIMEOUT) -> None:
        self.expect(re.escape(literal), timeout)

    def type_line(self, line: str) -> None:
        # Enter is \r in a terminal (prompt_toolkit submits on it; \n would be Ctrl-J).
        self.child.send(line + "\r")

    def ctrl_c(self) -> None:
        self.child.sendcontrol("c")

    def ctrl_d(self) -> None:
        self.child.sendcontrol("d")

    def wait_exit(self, timeout: float = TIMEOUT) -> int:
        """Read to the end; returns the exit status."""
        deadline = time.monotonic() + timeout
        while self._read(0.2):
            if time.monotonic() > deadline:
                raise AssertionError(f"the client did not exit; the terminal showed:\n{self.text[-3000:]}")
        self.child.wait()
        if self.child.exitstatus is not None:
            return int(self.child.exitstatus)
        return 128 + int(self.child.signalstatus or 0)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
