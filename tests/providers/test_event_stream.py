"""The SSE parser of provider bodies (backend/providers/event_stream.py), judged by the SDK's own
decoder (the anthropic SDK's ``SSEDecoder``, a copy of ``httpx-sse``) on every recorded body, cut
into chunks at arbitrary places, with LF, CRLF and CR line ends."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from anthropic._streaming import SSEDecoder

from backend.providers.event_stream import EventStreamParser, ServerSentEvent
from tests.upstream import FIXTURES

BODIES = sorted(FIXTURES.glob("*/*.sse"))
EDGE_CASES = [
    b": a comment\n\nevent: a\ndata: 1\n\n",
    b"data: one\ndata:  two\ndata:three\n\n",  # joined with LF; only one space after the colon goes
    b"event: a\nid: 7\nretry: 10\nunknown: x\ndata: 1\n\n\n\n\nevent: b\ndata: 2\n\n",
    b"event:\ndata: no name\n\nevent: ping\n\n",
    b"event: cut\ndata: the body ends inside this event",
    b"event: a\ndata: 1\n\r",  # LF then CR: a blank line, at the very end
    b'event: a\r\ndata: {"x": "\xc3\xa9"}\r\n\r\n',
]


def _reference(chunks: list[bytes]) -> list[ServerSentEvent]:
    events = [((sse.event or "").encode(), sse.data.encode()) for sse in SSEDecoder().iter_bytes(iter(chunks))]
    return [event for event in events if event != (b"", b"")]


def _ours(chunks: list[bytes]) -> list[ServerSentEvent]:
    parser = EventStreamParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)] + parser.finish()
    # A block of comments alone comes out as (b"", b""), which the SDK decoder drops and every
    # consumer skips (no event name).
    return [event for event in events if event != (b"", b"")]


def _line_ends(body: bytes) -> list[bytes]:
    return [body, body.replace(b"\n", b"\r\n"), body.replace(b"\n", b"\r")]


def _random_chunks(body: bytes, generator: random.Random) -> list[bytes]:
    cuts = sorted(generator.sample(range(1, len(body)), min(len(body) - 1, generator.randint(1, 40))))
    return [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True)]


@pytest.mark.parametrize("path", BODIES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_recorded_bodies_parse_as_the_sdk_decoder_does(path: Path) -> None:
    generator = random.Random(path.name)
    for body in _line_ends(path.read_bytes()):
        whole = _reference([body])
        assert whole and _ours([body]) == whole
        for _ in range(20):
            chunks = _random_chunks(body, generator)
            assert _ours(chunks) == whole


@pytest.mark.parametrize("body", EDGE_CASES)
def test_edge_cases_parse_as_the_sdk_decoder_does_at_every_cut(body: bytes) -> None:
    for variant in _line_ends(body):
        expected = _reference([variant])
        for cut in range(len(variant) + 1):
            assert _ours([variant[:cut], variant[cut:]]) == expected, (variant, cut)
        assert _ours([variant[index : index + 1] for index in range(len(variant))]) == expected


def test_the_parser_keeps_data_as_bytes_for_orjson() -> None:
    parser = EventStreamParser()
    assert parser.feed(b'event: content_block_delta\ndata: {"a":') == []
    assert parser.feed(b'1}\n\nevent: ping\ndata: {"type": "ping"}\n\n') == [
        (b"content_block_delta", b'{"a":1}'),
        (b"ping", b'{"type": "ping"}'),
    ]
    assert parser.finish() == []
