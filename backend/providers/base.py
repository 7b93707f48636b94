"""The seam every provider plugs into.

A provider's spec module exports one :class:`ProviderSpec` (``SPEC``: its name, ``create``, its
options model and the secrets it needs), listed in ``registry.py``. The spec module must not import
the provider's SDK: ``create`` imports the implementation on first use, so a server loads only
the SDKs its presets name (docs/architecture.md, "Adding a provider").
``ChatModel.stream(call)`` performs **one** model call (one step) and yields provider events
(``backend.events``); it raises :class:`backend.errors.ProviderError` for every failure, before
or during the stream. It never retries (the loop owns the retry policy, so the SDK clients are
created with ``max_retries=0``), never runs tools and never formats errors.

Each provider module has the same outline::

    create → ChatModel.stream → to_<p>_params → _Translator → map_<p>_{finish_reason,usage,error}
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias, TypeVar

from pydantic import BaseModel, ValidationError

from backend.errors import ProviderError
from backend.events import JsonValue, ProviderEvent
from backend.messages import Message, ToolChoice, ToolDefinition

ThinkingEffort: TypeAlias = Literal["minimal", "low", "medium", "high", "xhigh", "max"]


@dataclass(frozen=True, slots=True)
class ThinkingSettings:
    """Provider-neutral thinking knobs; each provider maps what it supports.

    ``budget_tokens`` → Anthropic ``budget_tokens`` / Gemini ``thinking_budget``;
    ``effort`` → Anthropic ``output_config.effort`` / OpenAI ``reasoning.effort`` / Gemini
    ``thinking_level``. Provider-only knobs (OpenAI summary mode, Anthropic display) live in
    ``ModelCall.provider_options`` under the provider's name.
    """

    enabled: bool = False
    budget_tokens: int | None = None
    effort: ThinkingEffort | None = None


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """How to reach a provider: what a client is built from. Credentials never leave here.

    ``credentials`` holds the secrets the provider's spec names (``api_key`` for every provider
    today; a cloud provider could name an access key and a secret), looked up by the core.
    """

    provider: str
    credentials: Mapping[str, str] = field(default_factory=dict)
    base_url: str | None = None
    # The SDK's read timeout for calls that are not streamed (a stream has none: the loop's idle
    # guard decides, ``shared.stream_timeout``), its connect timeout, and a bound on one whole
    # request for SDKs that only know a total (Gemini).
    timeout_seconds: float = 600.0
    connect_timeout_seconds: float = 10.0
    total_timeout_seconds: float = 900.0
    # The client's connections to the upstream (the pool keeps one client per preset, shared by
    # every answer in flight, so this bounds concurrent answers per client).
    max_connections: int = 1000
    # Extra HTTP headers a preset allows (e.g. OpenRouter's attribution headers).
    headers: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # keep keys out of logs and tracebacks
        return f"ProviderConfig(provider={self.provider!r}, base_url={self.base_url!r}, credentials=***)"

    @property
    def api_key(self) -> str | None:
        return self.credentials.get("api_key")

    def secrets(self) -> tuple[str, ...]:
        """Every credential value, for redacting error texts."""
        return tuple(value for value in self.credentials.values() if value)


@dataclass(frozen=True, slots=True)
class ModelCall:
    """Everything one model call needs, provider-neutral."""

    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    tools: tuple[ToolDefinition, ...] = ()
    max_tokens: int = 4096
    temperature: float | None = None
    top_p: float | None = None
    thinking: ThinkingSettings = field(default_factory=ThinkingSettings)
    # Text that ends the answer when the model writes it (OpenAI ``stop``, Anthropic ``stop_sequences``).
    stop_sequences: tuple[str, ...] = ()
    # ``None``: the provider's default (auto when there are tools).
    tool_choice: ToolChoice | None = None
    # ``False``: at most one tool call per step; ``None``: the provider's default.
    parallel_tool_calls: bool | None = None
    # Provider-specific knobs (the preset's table), keyed by provider name:
    # {"anthropic": {"prompt_caching": True}}; each provider reads its own with ``read_options``.
    provider_options: Mapping[str, Mapping[str, JsonValue]] = field(default_factory=dict)

    def options_for(self, provider: str) -> Mapping[str, JsonValue]:
        return self.provider_options.get(provider, {})


class ChatModel(Protocol):
    """One configured provider client. Use as an async context manager to release it."""

    provider: str

    def stream(self, call: ModelCall) -> AsyncIterator[ProviderEvent]: ...

    async def aclose(self) -> None: ...


class ChatModelFactory(Protocol):
    def __call__(self, config: ProviderConfig) -> ChatModel: ...


OptionsT = TypeVar("OptionsT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """What a provider module exports (as ``SPEC``) and ``registry.py`` lists.

    ``name`` is what preset files write (``provider = "anthropic"``); ``options`` validates the
    preset table named ``table`` (``[anthropic]``), strictly; ``credentials`` names the secrets
    a client needs, each found through the preset (``api_key_env``, or ``[credentials_env]``).
    ``count_tokens``, where the provider's API can count a call's input tokens without running
    it, does that (raising only ``ProviderError``); ``None`` means it cannot. ``load`` imports
    what ``create`` needs (the SDK, seconds and tens of MB), so a server can pay for it when a
    preset names the provider rather than in the middle of its first answer.
    """

    name: str
    create: Callable[[ProviderConfig], ChatModel]
    options: type[BaseModel]
    table: str
    credentials: tuple[str, ...] = ("api_key",)
    count_tokens: Callable[[ProviderConfig, ModelCall], Awaitable[int]] | None = None
    load: Callable[[], None] = lambda: None  # a provider without an SDK has nothing to load


def read_options(call: ModelCall, provider: str, options: type[OptionsT]) -> OptionsT:
    """The provider's own options of ``call``, typed. Preset tables are validated at load time,
    so a failure here means a caller built a bad ``ModelCall``: a ``bad_request`` error."""
    try:
        return options.model_validate(call.options_for(provider))
    except ValidationError as error:
        item = error.errors()[0]
        name = ".".join(str(part) for part in item["loc"])
        message = f"{provider} option {name}: {item['msg']}"
        raise ProviderError.unsupported_input(provider, message, code="invalid_option") from None
