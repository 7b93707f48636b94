"""Turn one validated chat request into a ``ChatPlan``: what to call, with what, as which message.

Kept apart from the HTTP handler so the decisions (layers, history, continuation, tools, keys)
are in one readable place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from backend.aisdk.assemble import UIMessageAssembler
from backend.aisdk.convert import to_model_messages
from backend.aisdk.request import ChatRequestBody, UIMessage
from backend.errors import RequestError
from backend.events import ChatEvent
from backend.loop import RetryPolicy, run_chat
from backend.messages import Message, SystemMessage, ToolDefinition
from backend.presets import Preset
from backend.providers.base import ChatModel, ModelCall, ProviderConfig
from backend.providers.registry import create_model
from backend.resolve import (
    FieldOverrides,
    Layer,
    ResolvedPreset,
    metadata_overrides,
    parse_overrides,
    resolve,
)
from backend.settings import Settings
from backend.storage import Store

# Header overrides (the body's ``options`` win over these).
HEADER_OVERRIDES = {"X-AI-Model": "model", "X-AI-Temperature": "temperature"}


@dataclass(frozen=True, slots=True)
class ChatPlan:
    block_id: str
    message_id: str
    metadata: dict[str, Any]
    history: list[dict[str, Any]]  # raw UIMessages before the answer, saved with it
    base_message: dict[str, Any] | None  # the assistant message being continued, if any
    call: ModelCall
    provider_config: ProviderConfig
    policy: RetryPolicy
    max_steps: int
    resolved: ResolvedPreset

    def assembler(self) -> UIMessageAssembler:
        return UIMessageAssembler(self.message_id, self.base_message)

    @asynccontextmanager
    async def open_model(self) -> AsyncIterator[ChatModel]:
        model = create_model(self.provider_config)
        try:
            yield model
        finally:
            await model.aclose()

    def run(self, model: ChatModel) -> AsyncIterator[ChatEvent]:
        return run_chat(model, self.call, policy=self.policy, max_steps=self.max_steps)


async def request_layers(
    store: Store,
    block_id: str,
    options: Mapping[str, Any] | None,
    url_preset: str | None,
    headers: Mapping[str, str],
) -> list[Layer]:
    """The four configurable layers, highest first (``resolve`` adds ``default``)."""
    request_options: dict[str, Any] = {}
    for header, option in HEADER_OVERRIDES.items():
        value = headers.get(header)
        if value is not None:
            request_options[option] = value
    request_options.update(options or {})
    layers = [Layer("request", parse_overrides(request_options, "request", key_prefix="options."))]
    if url_preset:
        layers.append(Layer("url", FieldOverrides(preset=url_preset)))
    layers.append(Layer("block", metadata_overrides(await store.load_block_meta(block_id), "block")))
    layers.append(Layer("global", metadata_overrides(await store.load_settings(), "global")))
    return layers


def merge_with_stored(stored: list[dict[str, Any]], sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``loadHistory``: the stored conversation, with each sent message replacing the same id
    (and everything after it, as an edit does) or appended."""
    merged = list(stored)
    for message in sent:
        index = next((i for i, existing in enumerate(merged) if existing.get("id") == message.get("id")), None)
        if index is not None:
            del merged[index:]
        merged.append(message)
    return merged


def client_tools(body: ChatRequestBody, preset: Preset) -> tuple[ToolDefinition, ...]:
    if not body.tools:
        return ()
    if not preset.file.allow_client_tools:
        raise RequestError(
            f"tools: preset '{preset.name}' does not allow client-side tools.",
            code="option_not_allowed",
            details={"field": "tools"},
        )
    return tuple(ToolDefinition(tool.name, tool.description, dict(tool.inputSchema)) for tool in body.tools)


def split_system(messages: tuple[Message, ...], preset_system: str | None) -> tuple[str | None, tuple[Message, ...]]:
    """Providers take one system prompt: the preset's, then any system messages of the history."""
    texts = [preset_system] if preset_system else []
    texts += [message.text for message in messages if isinstance(message, SystemMessage)]
    rest = tuple(message for message in messages if not isinstance(message, SystemMessage))
    return ("\n\n".join(texts) or None), rest


async def build_plan(
    settings: Settings,
    store: Store,
    presets: Mapping[str, Preset],
    block_id: str,
    body: ChatRequestBody,
    raw_messages: list[dict[str, Any]],
    *,
    url_preset: str | None,
    headers: Mapping[str, str],
    new_message_id: Callable[[], str],
) -> ChatPlan:
    layers = await request_layers(store, block_id, body.options, url_preset, headers)
    resolved = resolve(layers, presets)
    preset = resolved.preset
    api_key = settings.secrets.get(preset.file.api_key_env)
    if preset.file.api_key_env and api_key is None:
        raise RequestError(
            f"Preset '{preset.name}' needs an API key in the environment variable {preset.file.api_key_env}, "
            "which is not set on the server.",
            code="missing_api_key",
        )
    if body.loadHistory:
        stored = await store.load_conversation(block_id)
        if stored is not None:
            raw_messages = merge_with_stored(orjson.loads(stored.messages_json), raw_messages)
    messages = [UIMessage.model_validate(message) for message in raw_messages]
    continuing = messages[-1].role == "assistant"
    history = raw_messages[:-1] if continuing else list(raw_messages)
    message_id = messages[-1].id if continuing else new_message_id()
    system, model_messages = split_system(to_model_messages(messages), resolved.system)
    call = ModelCall(
        model=resolved.model,
        messages=model_messages,
        system=system,
        tools=client_tools(body, preset),
        max_tokens=resolved.max_tokens,
        temperature=resolved.temperature,
        top_p=resolved.top_p,
        thinking=resolved.thinking,
        provider_options=preset.file.provider_options(),
    )
    config = ProviderConfig(
        provider=preset.file.provider,
        api_key=api_key,
        base_url=preset.file.base_url,
        headers=preset.file.headers,
    )
    policy = RetryPolicy(
        settings.retry_attempts, settings.retry_base_delay, settings.retry_max_delay, settings.retry_max_after
    )
    return ChatPlan(
        block_id,
        message_id,
        resolved.describe(),
        history,
        raw_messages[-1] if continuing else None,
        call,
        config,
        policy,
        preset.file.max_steps,
        resolved,
    )
