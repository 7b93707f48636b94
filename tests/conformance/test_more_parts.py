"""Issue 14 item 7, judged by the real ``ai`` client of each major: ``source-document`` for
Anthropic document and search-result citations, ``file`` for a Gemini image the model generated,
and Gemini grounding metadata as ``source-url``. The provider wire is composed here in the shapes
of the recorded fixtures (tests/fixtures/<provider>/), served by the fake upstream, read by the
real SDKs."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.conformance.harness import (
    PROFILES,
    LiveServer,
    NodeClient,
    assert_saved_like_client,
    assert_well_formed_streams,
    only_assistant,
    parts_of,
    preset_name,
    run_client,
    text_of,
)
from tests.upstream import Reply

ANTHROPIC = PROFILES["anthropic"]
GOOGLE = PROFILES["google"]
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def anthropic_event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def anthropic_cited_answer() -> bytes:
    """A text block citing a document twice (one source) and a search result (another source)."""
    usage = {"input_tokens": 40, "output_tokens": 1}
    char = {
        "type": "char_location",
        "cited_text": "The grass is green.",
        "document_index": 0,
        "document_title": "Garden notes",
        "start_char_index": 0,
        "end_char_index": 19,
    }
    search = {
        "type": "search_result_location",
        "cited_text": "Skies are blue.",
        "source": "https://kb.example/sky",
        "title": "Sky facts",
        "search_result_index": 0,
        "start_block_index": 0,
        "end_block_index": 0,
    }
    events = [
        anthropic_event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_cited",
                    "type": "message",
                    "role": "assistant",
                    "model": ANTHROPIC.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage,
                },
            },
        ),
        anthropic_event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "", "citations": []}},
        ),
        *(
            anthropic_event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": citation}},
            )
            for citation in (char, char, search)
        ),
        anthropic_event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Green and blue."}},
        ),
        anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        anthropic_event(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": usage},
        ),
        anthropic_event("message_stop", {"type": "message_stop"}),
    ]
    return "".join(events).encode()


def gemini_image_answer() -> bytes:
    """Text, a generated PNG (``inlineData``), more text, and grounding chunks (one URL twice)."""
    chunks = [
        {"candidates": [{"content": {"parts": [{"text": "Here is a pixel."}], "role": "model"}, "index": 0}]},
        {
            "candidates": [
                {
                    "content": {
                        "parts": [{"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PIXEL).decode()}}],
                        "role": "model",
                    },
                    "index": 0,
                }
            ]
        },
        {
            "candidates": [
                {
                    "content": {"parts": [{"text": " Grounded."}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                    "groundingMetadata": {
                        "groundingChunks": [
                            {"web": {"uri": "https://pixels.example/a", "title": "Pixels"}},
                            {"web": {"uri": "https://pixels.example/a", "title": "Pixels"}},
                            {"web": {"uri": "https://png.example/spec", "title": "PNG"}},
                        ]
                    },
                }
            ],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 5, "totalTokenCount": 14},
        },
    ]
    return "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks).encode()


def test_anthropic_citations_become_source_documents(node: NodeClient, server: LiveServer) -> None:
    server.enqueue(Reply.sse(anthropic_cited_answer()))
    result = run_client(node, server, "text", blockId="block-cited", preset=preset_name(ANTHROPIC, ANTHROPIC.text))
    assert result["status"] == "ready" and result["error"] is None
    assert_well_formed_streams(result)
    assistant = only_assistant(result)
    documents = parts_of(assistant, "source-document")
    assert [(part["title"], part["mediaType"]) for part in documents] == [
        ("Garden notes", "text/plain"),
        ("Sky facts", "text/plain"),
    ]
    assert len({part["sourceId"] for part in documents}) == 2
    assert documents[0]["providerMetadata"]["anthropic"]["citedText"] == "The grass is green."
    assert documents[1]["providerMetadata"]["anthropic"]["source"] == "https://kb.example/sky"
    assert text_of(assistant) == "Green and blue."
    assert_saved_like_client(server, "block-cited", result)


def test_gemini_image_output_and_grounding(node: NodeClient, server: LiveServer) -> None:
    server.enqueue(Reply.sse(gemini_image_answer()))
    result = run_client(node, server, "text", blockId="block-image", preset=preset_name(GOOGLE, GOOGLE.text))
    assert result["status"] == "ready" and result["error"] is None
    assert_well_formed_streams(result)
    assistant = only_assistant(result)
    kinds = [part["type"] for part in assistant["parts"]]
    assert kinds == ["step-start", "text", "file", "text", "source-url", "source-url"], kinds
    (image,) = parts_of(assistant, "file")
    assert image["mediaType"] == "image/png"
    assert image["url"] == "data:image/png;base64," + base64.b64encode(PIXEL).decode()
    assert [(part["url"], part.get("title")) for part in parts_of(assistant, "source-url")] == [
        ("https://pixels.example/a", "Pixels"),
        ("https://png.example/spec", "PNG"),
    ]
    assert text_of(assistant) == "Here is a pixel. Grounded."
    assert_saved_like_client(server, "block-image", result)
