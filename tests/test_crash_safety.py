"""SIGKILL the server during saves: every acknowledged save is intact after a restart."""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import write_preset
from tests.server_process import ServerProcess


def save(url: str, block: str, text: str) -> bool:
    body = json.dumps({"messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}]})
    request = urllib.request.Request(
        f"{url}/api/ai/conversations/{block}",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def test_acknowledged_saves_survive_sigkill(tmp_path: Path) -> None:
    presets = tmp_path / "presets"
    presets.mkdir()
    write_preset(presets, "default", 'provider = "anthropic"\nmodel = "m"\n')
    data = tmp_path / "data"
    server = ServerProcess(data, presets)
    acknowledged: dict[str, str] = {}  # block → the last text the server acknowledged
    lock = threading.Lock()
    enough = threading.Event()

    def writer(worker: int) -> None:
        for index in range(10_000):
            block, text = f"w{worker}-b{index % 7}", f"worker {worker} save {index} " + "x" * 2000
            if not save(server.url, block, text):
                return  # the server is gone
            with lock:
                acknowledged[block] = text
                if len(acknowledged) >= 20 and index > 20:
                    enough.set()

    threads = [threading.Thread(target=writer, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    assert enough.wait(120), "the writers did not get going"
    server.kill()  # SIGKILL in the middle of the writes
    for thread in threads:
        thread.join(30)
    with lock:
        expected = dict(acknowledged)

    restarted = ServerProcess(data, presets)
    try:
        for block, text in expected.items():
            with urllib.request.urlopen(f"{restarted.url}/api/ai/conversations/{block}", timeout=5) as response:
                saved = json.loads(response.read())
            saved_text = saved["messages"][0]["parts"][0]["text"]
            # A save may have landed after its acknowledgement was cut off, never before.
            worker_index = int(saved_text.split()[3])
            assert worker_index >= int(text.split()[3]), block
    finally:
        restarted.stop()
    with sqlite3.connect(data / "chatwire.sqlite3") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
