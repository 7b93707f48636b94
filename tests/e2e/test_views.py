"""The main views, each checked and photographed: blocks side by side, presets, an error with Retry.

The pictures go to docs/screenshots/ when ``CHATWIRE_UPDATE_SCREENSHOTS=1`` (README.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.harness import ANSWER_TIMEOUT_MS
from tests.e2e.ui import (
    CURRENT_TIME_FOLLOWUP,
    HAIKU_END,
    TEXT_BASIC_END,
    Pane,
    metadata_field,
    open_app,
    preset_select,
)

Screenshot = Callable[[Page, str], Path]


def test_two_blocks_side_by_side_with_reasoning_tools_and_metadata(page: Page, screenshot: Screenshot) -> None:
    first = open_app(page, "/?preset=anthropic-thinking")["block-1"]
    first.send("Write a haiku about the sea")
    first.wait_answered(1, HAIKU_END)

    page.get_by_role("button", name="Add block", exact=True).click()
    second = Pane(page, "block-2")
    expect(second.status).to_have_text("ready")
    preset_select(page).select_option("e2e-server-tool")
    second.send("What time is it in Paris?")
    second.wait_answered(1, CURRENT_TIME_FOLLOWUP)
    expect(first.answers).to_have_count(1)  # the other block did not answer

    first.answer().locator("[data-part=reasoning] summary").click()
    expect(first.answer().locator(".reasoning-text")).to_be_visible()
    tool = second.answer().locator("[data-part=tool]")
    tool.locator("summary", has_text="input").click()
    expect(tool.locator("pre").first).to_be_visible()
    expect(metadata_field(first.answer(), "preset")).to_have_text("preset anthropic-thinking")
    expect(metadata_field(second.answer(), "preset")).to_have_text("preset e2e-server-tool")
    boxes = [pane.root.bounding_box() for pane in (first, second)]
    assert boxes[0] and boxes[1] and boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"]  # side by side
    screenshot(page, "blocks")


def test_url_preset_overrides_a_pinned_one(page: Page, screenshot: Screenshot) -> None:
    panes = open_app(page, "/", blocks=("block-1",))
    page.get_by_role("button", name="Add block", exact=True).click()
    first, second = panes["block-1"], Pane(page, "block-2")
    expect(second.status).to_have_text("ready")
    with page.expect_response(lambda response: response.url.endswith("/api/blocks/block-2/meta")) as pinned:
        second.root.get_by_role("combobox", name="Pinned preset of block block-2").select_option("anthropic-thinking")
    assert pinned.value.ok
    expect(second.effective_preset).to_have_text("pinned anthropic-thinking")
    expect(first.effective_preset).to_have_text("server default")
    second.send("Write a haiku about the sea")
    answer = second.wait_answered(1, HAIKU_END)
    expect(metadata_field(answer, "preset")).to_have_text("preset anthropic-thinking")
    expect(metadata_field(answer, "resolved-from")).to_have_text("from block")

    preset_select(page).select_option("anthropic-text")
    expect(second.effective_preset).to_have_text("URL preset anthropic-text overrides pinned anthropic-thinking")
    expect(first.effective_preset).to_have_text("URL preset anthropic-text")
    first.send("Say hi in Portuguese")
    expect(metadata_field(first.wait_answered(1, TEXT_BASIC_END), "preset")).to_have_text("preset anthropic-text")
    second.send("Say hi in Portuguese")
    answer = second.wait_answered(2, TEXT_BASIC_END)
    expect(metadata_field(answer, "preset")).to_have_text("preset anthropic-text")
    expect(metadata_field(answer, "resolved-from")).to_have_text("from url")
    preset_select(page).focus()
    screenshot(page, "preset-switcher")


def test_an_upstream_error_shows_retry_and_retry_answers(page: Page, screenshot: Screenshot) -> None:
    pane = open_app(page, "/?preset=anthropic-529")["block-1"]
    pane.send("Say hi in Portuguese")
    alert = pane.root.get_by_role("alert")
    expect(alert).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(alert).to_contain_text("overloaded")
    expect(pane.status).to_have_text("error")
    retry = alert.get_by_role("button", name="Retry", exact=True)
    expect(retry).to_be_visible()
    screenshot(page, "error-retry")

    preset_select(page).select_option("anthropic-text")  # the next attempt reaches a working model
    retry.click()
    pane.wait_answered(1, TEXT_BASIC_END)
    expect(alert).to_have_count(0)
    expect(pane.users).to_have_count(1)
    expect(metadata_field(pane.answer(), "preset")).to_have_text("preset anthropic-text")
