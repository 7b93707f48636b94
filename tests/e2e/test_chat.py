"""Answers render as they stream (text with its metadata, reasoning); the preset follows the URL."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.harness import Stack
from tests.e2e.ui import (
    HAIKU_END,
    TEXT_BASIC_END,
    THINKING_START,
    metadata_field,
    open_app,
    preset_select,
)


def test_text_streams_in_and_the_answer_shows_preset_model_and_usage(page: Page, stack: Stack) -> None:
    # The upstream stops after "Olá! (That": what is on the page then can only have been streamed.
    held = stack.hold("anthropic", "text_basic", after_events=5)
    pane = open_app(page)["block-1"]
    expect(pane.effective_preset).to_have_text("server default")

    pane.send("Say hi in Portuguese")
    answer = pane.answer()
    expect(answer.locator("[data-part=text]")).to_have_text("Olá! (That")
    expect(pane.status).to_have_text("streaming")
    expect(pane.stop_button).to_be_visible()

    held.release()
    pane.wait_answered(1, TEXT_BASIC_END)
    expect(answer.locator("[data-part=text]")).to_have_text(re.compile(r"^Olá! \(That's \"hi\" in Portuguese\)"))
    expect(metadata_field(answer, "preset")).to_have_text("preset default")
    expect(metadata_field(answer, "model")).to_have_text("anthropic/claude-sonnet-5-5")
    expect(metadata_field(answer, "usage")).to_have_text("in 16 · out 38 · total 54")
    expect(pane.send_button).to_be_visible()
    assert [request.path for request in stack.reset_upstream()] == [
        "/anthropic/text_basic/v1/messages"
    ]  # the preset named "default"


def test_reasoning_is_open_while_it_streams_then_collapses_and_can_be_toggled(page: Page, stack: Stack) -> None:
    # Held after two thinking deltas: the reasoning part is still streaming.
    held = stack.hold("anthropic", "thinking_text", after_events=5)
    pane = open_app(page, "/?preset=anthropic-thinking")["block-1"]
    pane.send("Write a haiku about the sea")
    reasoning = pane.answer().locator("[data-part=reasoning]")
    expect(reasoning).to_contain_text(THINKING_START)
    expect(reasoning).to_have_js_property("open", True)
    expect(reasoning.locator("summary")).to_have_text("Reasoning…")

    held.release()
    pane.wait_answered(1, HAIKU_END)
    expect(reasoning).to_have_js_property("open", False)
    expect(reasoning.locator("summary")).to_have_text("Reasoning")
    text = reasoning.locator(".reasoning-text")
    expect(text).to_be_hidden()
    expect(text).to_contain_text("Let me draft")  # collapsed, still in the DOM

    reasoning.locator("summary").click()
    expect(reasoning).to_have_js_property("open", True)
    expect(text).to_be_visible()
    expect(text).to_have_text(re.compile(r"^The user wants a haiku .* Let me draft: waves fold into foam / \.\.\.$"))
    reasoning.locator("summary").click()
    expect(text).to_be_hidden()
    expect(metadata_field(pane.answer(), "preset")).to_have_text("preset anthropic-thinking")


def test_preset_switch_goes_into_the_url_and_back_and_forward_follow_it(page: Page, stack: Stack) -> None:
    pane = open_app(page)["block-1"]
    select = preset_select(page)
    expect(select).to_have_value("")
    pane.send("Say hi in Portuguese")
    first = pane.wait_answered(1, TEXT_BASIC_END)
    expect(metadata_field(first, "preset")).to_have_text("preset default")

    select.select_option("anthropic-thinking")
    expect(page).to_have_url(re.compile(r"/\?preset=anthropic-thinking$"))
    expect(pane.effective_preset).to_have_text("URL preset anthropic-thinking")

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"preset="))
    expect(select).to_have_value("")
    expect(pane.effective_preset).to_have_text("server default")
    page.go_forward()
    expect(page).to_have_url(re.compile(r"/\?preset=anthropic-thinking$"))
    expect(select).to_have_value("anthropic-thinking")
    expect(pane.effective_preset).to_have_text("URL preset anthropic-thinking")

    # Same pane, same Chat (no remount, no reload): the first answer is still there.
    pane.send("Write a haiku about the sea")
    second = pane.wait_answered(2, HAIKU_END)
    expect(metadata_field(second, "preset")).to_have_text("preset anthropic-thinking")
    expect(metadata_field(second, "resolved-from")).to_have_text("from url")
    expect(metadata_field(first, "preset")).to_have_text("preset default")
    requests = [request.path for request in stack.reset_upstream()]
    assert requests == ["/anthropic/text_basic/v1/messages", "/anthropic/thinking_text/v1/messages"]
