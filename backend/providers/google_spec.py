"""The Gemini provider as the registry sees it, without importing ``google-genai`` (~50 MB):
``create`` imports the implementation (``google.py``) on first use."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from backend.providers.base import ChatModel, ProviderConfig, ProviderSpec

PROVIDER: Final = "google"
DEFAULT_API_VERSION: Final = "v1beta"


class GoogleOptions(BaseModel):
    """The ``[google]`` table of a preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    api_version: str = DEFAULT_API_VERSION
    # Wins over budget_tokens and effort (the API takes one of them).
    thinking_level: Literal["MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"] | None = None

    @field_validator("thinking_level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def load() -> None:
    import backend.providers.google  # noqa: F401  (imports the SDK)


def create(config: ProviderConfig) -> ChatModel:
    """Build a Gemini client for ``config`` (close it with ``aclose``)."""
    from backend.providers.google import GoogleModel

    return GoogleModel(config)


SPEC = ProviderSpec(name=PROVIDER, create=create, options=GoogleOptions, table=PROVIDER, load=load)
