"""``prepare_turn``: every decision about one turn, before anything streams.

Five-layer resolution, the history (stored and sent), the continued message and its approval
answers, server and client tools, the provider's credentials and the retry policy. Anything
wrong here is a ``RequestError`` (a front door answers it before a stream starts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from backend.aisdk.convert import approval_answers, to_model_messages, usage_from_aisdk
from backend.aisdk.protocol import PROTOCOL_MAJORS, ProtocolMajor
from backend.aisdk.request import UIMessage
from backend.aisdk.to_ui import to_ui_messages
from backend.catalog import PresetCatalog
from backend.chat.fallbacks import prepare_fallbacks, provider_config
from backend.chat.history import check_history, check_model_history, merge_with_stored, split_system
from backend.chat.model_pool import ModelPool
from backend.chat.turn import Turn, TurnRequest
from backend.errors import RequestError
from backend.events import Usage
from backend.loop import RetryPolicy
from backend.messages import ToolDefinition
from backend.pacing import yield_to_loop
from backend.presets import Preset
from backend.providers.base import ModelCall
from backend.resolve import (
    FieldOverrides,
    Layer,
    ResolvedPreset,
    metadata_overrides,
    parse_call_settings,
    parse_overrides,
    resolve,
)
from backend.settings import Secrets, Settings
from backend.storage import ApprovalStore, Store
from backend.tools.approval_signing import ApprovalSigner
from backend.tools.base import ToolContext, ToolRegistry
from backend.tools.mcp_bridge import McpManager
from backend.tools.runner import ServerToolRunner
from backend.tools.selection import select_server_tools
from backend.upstream_wait import UpstreamTimeouts
from backend.users import User


@dataclass(frozen=True, slots=True)
class TurnServices:
    """What preparing a turn reads: settings, the store, presets and tools."""

    settings: Settings
    store: Store
    presets: PresetCatalog
    tools: ToolRegistry
    mcp: McpManager
    models: ModelPool = field(default_factory=ModelPool)


async def request_layers(
    store: Store,
    block_id: str,
    options: Mapping[str, Any] | None,
    url_preset: str | None,
    call_settings: Mapping[str, Any] | None = None,
    system: str | None = None,
) -> list[Layer]:
    """The four configurable layers, highest first (``resolve`` adds ``default``). The request
    layer is ``options`` over a third-party UI's ``callSettings`` and top-level ``system``, each
    under the rules of ``options`` (a ``system`` only where the preset allows the override)."""
    request = parse_overrides(dict(options or {}), "request", key_prefix="options.")
    if call_settings or system is not None:
        below = parse_call_settings(call_settings or {})
        if system is not None:
            below.update(parse_overrides({"system": system}, "request").model_dump(exclude_unset=True))
        request = FieldOverrides.model_validate({**below, **request.model_dump(exclude_unset=True)})
    layers = [Layer("request", request)]
    if url_preset:
        layers.append(Layer("url", FieldOverrides(preset=url_preset)))
    layers.append(Layer("block", metadata_overrides(await store.load_block_meta(block_id), "block")))
    layers.append(Layer("global", metadata_overrides(await store.load_settings(), "global")))
    return layers


def check_allowed(user: User, resolved: ResolvedPreset) -> None:
    """A preset outside the user's allowlist is refused by name; the details say which layer chose
    it (the provenance), so a stale block or settings value is easy to find."""
    name = resolved.name
    if user.allows(name):
        return
    layer = resolved.provenance.get("preset", "default")
    raise RequestError(
        f"Preset '{name}' (chosen by the {layer} layer) is not allowed for user '{user.name}'. "
        f"Allowed presets: {', '.join(sorted(user.presets or ())) or 'none'}.",
        code="preset_not_allowed",
        details={"preset": name, "layer": layer, "resolvedFrom": dict(resolved.provenance)},
    )


def credentials_for(preset: Preset, secrets: Secrets) -> dict[str, str]:
    """The secrets the preset's provider names, looked up where the preset says they are."""
    credentials: dict[str, str] = {}
    for name in preset.spec.credentials:
        variable = preset.file.credential_env(name)
        if variable is None:
            continue  # e.g. a local server that needs no key
        value = secrets.get(variable)
        if value is None:
            what = "an API key" if name == "api_key" else f"the credential {name}"
            raise RequestError(
                f"Preset '{preset.name}' needs {what} in the environment variable {variable}, "
                "which is not set on the server.",
                code="missing_api_key",
            )
        credentials[name] = value
    return credentials


def client_tools(
    declared: tuple[ToolDefinition, ...] | None, preset: Preset, server_names: set[str]
) -> tuple[ToolDefinition, ...]:
    """Tools the client implements; they may not shadow a server tool."""
    if not declared:
        return ()
    if not preset.file.allow_client_tools:
        raise RequestError(
            f"tools: preset '{preset.name}' does not allow client-side tools.",
            code="option_not_allowed",
            details={"field": "tools"},
        )
    for tool in declared:
        if tool.name in server_names:
            raise RequestError(
                f"tools: '{tool.name}' is a server-side tool of preset '{preset.name}'; a client tool cannot "
                "replace it.",
                code="option_not_allowed",
                details={"field": "tools"},
            )
    return declared


def protocol_major(request: TurnRequest, preset: Preset, settings: Settings) -> ProtocolMajor:
    """The client's ai major: the request's word, else the preset's, else the server default.
    (ai@5, 6 and 7 send the same body and headers, so nothing in a request shows its major.)"""
    chosen = request.protocol or preset.file.protocol or settings.protocol
    for major in PROTOCOL_MAJORS:
        if chosen == major:
            return major
    raise RequestError(
        f"protocol: {chosen} is not a UI message stream major Chatwire speaks (5, 6 or 7).",
        code="bad_request",
        details={"field": "protocol"},
    )


def kept_history(request: TurnRequest) -> list[dict[str, Any]]:
    """A stateless front door's history as the UIMessages its block keeps (none if not kept)."""
    if not request.keep_in_block or request.model_messages is None:
        return []
    return to_ui_messages(request.model_messages, "gw")


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        settings.retry_attempts, settings.retry_base_delay, settings.retry_max_delay, settings.retry_max_after
    )


# Messages validated per event-loop step: a history at max_messages (2000) took ~20 ms to
# validate and as long to convert, in one step (tests/bench/loop_block.py).
PACED_MESSAGES = 500


async def validate_paced(raw_messages: list[dict[str, Any]]) -> list[UIMessage]:
    """``UIMessage`` models for a raw history, yielding to the event loop between batches."""
    messages: list[UIMessage] = []
    for start in range(0, len(raw_messages), PACED_MESSAGES):
        if start:
            await yield_to_loop()
        messages.extend(UIMessage.model_validate(message) for message in raw_messages[start : start + PACED_MESSAGES])
    return messages


async def prepare_turn(services: TurnServices, request: TurnRequest, new_message_id: Callable[[], str]) -> Turn:
    settings, store, user = services.settings, services.store.for_user(request.user.name), request.user
    layers = await request_layers(
        store, request.block_id, request.options, request.url_preset, request.call_settings, request.system
    )
    resolved = resolve(layers, services.presets.presets)
    check_allowed(user, resolved)
    preset = resolved.preset
    credentials = credentials_for(preset, settings.secrets)
    raw_messages = request.messages
    if request.load_history:
        stored = await store.load_conversation(request.block_id)
        if stored is not None:
            raw_messages = merge_with_stored(orjson.loads(stored.messages_json), raw_messages)
    # The merged history's size, and its system messages (the rule of options.system).
    check_history(raw_messages, allow_system=preset.file.allow_system_override, limits=settings.limits)
    messages = await validate_paced(raw_messages)
    continuing = bool(messages) and messages[-1].role == "assistant"
    before = messages[:-1] if continuing else messages
    if request.model_messages is not None:
        check_model_history(
            request.model_messages, allow_system=preset.file.allow_system_override, limits=settings.limits
        )
    if len(messages) > PACED_MESSAGES:
        await yield_to_loop()  # validation and conversion of a long history: each a step of its own
    neutral = request.model_messages if request.model_messages is not None else to_model_messages(before)
    system, model_messages = split_system(neutral, resolved.system)
    tools = await select_server_tools(services.tools, services.mcp, preset) if request.server_tools else []
    runner = ServerToolRunner(
        tools,
        ToolContext(request.block_id, preset.file.tool_options, settings.secrets.all_values()),
        ApprovalStore(store),
        approval_required=preset.file.approval_required,
        client_tool_names=None if request.client_tools is None else [tool.name for tool in request.client_tools],
        signer=ApprovalSigner(settings.approval_secret) if settings.approval_secret else None,
    )
    call = ModelCall(
        model=resolved.model,
        messages=model_messages,
        system=system,
        tools=runner.definitions() + client_tools(request.client_tools, preset, {tool.name for tool in tools}),
        max_tokens=resolved.max_tokens,
        temperature=resolved.temperature,
        top_p=resolved.top_p,
        thinking=resolved.thinking,
        stop_sequences=request.stop_sequences,
        tool_choice=request.tool_choice,
        parallel_tool_calls=request.parallel_tool_calls,
        provider_options=preset.provider_options(),
    )
    base_message = raw_messages[-1] if continuing else None
    previous_usage = Usage()
    if base_message is not None:
        metadata = base_message.get("metadata")
        previous_usage = usage_from_aisdk(metadata.get("usage") if isinstance(metadata, dict) else None)
    return Turn(
        stateless=request.model_messages is not None and not request.keep_in_block,
        front_door=request.front_door,
        resettable=request.resettable,
        block_id=request.block_id,
        chat_id=request.chat_id or request.block_id,
        message_id=messages[-1].id if continuing else new_message_id(),
        metadata=resolved.describe(),
        history=kept_history(request)
        if request.model_messages is not None
        else (raw_messages[:-1] if continuing else list(raw_messages)),
        base_message=base_message,
        continued=messages[-1] if continuing else None,
        call=call,
        provider_config=provider_config(preset, credentials),
        fallbacks=prepare_fallbacks(
            resolved,
            services.presets.presets,
            lambda fallback: credentials_for(fallback, settings.secrets),
            services.models,
            allowed=user.allows,
        ),
        models=services.models,
        timeouts=UpstreamTimeouts(preset.file.timeouts.idle_seconds, preset.file.timeouts.total_seconds),
        policy=retry_policy(settings),
        max_steps=preset.file.max_steps,
        resolved=resolved,
        runner=runner,
        approvals=approval_answers(messages[-1]) if continuing else (),
        previous_usage=previous_usage,
        continued_index=len(messages) - 1,
        protocol=protocol_major(request, preset, settings),
        user=user,
    )
