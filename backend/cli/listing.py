"""``chatwire blocks`` / ``/blocks`` and ``chatwire presets`` / ``/presets``: what the server has."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from backend.cli.client import ChatwireClient


async def print_blocks(client: ChatwireClient, console: Console) -> None:
    """The blocks with a conversation, newest first, plus the web UI's blocks (``ui:blocks``) without one."""
    conversations = await client.conversations()
    settings = await client.settings()
    titles = {
        str(block["id"]): str(block.get("title") or block["id"])
        for block in settings.get("ui:blocks") or []
        if isinstance(block, dict) and isinstance(block.get("id"), str)
    }
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("block", "title", "messages", "preset", "model", "updated"):
        table.add_column(column)
    for row in conversations:
        block_id = str(row.get("blockId", ""))
        table.add_row(
            block_id,
            _short(titles.pop(block_id, None) or row.get("title") or ""),
            str(row.get("messageCount", 0)),
            str(row.get("preset") or ""),
            str(row.get("model") or ""),
            _when(row.get("updatedAt")),
        )
    for block_id, title in titles.items():
        table.add_row(block_id, _short(title), "0", "", "", "")
    if table.row_count == 0:
        console.print("No blocks yet. Start one with: chatwire chat BLOCK")
        return
    console.print(table)


async def print_presets(client: ChatwireClient, console: Console, current: str | None = None) -> None:
    """Every preset; ``current`` (the one a chat would use) is marked with ``*``."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("", "preset", "model", "description", "key"):
        table.add_column(column)
    for preset in await client.presets():
        name = str(preset.get("name", ""))
        table.add_row(
            "*" if name == current else "",
            name,
            f"{preset.get('provider', '')}/{preset.get('model', '')}",
            _short(str(preset.get("description") or "")),
            "ok" if preset.get("apiKeyPresent") else "missing",
        )
    console.print(table)


def _short(text: Any, limit: int = 48) -> str:
    value = " ".join(str(text).split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _when(stamp: Any) -> str:
    if isinstance(stamp, int | float):
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))
    return str(stamp or "")
