"""Changing what is on the page: blocks, clear, edit and regenerate, an image attachment."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from typing import Any

from playwright.sync_api import FilePayload, Page, expect

from tests.e2e.harness import Stack
from tests.e2e.ui import HAIKU_END, TEXT_BASIC_END, Pane, open_app, preset_select


def tiny_png() -> bytes:
    """A 2×2 red PNG, built here so the test needs no binary fixture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def saved(page: Page, path: str) -> Any:
    """Waits for the page's PATCH to ``path`` (a setting being saved) to succeed."""
    return page.expect_response(lambda response: response.url.endswith(path) and response.request.method == "PATCH")


def test_blocks_are_added_renamed_closed_and_come_back_after_reload(page: Page) -> None:
    open_app(page)
    with saved(page, "/api/settings") as added:
        page.get_by_role("button", name="Add block", exact=True).click()
    assert added.value.ok
    expect(Pane(page, "block-2").status).to_have_text("ready")

    page.get_by_role("button", name="Rename block block-2", exact=True).click()
    title = page.get_by_role("textbox", name="Block title (Enter saves, Esc cancels)")
    title.fill("notes")
    with saved(page, "/api/settings") as renamed:
        title.press("Enter")
    assert renamed.value.ok
    notes = Pane(page, "notes")
    expect(notes.root).to_have_attribute("data-block-id", "block-2")
    with saved(page, "/api/settings") as closed:
        page.get_by_role("button", name="Close block block-1", exact=True).click()
    assert closed.value.ok
    expect(Pane(page).root).to_have_count(0)

    notes.send("Say hi in Portuguese")
    notes.wait_answered(1, TEXT_BASIC_END)
    page.reload()
    expect(notes.status).to_have_text("ready")
    panes = page.locator("section[data-block-id]")
    expect(panes).to_have_count(1)
    expect(panes).to_have_attribute("aria-label", "Block notes")
    expect(notes.answers).to_have_count(1)  # the conversation is keyed by the id, not the title


def test_clear_empties_the_pane_and_a_reload_keeps_it_empty(page: Page) -> None:
    pane = open_app(page)["block-1"]
    pane.send("Say hi in Portuguese")
    pane.wait_answered(1, TEXT_BASIC_END)
    with page.expect_response(lambda response: response.request.method == "DELETE") as deleted:
        pane.root.get_by_role("button", name="Clear conversation of block-1", exact=True).click()
    assert deleted.value.ok and deleted.value.url.endswith("/api/ai/conversations/block-1")
    expect(pane.root.locator("[data-role]")).to_have_count(0)
    expect(pane.root.get_by_text("No messages yet.")).to_be_visible()

    page.reload()
    expect(pane.status).to_have_text("ready")
    expect(pane.root.get_by_text("No messages yet.")).to_be_visible()
    expect(pane.root.locator("[data-role]")).to_have_count(0)


def test_edit_replaces_the_answer_and_regenerate_keeps_one(page: Page) -> None:
    pane = open_app(page)["block-1"]
    pane.send("Say hi in Portuguese")
    pane.wait_answered(1, TEXT_BASIC_END)
    first_answer_id = pane.answer().get_attribute("data-message-id")

    preset_select(page).select_option("anthropic-thinking")  # so the new answer differs
    pane.users.first.get_by_role("button", name="Edit message", exact=True).click()
    editor = pane.root.get_by_role("textbox", name="Edit message", exact=True)
    editor.fill("Write a haiku about the sea")
    editor.press("Enter")
    expect(pane.users).to_have_count(1)
    expect(pane.users.first).to_contain_text("Write a haiku about the sea")
    pane.wait_answered(1, HAIKU_END)
    expect(pane.answer()).not_to_have_attribute("data-message-id", first_answer_id or "")

    preset_select(page).select_option("anthropic-text")
    pane.answer().get_by_role("button", name="Regenerate answer", exact=True).click()
    pane.wait_answered(1, TEXT_BASIC_END)
    expect(pane.answer()).not_to_contain_text(HAIKU_END)

    page.reload()
    expect(pane.status).to_have_text("ready")
    expect(pane.users).to_have_count(1)
    expect(pane.answers).to_have_count(1)
    expect(pane.users.first).to_contain_text("Write a haiku about the sea")
    expect(pane.answer()).to_contain_text(TEXT_BASIC_END)


def test_an_attached_image_is_shown_and_sent_before_the_text(page: Page, stack: Stack) -> None:
    png = tiny_png()
    pane = open_app(page)["block-1"]
    attachment: FilePayload = {"name": "red.png", "mimeType": "image/png", "buffer": png}
    pane.root.get_by_label("Attach images").set_input_files(files=[attachment])
    expect(pane.root.get_by_test_id("attachments")).to_contain_text("red.png")
    with page.expect_request(re.compile(r"/api/ai/chat/block-1$")) as sent:
        pane.send("What is in this picture?")
    image = pane.users.first.locator("[data-part=file] img")
    expect(image).to_be_visible()
    assert image.evaluate("node => node.complete && node.naturalWidth") == 2  # the data: URL decoded
    pane.wait_answered(1, TEXT_BASIC_END)

    body = sent.value.post_data_json
    assert isinstance(body, dict)
    parts = body["messages"][-1]["parts"]
    assert [part["type"] for part in parts] == ["file", "text"]
    assert parts[0]["mediaType"] == "image/png"
    assert parts[0]["url"] == "data:image/png;base64," + base64.b64encode(png).decode()
    upstream = stack.reset_upstream()[0].json()
    content = upstream["messages"][0]["content"]
    assert [block["type"] for block in content] == ["image", "text"]
    assert content[0]["source"] == {"type": "base64", "media_type": "image/png", "data": base64.b64encode(png).decode()}
