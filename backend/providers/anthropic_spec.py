"""The Anthropic provider as the registry sees it, without importing the ``anthropic`` SDK.

Importing the SDK costs ~70 MB of memory and over a second (docs/benchmarks.md); a server whose
presets name only other providers never pays it. ``create`` and ``count_tokens`` import the
implementation (``anthropic.py``) on first use, ``load`` ahead of it.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.providers.base import ChatModel, ModelCall, ProviderConfig, ProviderSpec
from backend.providers.tls import prepare_client_stack

PROVIDER: Final = "anthropic"


class AnthropicOptions(BaseModel):
    """The ``[anthropic]`` table of a preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    prompt_caching: bool = True
    thinking_display: Literal["summarized", "omitted"] | None = None
    # Tools Anthropic runs itself (e.g. {type = "web_search_20250305", name = "web_search"}), passed as written.
    server_tools: list[dict[str, Any]] = Field(default_factory=list)


def load() -> None:
    import backend.providers.anthropic  # noqa: F401  (imports the SDK)

    prepare_client_stack()


def create(config: ProviderConfig) -> ChatModel:
    """Build an Anthropic client for ``config`` (close it with ``aclose``)."""
    from backend.providers.anthropic import AnthropicModel

    return AnthropicModel(config)


async def count_tokens(config: ProviderConfig, call: ModelCall) -> int:
    from backend.providers import anthropic

    return await anthropic.count_tokens(config, call)


SPEC = ProviderSpec(
    name=PROVIDER, create=create, options=AnthropicOptions, table=PROVIDER, count_tokens=count_tokens, load=load
)
