"""Watching real worker processes from a test: their output lines (a barrier, not a sleep) and
which worker process accepted a connection (Linux ``/proc``: the socket's inode)."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from pathlib import Path


class OutputLines:
    """Collects a process's output lines in a thread; ``wait_count`` waits for the Nth line with a fragment."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._process = process
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            with self._seen:
                self.lines.append(raw.decode(errors="replace"))
                self._seen.notify_all()

    def matching(self, fragment: str) -> list[str]:
        with self._seen:
            return [line for line in self.lines if fragment in line]

    async def wait_count(self, fragment: str, count: int, within_seconds: float = 30) -> list[str]:
        def wait() -> bool:
            with self._seen:
                return self._seen.wait_for(lambda: len(self.matching(fragment)) >= count, timeout=within_seconds)

        assert await asyncio.to_thread(wait), f"fewer than {count} lines with {fragment!r}: {self.lines}"
        return self.matching(fragment)


def children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def alive(pid: int) -> bool:
    """Running, not a zombie (a worker whose supervisor exited is nobody's child to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def accepting_process(server_port: int, client_port: int, candidates: set[int]) -> int | None:
    """Which of ``candidates`` holds the server side of the TCP connection from ``client_port``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, remote_port = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if (local_port, remote_port) == (server_port, client_port):
            inode = fields[9]
    if inode is None:
        return None
    for pid in candidates:
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except FileNotFoundError:
            continue
        for descriptor in descriptors:
            try:
                if descriptor.readlink().name == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None
