"""Many paced streams at once (issue 13): ``STREAMS`` answers of ``TOKENS`` tokens, the fake
upstream sending one every 20 ms, all in flight together, as the peer bench's paced ladder does.
Prints CPU per token of the whole process (server, fake upstream and clients: compare runs, not
absolute values). Run alone: ``.venv/bin/python -m tests.bench.paced [streams]``; ``make bench``
runs it too."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from backend.app import create_app
from tests.bench.run import long_answer, user
from tests.conftest import make_settings, write_queue_default_preset
from tests.upstream import FakeUpstream, Reply

TOKENS = 100
PACE_SECONDS = 0.02


async def one_round(client: TestClient[Any, Any], upstream: FakeUpstream, streams: int) -> float:
    """CPU µs per token for ``streams`` concurrent paced answers."""
    for _ in range(streams):
        upstream.enqueue(Reply.sse(long_answer(TOKENS), event_delay_seconds=PACE_SECONDS))

    async def one(index: int) -> None:
        block = f"p-{index}-{time.perf_counter_ns()}"
        response = await client.post(f"/api/ai/chat/{block}", json={"messages": [user("go")]})
        body = await response.read()
        assert body.count(b'"text-delta"') == TOKENS

    cpu = time.process_time()
    await asyncio.gather(*[one(index) for index in range(streams)])
    return (time.process_time() - cpu) / (streams * TOKENS) * 1e6


async def bench_paced(directory: Path, streams: int = 100, rounds: int = 5) -> None:
    async with FakeUpstream() as upstream:
        presets = directory / "paced-presets"
        write_queue_default_preset(presets, upstream.url)
        settings = make_settings(directory / "paced", presets, max_streams=0)
        async with TestClient(TestServer(create_app(settings))) as client:
            await one_round(client, upstream, 10)  # warm-up: SDK import, client pool
            samples = [await one_round(client, upstream, streams) for _ in range(rounds)]
    print(
        f"paced streams: {streams} at once, {TOKENS} tokens each at {PACE_SECONDS * 1000:.0f} ms: "
        f"median {statistics.median(samples):.1f} µs CPU per token (min {min(samples):.1f}, "
        f"max {max(samples):.1f}; server + fake upstream + clients, one process)"
    )


async def main() -> None:
    streams = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as temp:
        await bench_paced(Path(temp), streams)


if __name__ == "__main__":
    asyncio.run(main())
