"""Tool calls in the page: a client tool nobody runs, a provider's search, a server tool, approve / deny."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.e2e.harness import ANSWER_TIMEOUT_MS, Stack
from tests.e2e.ui import CURRENT_TIME_FOLLOWUP, Pane, metadata_field, open_app

CALL_PATH = "/anthropic/composed_current_time_call/v1/messages"
CALL_ID = "toolu_01E2eCurrentTimeCall0001"


def tool_result(anthropic_request: dict[str, Any]) -> dict[str, Any]:
    """The tool_result block the server sent the model for the current_time call."""
    blocks = [block for message in anthropic_request["messages"] for block in message["content"]]
    result: dict[str, Any] = next(block for block in blocks if block.get("type") == "tool_result")
    assert result["tool_use_id"] == CALL_ID
    return result


def current_time_tool(pane: Pane) -> Locator:
    return pane.root.locator("[data-part=tool][data-tool-name=current_time]")


def test_a_client_tool_call_shows_its_input_and_no_result(page: Page) -> None:
    # thinking_tool_use calls `weather`: not a server tool, so the browser's to run (docs/tools.md,
    # "Not a server tool → a client tool"). This page runs no client tools, so the call stays
    # input-available, and once the answer has ended it says "no result" instead of "running".
    pane = open_app(page, "/?preset=anthropic-tools")["block-1"]
    pane.send("What's the weather in Florence?")
    expect(pane.answers).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    answer = pane.answer()
    tool = answer.locator("[data-part=tool]")
    expect(tool).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(pane.status).to_have_text("ready", timeout=ANSWER_TIMEOUT_MS)
    expect(tool).to_have_attribute("data-tool-name", "weather")
    expect(tool).to_have_attribute("data-tool-call-id", "toolu_01Js4AMfx5qpTLhwTusnvT68")
    expect(answer.locator("[data-part=reasoning]")).to_contain_text("weather information for Florence")
    expect(tool).to_have_attribute("data-state", "input-available")
    expect(tool.locator(".tool-state")).to_have_text("no result")
    expect(tool.get_by_role("button", name=re.compile("^(Approve|Deny) "))).to_have_count(0)
    tool.locator("summary", has_text="input").click()
    expect(tool.locator("pre")).to_contain_text('"location": "Florence, Italy"')
    expect(metadata_field(answer, "preset")).to_have_text("preset anthropic-tools")
    expect(metadata_field(answer, "usage")).to_contain_text("in 424")


def test_a_server_tool_runs_and_the_answer_goes_on(page: Page, stack: Stack) -> None:
    pane = open_app(page, "/?preset=e2e-server-tool")["block-1"]
    pane.send("What time is it in Paris?")
    answer = pane.wait_answered(1, CURRENT_TIME_FOLLOWUP)
    tool = current_time_tool(pane)
    expect(tool).to_have_attribute("data-state", "output-available")
    expect(tool.locator(".tool-state")).to_have_text("done")
    output = tool.locator("details", has_text="output").locator("pre")
    expect(output).to_be_visible()  # the output is shown open
    expect(output).to_contain_text('"timezone": "Europe/Paris"')
    expect(output).to_contain_text('"iso": "')
    expect(answer.locator("[data-part=text]").first).to_have_text("Let me check the clock for you.")
    requests = stack.reset_upstream()
    assert [request.path for request in requests] == [CALL_PATH, CALL_PATH]
    assert b'"tool_result"' in requests[1].body


def test_a_provider_executed_search_shows_its_results_and_the_cited_sources(page: Page) -> None:
    pane = open_app(page, "/?preset=e2e-web-search")["block-1"]
    pane.send("When was Claude Shannon born?")
    answer = pane.wait_answered(1, "which he founded in 1948.")
    tool = answer.locator("[data-part=tool]")
    expect(tool).to_have_count(1)
    expect(tool).to_have_attribute("data-tool-name", "web_search")
    expect(tool).to_have_attribute("data-state", "output-available")
    expect(tool.locator(".tool-header")).to_contain_text("(provider)")
    expect(tool).to_contain_text("Claude Shannon birth date")  # the search input
    sources = answer.locator("[data-part=source] a")
    expect(sources).to_have_count(2)  # one per distinct URL
    expect(sources.nth(0)).to_have_attribute("href", "https://en.wikipedia.org/wiki/Claude_Shannon")
    expect(sources.nth(0)).to_have_text("Claude Shannon - Wikipedia")
    expect(sources.nth(1)).to_have_attribute("href", "https://www.britannica.com/biography/Claude-Shannon")
    expect(sources.nth(1)).to_have_attribute("rel", "noreferrer noopener")


def ask_for_the_time(page: Page) -> tuple[Pane, Locator]:
    """Send with the approval preset and wait for the approval request."""
    pane = open_app(page, "/?preset=e2e-approval")["block-1"]
    pane.send("What time is it in Paris?")
    tool = current_time_tool(pane)
    expect(tool).to_have_attribute("data-state", "approval-requested", timeout=ANSWER_TIMEOUT_MS)
    expect(pane.status).to_have_text("ready", timeout=ANSWER_TIMEOUT_MS)
    expect(tool.locator(".tool-state")).to_have_text("needs approval")
    expect(tool.locator("pre")).to_contain_text('"timezone": "Europe/Paris"')  # open: the user decides on it
    # The approval notice shows the input as formatted, highlighted JSON.
    approval = tool.get_by_role("group", name="Approval for current_time")
    expect(approval.locator(".notice-title")).to_have_text("current_time needs your approval")
    code = approval.locator("[data-streamdown=code-block][data-language=json] pre code")
    expect(code).to_contain_text('{\n  "timezone": "Europe/Paris"')
    expect(code.locator("span[style*='--shiki-dark:']").first).to_be_attached()
    expect(pane.answer().locator("[data-part=text]")).to_have_text("Let me check the clock for you.")
    return pane, tool


def answer_approval(page: Page, tool: Locator, button: str) -> dict[str, Any]:
    """Click Approve/Deny; returns the body of the follow-up request the page sends by itself."""
    with page.expect_request(
        lambda request: request.method == "POST" and "/api/ai/chat/block-1" in request.url
    ) as sent:
        tool.get_by_role("button", name=f"{button} current_time", exact=True).click()
    body = sent.value.post_data_json
    assert isinstance(body, dict)
    last = body["messages"][-1]
    assert last["role"] == "assistant"
    part = next(part for part in last["parts"] if part.get("toolCallId") == CALL_ID)
    assert part["state"] == "approval-responded"
    assert part["approval"]["approved"] is (button == "Approve")
    return body


def test_approve_runs_the_tool_and_the_same_answer_continues(
    page: Page, stack: Stack, screenshot: Callable[[Page, str], Path]
) -> None:
    pane, tool = ask_for_the_time(page)
    screenshot(page, "approval-request")
    body = answer_approval(page, tool, "Approve")
    assert body["messageId"] == pane.answer().get_attribute("data-message-id")

    expect(tool).to_have_attribute("data-state", "output-available", timeout=ANSWER_TIMEOUT_MS)
    pane.wait_answered(1, CURRENT_TIME_FOLLOWUP)
    expect(tool.get_by_role("button")).to_have_count(0)
    expect(tool.locator("details", has_text="output").locator("pre")).to_contain_text('"timezone": "Europe/Paris"')
    requests = stack.reset_upstream()
    assert [request.path for request in requests] == [CALL_PATH, CALL_PATH]
    result = json.loads(tool_result(requests[1].json())["content"][0]["text"])  # what the server ran
    assert result["timezone"] == "Europe/Paris" and result["iso"].endswith(("+01:00", "+02:00"))

    page.reload()  # the continued answer was saved as one message
    expect(pane.answers).to_have_count(1)
    expect(tool).to_have_attribute("data-state", "output-available")
    expect(pane.answer()).to_contain_text(CURRENT_TIME_FOLLOWUP)


def test_deny_skips_the_tool_and_the_model_is_told(page: Page, stack: Stack) -> None:
    pane, tool = ask_for_the_time(page)
    answer_approval(page, tool, "Deny")

    expect(tool).to_have_attribute("data-state", "output-denied", timeout=ANSWER_TIMEOUT_MS)
    pane.wait_answered(1, CURRENT_TIME_FOLLOWUP)
    expect(tool.locator(".tool-state")).to_have_text("denied")
    expect(tool.locator(".tool-denied")).to_have_text(re.compile(r"^Denied"))
    expect(tool.locator("details", has_text="output")).to_have_count(0)
    requests = stack.reset_upstream()
    assert [request.path for request in requests] == [CALL_PATH, CALL_PATH]
    assert tool_result(requests[1].json())["content"][0]["text"] == "The user denied this tool call."

    page.reload()
    expect(pane.answers).to_have_count(1)
    expect(tool).to_have_attribute("data-state", "output-denied")
