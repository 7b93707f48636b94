"""The conversation a chat request is about: merging with the stored one, and what it may hold.

Kept free of aiohttp so the core of a turn (issue 10) can use it from any front door.
"""

from __future__ import annotations

from typing import Any

from backend.errors import RequestError
from backend.limits import RequestLimits, too_large


def merge_with_stored(stored: list[dict[str, Any]], sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``loadHistory``: the stored conversation, with each sent message replacing the same id
    (and everything after it, as an edit does) or appended.

    Linear in ``len(stored) + len(sent)``: an index of ids by position is kept up to date, and each
    truncation removes the dropped ids from it (each message is dropped at most once).
    """
    merged = list(stored)
    positions: dict[Any, int] = {}
    for position, existing in enumerate(merged):
        positions.setdefault(existing.get("id"), position)
    for message in sent:
        found = positions.get(message.get("id"))
        if found is not None:
            for dropped in merged[found:]:
                if positions.get(dropped.get("id"), -1) >= found:
                    del positions[dropped.get("id")]
            del merged[found:]
        positions.setdefault(message.get("id"), len(merged))
        merged.append(message)
    return merged


def check_history(messages: list[dict[str, Any]], *, allow_system: bool, limits: RequestLimits) -> None:
    """The whole history (after a merge) stays within ``max_messages``, and a ``system`` message
    follows the rule of ``options.system``: only where the preset sets ``allow_system_override``.
    """
    if len(messages) > limits.max_messages:
        raise too_large(
            f"messages: the conversation has {len(messages)} messages (limit max_messages = {limits.max_messages}).",
            "max_messages",
            "messages",
        )
    if allow_system:
        return
    for index, message in enumerate(messages):
        if message.get("role") == "system":
            raise RequestError(
                f"messages[{index}] (id {message.get('id')!r}) is a system message, but this preset does not allow "
                "changing the system prompt (allow_system_override = false).",
                code="option_not_allowed",
                details={"field": f"messages[{index}]", "messageId": message.get("id")},
            )
