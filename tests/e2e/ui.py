"""The page as the tests see it, through the selectors the frontend guarantees (README.md)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.e2e.harness import ANSWER_TIMEOUT_MS

# What the fixtures answer (tests/fixtures/anthropic/*.meta.json "expect").
TEXT_BASIC_END = "a more casual way to say hi in Portuguese."
TEXT_BASIC_HELD = 'Olá! (That\'s "hi" in Portuguese)'  # the text after the first 7 events
HAIKU_END = "the tide keeps its time."
THINKING_START = "The user wants a haiku about the sea."
WEATHER_ANSWER = "The current weather in Florence, Italy is 40°C"
CURRENT_TIME_FOLLOWUP = "I will answer from the outcome of the current_time call."


class Pane:
    """One block pane: ``Pane(page, "block-1")``."""

    def __init__(self, page: Page, title: str = "block-1") -> None:
        self.page = page
        self.title = title
        self.root = page.get_by_role("region", name=f"Block {title}", exact=True)
        self.status = self.root.get_by_test_id("chat-status")
        self.input = self.root.get_by_role("textbox", name=f"Message to {title}", exact=True)
        self.users = self.root.locator("[data-role=user]")
        self.answers = self.root.locator("[data-role=assistant]")
        self.send_button = self.root.get_by_role("button", name="Send message", exact=True)
        self.stop_button = self.root.get_by_role("button", name="Stop generating", exact=True)
        self.effective_preset = self.root.get_by_test_id("effective-preset")

    def answer(self, index: int = -1) -> Locator:
        return self.answers.nth(index) if index >= 0 else self.answers.last

    def send(self, text: str) -> None:
        """Type and send; returns once the user message is on the page."""
        before = self.users.count()
        expect(self.status).to_have_text("ready")
        self.input.fill(text)
        self.send_button.click()
        expect(self.users).to_have_count(before + 1)
        expect(self.users.last).to_contain_text(text)

    def wait_answered(self, count: int, ending: str) -> Locator:
        """Wait until answer number ``count`` ends with ``ending`` and the pane is ready again."""
        expect(self.answers).to_have_count(count, timeout=ANSWER_TIMEOUT_MS)
        answer = self.answers.nth(count - 1)
        expect(answer.locator("[data-part=text]").last).to_contain_text(ending, timeout=ANSWER_TIMEOUT_MS)
        expect(self.status).to_have_text("ready", timeout=ANSWER_TIMEOUT_MS)
        return answer


def open_app(page: Page, path: str = "/", blocks: tuple[str, ...] = ("block-1",)) -> dict[str, Pane]:
    """Open the page and wait until every pane's conversation has loaded."""
    page.goto(path)
    panes = {title: Pane(page, title) for title in blocks}
    for pane in panes.values():
        expect(pane.status).to_have_text("ready")
    return panes


def metadata_field(answer: Locator, name: str) -> Locator:
    return answer.get_by_test_id("answer-metadata").locator(f"[data-field={name}]")


def preset_select(page: Page) -> Locator:
    return page.get_by_role("combobox", name="Preset for all blocks (URL)", exact=True)
