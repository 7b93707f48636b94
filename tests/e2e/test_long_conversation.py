"""A block with 500 messages (answers with a table and highlighted code) opens and scrolls.

It measures what docs/benchmarks.md reports (time to render, long tasks) and prints it; it asserts
only behaviour: the newest page renders first, and scrolling up reaches the very first message.
Speed is never asserted (docs/testing.md).
"""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.e2e.test_chat_app import seed_conversation
from tests.e2e.ui import Pane

MESSAGES = 500
PAGE = 40  # frontend/src/useMessageWindow.ts

# Collects long tasks (> 50 ms on the main thread) from the first moment of the page.
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
}).observe({ type: 'longtask', buffered: true });
"""

READ_TASKS = """() => {
  const tasks = window.__longTasks.splice(0);
  return [tasks.length, Math.max(0, ...tasks), tasks.reduce((sum, duration) => sum + duration, 0)];
}"""


def test_five_hundred_messages_open_and_scroll_to_the_first(page: Page) -> None:
    page.goto("/")
    seed_conversation(page, MESSAGES)
    page.add_init_script(LONG_TASKS)
    page.goto("/")
    pane = Pane(page, "block-1")
    last = pane.answers.last
    expect(last.locator("[data-part=text] table")).to_be_visible()
    expect(last.locator("span[style*='--shiki-dark:']").first).to_be_attached()  # highlighted
    opened_ms = page.evaluate("() => performance.now()")
    open_tasks = page.evaluate(READ_TASKS)
    expect(page.locator("[data-role]")).to_have_count(PAGE)

    listing = pane.root.locator(".message-list")
    listing.hover()
    started = page.evaluate("() => performance.now()")
    rendered = PAGE
    while rendered < MESSAGES:
        page.mouse.wheel(0, -50_000)
        rendered = min(MESSAGES, rendered + PAGE)
        expect(page.locator("[data-role]")).to_have_count(rendered)
    scrolled_ms = page.evaluate("() => performance.now()") - started
    scroll_tasks = page.evaluate(READ_TASKS)
    expect(pane.root.get_by_role("button", name="earlier")).to_have_count(0)
    first = pane.users.first
    expect(first.locator("[data-part=text]")).to_have_text("Question 0")
    page.mouse.wheel(0, -50_000)  # the reader's place was kept; one more turn reaches the top
    expect(first).to_be_in_viewport()
    figures = {
        "open_ms": round(opened_ms),
        "open_long_tasks": {"count": open_tasks[0], "max_ms": round(open_tasks[1]), "total_ms": round(open_tasks[2])},
        "scroll_to_first_ms": round(scrolled_ms),
        "scroll_long_tasks": {
            "count": scroll_tasks[0],
            "max_ms": round(scroll_tasks[1]),
            "total_ms": round(scroll_tasks[2]),
        },
    }
    print("\nlong conversation:", json.dumps(figures))
