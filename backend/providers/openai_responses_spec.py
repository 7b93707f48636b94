"""Provider ``openai`` (the Responses API) as the registry sees it, without importing the ``openai``
SDK (~50 MB): ``create`` imports the implementation (``openai_responses.py``) on first use."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from backend.providers.base import ChatModel, ProviderConfig, ProviderSpec
from backend.providers.tls import prepare_client_stack

PROVIDER: Final = "openai"


class OpenAIOptions(BaseModel):
    """The ``[openai]`` table of a preset (see ``to_openai_responses_params``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # "none" turns summaries off (TOML has no null).
    reasoning_summary: Literal["auto", "concise", "detailed", "none"] = "auto"
    # Ask for encrypted reasoning even with thinking off (reasoning models only; others reject it).
    encrypted_reasoning: bool | None = None
    extra_body: dict[str, Any] | None = None


def load() -> None:
    import backend.providers.openai_responses  # noqa: F401  (imports the SDK)

    prepare_client_stack()


def create(config: ProviderConfig) -> ChatModel:
    """The registry's factory for provider ``openai``."""
    from backend.providers.openai_responses import OpenAIResponsesModel

    return OpenAIResponsesModel(config)


SPEC = ProviderSpec(name=PROVIDER, create=create, options=OpenAIOptions, table=PROVIDER, load=load)
