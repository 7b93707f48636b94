"""Time to first token of two checkouts, paired: ``python -m tests.bench.ttft_pair <dir A> <dir B>``.

On these shared machines a server's TTFT moves by ±0.5 ms from one minute to the next, more than
most single changes save. So both servers run at once, pinned to the same core (as the peer bench
pins its target), behind one fake upstream (../shared/bench's, on the other core), and one client
alternates requests between them: A B, B A, A B… Whatever slows the machine slows both; the paired
median difference is what the change did. An A/A run reads about ±0.03 ms.

Each request is a new block with one short user message and 50 unpaced tokens, as in the peer
bench's latency phase; TTFT is from the request's first byte sent to the first ``text-delta``
received. The checkouts share this checkout's ``.venv``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from tests.server_process import free_port

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_UPSTREAM = ROOT.parent / "shared" / "bench" / "fake_upstream.py"
BODY = json.dumps({"id": "c", "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}]})
WARM_UP = 30


def pinned(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited ({process.returncode})")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)  # a process starting up: polled, not a synchronisation between tests
    raise SystemExit(f"{url} did not come up")


async def first_token_ms(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, n: int) -> float:
    body = BODY.encode()
    head = (
        f"POST /api/ai/chat/pair-{n}-{time.time_ns()}?preset=bench HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sent = time.perf_counter()
    writer.write(head.encode() + body)
    seen, first = b"", None
    while not seen.endswith(b"\r\n0\r\n\r\n"):
        data = await reader.read(65536)
        if not data:
            raise SystemExit(f"port {port}: the connection closed mid-answer: {seen[:300]!r}")
        seen += data
        if first is None and b'"text-delta"' in seen:
            first = time.perf_counter()
    if first is None:
        raise SystemExit(f"port {port}: no text-delta in {seen[:300]!r}")
    return (first - sent) * 1000


async def alternate(ports: tuple[int, int], requests: int) -> tuple[list[float], list[float]]:
    connections = []
    for port in ports:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connections.append((reader, writer, port))
    times: tuple[list[float], list[float]] = ([], [])
    for n in range(requests + WARM_UP):
        # A B, then B A: whichever answers second in a pair measured 0.03-0.04 ms sooner (an A/A
        # run read -0.03 ms with a fixed order), so each side goes second half of the time.
        order = (0, 1) if n % 2 == 0 else (1, 0)
        for side in order:
            reader, writer, port = connections[side]
            took = await first_token_ms(reader, writer, port, n)
            if n >= WARM_UP:
                times[side].append(took)
    return times


def quantile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="checkout A (the baseline)")
    parser.add_argument("b", type=Path, help="checkout B")
    parser.add_argument("--requests", type=int, default=400, help="requests to each server (after 30 warm-up)")
    parser.add_argument("--upstream", type=Path, default=DEFAULT_UPSTREAM, help="the peer bench's fake_upstream.py")
    args = parser.parse_args()
    python = str(ROOT / ".venv" / "bin" / "python")
    upstream_port, ports = free_port(), (free_port(), free_port())
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        presets = Path(scratch) / "presets"
        presets.mkdir()
        preset = (
            f'provider = "anthropic"\nmodel = "claude-sonnet-4-6"\nbase_url = "http://127.0.0.1:{upstream_port}"\n'
            'api_key_env = "BENCH_KEY"\nmax_tokens = 1024\n'
        )
        for name in ("bench", "default"):
            (presets / f"{name}.toml").write_text(preset)
        upstream = subprocess.Popen(
            [*pinned(0), sys.executable, str(args.upstream), "--port", str(upstream_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(stop, upstream)
        servers = []
        for checkout, port in zip((args.a, args.b), ports, strict=True):
            command = [*pinned(1), python, "-m", "backend", "--host", "127.0.0.1", "--port", str(port)]
            command += ["--data-dir", f"{scratch}/data-{port}", "--presets-dir", str(presets)]
            environment = {**os.environ, "PYTHONPATH": str(checkout.resolve()), "BENCH_KEY": "sk-fake"}
            server = subprocess.Popen(
                command, cwd=checkout, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            stack.callback(stop, server)
            servers.append(server)
        wait_until_up(f"http://127.0.0.1:{upstream_port}/healthz", upstream)
        for server, port in zip(servers, ports, strict=True):
            wait_until_up(f"http://127.0.0.1:{port}/health", server)
        settings = json.dumps({"tokens": 50, "delay": 0, "ttft": 0, "thinking": 0}).encode()
        urllib.request.urlopen(f"http://127.0.0.1:{upstream_port}/_config", data=settings, timeout=5).close()
        if pinned(0):
            os.sched_setaffinity(0, {0})  # the client beside the upstream, off the servers' core
        a, b = asyncio.run(alternate(ports, args.requests))
    paired = statistics.median(y - x for x, y in zip(a, b, strict=True))
    print(f"A {args.a}: TTFT p50 {quantile(a, 0.5):.2f} ms, p99 {quantile(a, 0.99):.2f} ms")
    print(f"B {args.b}: TTFT p50 {quantile(b, 0.5):.2f} ms, p99 {quantile(b, 0.99):.2f} ms")
    print(f"B - A: paired median {paired:+.2f} ms over {len(a)} pairs")


if __name__ == "__main__":
    main()
