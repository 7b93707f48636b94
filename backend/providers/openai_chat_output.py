"""Provider ``openai-chat``: the pieces of a chunk that are mapped rather than translated.

Finish reasons, usage (``usage``, or Groq's ``x_groq.usage``), the legacy ``function_call``
delta and OpenRouter's fragmented ``reasoning_details``. Used by ``openai_chat._Translator``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCall, ChoiceDeltaToolCallFunction
from openai.types.completion_usage import CompletionUsage

from backend.events import FinishReason, JsonValue, Usage

__all__ = [
    "groq_usage",
    "legacy_function_call",
    "map_openai_chat_finish_reason",
    "map_openai_chat_usage",
    "merge_reasoning_detail",
]


def merge_reasoning_detail(details: list[dict[str, JsonValue]], fragment: dict[str, JsonValue]) -> None:
    """OpenRouter streams each reasoning detail in fragments (same ``type`` and ``index``):
    text pieces are joined and a late ``signature`` is kept, so one detail goes back."""
    last = details[-1] if details else None
    if last is None or last.get("type") != fragment.get("type") or last.get("index") != fragment.get("index"):
        details.append(dict(fragment))
        return
    for key, value in fragment.items():
        if key in ("text", "summary", "data") and isinstance(value, str):
            previous = last.get(key)
            last[key] = (previous if isinstance(previous, str) else "") + value
        elif value is not None:
            last[key] = value


def legacy_function_call(delta: ChoiceDelta) -> list[ChoiceDeltaToolCall]:
    """The deprecated ``delta.function_call`` (one call, no id) as a tool-call fragment. Servers
    that send both (llama-cpp-python does, on every chunk) are read from ``tool_calls`` only."""
    legacy = delta.function_call
    if legacy is None or (legacy.name is None and legacy.arguments is None):
        return []
    function = ChoiceDeltaToolCallFunction(name=legacy.name, arguments=legacy.arguments)
    return [ChoiceDeltaToolCall(index=0, type="function", function=function)]


def groq_usage(chunk_extra: Mapping[str, Any] | None) -> CompletionUsage | None:
    """Groq reports usage under ``x_groq.usage`` on the last chunk (vercel/ai#1651)."""
    vendor = chunk_extra.get("x_groq") if chunk_extra else None
    usage = vendor.get("usage") if isinstance(vendor, dict) else None
    if not isinstance(usage, dict):
        return None
    try:
        return CompletionUsage.model_validate(usage)
    except ValueError:
        return None


def map_openai_chat_finish_reason(finish_reason: str) -> FinishReason:
    """As the AI SDK's ``packages/openai/src/chat/map-openai-finish-reason.ts`` (protocol §2.8),
    plus the spellings compatible servers use (TGI ``eos_token``, Anthropic-style ``end_turn``
    and ``max_tokens`` from proxies, ``tool_call`` singular, ``model_length`` from vLLM)."""
    match finish_reason:
        case "stop" | "eos" | "eos_token" | "end_turn" | "stop_sequence":
            return "stop"
        case "length" | "max_tokens" | "model_length":
            return "length"
        case "content_filter" | "content-filter" | "safety":
            return "content-filter"
        case "tool_calls" | "tool_call" | "function_call" | "tool_use":
            return "tool-calls"
        case _:
            return "other"


def map_openai_chat_usage(usage: CompletionUsage) -> Usage:
    """``prompt_tokens`` already includes cached tokens (unlike Anthropic). Servers that send
    no details (llama.cpp) leave the cache and reasoning counts unknown."""
    prompt_details = usage.prompt_tokens_details
    completion_details = usage.completion_tokens_details
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cache_read_tokens=(prompt_details.cached_tokens or 0) if prompt_details else None,
        cache_write_tokens=(prompt_details.cache_write_tokens or 0) if prompt_details else None,
        reasoning_tokens=completion_details.reasoning_tokens if completion_details else None,
    )
