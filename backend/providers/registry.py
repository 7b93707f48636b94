"""Every provider, by the name preset files use. Adding a provider adds it to the import line
and to ``SPECS`` (docs/architecture.md, "Adding a provider").

A plain typed mapping: mypy sees each provider's ``SPEC``, and nothing outside ``providers/``
names a provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from backend.providers import anthropic, google, openai_chat, openai_responses
from backend.providers.base import ChatModel, ProviderConfig, ProviderSpec

SPECS: tuple[ProviderSpec, ...] = (anthropic.SPEC, openai_responses.SPEC, openai_chat.SPEC, google.SPEC)

PROVIDERS: Mapping[str, ProviderSpec] = MappingProxyType({spec.name: spec for spec in SPECS})


def provider_names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


def create_model(config: ProviderConfig) -> ChatModel:
    """Build a client for ``config.provider`` (the caller closes it with ``aclose``)."""
    return PROVIDERS[config.provider].create(config)
