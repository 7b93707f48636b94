"""One renderer for what the app says about an answer: who answered and a fallback, an approval
with its input formatted, a "not saved" warning, and a retried step replacing partial text.

The backend does not send a fallback, a "not saved" error or a ``reset-step`` yet, so these tests
answer the chat request in the browser (``page.route``) with a UI message stream written here, in
the exact v7 wire format. Everything else on the page (presets, conversation, stop) is the real app.
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page, Route, expect

from tests.e2e.harness import ANSWER_TIMEOUT_MS
from tests.e2e.ui import metadata_field, open_app

STREAM_HEADERS = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "x-vercel-ai-ui-message-stream": "v1",
}


def answer_with(page: Page, chunks: list[dict[str, Any]]) -> None:
    """Answer the next chat POST of block-1 with ``chunks`` as an SSE UI message stream."""
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"

    def fulfil(route: Route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        route.fulfill(status=200, headers=STREAM_HEADERS, body=body)

    page.route("**/api/ai/chat/block-1?*", fulfil)
    page.route("**/api/ai/chat/block-1", fulfil)


def text_chunks(text: str, text_id: str = "t1") -> list[dict[str, Any]]:
    return [
        {"type": "text-start", "id": text_id},
        {"type": "text-delta", "id": text_id, "delta": text},
        {"type": "text-end", "id": text_id},
    ]


METADATA = {
    "preset": "fast",
    "provider": "anthropic",
    "model": "claude-haiku-5",
    "resolvedFrom": {"preset": "url"},
    "usage": {"inputTokens": 10, "outputTokens": 4, "totalTokens": 14},
}


def test_a_fallback_is_shown_with_the_preset_and_model_that_answered(page: Page) -> None:
    fallback = {"from": {"preset": "deep", "provider": "openai", "model": "gpt-6"}, "reason": "overloaded"}
    answer_with(
        page,
        [
            {"type": "start", "messageId": "m-fallback", "messageMetadata": {**METADATA, "fallback": fallback}},
            {"type": "start-step"},
            *text_chunks("Answered by the **fallback** model."),
            {"type": "finish-step"},
            {"type": "finish", "finishReason": "stop"},
        ],
    )
    pane = open_app(page)["block-1"]
    pane.send("hello")
    answer = pane.wait_answered(1, "model.")
    expect(metadata_field(answer, "preset")).to_have_text("preset fast")
    expect(metadata_field(answer, "model")).to_have_text("anthropic/claude-haiku-5")
    expect(metadata_field(answer, "fallback")).to_have_text("fallback from deep openai/gpt-6 (overloaded)")
    expect(metadata_field(answer, "fallback")).to_have_attribute("class", "notice-field notice-warning")
    expect(metadata_field(answer, "usage")).to_have_text("in 10 · out 4 · total 14")
    expect(answer.locator("[data-part=text] strong")).to_have_text("fallback")


def test_an_answer_that_was_not_saved_says_so_and_offers_retry(page: Page) -> None:
    answer_with(
        page,
        [
            {"type": "start", "messageId": "m-unsaved", "messageMetadata": METADATA},
            {"type": "start-step"},
            *text_chunks("Here is the answer."),
            {"type": "finish-step"},
            {"type": "error", "errorText": "The answer was not saved: the database is locked. Copy it now."},
        ],
    )
    pane = open_app(page)["block-1"]
    pane.send("hello")
    warning = pane.root.locator("[data-notice=not-saved]")
    expect(warning).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(warning).to_have_attribute("role", "alert")
    expect(warning.locator(".notice-title")).to_have_text("Not saved")
    expect(warning).to_contain_text("the database is locked")
    expect(warning.get_by_role("button", name="Retry", exact=True)).to_be_visible()
    expect(pane.answer().locator("[data-part=text]")).to_have_text("Here is the answer.")  # still readable
    expect(pane.status).to_have_text("error")


def test_a_retried_step_replaces_the_partial_text(page: Page) -> None:
    answer_with(
        page,
        [
            {"type": "start", "messageId": "m-retry", "messageMetadata": METADATA},
            {"type": "start-step"},
            *text_chunks("A partial draft that the upstream cut off", "t1"),
            {"type": "reset-step"},
            {"type": "start-step"},
            *text_chunks("The retried, complete answer.", "t2"),
            {"type": "finish-step"},
            {"type": "finish", "finishReason": "stop"},
        ],
    )
    pane = open_app(page)["block-1"]
    pane.send("hello")
    answer = pane.wait_answered(1, "complete answer.")
    expect(answer.locator("[data-part=text]")).to_have_count(1)
    expect(answer).not_to_contain_text("partial draft")
    # The no-shrink latch is released once the answer has ended.
    assert answer.evaluate("element => element.style.minHeight") == ""
