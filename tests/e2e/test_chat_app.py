"""What chat users expect: auto-scroll that pauses when reading up with "jump to latest", times on
hover, a narrow (phone) screen with one block per screen, and the light theme."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.answers import MARKDOWN_ANSWER, anthropic_text_answer
from tests.e2e.harness import Stack
from tests.e2e.ui import TEXT_BASIC_END, Pane, open_app, preset_select

Screenshot = Callable[[Page, str], Path]

AT_BOTTOM = """() => {
  const list = document.querySelector('.message-list');
  return list.scrollHeight - list.scrollTop - list.clientHeight < 2;
}"""


def seed_conversation(page: Page, count: int, block_id: str = "block-1") -> None:
    """Save ``count`` messages (user/assistant pairs, answers with code and a table) through the API."""
    messages: list[dict[str, Any]] = []
    for index in range(count):
        if index % 2 == 0:
            messages.append(
                {"id": f"u{index}", "role": "user", "parts": [{"type": "text", "text": f"Question {index}"}]}
            )
        else:
            text = f"Answer {index}:\n\n| key | value |\n|---|---|\n| n | {index} |\n\n```python\nprint({index})\n```\n"
            messages.append({"id": f"a{index}", "role": "assistant", "parts": [{"type": "text", "text": text}]})
    response = page.request.post(f"/api/ai/conversations/{block_id}", data={"messages": messages})
    assert response.ok, response.text()


def test_scrolling_up_pauses_auto_scroll_and_jump_to_latest_returns(page: Page, stack: Stack) -> None:
    page.goto("/")  # the API needs the origin only
    seed_conversation(page, 30)
    pane = open_app(page)["block-1"]
    expect(pane.answers).to_have_count(15)
    page.wait_for_function(AT_BOTTOM)

    answer = anthropic_text_answer(MARKDOWN_ANSWER)
    held = stack.hold_body(answer.body, answer.events_through("Here are"))
    pane.send("Show me the pods")
    expect(pane.answers).to_have_count(16)
    page.wait_for_function(AT_BOTTOM)  # following: the new answer is in view
    jump = pane.root.get_by_role("button", name="jump to latest")
    expect(jump).to_have_count(0)

    pane.root.locator(".message-list").evaluate("list => { list.scrollTop = 0; }")
    held.release()
    pane.wait_answered(16, "Docs:")
    expect(jump).to_be_visible()  # new content arrived below while reading up
    assert pane.root.locator(".message-list").evaluate("list => list.scrollTop") == 0  # not pulled down
    jump.click()
    expect(jump).to_have_count(0)
    # Back at the bottom, and following: late layout (highlighting lands after the text) keeps it there.
    page.wait_for_function(AT_BOTTOM)  # fails the test if it never gets there


def test_times_show_on_hover_and_survive_a_reload(page: Page) -> None:
    pane = open_app(page)["block-1"]
    pane.send("Say hi in Portuguese")
    pane.wait_answered(1, TEXT_BASIC_END)
    time = pane.users.last.locator("time")
    expect(time).to_be_hidden()
    pane.users.last.hover()
    expect(time).to_be_visible()
    expect(time).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(pane.answer().locator("time")).to_be_attached()  # seen arriving on this page
    page.reload()
    expect(pane.users.last.locator("time")).to_be_attached()  # the user message carries createdAt


def test_a_narrow_screen_shows_one_block_and_keeps_the_preset_picker(page: Page, screenshot: Screenshot) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    panes = open_app(page)
    page.get_by_role("button", name="Add block", exact=True).click()
    second = Pane(page, "block-2")
    expect(second.status).to_have_text("ready")
    first = panes["block-1"]
    # The new block has the caret, so it is the one on screen; the first is a swipe away.
    second_box = second.root.bounding_box()
    assert second_box and abs(second_box["x"]) < 2 and abs(second_box["width"] - 390) < 2, second_box
    box = first.root.bounding_box()
    assert box and box["x"] <= -388, box
    first.input.scroll_into_view_if_needed()
    box = first.root.bounding_box()
    assert box and abs(box["x"]) < 2 and abs(box["width"] - 390) < 2, box  # one block fills the screen
    select = preset_select(page)
    expect(select).to_be_in_viewport()
    select.select_option("anthropic-text")
    first.send("Say hi in Portuguese")
    first.wait_answered(1, TEXT_BASIC_END)
    expect(first.send_button).to_be_in_viewport()
    screenshot(page, "narrow")


def test_the_light_theme_follows_the_system_setting(page: Page, stack: Stack, screenshot: Screenshot) -> None:
    page.emulate_media(color_scheme="light")
    answer = anthropic_text_answer(MARKDOWN_ANSWER)
    stack.hold_body(answer.body)
    pane = open_app(page)["block-1"]
    background = "() => getComputedStyle(document.body).backgroundColor"
    assert page.evaluate(background) == "rgb(247, 247, 242)"
    pane.send("Show me the pods")
    pane.wait_answered(1, "Docs:")
    expect(pane.answer().locator(".katex")).to_be_visible()
    expect(pane.answer().locator("span[style*='--shiki-dark:']").first).to_be_attached()
    screenshot(page, "light")
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(background) == "rgb(11, 14, 13)"
