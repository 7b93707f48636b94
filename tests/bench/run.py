"""``make bench``: speed and memory numbers (never asserted in tests; see docs/benchmarks.md).

1. Conversation save/load of 500 messages, through the store and through HTTP.
2. 50 concurrent saves to different blocks (latency of each).
3. The streaming hot path: a long Anthropic answer relayed end to end (real SDK → loop → encoder →
   SSE), CPU time per token, with the fake upstream in the same process; unpaced, paced (2 ms per
   token, one event per read as from a real model), and the Anthropic provider alone (SDK request,
   SSE parse, translation) without the rest of the app. ``python -m tests.bench.run stream`` runs
   only this part.
4. The live stream in memory vs in Redis (``--redis-url``; a throwaway ``redis-server`` from
   tests/engines.py, skipped when it is not installed), unpaced and paced: the generating worker
   alone, then with a follower on a second worker reading Redis; redis-server's own CPU beside it.
5. Many paced streams at once (``paced.py``: 100 streams, a token every 20 ms), CPU per token.
6. Peak memory (RSS) of the process after the above.
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from backend.app import create_app
from backend.messages import TextContent, UserMessage
from backend.providers.anthropic import create as create_anthropic
from backend.providers.base import ModelCall, ProviderConfig
from backend.storage import SqliteStore
from tests.conftest import make_settings, write_queue_default_preset
from tests.engines import RedisServer
from tests.upstream import FakeUpstream, Reply


def conversation(size: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for index in range(size):
        if index % 2 == 0:
            messages.append(
                {
                    "id": f"u{index}",
                    "role": "user",
                    "parts": [{"type": "text", "text": f"Question {index}: " + "lorem ipsum " * 40}],
                }
            )
        else:
            messages.append(
                {
                    "id": f"a{index}",
                    "role": "assistant",
                    "metadata": {"preset": "default", "model": "m", "usage": {"inputTokens": 900, "outputTokens": 300}},
                    "parts": [
                        {"type": "step-start"},
                        {
                            "type": "reasoning",
                            "text": "thinking " * 30,
                            "state": "done",
                            "providerMetadata": {"anthropic": {"signature": "s" * 200}},
                        },
                        {
                            "type": "tool-search",
                            "toolCallId": f"c{index}",
                            "state": "output-available",
                            "input": {"q": "x"},
                            "output": {"hits": ["a" * 50] * 5},
                        },
                        {"type": "text", "text": "Answer " + "dolor sit amet " * 60, "state": "done"},
                    ],
                }
            )
    return messages


def timed(samples: list[float]) -> str:
    samples = sorted(samples)
    return (
        f"median {statistics.median(samples) * 1000:.2f} ms, p95 {samples[int(len(samples) * 0.95)] * 1000:.2f} ms"
        f" (n={len(samples)})"
    )


def long_answer(tokens: int) -> bytes:
    events = [
        'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_b","type":"message",'
        '"role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,'
        '"usage":{"input_tokens":10,"output_tokens":1}}}\n\n',
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"text","text":""}}\n\n',
    ]
    delta = (
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":"word "}}\n\n'
    )
    events += [delta] * tokens
    events += [
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        '"stop_sequence":null},"usage":{"output_tokens":' + str(tokens) + "}}\n\n",
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    return "".join(events).encode()


async def bench_store(directory: Path) -> None:
    store = (await SqliteStore.open(directory / "bench.sqlite3")).for_user("bench")
    messages = conversation(500)
    size = len(json.dumps(messages))
    saves, loads = [], []
    for _ in range(30):
        start = time.perf_counter()
        await store.save_conversation("bench", messages)
        saves.append(time.perf_counter() - start)
        start = time.perf_counter()
        loaded = await store.load_conversation("bench")
        assert loaded is not None
        loads.append(time.perf_counter() - start)
    print(f"store, 500 messages ({size / 1024:.0f} KiB JSON): save {timed(saves)}; load {timed(loads)}")
    await store.close()


async def bench_http(client: TestClient[Any, Any]) -> None:
    messages = conversation(500)
    posts, gets = [], []
    for _ in range(20):
        start = time.perf_counter()
        response = await client.post("/api/ai/conversations/bench", json={"messages": messages})
        assert response.status == 200
        posts.append(time.perf_counter() - start)
        start = time.perf_counter()
        response = await client.get("/api/ai/conversations/bench")
        await response.read()
        gets.append(time.perf_counter() - start)
    print(f"HTTP, 500 messages: POST (validate + save) {timed(posts)}; GET {timed(gets)}")

    small = conversation(20)

    async def one(index: int) -> float:
        start = time.perf_counter()
        response = await client.post(f"/api/ai/conversations/concurrent-{index}", json={"messages": small})
        assert response.status == 200
        return time.perf_counter() - start

    start = time.perf_counter()
    latencies = await asyncio.gather(*[one(index) for index in range(50)])
    total = time.perf_counter() - start
    print(
        f"50 concurrent saves to different blocks: all done in {total * 1000:.1f} ms; per save {timed(latencies)},"
        f" max {max(latencies) * 1000:.1f} ms"
    )


async def bench_stream(client: TestClient[Any, Any], upstream: FakeUpstream, tokens: int) -> None:
    for round_index in range(3):
        upstream.enqueue(Reply.sse(long_answer(tokens)))
        cpu, wall = time.process_time(), time.perf_counter()
        response = await client.post(
            f"/api/ai/chat/stream-{round_index}",
            json={"messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "go"}]}]},
        )
        body = await response.read()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert body.count(b'"text-delta"') == tokens
        print(
            f"stream of {tokens} tokens (round {round_index + 1}): {cpu / tokens * 1e6:.1f} µs CPU per token "
            f"(server + fake upstream + client, one process), {tokens / wall:.0f} tokens/s"
        )


async def bench_paced_stream(client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    """A paced answer (500 tokens, 2 ms apart): each SSE event arrives in its own read, as from a
    real model, so the per-event costs (parse, translate, encode, write) are not batched."""
    await one_stream(client, upstream, 500, 0.002, None)  # warm-up
    samples = [await one_stream(client, upstream, 500, 0.002, None) for _ in range(5)]
    print(f"paced stream (500 tokens, 2 ms apart), median of 5: {medians(samples)}")


async def bench_provider(upstream: FakeUpstream, tokens: int) -> None:
    """The Anthropic provider alone: SDK request, SSE parse and translation into provider events
    (plus the fake upstream's writes, in the same process); no loop, encoder or HTTP server."""
    config = ProviderConfig(provider="anthropic", credentials={"api_key": "bench"}, base_url=upstream.url)
    call = ModelCall(model="claude-sonnet-5-5", messages=(UserMessage((TextContent("go"),)),))
    model = create_anthropic(config)
    try:
        samples = []
        for _ in range(4):
            upstream.enqueue(Reply.sse(long_answer(tokens)))
            cpu = time.process_time()
            count = sum([1 async for _ in model.stream(call)])
            samples.append((time.process_time() - cpu) / tokens * 1e6)
            assert count >= tokens
        print(f"Anthropic provider alone, {tokens} tokens: {statistics.median(samples[1:]):.1f} µs CPU per token")
    finally:
        await model.aclose()


def process_cpu_seconds(pid: int | None) -> float:
    """Another process's CPU time in seconds (Linux schedstat: nanoseconds, not 10 ms ticks)."""
    if pid is None:
        return 0.0
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


async def one_stream(
    client: TestClient[Any, Any], upstream: FakeUpstream, tokens: int, pace: float, redis_pid: int | None
) -> tuple[float, float]:
    """CPU µs per token of this process and of redis-server for one answer of ``tokens`` tokens."""
    upstream.enqueue(Reply.sse(long_answer(tokens), event_delay_seconds=pace))
    cpu, redis_cpu = time.process_time(), process_cpu_seconds(redis_pid)
    response = await client.post(f"/api/ai/chat/b-{time.perf_counter_ns()}", json={"messages": [user("go")]})
    body = await response.read()
    cpu, redis_cpu = time.process_time() - cpu, process_cpu_seconds(redis_pid) - redis_cpu
    assert body.count(b'"text-delta"') == tokens
    return cpu / tokens * 1e6, redis_cpu / tokens * 1e6


async def followed_stream(
    worker: TestClient[Any, Any],
    other: TestClient[Any, Any],
    upstream: FakeUpstream,
    tokens: int,
    pace: float,
    pid: int,
) -> tuple[float, float]:
    """The same, with a second follower on another worker reading Redis (CPU of both workers)."""
    release = asyncio.Event()
    upstream.enqueue(Reply.sse(long_answer(tokens), hold_after_events=2, release=release, event_delay_seconds=pace))
    block = f"f-{time.perf_counter_ns()}"
    cpu, redis_cpu = time.process_time(), process_cpu_seconds(pid)
    response = await worker.post(f"/api/ai/chat/{block}", json={"messages": [user("go")]})
    follower = await other.get(f"/api/ai/chat/{block}/{block}/stream")  # resumed on the other worker
    assert follower.status == 200
    release.set()
    body, followed = await asyncio.gather(response.read(), follower.read())
    cpu, redis_cpu = time.process_time() - cpu, process_cpu_seconds(pid) - redis_cpu
    assert followed.count(b'"text-delta"') == body.count(b'"text-delta"') == tokens
    return cpu / tokens * 1e6, redis_cpu / tokens * 1e6


def medians(samples: list[tuple[float, float]]) -> str:
    process, redis = statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)
    return f"{process:.1f} µs CPU per token in the process" + (f" + {redis:.1f} µs in redis-server" if redis else "")


async def bench_redis_stream(directory: Path, presets: Path, upstream: FakeUpstream) -> None:
    """In-memory vs Redis-backed live streams, unpaced (5000 tokens) and paced (500 tokens, 2 ms apart:
    the publisher then writes about one pipeline per token, the realistic case)."""
    if shutil.which("redis-server") is None:
        print("Redis-backed stream: skipped (redis-server is not installed; `make engines` installs it)")
        return
    redis = RedisServer()
    try:
        memory_settings = make_settings(directory, presets)
        redis_settings = make_settings(directory, presets, redis_url=redis.url())
        async with (
            TestClient(TestServer(create_app(memory_settings))) as memory,
            TestClient(TestServer(create_app(redis_settings))) as worker,
            TestClient(TestServer(create_app(redis_settings))) as other,
        ):
            pid = redis.process.pid
            for tokens, pace, label in ((5000, 0.0, "unpaced, 5000 tokens"), (500, 0.002, "paced 2 ms, 500 tokens")):
                await one_stream(memory, upstream, tokens, pace, None)  # warm-up
                await one_stream(worker, upstream, tokens, pace, pid)
                in_memory = [await one_stream(memory, upstream, tokens, pace, None) for _ in range(5)]
                in_redis = [await one_stream(worker, upstream, tokens, pace, pid) for _ in range(5)]
                followed = [await followed_stream(worker, other, upstream, tokens, pace, pid) for _ in range(5)]
                print(f"live stream {label}, median of 5: in memory {medians(in_memory)}")
                print(f"  ... in Redis: {medians(in_redis)}")
                print(f"  ... in Redis with a follower on a second worker: {medians(followed)} (both workers)")
    finally:
        redis.stop()


def user(text: str) -> dict[str, Any]:
    return {"id": "u", "role": "user", "parts": [{"type": "text", "text": text}]}


async def bench_request_overhead(client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    """Short answers: the fixed cost per chat request (resolution, client creation, saving)."""
    cpu_samples, wall_samples = [], []
    for index in range(30):
        upstream.enqueue(Reply.from_case("anthropic", "text_basic"))
        cpu, wall = time.process_time(), time.perf_counter()
        response = await client.post(
            f"/api/ai/chat/short-{index}",
            json={"messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]},
        )
        await response.read()
        cpu_samples.append(time.process_time() - cpu)
        wall_samples.append(time.perf_counter() - wall)
    print(f"short answer (12 tokens) per request: wall {timed(wall_samples[5:])}; CPU {timed(cpu_samples[5:])}")


CHECKOUT = Path(__file__).resolve().parents[2]
PEERS_HINT = f"""
Side by side with the peers (the SDK floor, the AI SDK on Node), in one run on this machine:
  cp -r {CHECKOUT.parent / "shared" / "bench"} /tmp/bench && cd /tmp/bench && ./setup.sh
  PROJECT_DIR={CHECKOUT} TARGETS="direct floor-raw floor-sdk-aio aisdk-node project" REPEAT=2 ./run_peers.sh
Time to first token of this checkout against another, paired on one core (beats the machine's noise):
  python -m tests.bench.ttft_pair <baseline checkout> {CHECKOUT}
(docs/benchmarks.md has the last report and how to read it)"""


async def main(only_stream: bool) -> None:
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        if not only_stream:
            await bench_store(directory)
        async with FakeUpstream() as upstream:
            presets = directory / "presets"
            write_queue_default_preset(presets, upstream.url)
            app = create_app(make_settings(directory, presets))
            async with TestClient(TestServer(app)) as client:
                if not only_stream:
                    await bench_http(client)
                await bench_stream(client, upstream, 5000)
                await bench_paced_stream(client, upstream)
                await bench_provider(upstream, 20000)
                await bench_request_overhead(client, upstream)
            if not only_stream:
                await bench_redis_stream(directory, presets, upstream)
        from tests.bench.paced import bench_paced  # here: paced.py imports this module's helpers

        await bench_paced(directory)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the benchmark process: {peak:.0f} MiB")
    print(PEERS_HINT)


if __name__ == "__main__":
    asyncio.run(main(only_stream=sys.argv[1:] == ["stream"]))
