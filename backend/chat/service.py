"""``ChatService``: what every front door calls. Start, follow, resume and stop answers; preview
the resolved configuration; list presets; check ``ai:*`` settings before they are stored."""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any

from backend.chat.generation import generate
from backend.chat.prepare import TurnServices, prepare_turn, request_layers
from backend.chat.streams import ActiveStream, LiveStreams, StreamBusy
from backend.chat.turn import Turn, TurnRequest
from backend.errors import RequestError
from backend.events import ChatEvent
from backend.resolve import metadata_overrides, resolve


def new_message_id() -> str:
    return "msg-" + secrets.token_urlsafe(12)


class ChatService:
    def __init__(self, services: TurnServices, streams: LiveStreams) -> None:
        self._services = services
        self._streams = streams

    @property
    def streams(self) -> LiveStreams:
        return self._streams

    async def start(self, request: TurnRequest) -> ActiveStream:
        """Prepare the turn and start generating it (``RequestError`` if it cannot start)."""
        turn = await prepare_turn(self._services, request, new_message_id)
        stream = ActiveStream(block_id=turn.block_id, chat_id=turn.chat_id, message_id=turn.message_id)
        store = self._services.store
        try:
            return await self._streams.start(stream, lambda active: generate(turn, active, store))
        except StreamBusy as busy:
            block_id = request.block_id
            raise RequestError(
                f"Block {block_id} is already streaming (message {busy.active.message_id}); "
                f"stop it with POST /api/ai/chat/{block_id}/stop or resume it.",
                code="stream_active",
                details={"activeStream": busy.active.describe()},
            ) from None

    async def prepare(self, request: TurnRequest) -> Turn:
        """Decide a turn for a front door that streams it itself (``RequestError`` if it cannot start)."""
        return await prepare_turn(self._services, request, new_message_id)

    async def run(self, turn: Turn) -> AsyncGenerator[ChatEvent, None]:
        """The chat events of a prepared turn, for a stateless front door that encodes them in its
        own wire format. Nothing is saved; closing the generator cancels the provider call."""
        async with turn.open_model() as model:
            async for event in turn.events(model):
                yield event

    async def follow(self, stream: ActiveStream, position: int = 0) -> AsyncGenerator[bytes | None, None]:
        """The stream's encoded chunks from ``position`` (``None`` while idle: time for a
        keep-alive). When the last follower goes away, the answer goes on, unless the server
        is configured to cancel it."""
        settings = self._services.settings
        try:
            # aclosing: the follower count drops before the check below.
            async with aclosing(stream.follow(position, settings.keepalive_seconds)) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            if not stream.done and settings.cancel_on_disconnect and stream.followers == 0 and stream.task:
                stream.task.cancel()

    async def resume(self, block_id: str, chat_id: str) -> ActiveStream | None:
        """The block's live answer, if ``chat_id`` names it (what ``useChat({resume: true})`` asks)."""
        stream = await self._streams.get(block_id)
        if stream is None or stream.done or chat_id not in (stream.chat_id, block_id):
            return None
        return stream

    async def stop(self, block_id: str) -> ActiveStream | None:
        """Stop the block's answer; returns once its partial answer is saved."""
        return await self._streams.stop(block_id)

    async def preview(self, block_id: str, url_preset: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        """The effective configuration of the block's next answer, and where each field came from."""
        layers = await request_layers(self._services.store, block_id, options, url_preset)
        resolved = resolve(layers, self._services.presets.presets)
        return {
            **resolved.describe(),
            "maxTokens": resolved.max_tokens,
            "temperature": resolved.temperature,
            "topP": resolved.top_p,
            "systemPromptSet": resolved.system is not None,
            "thinking": {
                "enabled": resolved.thinking.enabled,
                "budgetTokens": resolved.thinking.budget_tokens,
                "effort": resolved.thinking.effort,
            },
        }

    def presets_overview(self) -> list[dict[str, Any]]:
        secrets_ = self._services.settings.secrets
        return [
            {
                "name": preset.name,
                "description": preset.file.description,
                "provider": preset.file.provider,
                "model": preset.file.model,
                "apiKeyPresent": all(
                    secrets_.get(variable) is not None
                    for variable in (preset.file.credential_env(name) for name in preset.spec.credentials)
                    if variable is not None
                ),
                "thinking": preset.file.thinking.enabled,
                "tools": list(preset.file.tools),
            }
            for preset in sorted(self._services.presets.presets.values(), key=lambda p: p.name)
        ]

    def check_ai_settings(self, payload: Mapping[str, Any]) -> None:
        """Reject ``ai:*`` values that would break every later chat of the block (bad preset, bad field)."""
        kept = {key: value for key, value in payload.items() if key.startswith("ai:") and value is not None}
        overrides = metadata_overrides(kept, "block")
        presets = self._services.presets.presets
        if overrides.preset is not None and overrides.preset not in presets:
            raise RequestError(
                f"Unknown preset '{overrides.preset}' in ai:preset. Available presets: {', '.join(sorted(presets))}.",
                code="unknown_preset",
            )
