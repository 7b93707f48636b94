"""Debian's PostgreSQL and Redis as throwaway servers for the tests (``make test`` installs them).

One of each per test session, on a free loopback port and a temporary directory, stopped at the
end. PostgreSQL refuses to run as root (CI runs as root), so there it runs as ``nobody`` through
``runuser``. Tests get a fresh database each (``CREATE DATABASE`` is a file copy: fast); Redis is
shared, and tests keep apart by using their own block ids.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from tests.server_process import free_port

INITDB_FLAGS = ("-E", "UTF8", "--no-sync", "--no-instructions")
POSTGRES_FLAGS = ("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200")
REDIS_FLAGS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
INSTALL_HINT = "run `make test` (it installs Debian's postgresql and redis-server), or apt-get install them"


def _wait(ready: Sequence[str] | tuple[str, int], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"{what} exited: {output[-2000:]}")
        if isinstance(ready, tuple):
            with socket.socket() as probe:
                if probe.connect_ex(ready) == 0:
                    return
        elif subprocess.run(list(ready), capture_output=True, check=False).returncode == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start")
        time.sleep(0.05)


def _postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise RuntimeError(f"PostgreSQL is not installed: {INSTALL_HINT}")
    return candidates[-1].parent


class PostgresServer:
    """``postgres`` on 127.0.0.1:<free port>, trust auth for the superuser ``chatwire``."""

    def __init__(self) -> None:
        bin_dir = _postgres_bin()
        self.directory = Path(tempfile.mkdtemp(prefix="chatwire-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.directory, "nobody")
            as_user = ["runuser", "-u", "nobody", "--"]
        data = self.directory / "data"
        subprocess.run(
            [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "chatwire", "--auth=trust", *INITDB_FLAGS],
            check=True,
            capture_output=True,
        )
        self.port = free_port()
        # fsync off: a test server's durability against power loss does not matter; a killed
        # *client* process (what the tests do) loses nothing either way.
        self.process = subprocess.Popen(
            [*as_user, str(bin_dir / "postgres"), "-D", str(data), "-k", str(self.directory), *self._flags()],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        ready = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "chatwire"]
        _wait(ready, self.process, "postgres")
        self._databases = 0

    def _flags(self) -> list[str]:
        return ["-p", str(self.port), *POSTGRES_FLAGS]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://chatwire@127.0.0.1:{self.port}/{database}"

    async def new_database(self) -> str:
        """The URL of a fresh, empty database."""
        self._databases += 1
        name = f"test_{self._databases}"
        connection = await asyncpg.connect(self.url())
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: "smart" shutdown is enough for a throwaway cluster
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


class RedisServer:
    """``redis-server`` on 127.0.0.1:<free port>, no persistence."""

    def __init__(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError(f"redis-server is not installed: {INSTALL_HINT}")
        self.directory = Path(tempfile.mkdtemp(prefix="chatwire-redis-"))
        self.port = free_port()
        self.process = subprocess.Popen(
            [executable, "--port", str(self.port), "--dir", str(self.directory), *REDIS_FLAGS],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        _wait(("127.0.0.1", self.port), self.process, "redis-server")
        self._databases = 0

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        shutil.rmtree(self.directory, ignore_errors=True)
