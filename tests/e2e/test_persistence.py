"""What survives a reload: a finished conversation, a stopped answer, an answer still streaming."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.harness import ANSWER_TIMEOUT_MS, Stack
from tests.e2e.ui import (
    HAIKU_END,
    TEXT_BASIC_END,
    TEXT_BASIC_HELD,
    THINKING_START,
    Pane,
    metadata_field,
    open_app,
    preset_select,
)


def test_reload_restores_the_conversation(page: Page) -> None:
    pane = open_app(page)["block-1"]
    pane.send("Say hi in Portuguese")
    pane.wait_answered(1, TEXT_BASIC_END)
    preset_select(page).select_option("anthropic-thinking")
    pane.send("Write a haiku about the sea")
    pane.wait_answered(2, HAIKU_END)

    page.reload()
    expect(page).to_have_url(re.compile(r"/\?preset=anthropic-thinking$"))
    expect(pane.status).to_have_text("ready")
    expect(pane.users).to_have_count(2)
    expect(pane.answers).to_have_count(2)
    expect(pane.users.nth(0)).to_contain_text("Say hi in Portuguese")
    expect(pane.users.nth(1)).to_contain_text("Write a haiku about the sea")
    first, second = pane.answer(0), pane.answer(1)
    expect(first.locator("[data-part=text]")).to_contain_text(TEXT_BASIC_END)
    expect(second.locator("[data-part=text]")).to_contain_text(HAIKU_END)
    expect(second.locator("[data-part=reasoning]")).to_contain_text(THINKING_START)
    expect(second.locator("[data-part=reasoning]")).to_have_js_property("open", False)
    # Messages alternate user / assistant in the saved order.
    roles = pane.root.locator("[data-role]").evaluate_all("nodes => nodes.map(node => node.dataset.role)")
    assert roles == ["user", "assistant", "user", "assistant"]
    expect(metadata_field(first, "preset")).to_have_text("preset default")
    expect(metadata_field(second, "preset")).to_have_text("preset anthropic-thinking")
    expect(metadata_field(second, "usage")).to_have_text("in 42 · out 96 (reasoning 61) · total 138")


def test_stop_mid_stream_keeps_the_partial_answer(page: Page, stack: Stack) -> None:
    # The upstream holds after 7 events: the answer is partial for as long as the test needs.
    stack.hold("anthropic", "text_basic", after_events=7)
    pane = open_app(page)["block-1"]
    pane.send("Say hi in Portuguese")
    text = pane.answer().locator("[data-part=text]")
    expect(text).to_have_text(TEXT_BASIC_HELD)
    expect(pane.status).to_have_text("streaming")

    # Stop also tells the server, which otherwise keeps generating for a later resume.
    with page.expect_response(lambda response: response.url.endswith("/api/ai/chat/block-1/stop")) as stopped:
        pane.stop_button.click()
    assert stopped.value.request.method == "POST"
    assert stopped.value.ok, stopped.value.status
    expect(pane.status).to_have_text("ready")
    expect(pane.send_button).to_be_visible()
    expect(pane.answers).to_have_count(1)
    expect(text).to_have_text(TEXT_BASIC_HELD)
    expect(page.get_by_role("alert")).to_have_count(0)

    page.reload()
    expect(pane.status).to_have_text("ready")
    expect(pane.users).to_have_count(1)
    expect(pane.answers).to_have_count(1)
    expect(text).to_have_text(TEXT_BASIC_HELD)


def test_reload_while_streaming_resumes_the_answer_to_its_end(page: Page, stack: Stack) -> None:
    held = stack.hold("anthropic", "text_basic", after_events=7)
    pane = open_app(page)["block-1"]
    pane.send("Say hi in Portuguese")
    expect(pane.answer().locator("[data-part=text]")).to_have_text(TEXT_BASIC_HELD)

    # The reload drops the page's stream; the server goes on generating, and the new page
    # reconnects (GET /api/ai/chat/block-1/block-1/stream) and replays what it missed.
    with page.expect_response(re.compile(r"/api/ai/chat/block-1/block-1/stream")) as resumed:
        page.reload()
    assert resumed.value.status == 200
    pane = Pane(page)
    text = pane.answer().locator("[data-part=text]")
    expect(text).to_have_text(TEXT_BASIC_HELD)
    expect(pane.status).to_have_text("streaming")
    expect(pane.users).to_have_count(1)

    held.release()
    pane.wait_answered(1, TEXT_BASIC_END)
    expect(pane.users).to_have_count(1)
    # innerText: the paragraphs are separate blocks (textContent has no whitespace between them).
    expect(text).to_have_text(
        re.compile("^" + re.escape(TEXT_BASIC_HELD) + r"\s+You could also say"), use_inner_text=True
    )
    expect(metadata_field(pane.answer(), "usage")).to_have_text("in 16 · out 38 · total 54")
    assert len(stack.reset_upstream()) == 1  # continued, not asked again

    page.reload()  # saved once, complete
    expect(pane.answers).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(pane.users).to_have_count(1)
    expect(text).to_contain_text(TEXT_BASIC_END)
