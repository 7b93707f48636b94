"""What models actually write, rendered (issue 20): an answer streamed in small deltas with a table,
a task list, fenced code (highlighted, copyable), math, an autolink and HTML/JS that stays inert.

The answer comes through the whole stack: the fake upstream streams an Anthropic body
(tests/e2e/answers.py) to the real backend, which streams the UI message stream to the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.answers import CODE, MARKDOWN_ANSWER, anthropic_text_answer
from tests.e2e.harness import App, Stack
from tests.e2e.ui import open_app

Screenshot = Callable[[Page, str], Path]


def test_a_streamed_answer_renders_tables_code_math_and_keeps_html_inert(
    page: Page, stack: Stack, app: App, screenshot: Screenshot
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    answer_body = anthropic_text_answer(MARKDOWN_ANSWER)
    # First reply: held in the middle of the table's second row. Second: inside the open code fence.
    in_table = stack.hold_body(answer_body.body, answer_body.events_through("| jobs | cr"))
    pane = open_app(page)["block-1"]
    pane.send("Show me the pods and a fib function")
    text = pane.answer().locator("[data-part=text]")

    # Mid-table: already a table, with the complete row and no raw pipes or separator line.
    table = text.locator("table")
    expect(table.locator("thead th")).to_have_text(["Namespace", "Pod", "Status"])
    expect(table.locator("tbody tr").first.locator("td")).to_have_text(["app", "api-7f9", "Running"])
    expect(text).not_to_contain_text("|---|")
    expect(text).not_to_contain_text("| app |")
    expect(pane.status).to_have_text("streaming")
    in_table.release()
    pane.wait_answered(1, "Docs:")

    # GFM: the table with strikethrough, the task list, the autolink.
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").nth(1).locator("td del")).to_have_text("Failed")
    boxes = text.locator("li input[type=checkbox]")
    expect(boxes).to_have_count(2)
    expect(boxes.nth(0)).to_be_checked()
    expect(boxes.nth(1)).not_to_be_checked()
    expect(boxes.nth(0)).to_be_disabled()
    link = text.get_by_role("link", name="https://docs.example.com/pods")
    expect(link).to_have_attribute("href", "https://docs.example.com/pods")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noreferrer noopener")

    # Code: the language label, highlighted tokens in more than one colour, a working copy button.
    block = text.locator("[data-streamdown=code-block][data-language=python]")
    expect(block.locator("[data-streamdown=code-block-header]")).to_have_text("python")
    code = block.locator("pre code")
    expect(code).to_have_text(CODE)
    tokens = code.locator("span[style*='--shiki-dark:']")
    expect(tokens.first).to_be_attached()  # Shiki has loaded: tokens carry their light and dark colours
    colours = set(tokens.evaluate_all("spans => spans.map(span => getComputedStyle(span).color)"))
    assert len(colours) >= 3, colours
    block.get_by_role("button", name="Copy code").click()
    assert page.evaluate("navigator.clipboard.readText()") == CODE + "\n"

    # Math: KaTeX markup, with the TeX source kept for screen readers and copying.
    math = text.locator(".katex")
    expect(math).to_have_count(1)
    expect(math.locator("annotation")).to_have_text(r"e^{i\pi} + 1 = 0")
    expect(text).not_to_contain_text("$$")

    # Inert: the HTML is shown as the text the model wrote; nothing ran, nothing was fetched.
    expect(text).to_contain_text('<script>window.__pwned = 1</script> <img src=x onerror="window.__pwned = 2">')
    expect(text.locator("script, img, [onerror], iframe")).to_have_count(0)
    expect(text.get_by_role("link", name="click me")).to_have_count(0)
    expect(text.locator("a")).to_have_count(1)  # only the docs link
    # A finished answer is not "completed" as if unterminated (the `__` of window.__pwned stays open).
    expect(text).to_have_text(re.compile(r"click me \[blocked\] \[Image blocked: pixel\]$"))
    assert page.evaluate("window.__pwned") is None
    screenshot(page, "markdown")

    # The message's own copy button gives back the markdown as the model wrote it.
    answer = pane.answer()
    answer.hover()
    answer.get_by_role("button", name="Copy message").click()
    expect(answer.get_by_role("button", name="Copy message")).to_have_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == MARKDOWN_ANSWER


def test_an_unterminated_code_fence_renders_as_code_while_it_streams(page: Page, stack: Stack) -> None:
    answer_body = anthropic_text_answer(MARKDOWN_ANSWER, delta_size=4)
    held = stack.hold_body(answer_body.body, answer_body.events_through("return n if"))
    pane = open_app(page)["block-1"]
    pane.send("Show me a fib function")
    text = pane.answer().locator("[data-part=text]")
    block = text.locator("[data-streamdown=code-block][data-language=python]")
    expect(block.locator("pre code")).to_contain_text("def fib(n: int) -> int:")
    expect(text).not_to_contain_text("```")
    expect(pane.status).to_have_text("streaming")
    # The block keeps its place: the same element grows when the rest arrives.
    block.evaluate("element => { element.dataset.seen = 'yes'; }")
    held.release()
    pane.wait_answered(1, "Docs:")
    expect(block.locator("pre code")).to_have_text(CODE)
    expect(text.locator("[data-streamdown=code-block][data-seen=yes]")).to_have_count(1)
    expect(text.locator("[data-streamdown=code-block]")).to_have_count(1)
    expect(pane.answer().locator("[data-part=text]")).to_have_text(re.compile(r"^Here are the pods:"))
