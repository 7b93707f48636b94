"""Every provider, by the name preset files use. Adding a provider adds its spec module to the
import line and its ``SPEC`` to ``SPECS`` (docs/architecture.md, "Adding a provider").

A plain typed mapping: mypy sees each provider's ``SPEC``, and nothing outside ``providers/``
names a provider. Only the spec modules are imported here, never an SDK: ``create`` (or
``load``) imports a provider's implementation when a preset uses it (tests/test_lazy_imports.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from backend.providers import anthropic_spec, google_spec, openai_chat_spec, openai_responses_spec
from backend.providers.base import ChatModel, ProviderConfig, ProviderSpec

SPECS: tuple[ProviderSpec, ...] = (
    anthropic_spec.SPEC,
    openai_responses_spec.SPEC,
    openai_chat_spec.SPEC,
    google_spec.SPEC,
)

PROVIDERS: Mapping[str, ProviderSpec] = MappingProxyType({spec.name: spec for spec in SPECS})


def provider_names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


def create_model(config: ProviderConfig) -> ChatModel:
    """Build a client for ``config.provider`` (the caller closes it with ``aclose``)."""
    return PROVIDERS[config.provider].create(config)
