"""Fallback presets: who continues an answer when its preset's provider gives up.

A preset names ``fallbacks = ["other", …]`` and ``fallback_on`` (error categories). The loop
(``backend/loop.py``) switches to the next fallback once its retries are spent on one of those
categories. Here the core prepares each fallback: its own provider, credentials, model,
sampling, thinking and provider options. The answer's history, system prompt, tools and step
limit stay those of the turn (the history goes through the new provider's own conversion, which
already drops another provider's opaque reasoning state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

from backend.chat.model_pool import ModelPool
from backend.errors import RequestError
from backend.loop import Fallback, Fallbacks
from backend.presets import Preset
from backend.providers.base import ChatModel, ModelCall, ProviderConfig
from backend.resolve import FieldOverrides, Layer, ResolvedPreset, resolve

logger = logging.getLogger(__name__)

CredentialsFor = Callable[[Preset], dict[str, str]]


def provider_config(preset: Preset, credentials: dict[str, str]) -> ProviderConfig:
    return ProviderConfig(
        provider=preset.file.provider,
        credentials=credentials,
        base_url=preset.file.base_url,
        headers=preset.file.headers,
        # Above the idle guard, which decides and says why (a stream has no SDK read timeout).
        timeout_seconds=preset.file.timeouts.idle_seconds + 30,
        connect_timeout_seconds=preset.file.timeouts.connect_seconds,
        total_timeout_seconds=preset.file.timeouts.total_seconds,
    )


def model_opener(config: ProviderConfig, models: ModelPool) -> Callable[[], AbstractAsyncContextManager[ChatModel]]:
    def open_model() -> AbstractAsyncContextManager[ChatModel]:
        return models.open(config)

    return open_model


def _adapter(resolved: ResolvedPreset) -> Callable[[ModelCall], ModelCall]:
    def adapt(call: ModelCall) -> ModelCall:
        return replace(
            call,
            model=resolved.model,
            max_tokens=resolved.max_tokens,
            temperature=resolved.temperature,
            top_p=resolved.top_p,
            thinking=resolved.thinking,
            provider_options=resolved.preset.provider_options(),
        )

    return adapt


def prepare_fallbacks(
    resolved: ResolvedPreset,
    presets: Mapping[str, Preset],
    credentials_for: CredentialsFor,
    models: ModelPool,
    allowed: Callable[[str], bool] = lambda name: True,
) -> Fallbacks:
    """The turn's fallback chain. A fallback whose credentials are missing is left out (logged):
    it must not stop the preset it backs up from answering. So is one outside the user's
    allowlist (``allowed``): a fallback must not hand a user a preset they may not choose."""
    chain: list[Fallback] = []
    seen = {resolved.name}
    names = list(resolved.preset.file.fallbacks)
    while names:
        name = names.pop(0)
        if name in seen or name not in presets or not allowed(name):
            continue  # a cycle through another preset's fallbacks, or a preset removed by a reload
        seen.add(name)
        preset = presets[name]
        try:
            credentials = credentials_for(preset)
        except RequestError as error:
            logger.warning("fallback preset %s left out: %s", name, error.public_message)
            continue
        fallback_resolved = resolve([Layer("global", FieldOverrides(preset=name))], presets)
        chain.append(
            Fallback(
                description=fallback_resolved.describe(),
                open_model=model_opener(provider_config(preset, credentials), models),
                adapt=_adapter(fallback_resolved),
                fallback_on=frozenset(preset.file.fallback_on),
            )
        )
    return Fallbacks(resolved.describe(), frozenset(resolved.preset.file.fallback_on), tuple(chain))
