"""The conversation a turn answers: stored history merged with what was sent, and the system prompt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.errors import RequestError
from backend.messages import FileContent, Message, SystemMessage, UserMessage
from backend.request_limits import RequestLimits, too_large


def merge_with_stored(stored: list[dict[str, Any]], sent: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``loadHistory``: the stored conversation, with each sent message replacing the same id
    (and everything after it, as an edit does) or appended.

    Linear in the stored length: each id's first position is indexed once, and each message is
    dropped at most once.
    """
    merged = list(stored)
    first_position: dict[Any, int] = {}
    for position, message in enumerate(merged):
        first_position.setdefault(message.get("id"), position)
    for message in sent:
        index = first_position.get(message.get("id"))
        if index is not None:
            for dropped in merged[index:]:
                if first_position.get(dropped.get("id"), -1) >= index:
                    del first_position[dropped.get("id")]
            del merged[index:]
        first_position.setdefault(message.get("id"), len(merged))
        merged.append(message)
    return merged


def split_system(messages: tuple[Message, ...], preset_system: str | None) -> tuple[str | None, tuple[Message, ...]]:
    """Providers take one system prompt: the preset's, then any system messages of the history."""
    texts = [preset_system] if preset_system else []
    texts += [message.text for message in messages if isinstance(message, SystemMessage)]
    rest = tuple(message for message in messages if not isinstance(message, SystemMessage))
    return ("\n\n".join(texts) or None), rest


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


def check_model_history(messages: tuple[Message, ...], *, allow_system: bool, limits: RequestLimits) -> None:
    """The rules of :func:`check_history` for a stateless front door's provider-neutral history:
    the message count, the system-message rule, and the files' count and decoded sizes."""
    if len(messages) > limits.max_messages:
        raise too_large(
            f"messages: {len(messages)} messages (limit max_messages = {limits.max_messages}).",
            "max_messages",
            "messages",
        )
    if not allow_system:
        for index, message in enumerate(messages):
            if isinstance(message, SystemMessage):
                raise RequestError(
                    f"messages[{index}]: a system prompt was sent, but this preset does not allow changing the "
                    "system prompt (allow_system_override = false).",
                    code="option_not_allowed",
                    details={"field": f"messages[{index}]"},
                )
    files = [part for message in messages if isinstance(message, UserMessage) for part in message.content]
    sizes = [part.size() for part in files if isinstance(part, FileContent) and part.inline]
    count = sum(1 for part in files if isinstance(part, FileContent))
    if count > limits.max_file_parts:
        raise too_large(
            f"messages: {count} files (limit max_file_parts = {limits.max_file_parts}).", "max_file_parts", "messages"
        )
    if any(size > limits.max_file_bytes for size in sizes):
        raise too_large(
            f"messages: a file is larger than max_file_bytes = {limits.max_file_bytes}.", "max_file_bytes", "messages"
        )
    if sum(sizes) > limits.max_total_file_bytes:
        raise too_large(
            f"messages: the files add up to more than max_total_file_bytes = {limits.max_total_file_bytes}.",
            "max_total_file_bytes",
            "messages",
        )
