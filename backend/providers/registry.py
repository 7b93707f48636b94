"""Provider name → module. Adding a provider is one line here (plus its module).

Modules are imported on first use so a broken or missing optional SDK affects only the presets
that use it.
"""

from __future__ import annotations

import importlib

from backend.providers.base import ChatModel, ProviderConfig

# provider name (as written in preset files) → module exposing ``create(config) -> ChatModel``
PROVIDER_MODULES: dict[str, str] = {
    "anthropic": "backend.providers.anthropic",
    "openai": "backend.providers.openai_responses",
    "openai-chat": "backend.providers.openai_chat",
    "google": "backend.providers.google",
}


def provider_names() -> tuple[str, ...]:
    return tuple(PROVIDER_MODULES)


def create_model(config: ProviderConfig) -> ChatModel:
    """Build a client for ``config.provider`` (the caller closes it with ``aclose``)."""
    module = importlib.import_module(PROVIDER_MODULES[config.provider])
    model: ChatModel = module.create(config)
    return model
