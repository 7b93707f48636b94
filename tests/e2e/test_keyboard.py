"""A keyboard-only session: switch preset, add a block, send, approve, stop, close the block.
Only key presses move focus and act; every focused control must show a visible focus ring."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.e2e.harness import ANSWER_TIMEOUT_MS, Stack
from tests.e2e.ui import CURRENT_TIME_FOLLOWUP, Pane, open_app, preset_select

FOCUSED = "element => element === document.activeElement"


def tab_to(page: Page, target: Locator, limit: int = 60) -> None:
    """Press Tab until ``target`` has the focus, and check that the focus is visible."""
    for _ in range(limit):
        if target.evaluate(FOCUSED):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError(f"{target} was not reached with {limit} Tab presses")
    outline = target.evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline not in ("", "none"), f"no visible focus on {target}"


def test_a_whole_session_from_the_keyboard(page: Page, stack: Stack) -> None:
    open_app(page)
    select = preset_select(page)
    tab_to(page, select)
    page.keyboard.type("e2e-approval")  # type-ahead picks the option
    expect(select).to_have_value("e2e-approval")
    expect(page).to_have_url(re.compile(r"\?preset=e2e-approval$"))

    tab_to(page, page.get_by_role("button", name="Add block", exact=True))
    page.keyboard.press("Enter")
    pane = Pane(page, "block-2")
    expect(pane.input).to_be_focused()  # the new block has the caret
    page.keyboard.type("What time is it in Paris?")
    page.keyboard.press("Enter")
    tool = pane.root.locator("[data-part=tool][data-tool-name=current_time]")
    expect(tool).to_have_attribute("data-state", "approval-requested", timeout=ANSWER_TIMEOUT_MS)
    expect(pane.status).to_have_text("ready", timeout=ANSWER_TIMEOUT_MS)

    tab_to(page, tool.get_by_role("button", name="Approve current_time"))
    page.keyboard.press("Enter")
    expect(tool).to_have_attribute("data-state", "output-available", timeout=ANSWER_TIMEOUT_MS)
    pane.wait_answered(1, CURRENT_TIME_FOLLOWUP)

    # Stop with Esc while an answer streams.
    held = stack.hold("anthropic", "text_basic", after_events=5)
    tab_to(page, page.get_by_role("combobox", name="Pinned preset of block block-2"))
    page.keyboard.type("anthropic-text")
    expect(pane.effective_preset).to_have_text("URL preset e2e-approval overrides pinned anthropic-text")
    tab_to(page, pane.input)
    page.keyboard.type("Say hi in Portuguese")
    page.keyboard.press("Enter")
    expect(pane.answers).to_have_count(2)
    expect(pane.status).to_have_text("streaming")
    expect(pane.stop_button).to_be_visible()
    with page.expect_response(lambda response: response.url.endswith("/api/ai/chat/block-2/stop")) as stopped:
        page.keyboard.press("Escape")
    assert stopped.value.ok
    expect(pane.status).to_have_text("ready")
    held.release()

    # Copy and the message actions are reachable too; then close the block.
    tab_to(page, pane.answer().get_by_role("button", name="Regenerate answer"))
    tab_to(page, page.get_by_role("button", name="Close block block-2"))
    page.keyboard.press("Enter")
    expect(pane.root).to_have_count(0)
    expect(page.get_by_role("button", name="Add block", exact=True)).to_be_focused()
