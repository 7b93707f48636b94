"""A third-party useChat UI in Chromium: a small page built on assistant-ui's published packages
(``@assistant-ui/react``, ``@assistant-ui/react-ai-sdk``: ``useChatRuntime`` +
``AssistantChatTransport``; tests/assistant_ui/), served by Chatwire as its frontend. Its request
body is assistant-ui's own ``{id, messages, trigger, messageId, metadata, tools, system,
callSettings, config}`` (docs/api.md#third-party-uis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.harness import VIEWPORT, ConsoleWatch, Stack
from tests.upstream import FIXTURES

PAGE_DIST = Path(__file__).parents[1] / "assistant_ui" / "dist"


def fixture_text(case: str) -> str:
    return str(json.loads((FIXTURES / "anthropic" / f"{case}.meta.json").read_text())["expect"]["text"])


@pytest.fixture
def assistant_ui(stack: Stack, browser: Browser, request: pytest.FixtureRequest) -> Iterator[tuple[Page, ConsoleWatch]]:
    if not (PAGE_DIST / "index.html").exists():
        pytest.fail(f"{PAGE_DIST} is not built: make test builds it (cd tests/assistant_ui && npm run build)")
    app = stack.start_app(request.node.name, frontend_dir=PAGE_DIST)
    context = browser.new_context(viewport=VIEWPORT, base_url=app.url)
    page = context.new_page()
    console = ConsoleWatch()
    console.attach(page)
    try:
        yield page, console
        assert not console.errors, "console errors or page errors:\n" + "\n".join(console.errors)
    finally:
        context.close()
        stack.stop_app(app)
        stack.reset_upstream()


def ask(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def test_assistant_ui_body_end_to_end(assistant_ui: tuple[Page, ConsoleWatch], stack: Stack) -> None:
    """The answer streams into assistant-ui's thread; the provider got the page's tool (from the
    map), temperature and max tokens, the preset's model and key, nothing of ``config``."""
    page, _ = assistant_ui
    page.goto("/?block=aui-text&preset=default")
    ask(page, "hi")
    expected = fixture_text("text_basic")
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_contain_text(expected.splitlines()[0])
    expect(page.get_by_test_id("idle")).to_be_visible()
    (sent,) = stack.reset_upstream()
    body = sent.json()
    assert [tool["name"] for tool in body["tools"]] == ["weather"]
    assert body["tools"][0]["input_schema"]["properties"] == {"location": {"type": "string"}}
    assert (body["temperature"], body["max_tokens"], body["model"]) == (0.3, 321, "claude-sonnet-5-5")
    raw = sent.body.decode() + json.dumps(sent.headers)
    assert "sk-browser-key" not in raw and "evil.example" not in raw and "gpt-browser" not in raw
    saved = page.request.get("/api/ai/conversations/aui-text").json()["messages"]
    assert [message["role"] for message in saved] == ["user", "assistant"]
    assert "".join(part.get("text", "") for part in saved[1]["parts"]) == expected


def test_frontend_tool_from_the_map_runs_in_the_browser(assistant_ui: tuple[Page, ConsoleWatch], stack: Stack) -> None:
    """The model calls the page's tool (declared only in assistant-ui's ``tools`` map): the call
    streams to the browser, which runs it."""
    page, _ = assistant_ui
    page.goto("/?block=aui-tool&preset=anthropic-tools")
    ask(page, "What is the weather in Florence?")
    page.wait_for_function("() => (window.toolCalls ?? []).length > 0")
    assert page.evaluate("() => window.toolCalls")[0] == "Florence, Italy"


def test_system_is_refused_where_the_preset_does_not_allow_it(
    assistant_ui: tuple[Page, ConsoleWatch], stack: Stack
) -> None:
    """``system`` follows the override rule: this preset does not allow it, so the request is a
    400 naming ``system`` and the page shows an error instead of an answer."""
    page, _ = assistant_ui
    page.goto("/?block=aui-system&preset=default&system=You%20are%20a%20pirate")
    with page.expect_response(lambda response: "/api/ai/chat/" in response.url) as answered:
        ask(page, "hi")
    response = answered.value
    assert response.status == 400
    assert response.json()["error"]["field"] == "system"
    expect(page.get_by_test_id("message-error")).to_be_visible()
    assert stack.reset_upstream() == []
    # Chromium logs the 400 itself as a console error: the one expected here.
    _, console = assistant_ui
    console.errors[:] = [error for error in console.errors if "400" not in error]
