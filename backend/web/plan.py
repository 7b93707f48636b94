"""Turn one validated chat request into a ``ChatPlan``: what to call, with what, as which message.

Kept apart from the HTTP handler so the decisions (layers, history, continuation, tools, keys)
are in one readable place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import orjson

from backend.aisdk.assemble import UIMessageAssembler
from backend.aisdk.convert import to_model_messages
from backend.aisdk.encode import usage_from_aisdk
from backend.aisdk.request import ChatRequestBody, UIMessage
from backend.errors import RequestError
from backend.events import ChatEvent, ChatFinish
from backend.history import check_history, merge_with_stored
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
from backend.storage import ApprovalStore, Store
from backend.tools.base import Tool, ToolContext, ToolRegistry
from backend.tools.mcp_bridge import McpManager
from backend.tools.runner import ApprovalAnswer, ServerToolRunner, approval_answers
from backend.tools.selection import select_server_tools

# Header overrides (the body's ``options`` win over these).
HEADER_OVERRIDES = {"X-AI-Model": "model", "X-AI-Temperature": "temperature"}


@dataclass(frozen=True, slots=True)
class ChatPlan:
    block_id: str
    message_id: str
    metadata: dict[str, Any]
    history: list[dict[str, Any]]  # raw UIMessages before the answer, saved with it
    base_message: dict[str, Any] | None  # the assistant message being continued, if any
    ui_messages: list[UIMessage]
    call: ModelCall
    provider_config: ProviderConfig
    policy: RetryPolicy
    max_steps: int
    resolved: ResolvedPreset
    runner: ServerToolRunner
    approvals: tuple[ApprovalAnswer, ...]

    def assembler(self) -> UIMessageAssembler:
        return UIMessageAssembler(self.message_id, self.base_message)

    @asynccontextmanager
    async def open_model(self) -> AsyncIterator[ChatModel]:
        model = create_model(self.provider_config)
        try:
            yield model
        finally:
            await model.aclose()

    async def run(self, model: ChatModel) -> AsyncIterator[ChatEvent]:
        """Answered approvals first (their results precede the next ``start-step``), then the loop."""
        call = self.call
        if self.approvals:
            events, results = await self.runner.resolve_approvals(self.approvals)
            for event in events:
                yield event
            _, messages = split_system(to_model_messages(self.ui_messages, results), None)
            call = replace(call, messages=messages)
        async for event in run_chat(model, call, policy=self.policy, tools=self.runner, max_steps=self.max_steps):
            if isinstance(event, ChatFinish) and self.base_message is not None:
                # A continued message's usage covers all its requests: the client deep-merges
                # metadata, so per-request counts would mix with the earlier request's.
                metadata = self.base_message.get("metadata")
                previous = usage_from_aisdk(metadata.get("usage") if isinstance(metadata, dict) else None)
                event = ChatFinish(event.reason, previous.plus(event.usage))
            yield event


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


def client_tools(body: ChatRequestBody, preset: Preset, server_names: set[str]) -> tuple[ToolDefinition, ...]:
    """Tools the browser implements (body ``tools``); they may not shadow a server tool."""
    if not body.tools:
        return ()
    if not preset.file.allow_client_tools:
        raise RequestError(
            f"tools: preset '{preset.name}' does not allow client-side tools.",
            code="option_not_allowed",
            details={"field": "tools"},
        )
    for tool in body.tools:
        if tool.name in server_names:
            raise RequestError(
                f"tools: '{tool.name}' is a server-side tool of preset '{preset.name}'; a client tool cannot "
                "replace it.",
                code="option_not_allowed",
                details={"field": "tools"},
            )
    return tuple(ToolDefinition(tool.name, tool.description, dict(tool.inputSchema)) for tool in body.tools)


async def server_tools(registry: ToolRegistry, mcp: McpManager, preset: Preset) -> list[Tool[Any]]:
    """The preset's server-side tools. Issue 11: selection fails closed; the rule lives in
    ``backend/tools/selection.py`` (a named MCP tool that is not offered is an error, never "all")."""
    return await select_server_tools(registry, mcp, preset)


def split_system(messages: tuple[Message, ...], preset_system: str | None) -> tuple[str | None, tuple[Message, ...]]:
    """Providers take one system prompt: the preset's, then any system messages of the history."""
    texts = [preset_system] if preset_system else []
    texts += [message.text for message in messages if isinstance(message, SystemMessage)]
    rest = tuple(message for message in messages if not isinstance(message, SystemMessage))
    return ("\n\n".join(texts) or None), rest


@dataclass(frozen=True, slots=True)
class PlanServices:
    settings: Settings
    store: Store
    presets: Mapping[str, Preset]
    tools: ToolRegistry
    mcp: McpManager


async def build_plan(
    services: PlanServices,
    block_id: str,
    body: ChatRequestBody,
    raw_messages: list[dict[str, Any]],
    *,
    url_preset: str | None,
    headers: Mapping[str, str],
    new_message_id: Callable[[], str],
) -> ChatPlan:
    settings, store = services.settings, services.store
    layers = await request_layers(store, block_id, body.options, url_preset, headers)
    resolved = resolve(layers, services.presets)
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
    # Issue 11: the merged history's size and its system messages (backend/history.py).
    check_history(raw_messages, allow_system=preset.file.allow_system_override, limits=settings.limits)
    messages = [UIMessage.model_validate(message) for message in raw_messages]
    continuing = messages[-1].role == "assistant"
    history = raw_messages[:-1] if continuing else list(raw_messages)
    message_id = messages[-1].id if continuing else new_message_id()
    system, model_messages = split_system(to_model_messages(messages), resolved.system)
    tools = await server_tools(services.tools, services.mcp, preset)
    runner = ServerToolRunner(
        tools,
        ToolContext(block_id, preset.file.tool_options, settings.secrets.all_values()),
        ApprovalStore(store),
        approval_required=preset.file.approval_required,
        # None: any tool the server does not own is the browser's (useChat declares none by default).
        client_tool_names=None if body.tools is None else [tool.name for tool in body.tools],
    )
    call = ModelCall(
        model=resolved.model,
        messages=model_messages,
        system=system,
        tools=runner.definitions() + client_tools(body, preset, {tool.name for tool in tools}),
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
        block_id=block_id,
        message_id=message_id,
        metadata=resolved.describe(),
        history=history,
        base_message=raw_messages[-1] if continuing else None,
        ui_messages=messages,
        call=call,
        provider_config=config,
        policy=policy,
        max_steps=preset.file.max_steps,
        resolved=resolved,
        runner=runner,
        approvals=approval_answers(messages[-1]) if continuing else (),
    )
