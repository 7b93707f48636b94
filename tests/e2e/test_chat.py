"""Answers render as they stream: text with its metadata, reasoning, a tool call; presets by URL."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.harness import ANSWER_TIMEOUT_MS, Stack
from tests.e2e.ui import (
    HAIKU_END,
    TEXT_BASIC_END,
    THINKING_START,
    open_app,
    metadata_field,
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
    assert stack.reset_upstream() == ["/anthropic/text_basic/v1/messages"]  # the preset named "default"


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


def test_a_client_tool_call_shows_its_input_and_no_result(page: Page) -> None:
    # thinking_tool_use calls `weather`, a tool the server does not own and this page does not run:
    # the call stays input-available, and once the answer ends it says so instead of "running".
    pane = open_app(page, "/?preset=anthropic-tools")["block-1"]
    pane.send("What's the weather in Florence?")
    expect(pane.answers).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    answer = pane.answer()
    tool = answer.locator("[data-part=tool]")
    expect(tool).to_have_attribute("data-state", "input-available", timeout=ANSWER_TIMEOUT_MS)
    expect(pane.status).to_have_text("ready", timeout=ANSWER_TIMEOUT_MS)
    expect(tool).to_have_count(1)
    expect(tool).to_have_attribute("data-tool-name", "weather")
    expect(tool).to_have_attribute("data-tool-call-id", "toolu_01Js4AMfx5qpTLhwTusnvT68")
    expect(tool.locator(".tool-name")).to_have_text("weather")
    expect(tool.locator(".tool-state")).to_have_text("no result")
    expect(tool.get_by_role("button", name=re.compile("^(Approve|Deny) "))).to_have_count(0)

    tool.locator("summary", has_text="input").click()
    expect(tool.locator("pre")).to_be_visible()
    expect(tool.locator("pre")).to_contain_text('"location": "Florence, Italy"')
    expect(answer.locator("[data-part=reasoning]")).to_contain_text("weather information for Florence")
    expect(metadata_field(answer, "preset")).to_have_text("preset anthropic-tools")
    expect(metadata_field(answer, "usage")).to_contain_text("in 424")


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
    requests = stack.reset_upstream()
    assert requests == ["/anthropic/text_basic/v1/messages", "/anthropic/thinking_text/v1/messages"]
